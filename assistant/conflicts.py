"""Detect when sources disagree on a figure.

Two articles answer "how long did the talks last?" with "nearly four hours" and "more than two
hours". Both are quoted, and the answer says they disagree. A conflict is two sentences from
different articles, both strong answers to the question, that state different amounts of the
same unit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from assistant.answer_types import NUMBER_WORDS, counted_noun
from assistant.tuning import AMOUNTS_DIFFER_BY, UNIT_NOUN_PREFIX

_QUALIFIER = r"(?:(?:nearly|almost|about|around|roughly|approximately|over|under|more than|less than|" \
             r"fewer than|at least|at most|some|just over|just under|up to)\s+)?"
_AMOUNT = r"(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|(?:" + "|".join(
    w for w in NUMBER_WORDS if len(w) > 2 and w not in ("once", "twice", "half")
) + r")(?:[\s-](?:" + "|".join(w for w in NUMBER_WORDS if len(w) > 2) + r"))*)"
_QUANTITY = re.compile(_QUALIFIER + _AMOUNT + r"[\s-]+(%|percent|[a-z]+)", re.IGNORECASE)
_IGNORED_UNITS = {"of", "and", "or", "the", "to", "in", "on", "at", "by", "for", "a", "an",
                  "per", "with", "from", "as", "is", "was", "were", "are"}


@dataclass(frozen=True)
class Quantity:
    text: str
    value: float
    unit: str


def _unit(word: str) -> str:
    word = word.lower()
    if word in ("%", "percent"):
        return "percent"
    if word == "centuries":
        return "century"
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _value(amount: str) -> float | None:
    amount = amount.lower().replace(",", "")
    try:
        return float(amount)
    except ValueError:
        pass
    total, current = 0.0, 0.0
    for part in re.split(r"[\s-]+", amount):
        number = NUMBER_WORDS.get(part)
        if number is None:
            return None
        if number >= 100:
            current = max(current, 1) * number
            if number >= 1000:
                total, current = total + current, 0.0
        else:
            current += number
    return total + current


def quantities(sentence: str) -> list[Quantity]:
    found = []
    for match in _QUANTITY.finditer(sentence):
        unit = _unit(match.group(2))
        value = _value(match.group(1))
        if value is None or unit in _IGNORED_UNITS or unit in NUMBER_WORDS:
            continue
        found.append(Quantity(match.group(0).strip(), value, unit))
    return found


_TIME_UNITS = {"second", "minute", "hour", "day", "week", "month", "year", "decade", "century"}
_LENGTH_UNITS = {"kilometre", "kilometer", "km", "mile", "metre", "meter", "m", "feet", "foot",
                 "ft", "yard", "inche", "centimetre", "centimeter", "cm"}


def unit_answers(kind: str | None, unit: str, question: str) -> bool:
    """Could an amount in this unit answer the question? Only figures of the asked-for kind
    can conflict: "how long did the talks last" compares hours, not the years in a background
    sentence, and "how many people" compares people, not stops."""
    if kind == "duration":
        return unit in _TIME_UNITS
    if kind == "length":
        return unit in _LENGTH_UNITS
    if kind == "number":
        counted = counted_noun(question)
        if counted:
            return unit.startswith(counted[:UNIT_NOUN_PREFIX]) or counted.startswith(unit[:UNIT_NOUN_PREFIX])
        return unit not in _TIME_UNITS
    return False


def disagreement(first: str, second: str, unit_filter: Callable[[str], bool] | None = None
                 ) -> tuple[str, Quantity, Quantity] | None:
    """The unit and the two differing quantities, when the sentences state different amounts
    of the same unit and never the same amount of it."""
    a_list, b_list = quantities(first), quantities(second)
    if unit_filter is not None:
        a_list = [q for q in a_list if unit_filter(q.unit)]
        b_list = [q for q in b_list if unit_filter(q.unit)]
    for a in a_list:
        for b in b_list:
            if a.unit != b.unit:
                continue
            same_unit_values_b = {q.value for q in b_list if q.unit == a.unit}
            same_unit_values_a = {q.value for q in a_list if q.unit == a.unit}
            if same_unit_values_a & same_unit_values_b:
                return None
            if abs(a.value - b.value) > AMOUNTS_DIFFER_BY * max(abs(a.value), abs(b.value), 1e-9):
                return a.unit, a, b
    return None
