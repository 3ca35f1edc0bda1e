"""Do two answers give different values? The reader picks each article's answer span; this
module only says whether two spans state the same thing in different words.

"20th April 2018" and "April 20, 2018" are one date; "nearly four hours" and "about four hours"
one amount; "Tampa" and "Tampa, Florida" one place. "Tampa, Florida" and "Glendale, Arizona", or
"four hours" and "two hours", are a conflict. Dates are read by python-dateutil, the usual
parser for written dates, rather than by patterns of our own.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from assistant.answer_types import NUMBER_WORDS
from assistant.tuning import SAME_VALUE_MIN_OVERLAP

# Words that qualify or frame a value without changing it.
_FILLER = frozenset("""the a an of about around nearly almost approximately roughly some just over
under more less than at least most up to in on by and or its his her their it was were is are
""".split())
_NUMBER_TOKEN = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_SMALL_NUMBER_WORDS = {w for w, v in NUMBER_WORDS.items() if 1 <= v < 100 and w not in ("a", "an", "once")}


@dataclass(frozen=True)
class Value:
    """A span read as a value: a date, amounts, or words."""

    text: str
    kind: str  # "date", "number" or "text"
    date: tuple[int | None, int | None, int | None] | None = None  # (year, month, day), None if not given
    numbers: tuple[float, ...] = ()
    words: frozenset[str] = frozenset()
    units: tuple[str, ...] = ()  # the word after each amount ("" when none), beside `numbers`

    @property
    def unit(self) -> str:
        """The word after the last amount ("" when none)."""
        return self.units[-1] if self.units else ""


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:[.,][0-9]+)*", _fold(text))


def _date(text: str) -> tuple[int | None, int | None, int | None] | None:
    """(year, month, day) when the span is a date, with the parts it does not give as None.
    Parsing twice against two different defaults shows which parts the text itself supplies."""
    from dateutil import parser

    if not re.search(r"\d", text) or not re.search(r"[a-zA-Z]|\d[/-]\d", text):
        if not re.fullmatch(r"\s*(1[0-9]|20)\d\d\s*", text):
            return None
    try:
        first = parser.parse(text, default=datetime(1901, 1, 1), fuzzy=False)
        second = parser.parse(text, default=datetime(1902, 2, 2), fuzzy=False)
    except (ValueError, OverflowError, parser.ParserError):
        return None
    year = first.year if first.year == second.year else None
    month = first.month if first.month == second.month else None
    day = first.day if first.day == second.day else None
    return year, month, day


def _numbers(tokens: list[str]) -> tuple[list[float], list[str]]:
    """The amounts a span states (digits or number words, with "million" scaling) and the word
    after each one (its unit, if any: "" when none follows or the next token is a number)."""
    values: list[float] = []
    units: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        value: float | None = None
        if _NUMBER_TOKEN.fullmatch(token):
            value = float(token.replace(",", ""))
        elif token in NUMBER_WORDS and token not in ("a", "an", "once", "half"):
            # "twenty five", "two hundred and fifty", "one thousand two hundred": a running
            # group is multiplied by hundred, and closed into the total by thousand and above.
            total, group = 0.0, float(NUMBER_WORDS[token])
            while i + 1 < len(tokens):
                nxt = tokens[i + 1]
                if nxt == "and" and i + 2 < len(tokens) and tokens[i + 2] in _SMALL_NUMBER_WORDS:
                    i += 1
                    continue
                if nxt not in NUMBER_WORDS or nxt in ("a", "an", "once", "twice", "half"):
                    break
                word = float(NUMBER_WORDS[nxt])
                if word == 100:
                    group *= word
                elif word >= 1000:
                    total, group = total + group * word, 0.0
                else:
                    group += word
                i += 1
            value = total + group
        if value is not None:
            if i + 1 < len(tokens) and tokens[i + 1] in _SCALE:
                value *= _SCALE[tokens[i + 1]]
                i += 1
            values.append(value)
            after = tokens[i + 1] if i + 1 < len(tokens) else ""
            units.append(after.rstrip("s") if after.isalpha() else "")
        i += 1
    return values, units


def read_value(span: str) -> Value:
    date = _date(span)
    if date is not None and date != (None, None, None):
        return Value(span, "date", date=date)
    tokens = _tokens(span)
    numbers, units = _numbers(tokens)
    if numbers:
        if re.search(r"[$£€¥]", span):
            units = [u or "money" for u in units]
        return Value(span, "number", numbers=tuple(numbers), units=tuple(units))
    content = frozenset(t for t in tokens if t not in _FILLER)
    return Value(span, "text", words=content or frozenset(tokens))


def _dates_agree(a: tuple, b: tuple) -> bool:
    # Parts both give must match; a part only one gives ("2018" vs "April 2018") is not a clash.
    return all(x is None or y is None or x == y for x, y in zip(a, b, strict=True))


def same_value(first: str, second: str) -> bool:
    """Whether two answer spans state the same value."""
    a, b = read_value(first), read_value(second)
    if a.kind == "date" and b.kind == "date":
        assert a.date is not None and b.date is not None
        return _dates_agree(a.date, b.date)
    a, b = _year_as_number(a, b), _year_as_number(b, a)
    if a.kind == "number" and b.kind == "number":
        # The same amounts in the same units, one side perhaps adding detail ("four hours" and
        # "four hours and ten minutes", "14.2 kilometres long and has 22 stops" and
        # "14.2-kilometre"); a score "24-17" against "24-21" differs, and so do "four hours" and
        # "four days".
        return _amounts_within(a, b) or _amounts_within(b, a)
    if a.kind != b.kind and "text" not in (a.kind, b.kind):
        return False
    wa, wb = _tokens(first) if a.kind != "text" else a.words, _tokens(second) if b.kind != "text" else b.words
    wa, wb = set(wa), set(wb)
    if not wa or not wb:
        return True  # nothing to compare: never claim a conflict on an empty span
    # One span naming more of the same thing ("Tampa" vs "Raymond James Stadium in Tampa") is
    # agreement; disjoint or mostly different words are not. The overlap (0.5) is set by hand,
    # not fitted: no labelled set of agreeing and disagreeing spans exists yet.
    if wa <= wb or wb <= wa:
        return True
    return len(wa & wb) / len(wa | wb) >= SAME_VALUE_MIN_OVERLAP


def _year_as_number(value: Value, other: Value) -> Value:
    """A bare year ("2000") compared with an amount ("2,000") is read as the number it is."""
    if value.kind == "date" and other.kind == "number" and value.date is not None \
            and value.date[1] is None and value.date[2] is None and value.date[0] is not None:
        return Value(value.text, "number", numbers=(float(value.date[0]),), units=("",))
    return value


def _amounts_within(small: Value, large: Value) -> bool:
    """Every amount of `small` is one of `large`'s, in the same unit (or one of the two names
    none)."""
    return all(any(abs(x - y) <= 1e-6 * max(abs(x), abs(y), 1.0) and (not u or not v or u == v)
                   for y, v in zip(large.numbers, large.units, strict=True))
               for x, u in zip(small.numbers, small.units, strict=True))


# Units of measure by what they measure. Two amounts of different kinds (a length and a
# duration, a length and a count of things) cannot contradict each other; two counts of things
# named differently ("12,000 people", "5,000 spectators") may.
_DIMENSIONS = {unit: dimension for dimension, units in {
    "length": "kilometre kilometer km mile metre meter foot feet ft yard inch inche centimetre "
              "centimeter cm millimetre millimeter mm",
    "duration": "second sec minute min hour hr day week fortnight month year decade century "
                "centurie",
    "mass": "kilogram kilo kg gram tonne ton lb ounce oz",
    "money": "money dollar euro cent penny pence yen yuan rupee franc",
    "share": "percent percentage",
    "area": "hectare acre",
    "temperature": "degree celsius fahrenheit",
    "speed": "mph kph knot",
}.items() for unit in units.split()}


def _units_comparable(first: str, second: str) -> bool:
    if not first or not second or first == second:
        return True
    a, b = _DIMENSIONS.get(first), _DIMENSIONS.get(second)
    return a == b  # two counted things (None, None) included


# An amount per unit of time: "38,000 riders a day", "$2 million per year", "daily".
_RATE = re.compile(r"\b(?:a|an|per|each|every)\s+(?:second|minute|hour|day|night|week|month|"
                   r"year|season)\b|\b(?:hourly|daily|nightly|weekly|monthly|yearly|annually)\b",
                   re.IGNORECASE)


def comparable(first: str, second: str) -> bool:
    """Whether two answer spans could state the same kind of thing: false only for amounts of
    different kinds ("29 stops" and "14.2-kilometre", "four hours" and "5 km"), or a rate and
    a total ("38,000 riders a day" and "12,000 people"), which differ without contradicting
    each other. A span without a unit is comparable to any."""
    a, b = read_value(first), read_value(second)
    if a.kind != "number" or b.kind != "number":
        return True
    if bool(_RATE.search(first)) != bool(_RATE.search(second)):
        return False
    return any(_units_comparable(u, v) for u in a.units for v in b.units)


def topic_of(span: str) -> str:
    """What kind of value two differing spans disagree on, for the Conflict's topic."""
    value = read_value(span)
    if value.kind == "date":
        return "date"
    if value.kind == "number":
        named = value.unit and value.unit != "money" and not value.unit.isdigit()
        return f"{value.unit}s" if named else "number"
    return "answer"


_AMOUNT_WORDS = frozenset(w for w in NUMBER_WORDS if w not in ("a", "an", "once", "half"))


def mentions_an_amount(text: str) -> bool:
    """Whether the text holds a digit or a number word: the least a number or date needs."""
    return any(ch.isdigit() for ch in text) or not _AMOUNT_WORDS.isdisjoint(_tokens(text))


# A qualifier just before an amount changes what it states: "more than two hours" is not "two
# hours". The reader's span sometimes starts after one; the answer shows it with it.
_QUALIFIER_BEFORE = re.compile(
    r"(?:\b(?:more|less|fewer) than|\bat (?:least|most)|\bup to|\b(?:just |well )?(?:over|under)|"
    r"\bnearly|\balmost|\babout|\baround|\broughly|\bapproximately)\s+$", re.IGNORECASE)


def start_with_qualifier(text: str, start: int, end: int) -> int:
    """Where the span text[start:end] starts once a qualifier right before it is taken in, when
    the span begins with an amount (a digit or a number word); `start` otherwise."""
    words = _tokens(text[start:end])
    if not words or not (words[0][0].isdigit() or words[0] in _AMOUNT_WORDS):
        return start
    before = text[max(0, start - 24):start]
    found = _QUALIFIER_BEFORE.search(before)
    return start if found is None else start - (len(before) - found.start())
