"""Typos in a question, corrected against the indexed articles' own words before retrieval.

"How long did the tlaks last?" retrieved passages about trams and snails: neither the lexical
index nor the embedding knows "tlaks", so the reader never saw the summit. A word is corrected
only when it is unknown both to the articles (the catalog's words table, kept at ingest) and to
English (symspellpy's frequency dictionary of 82,765 words, shipped in the package); a name (a
capitalised word after the first) and anything with a digit are never changed. The correction is
the articles' word one edit away (a letter swapped with its neighbour, dropped, doubled or
changed) that the most articles hold, a word of the typo's own letters first (two letters swapped
is the commonest slip): symspellpy's symmetric-delete lookup, built lazily from the
catalog and rebuilt when the articles change. When the articles hold no such word (the question
says "describe", the articles "described"), the most frequent of the 30,000 commonest English
words one edit away is taken instead.

symspellpy is the maintained Python port of SymSpell, made for exactly this lookup; its own
dictionary file serves as the list of known English words.
"""

from __future__ import annotations

import importlib.resources
import itertools
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator
from functools import cache

import numpy as np

from assistant.tuning import (
    SPELLING_ARTICLE_WORDS,
    SPELLING_ENGLISH_WORDS,
    SPELLING_MAX_EDIT_DISTANCE,
    SPELLING_MIN_WORD_LENGTH,
    SPELLING_PREFIX_LENGTH,
)

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?|\S")


def _english() -> Iterator[tuple[str, int]]:
    """symspellpy's English frequency dictionary, commonest first, read as it is used: read
    twice at most (the words, the lookup), where a list of it held 16 MB in every process."""
    with importlib.resources.files("symspellpy").joinpath(
            "frequency_dictionary_en_82_765.txt").open(encoding="utf-8") as lines:
        for line in lines:
            word, _, count = line.rstrip("\n").partition(" ")
            if word:
                yield word, int(count)


class EnglishWords:
    """Every word of symspellpy's English dictionary: the words never corrected. Held as the
    sorted hashes of the words (0.7 MB) rather than a set of them (9 MB in every process, issue
    #22); Python's string hash is the same throughout a process, and two of 83,000 words
    sharing a 64-bit hash with a typo is not a case to plan for."""

    def __init__(self) -> None:
        self._hashes = np.unique(np.fromiter((hash(word) for word, _ in _english()),
                                             dtype=np.int64))

    def __contains__(self, word: object) -> bool:
        key = hash(word)
        at = int(np.searchsorted(self._hashes, key))
        return at < len(self._hashes) and int(self._hashes[at]) == key

    def __len__(self) -> int:
        return len(self._hashes)


@cache
def english_words() -> EnglishWords:
    return EnglishWords()


@cache
def _english_lookup():
    from symspellpy import SymSpell

    symspell = SymSpell(max_dictionary_edit_distance=SPELLING_MAX_EDIT_DISTANCE,
                        prefix_length=SPELLING_PREFIX_LENGTH)
    for word, count in itertools.islice(_english(), SPELLING_ENGLISH_WORDS):
        if len(word) >= SPELLING_MIN_WORD_LENGTH - 1:
            symspell.create_dictionary_entry(word, count)
    return symspell


class SpellingCorrector:
    """Corrects unknown words of a question to the articles' vocabulary. Thread-safe."""

    def __init__(self, catalog) -> None:  # index.catalog.Catalog
        self.catalog = catalog
        self._lock = threading.Lock()
        self._version: str | None = None
        self._symspell = None

    def correct(self, question: str) -> str:
        """The question with its unknown words corrected; the question itself when none is."""
        shouting = question.isupper()
        tokens = list(_TOKEN.finditer(question))
        first_word = next((i for i, t in enumerate(tokens) if t.group(0)[0].isalpha()), None)
        suspects: dict[int, str] = {}
        known = english_words()
        for i, m in enumerate(tokens):
            token = m.group(0)
            if not token[0].isalpha() or len(token) < SPELLING_MIN_WORD_LENGTH \
                    or "'" in token or "’" in token:
                continue
            if token[0].isupper() and i != first_word and not shouting:
                continue  # a name: never changed
            if token.lower() not in known:
                suspects[i] = token.lower()
        if not suspects:
            return question
        pieces = [m.group(0) for m in tokens]
        changed = False
        try:
            in_articles = self.catalog.known_words(suspects.values())
            for i, word in suspects.items():
                fix = None if word in in_articles else self._closest(word)
                if fix:
                    pieces[i] = _cased_like(tokens[i].group(0), fix)
                    changed = True
        except sqlite3.OperationalError as exc:
            # A catalog written before the words table, opened read-only: answer uncorrected.
            log.warning("spelling: the catalog's words cannot be read (%s); question left as typed", exc)
            return question
        if not changed:
            return question
        out, last = [], 0
        for m, piece in zip(tokens, pieces, strict=True):
            out.append(question[last:m.start()] + piece)
            last = m.end()
        corrected = "".join(out) + question[last:]
        log.debug("spelling: read %r as %r", question, corrected)
        return corrected

    def load(self) -> None:
        """Build the dictionaries a first typo would otherwise wait for (a server's warm-up)."""
        english_words()
        _english_lookup()
        self._dictionary()

    def _closest(self, word: str) -> str | None:
        from symspellpy import Verbosity

        for dictionary in (self._dictionary(), _english_lookup()):
            suggestions = [s for s in dictionary.lookup(word, Verbosity.CLOSEST,
                                                        max_edit_distance=SPELLING_MAX_EDIT_DISTANCE)
                           if s.distance > 0]
            if suggestions:
                # Two letters typed in the wrong order is the commonest slip, and a word with
                # the typo's own letters is its likeliest reading: "mnay" is "many", although
                # "may" (a letter dropped, as close by edit distance) is the commoner word.
                return max(suggestions, key=lambda s: (_same_letters(s.term, word), s.count)).term
        return None

    def _dictionary(self):
        from symspellpy import SymSpell

        version = self.catalog.words_version()
        with self._lock:
            if self._symspell is None or version != self._version:
                symspell = SymSpell(max_dictionary_edit_distance=SPELLING_MAX_EDIT_DISTANCE,
                                    prefix_length=SPELLING_PREFIX_LENGTH)
                for word, count in self.catalog.vocabulary(SPELLING_ARTICLE_WORDS).items():
                    if len(word) >= SPELLING_MIN_WORD_LENGTH - 1:
                        symspell.create_dictionary_entry(word, count)
                self._symspell, self._version = symspell, version
            return self._symspell


def _same_letters(a: str, b: str) -> bool:
    return len(a) == len(b) and sorted(a) == sorted(b)


def _cased_like(original: str, word: str) -> str:
    if original.isupper():
        return word.upper()
    if original[0].isupper():
        return word[0].upper() + word[1:]
    return word
