"""Sentence splitting and word normalisation shared by chunking, retrieval and checking.

Everything here keeps character offsets, because every citation must point at the exact span
of the article it quotes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any


# Slots: a 50 MB article holds ~600,000 of these at once.
@dataclass(frozen=True, slots=True)
class Span:
    """A piece of text with its character offsets in the text it came from."""

    text: str
    start: int
    end: int


@cache
def _punkt() -> Any:
    """NLTK's Punkt sentence tokenizer with the English model that llama-index-core ships (its
    _static/nltk_cache), found without importing llama_index.core (seconds of imports) and
    never downloaded."""
    import importlib.util

    import nltk
    from nltk.tokenize.punkt import PunktTokenizer

    spec = importlib.util.find_spec("llama_index.core")
    for root in list(spec.submodule_search_locations or []) if spec else []:
        cache_dir = Path(root) / "_static" / "nltk_cache"
        if (cache_dir / "tokenizers" / "punkt_tab" / "english").is_dir():
            # NLTK reads models only from its search path (nltk.data.path).
            if str(cache_dir) not in nltk.data.path:
                nltk.data.path.append(str(cache_dir))
            tokenizer = PunktTokenizer("english")
            # Punkt's model knows few news abbreviations with capitalised successors
            # ("Gov. Newsom", "Sen. Warren"); without these it splits after them.
            tokenizer._params.abbrev_types.update(_EXTRA_ABBREVIATIONS)
            return tokenizer
    raise RuntimeError("NLTK's punkt model was not found in llama-index-core; reinstall with "
                       "`make install`")


# Titles and abbreviations that news text puts before a capitalised word.
_EXTRA_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "gen", "col", "lt", "sgt", "capt",
    "gov", "sen", "rep", "pres", "rev", "hon", "inc", "ltd", "co", "corp", "vs", "no", "jan",
    "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "approx",
    "dept", "est", "fig", "ave", "u.s", "u.k", "u.n", "e.g", "i.e", "a.m", "p.m", "adm", "cmdr",
    "supt", "insp", "det", "cpl", "pvt", "maj", "messrs", "mme", "mlle", "univ", "assn", "bros",
}
_LINE = re.compile(r"[^\n]+")
# The longest sentence kept whole, in characters: a longer run (a file with no full stops, a
# table flattened to one line) is cut at the last space before this many characters. Without a
# cap one 2 MB line became one sentence, one chunk and one passage, and reading it took 23 GB.
# News sentences run to a few hundred characters; this is the question's own limit.
MAX_SENTENCE_CHARS = 2000


def split_sentences(text: str, offset: int = 0) -> list[Span]:
    """Split text into sentences with NLTK's Punkt, keeping exact offsets. A line break always
    ends a sentence (headlines and captions in news text often carry no final punctuation;
    hard-wrapped paragraphs are reflowed by the cleaner before this runs), and a piece that
    starts in lower case continues the previous sentence ('"Stop!" she said.')."""
    tokenizer = _punkt()
    spans: list[Span] = []
    for line in _LINE.finditer(text):
        base = line.start()
        pieces: list[list[int]] = []
        for start, end in tokenizer.span_tokenize(line.group(0)):
            head = line.group(0)[start:start + 1]
            if pieces and head.islower():
                pieces[-1][1] = end
            else:
                pieces.append([start, end])
        for start, end in pieces:
            for piece_start, piece_end in _capped(text, base + start, base + end):
                _append_trimmed(spans, text, piece_start, piece_end, offset)
    return spans


def _capped(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """text[start:end] in pieces of at most MAX_SENTENCE_CHARS, each cut after a space where
    there is one (a run without spaces is cut where it reaches the cap)."""
    pieces = []
    while end - start > MAX_SENTENCE_CHARS:
        cut = text.rfind(" ", start + 1, start + MAX_SENTENCE_CHARS)
        cut = start + MAX_SENTENCE_CHARS if cut <= start else cut + 1
        pieces.append((start, cut))
        start = cut
    pieces.append((start, end))
    return pieces


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
    if text.isascii():
        # The same tokens, without folding each one: nothing to fold and no curly apostrophe.
        # It runs over every article's text at ingest (about 5 % of an ingest without the
        # model, profiled on 2,000 articles) and over every question.
        return [t[:-2] if t.endswith("'s") else t for t in _WORD.findall(text.lower())]
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


# What must not reach a terminal raw inside a path (or a one-line message that names one): C0
# and C1 controls (a newline forges a line of output, ESC starts escape sequences), the
# Unicode line and paragraph separators, the bidirectional controls that reorder what is shown
# ("report\u202etxt.exe" shows as "reportexe.txt"), and the lone surrogates that stand for a
# file name's undecodable bytes (printing one raises UnicodeEncodeError).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                          "\u2066-\u2069\ud800-\udfff]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable_path(text: str | Path) -> str:
    """A path, or a one-line message holding paths, safe to print: every character above
    escaped as Python writes it (\\n, \\x1b, \\u202e), everything else as it is. The one
    helper the CLI prints paths through."""
    return _UNPRINTABLE.sub(lambda m: _escape(m.group()), str(text))


def _escape(char: str) -> str:
    code = ord(char)
    return _SHORT_ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
