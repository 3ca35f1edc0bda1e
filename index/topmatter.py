"""The lines at the top of a plain news text that are not its story: photo captions, bylines,
"Published ..." lines and wire datelines.

Two uses. Choosing a title (index/loaders.py): a caption, a byline or a dated "Published" line
is never the headline, so it is passed over. Reading a date when no metadata gives one: only
from a "Published/Updated/Posted ..." line near the top or a wire dateline opening one of the
first paragraphs ("ANCHORAGE, Aug 15 (Reuters) -"), never from the story's sentences ("the 2019
race", "on August 3 the council met"): a wrong date is worse than none, because date-scoped
questions would silently include or exclude the article.

Dates are converted by python-dateutil (already installed with trafilatura's htmldate, and used
by assistant/values.py); the regular expressions here only decide *where* a date may be read
and require a year, day and month to be written out. dateparser (also installed) downloads
nothing at runtime, but it guesses: it reads "Aug 15" as 2015-08-<today>, and fills a missing
year from the clock, which is what this module must not do.

Every pattern is anchored to a whole line or to a credit's usual place (a line's end, a
"Photo:" label), so an ordinary headline that contains "By" or a name stays a headline:
"Prices Pushed Up By Drought", "Jane Doe Wins Mayoral Race", "Reuters/Ipsos Poll: ...".
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Photo captions: a line that carries a photo or wire credit.

# Wire services and picture agencies as they are written in credits. A credit names one after a
# slash ("Kevin Lamarque/Reuters") or "via" ("Sputnik/Kremlin via Reuters"), or alone in
# brackets ("(Reuters)").
_AGENCIES = (
    r"Reuters|AP|AFP|EPA(?:-EFE)?|Getty(?: Images)?|Bloomberg(?: News)?|Xinhua|Anadolu(?: Agency)?|"
    r"PA(?: Wire| Images| Media)?|Shutterstock|Alamy|iStock(?:photo)?|NurPhoto|SOPA Images|"
    r"Sipa(?: USA)?|ANI|dpa|Kyodo(?: News)?|Yonhap|TASS|Sputnik|UPI|Redux|"
    r"(?:The )?Associated Press|(?:The )?New York Times|Agence France-Presse|ZUMA(?: Press)?(?: Wire)?"
)
# "… agreement/Reuters", "(Evan Vucci/AP)", "SAUL LOEB/AFP via Getty Images": the credit ends
# the line. A slash inside a line ("a Reuters/Ipsos poll") is not a credit, nor is a page
# title's site suffix ("Trump and Putin meet - Reuters"), which is a headline.
_SLASH_CREDIT = re.compile(
    rf"(?:/|\bvia\s)\s*(?:{_AGENCIES})(?:\s*(?:/|\bvia\s)\s*(?:{_AGENCIES}))*\s*\)?\s*\.?\s*$",
    re.IGNORECASE)
# "(Reuters)", "(AP Photo/Evan Vucci)", "(Photo: Jane Doe)", "(File photo)" closing the line. A
# dateline's "(Reuters) -" opens a paragraph and does not end it. "(Photos)" after a gallery's
# headline is no credit: a label needs a colon, a slash or "by" after it.
_BRACKET_CREDIT = re.compile(
    rf"\(\s*(?:(?:[^()]{{0,60}}/\s*)?(?:{_AGENCIES})|(?:AP|AFP|EPA|Reuters) Photo\b[^()]*|"
    r"(?:photo|photograph|picture|image|credit)s?\s*(?::|/|by\b)[^()]*|file photo)\s*\)\s*\.?\s*$",
    re.IGNORECASE)
# Credits written in capitals by the wires, anywhere in the line ("… August 15, 2025.
# REUTERS/Kevin Lamarque Purchase Licensing Rights"). Case matters: "Reuters/Ipsos" is a poll.
_WIRE_PHOTO_CREDIT = re.compile(
    r"\bREUTERS/\s?[A-Z]|\bAP Photo/|\b(?:AFP|EPA|AP) PHOTO\b|\bEPA(?:-EFE)?/[A-Z]")
# "Trump greets Putin | Getty Images": only picture agencies after a bar. "Headline | Reuters"
# is how a page title names its site, so a wire after a bar is not taken as a credit.
_BAR_CREDIT = re.compile(
    r"\|\s*(?:[^|]{0,60}/\s*)?(?:(?:AFP|AP|Bloomberg|[\w.-]+) via )?(?:Getty Images|Shutterstock|"
    r"Alamy|iStock(?:photo)?|NurPhoto|SOPA Images|Sipa USA|AP Photo|EPA-EFE|ZUMA Press)\b[^|]{0,40}$",
    re.IGNORECASE)
# "Photo: …", "Photograph: Andrew Harnik/AP", "Credit: …", "Image: …" opening the line or
# after the caption's last sentence ("Putin arrives. Photograph: …").
_LABEL_CREDIT = re.compile(
    r"(?:^|[.!?)\]]\s+|\s[|–—-]\s*)(?:(?:photo|image|picture) credit|photo|photograph|picture|image|"
    r"illustration|credit)\s*:\s*\S",
    re.IGNORECASE)
_FILE_PHOTO = re.compile(r"^file photo\b|\bfile photo\s*\)?\s*\.?\s*$|\(file photo\)", re.IGNORECASE)


def is_caption(line: str) -> bool:
    """Whether a line is a photo caption: it ends with, or carries, a photo or wire credit."""
    text = line.strip()
    if not text:
        return False
    return bool(_SLASH_CREDIT.search(text) or _BRACKET_CREDIT.search(text)
                or _WIRE_PHOTO_CREDIT.search(text) or _BAR_CREDIT.search(text)
                or _LABEL_CREDIT.search(text) or _FILE_PHOTO.search(text))


# ---------------------------------------------------------------------------------------------
# Bylines: "By Jane Doe", "By Jane Doe and John Roe", "By Jane Doe, Reuters", "Jane Doe | Reporter".

# Separators inside one word of a name: "O'Neill", "Smith-Jones".
_NAME_WORD_PARTS = re.compile(r"['’-]")
_NAME_PARTICLES = {"de", "da", "del", "della", "di", "du", "van", "von", "der", "den", "la", "le",
                   "al", "el", "bin", "ibn", "ben", "dos", "das"}
# Capitalised words that open title-case headlines after "By" but are no one's name ("By Any
# Means Necessary", "By the Numbers", "By Popular Demand"): a person's name has none of them.
_NOT_NAMES = {
    "the", "a", "an", "and", "or", "nor", "but", "of", "in", "on", "at", "to", "for", "with",
    "from", "by", "as", "into", "over", "under", "after", "before", "about", "than", "is", "are",
    "was", "were", "be", "been", "will", "can", "this", "that", "these", "those", "its", "it",
    "his", "her", "their", "our", "your", "my", "any", "all", "some", "no", "not", "every", "each",
    "more", "most", "many", "much", "few", "other", "another", "new", "old", "how", "why", "what",
    "when", "where", "who", "which", "one", "two", "three", "numbers", "popular", "public",
    "demand", "design", "default", "far", "way", "means", "necessary", "hand", "land", "sea", "air",
    "night", "day", "chance", "accident", "request", "appointment", "force", "law", "order", "hook",
    "crook", "proxy", "mistake", "nature", "invitation", "storm", "surprise", "degrees", "stealth",
    "royal", "decree", "heart", "fire", "foot", "road", "rail", "train", "plane", "boat", "phone",
}
_ROLE = re.compile(
    r"(?:[A-Za-z][\w'.-]*\s+){0,3}(?:reporter|correspondent|writer|editor|columnist|contributor|"
    r"journalist|producer|analyst|photographer|staff|bureau chief|news desk)s?",
    re.IGNORECASE)
_OUTLET = re.compile(
    rf"(?:{_AGENCIES}|BBC(?: News)?|CNN|NPR|Al Jazeera|(?:The )?Guardian|"
    r"(?:[A-Z][\w.&'-]*\s+){0,4}(?:News|Times|Post|Press|Journal|Herald|Tribune|Telegraph|Wire|"
    r"Service|Agency|Network|Radio|Television|TV|Magazine|Daily|Gazette|Observer|Chronicle|"
    r"Standard|Independent|Express|Mail|Bulletin|Today))",
    re.IGNORECASE)
_DATE_START = re.compile(
    r"(?:published|updated|posted|\d|(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|"
    r"july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|mon|tues?|wed|"
    r"thu(?:rs?)?|fri|sat|sun)(?:day|nesday|rsday|urday)?\b)", re.IGNORECASE)
_BYLINE_LEAD = re.compile(r"(?:(?:story|words|text|reporting|written|report)\s+)?by\s+(?P<rest>.+)",
                          re.IGNORECASE)
_BYLINE_SEPARATORS = re.compile(r"\s*(?:,|\||•|·|—|–|\s-\s)\s*")
_NAME_JOINERS = re.compile(r"\s+(?:and|&)\s+|\s*,\s*(?:and\s+)?", re.IGNORECASE)


def _is_name_word(word: str) -> bool:
    """One capitalised word of a name: "Jane", "O'Neill", "McDonald", "José", "JANE" (an
    all-capitals byline), or an initial "J."."""
    if len(word) == 2 and word[0].isalpha() and word[0].isupper() and word[1] == ".":
        return True
    parts = _NAME_WORD_PARTS.split(word)
    return word[:1].isupper() and all(part.isalpha() for part in parts) \
        and word.lower() not in _NOT_NAMES


def _is_person(piece: str) -> bool:
    """Two to four name words ("Jane Doe", "J. R. Hartley", "Ursula von der Leyen")."""
    words = [w for w in piece.split() if w not in _NAME_PARTICLES]
    return 2 <= len(words) <= 4 and all(_is_name_word(w) for w in words)


def _is_place(piece: str) -> bool:
    words = piece.split()
    return 1 <= len(words) <= 3 and all(_is_name_word(w) for w in words)


def _is_affiliation(piece: str) -> bool:
    """What follows a byline's names: a wire or outlet, a role, a date."""
    return bool(_OUTLET.fullmatch(piece) or _ROLE.fullmatch(piece) or _DATE_START.match(piece))


def _names_then_affiliations(text: str) -> bool:
    """"Jane Doe, John Roe and Ann Poe, Reuters, Moscow": one or more persons (optionally "in
    Place" after the last), then affiliations, then at most a place."""
    pieces = [p for p in _BYLINE_SEPARATORS.split(text) if p]
    persons = 0
    while pieces:
        head = pieces[0]
        if _OUTLET.fullmatch(head) or _ROLE.fullmatch(head):  # "BBC News" would pass for a name
            break
        names = [n for n in _NAME_JOINERS.split(head) if n]
        last, _, place = names[-1].partition(" in ") if names else ("", "", "")
        if names and all(_is_person(n) for n in names[:-1]) and _is_person(last) \
                and (not place or _is_place(place)):
            persons += len(names)
            pieces.pop(0)
            if place:
                break
        else:
            break
    if not persons:
        return False
    affiliated = False
    for piece in pieces:
        if _is_affiliation(piece):
            affiliated = True
        elif not (affiliated and _is_place(piece)):
            return False
    return True


def is_byline(line: str) -> bool:
    """Whether a line names the article's writers: "By Jane Doe", "By Jane Doe and John Roe",
    "By Jane Doe, Reuters", "BY JANE DOE", "Jane Doe | Reporter", "Jane Doe, Staff Writer"."""
    text = line.strip().strip("*_ \t")
    if not text or len(text) > 160:
        return False
    lead = _BYLINE_LEAD.fullmatch(text)
    if lead:
        return _names_then_affiliations(lead.group("rest").strip())
    # "Jane Doe | Reporter": a name, then a role (never only a site name: "Trump Meets Putin |
    # Reuters" is a page title, and a headline of two capitalised words looks like a name).
    pieces = _BYLINE_SEPARATORS.split(text, maxsplit=1)
    return len(pieces) == 2 and _is_person(pieces[0]) and bool(_ROLE.fullmatch(pieces[1]))


# ---------------------------------------------------------------------------------------------
# Dates: "Published ..." lines and wire datelines.

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?")
_WEEKDAY = r"(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|nesday|rsday|urday)?\b\.?,?\s+"
_ORDINAL = r"(?:st|nd|rd|th)?"
_YEAR = r"(?:1[89]\d\d|2\d\d\d)(?!\d)"
# A date written out with its year: "15 August 2025", "Aug. 15, 2025", "2025-08-16",
# "08/15/2025" (numeric day and month only when one of them is over 12: "05/08/2025" could be
# either, and a wrong date is worse than none).
_FULL_DATE = re.compile(
    rf"(?:{_WEEKDAY})?(?P<date>\d{{4}}-\d{{1,2}}-\d{{1,2}}(?!\d)|\d{{1,2}}{_ORDINAL}\s+{_MONTH},?\s+{_YEAR}|"
    rf"{_MONTH}\s+\d{{1,2}}{_ORDINAL},?\s+{_YEAR}|(?P<a>\d{{1,2}})/(?P<b>\d{{1,2}})/{_YEAR})",
    re.IGNORECASE)
# "Published: 15 August 2025", "Published Aug. 15, 2025 3:04 p.m. ET", "Updated 2025-08-16",
# "By Jane Doe | Published Aug 15, 2025": the word opens the line or follows a separator, and
# the date comes right after it. "The study was published Aug. 15, 2025 in Nature" is a sentence.
_STAMP_LABEL = re.compile(
    r"(?:^|[|•·—–]\s*|\s-\s)(?P<label>(?:first |originally )?published|posted|(?:last )?updated|"
    r"(?:last )?modified)\b(?:\s+(?:on|at))?\s*:?\s*",
    re.IGNORECASE)
# A wire dateline opening a paragraph: a place in capitals (and a region), a date, the wire in
# brackets, a dash. "ANCHORAGE, Aug 15 (Reuters) -", "WASHINGTON, Aug. 15, 2025 (AP) —",
# "ANCHORAGE, Alaska, Aug 15 (Reuters) -". An optional timestamp with a year may precede it on
# the same line (a page's "August 15, 2025 3:04 PM GMT" pasted together with the paragraph).
_PLACE = r"[A-Z][A-Z'’.-]*(?:[ /][A-Z][A-Z'’.-]*)*"
_DATELINE = re.compile(
    rf"^(?:(?P<stamp>(?i:{_FULL_DATE.pattern}))(?:\s+\d{{1,2}}:\d{{2}}\s*(?i:[ap]\.?m\.?)?(?:\s*[A-Z]{{2,4}}"
    rf"(?:[+-]\d{{1,2}})?)?)?\s*[|•·,-]?\s*)?"
    rf"{_PLACE}(?:,\s*[A-Z][A-Za-z.'’-]*(?: [A-Z][A-Za-z.'’-]*){{0,2}})?,\s*"
    rf"(?i:{_WEEKDAY})?(?P<when>(?i:{_MONTH})\s+(?P<day>\d{{1,2}}){_ORDINAL}(?:,?\s+(?P<year>{_YEAR}))?|"
    rf"(?P<day2>\d{{1,2}}){_ORDINAL}\s+(?i:{_MONTH})(?:,?\s+(?P<year2>{_YEAR}))?)"
    r"\s*(?:\([^()\n]{1,40}\)|/[^/\n]{1,40}/)?\s*(?:[-–—]{1,2})\s")
# How far down the top runs: headline, caption, standfirst, byline and a "Published" line
# seldom take more than this before the story's first paragraph.
_STAMP_LINES = 10
_DATELINE_LINES = 6


def _iso(text: str, dayfirst: bool = False) -> str:
    """ISO date of a written-out date, or "" when it does not name a year, month and day (it is
    parsed against two different defaults: a part the text leaves out differs between them)."""
    from dateutil import parser

    try:
        one = parser.parse(text, default=datetime(1901, 1, 1), dayfirst=dayfirst)
        two = parser.parse(text, default=datetime(1902, 2, 2), dayfirst=dayfirst)
    except (ValueError, OverflowError):
        return ""
    if one.date() != two.date():
        return ""
    return one.date().isoformat()


def iso_date(text: str) -> str:
    """ISO date of a written-out date ("14 June 2025", "20250614"), or "" when it does not name
    a year, month and day."""
    return _iso(text)


def _full_date_at_start(text: str) -> str:
    match = _FULL_DATE.match(text)
    if not match:
        return ""
    if match.group("a"):
        a, b = int(match.group("a")), int(match.group("b"))
        if a <= 12 and b <= 12 and a != b:
            return ""
        return _iso(match.group("date"), dayfirst=a > 12)
    return _iso(match.group("date"))


def stamp_date(line: str) -> tuple[str, str]:
    """(kind, ISO date) of a "Published/Updated/Posted <date>" line, kind being "published" or
    "updated"; ("", "") when the line is no such stamp."""
    text = line.strip().strip("*_ \t")
    for label in _STAMP_LABEL.finditer(text):
        date = _full_date_at_start(text[label.end():])
        if date:
            kind = "updated" if re.search(r"updated|modified", label.group("label"), re.I) \
                else "published"
            return kind, date
    return "", ""


def dateline_date(line: str) -> str:
    """ISO date of a wire dateline opening `line`; "" without one, or when it gives no year and
    the line gives none before it (no year is guessed)."""
    match = _DATELINE.match(line.strip())
    if not match:
        return ""
    day = match.group("day") or match.group("day2")
    year = match.group("year") or match.group("year2")
    month_text = re.search(_MONTH, match.group("when"), re.IGNORECASE)
    if not month_text:
        return ""
    if year:
        return _iso(f"{day} {month_text.group(0)} {year}")
    stamp = _full_date_at_start(match.group("stamp")) if match.group("stamp") else ""
    if not stamp:
        return ""
    # The year of the timestamp on the same line; a dateline after that stamp's day would be a
    # guess across a new year, so none is made.
    guess = _iso(f"{day} {month_text.group(0)} {stamp[:4]}")
    return guess if guess and guess <= stamp else ""


def date_from_top(text: str) -> str:
    """The article's date as ISO YYYY-MM-DD from the top of its text, or "".

    A "Published" or "Posted" line comes first (the original date, as index/html.py prefers),
    then a dateline, then an "Updated" line."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    published = updated = dateline = ""
    for line in lines[:_STAMP_LINES]:
        kind, date = stamp_date(line)
        if kind == "published" and not published:
            published = date
        elif kind == "updated" and not updated:
            updated = date
    for line in lines[:_DATELINE_LINES]:
        dateline = dateline_date(line)
        if dateline:
            break
    date = published or dateline or updated
    if date:
        logger.debug("date %s read from the top of the text (published=%s dateline=%s updated=%s)",
                     date, published, dateline, updated)
    return date


def is_not_headline(line: str) -> bool:
    """Whether a line at the top is one a title must pass over: a photo caption, a byline or a
    dated "Published/Updated" stamp."""
    return is_caption(line) or is_byline(line) or bool(stamp_date(line)[1])
