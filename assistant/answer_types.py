"""What kind of answer a question asks for, and whether a sentence offers one.

A sentence that answers "when" usually carries a date; one that answers "how many" a number.
Checking this is cheap and separates answers from sentences that merely repeat the question.
"""

from __future__ import annotations

import re

from assistant.tuning import COUNTED_NOUN_STEM, COUNTED_NOUN_WINDOW_CHARS, COUNTED_NOUN_WINDOW_WORDS

NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
    "million": 1_000_000, "billion": 1_000_000_000, "dozen": 12, "half": 0.5,
    "a": 1, "an": 1, "once": 1, "twice": 2,
}
_NUMBER = r"(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|" + "|".join(
    w for w in NUMBER_WORDS if w not in ("a", "an", "once", "twice", "half")) + r")"
MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|"
          "december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
TIME_UNITS = "seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|centuries|century"

_DATE_RE = re.compile(
    rf"\b(1\d{{3}}|20\d{{2}}|\d{{1,2}}(st|nd|rd|th)|({MONTHS})\b|({DAYS})\b|"
    rf"(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"
    rf"thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth)"
    rf"\s+centur|\d+s\b|yesterday|today|tomorrow|tonight|ago\b|\d{{1,2}}:\d{{2}}|a\.m\.|p\.m\.)",
    re.IGNORECASE,
)
_DURATION_RE = re.compile(rf"\b({_NUMBER}|several|few|many)[\s-]+(?:{TIME_UNITS})\b", re.IGNORECASE)
_NUMBER_RE = re.compile(rf"\b{_NUMBER}\b|\d", re.IGNORECASE)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z'’-]+")
# A place is named after a locative preposition: "at Joint Base ...", "in Alaska".
_PLACE_RE = re.compile(r"\b(?:in|at|near|outside|inside|from|to|on|across|around)\s+(?:the\s+)?"
                       r"([A-Z][a-zA-Z'’.-]+(?:\s+[A-Z][a-zA-Z'’.-]+)*)")
# A calendar date names a month and a day, or is written numerically.
_CALENDAR_RE = re.compile(rf"\b(?:(?:{MONTHS})\.?\s+\d{{1,2}}\b|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?"
                          rf"(?:{MONTHS})\b|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}/\d{{2,4}})",
                          re.IGNORECASE)
_LENGTH_UNITS = (r"(?:kilomet(?:er|re)s?|km|miles?|met(?:er|re)s?|m|feet|foot|ft|yards?|inches|"
                 r"centimet(?:er|re)s?|cm)")
_LENGTH_RE = re.compile(rf"\b{_NUMBER}[\s-]*{_LENGTH_UNITS}\b", re.IGNORECASE)


_TYPE_PATTERNS = [
    # "How long is the line?" asks for a length; "how long did they talk?" for a duration.
    ("length", r"\bhow long (is|are|was|were)\b(?!.*\b(since|ago|take|taken|last|lasted|open|stay|"
               r"stayed|been|wait|going|gone)\b)|\bhow (far|tall|wide|deep)\b|"
               r"\bwhat (is|was) the (length|distance|height|width|depth)\b"),
    ("duration", r"\bhow long\b|\bfor how many (hours|days|minutes|weeks|months|years)\b|"
                 r"\bwhat (is|was) the duration\b|\bhow much time\b"),
    ("calendar", r"\b(what|which) (exact |precise |calendar )?date\b|\bcalendar date\b"),
    ("date", r"\b(when|what year|which year|what day|what month|"
             r"what century|which century|(what|which) (exact |precise )?time|what decade|"
             r"what period|how old|what calendar date)\b"),
    ("number", r"\b(how many|how much|what percentage|what number|what proportion|how large|"
               r"how big|how high|how fast|what (was|is) the (score|size|"
               r"population|price|cost|total))\b"),
    ("person", r"\b(who|whom|whose)\b|\bwhat (is|are|was|were) the names?\b"),
    ("place", r"\b(where|what country|which country|what city|which city|what region|"
              r"which region|what place|what location|which state|what state)\b"),
]


def expected_type(question: str) -> str | None:
    """The kind of answer the question's leading wh-phrase asks for, if it is a typed one.

    The earliest match wins: in "What aircraft did he leave when he arrived?" the question is
    about an aircraft, not a time.
    """
    q = question.lower().strip()
    best: tuple[int, str] | None = None
    for kind, pattern in _TYPE_PATTERNS:
        match = re.search(pattern, q)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), kind)
    if best is None:
        return None
    # "What ... ?" questions that mention "who" later ("what did the man who ...") are not
    # about people: only count wh-words that open the question or follow a preposition.
    first_wh = re.search(r"\b(what|which|who|whom|whose|when|where|how|why)\b", q)
    if first_wh and first_wh.start() < best[0] and not q[first_wh.start():].startswith(
            ("what year", "which year", "what date", "what day", "what month", "what century",
             "which century", "what time", "which time", "what exact", "what precise", "what decade",
             "what period", "what calendar", "what percentage", "what number", "what proportion",
             "what country", "which country", "what city", "which city", "what region",
             "which region", "what place", "what location", "which state", "what state",
             "what was the", "what is the")):
        return None
    return best[1]


def offers_type(sentence: str, kind: str | None, question: str) -> float:
    """1.0 when the sentence holds an answer of the expected kind that the question lacks."""
    if kind is None:
        return 0.0
    q_lower = question.lower()
    if kind == "duration":
        found = [m.group(0) for m in _DURATION_RE.finditer(sentence)]
    elif kind == "date":
        found = [m.group(0) for m in _DATE_RE.finditer(sentence)]
    elif kind == "calendar":
        found = [m.group(0) for m in _CALENDAR_RE.finditer(sentence)]
    elif kind == "length":
        found = [m.group(0) for m in _LENGTH_RE.finditer(sentence)]
    elif kind == "place":
        found = [m.group(1) for m in _PLACE_RE.finditer(sentence)]
    elif kind == "number":
        found = [m.group(0) for m in _NUMBER_RE.finditer(sentence)]
        counted = counted_noun(q_lower)
        if found and counted:
            # "How many journalists ...?" wants a number of journalists, not any number.
            found = [f for f in found if _number_counts(sentence, f, counted)]
    else:
        found = [m.group(0) for m in _CAPITALISED.finditer(sentence)]
    novel = [f for f in found if f.lower() not in q_lower]
    return 1.0 if novel else 0.0


def counted_noun(question: str) -> str | None:
    """The first letters of what "how many ...?" counts ("journalists" -> "journ"), if any."""
    match = re.search(r"\bhow many ([a-z]+)", question.lower())
    if not match or match.group(1) in ("of", "more", "times", "other"):
        return None
    return match.group(1)[:COUNTED_NOUN_STEM]  # a crude stem: "journalists" ~ "journ", "people" ~ "peopl"


def _number_counts(sentence: str, number: str, noun_stem: str) -> bool:
    """Is `number` followed, within a few words, by the counted noun?"""
    lower = sentence.lower()
    for match in re.finditer(re.escape(number.lower()), lower):
        after = lower[match.end():match.end() + COUNTED_NOUN_WINDOW_CHARS]
        following = re.findall(r"[a-z]+", after)[:COUNTED_NOUN_WINDOW_WORDS]
        if any(word.startswith(noun_stem) for word in following):
            return True
    return False


def is_list_question(question: str) -> bool:
    q = question.lower()
    return bool(re.search(r"\b(list|name (all|the|some)|what are (the|some)|which .* were|"
                          r"what (issues|topics|points|countries|steps|reasons|measures))\b", q))
