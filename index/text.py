"""Sentence splitting and word normalisation shared by chunking, retrieval and checking.

Everything here is pure Python and keeps character offsets, because every citation
must point at the exact span of the article it quotes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Abbreviations whose trailing period does not end a sentence.
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "gen", "col", "lt", "sgt", "capt",
    "gov", "sen", "rep", "pres", "rev", "hon", "inc", "ltd", "co", "corp", "vs", "etc", "no",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "approx", "dept", "est", "fig", "e.g", "i.e", "u.s", "u.k", "u.n", "a.m", "p.m", "ave",
}

_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+)|\n\s*\n|\n")


@dataclass(frozen=True)
class Span:
    """A piece of text with its character offsets in the text it came from."""

    text: str
    start: int
    end: int


def _ends_with_abbreviation(text: str) -> bool:
    match = re.search(r"([A-Za-z][A-Za-z.]*)\.$", text)
    if not match:
        return False
    word = match.group(1).lower()
    # A single capital letter ("J. Smith") is an initial, not a sentence end.
    if len(word) == 1:
        return True
    return word in _ABBREVIATIONS


def split_sentences(text: str, offset: int = 0) -> list[Span]:
    """Split text into sentences, keeping offsets. Line breaks always end a sentence,
    because headlines and captions in news text often carry no final punctuation."""
    spans: list[Span] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        piece = text[start:end]
        is_newline = "\n" in match.group(0)
        if not is_newline and _ends_with_abbreviation(piece.rstrip()):
            continue
        # A decimal number or a thousands separator ("3.5", "1,200.50") is not an end.
        if not is_newline and re.search(r"\d\.$", piece) and re.match(r"\d", text[end:end + 1] or ""):
            continue
        # A stop followed by a lower-case word goes on ("'Stop!' she said.", "approx. ten"):
        # a new sentence would start with a capital.
        if not is_newline and re.match(r"\s+[a-z]", text[match.end():match.end() + 8]):
            continue
        _append_trimmed(spans, text, start, end, offset)
        start = end
    _append_trimmed(spans, text, start, len(text), offset)
    return spans


def _append_trimmed(spans: list[Span], text: str, start: int, end: int, offset: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return
    lead = len(piece) - len(piece.lstrip())
    s = start + lead
    spans.append(Span(stripped, s + offset, s + len(stripped) + offset))


STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself
    just me more most my myself no nor not now of off on once only or other our ours ourselves out
    over own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves s t d ll m o re ve y ain according
    said say says did does done get got many much one ones us may might must shall also yet""".split()
)

# Letters of any script: an ASCII-only pattern cut "Tomás" into "tom" and "s", which then
# matched nothing in the FTS5 index (its tokenizer keeps the word whole).
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")


def _fold(token: str) -> str:
    """Drop accents, as FTS5's unicode61 tokenizer does, so "Fecamp" matches "Fécamp"."""
    if token.isascii():
        return token
    return "".join(c for c in unicodedata.normalize("NFKD", token) if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """Lower-cased word tokens, accents and possessives dropped."""
    out = []
    for token in _WORD.findall(text):
        token = _fold(token.lower()).replace("’", "'")
        if token.endswith("'s"):
            token = token[:-2]
        out.append(token)
    return out


def stem(word: str) -> str:
    """A light suffix stripper: enough to match 'talks'/'talked'/'talking' without a
    stemmer package (and without NLTK data, which may not be downloaded here)."""
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, keep in (("ies", "y"), ("ied", "y"), ("ing", ""), ("edly", ""), ("ed", ""),
                         ("ly", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)] + keep
            if suffix in ("ing", "ed") and len(base) > 3 and base[-1] == base[-2]:
                base = base[:-1]  # "stopped" -> "stop"
            if suffix == "es" and not re.search(r"(s|x|z|ch|sh)$", base):
                base = word[:-1]  # "leaves" -> "leave", but "taxes" -> "tax"
            return base
    return word


def content_terms(text: str) -> list[str]:
    """Stemmed content words, in order, stopwords removed."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]
