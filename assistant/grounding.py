"""The support scorer: does a passage back a sentence? Local and deterministic.

It serves three callers: the offline answerer (to report per-sentence support), the grounding
guard on generated answers, and the evaluation suite. Three signals:

- similarity: the best embedding cosine between the sentence and any window of one or two
  consecutive passage sentences (a claim is usually backed by one or two sentences, and whole
  passages dilute the match);
- precision: the share of the sentence's content words found in the passage;
- veto: a number, date or name in the sentence that the passage lacks sinks the score, since
  swapped figures and names read fluently and embed almost identically; so does a negation that
  one side has and the other does not.

A sentence the passage holds word for word (case and punctuation aside, at least four words, not
right after a negation the sentence lacks) is supported outright: a quote is backed by its
source, however little of the window it covers.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from assistant.answer_types import MONTHS, NUMBER_WORDS
from assistant.tuning import (
    SUPPORT_COSINE_FLOOR,
    SUPPORT_COSINE_RANGE,
    SUPPORT_PRECISION_WEIGHT,
    SUPPORT_SIMILARITY_WEIGHT,
    SUPPORT_THRESHOLD,
    SUPPORT_VETO_FACTOR,
    VERBATIM_MIN_WORDS,
    VERBATIM_NEGATION_LOOKBACK,
)
from index.embedding import Embedder
from index.text import STOPWORDS, split_sentences, stem, words

_NEGATIONS = {"not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "without",
              "didn't", "doesn't", "don't", "wasn't", "weren't", "isn't", "aren't", "won't",
              "cannot", "can't", "couldn't", "hasn't", "haven't", "hadn't", "failed", "refused"}
_MONTH_SET = set(MONTHS.split("|"))
_PRONOUN = re.compile(r"\b(he|she|they|him|her|them|his|hers|their)\b", re.IGNORECASE)


@dataclass
class Support:
    score: float
    similarity: float
    precision: float
    vetoed: list[str] = field(default_factory=list)
    best_window: tuple[int, int] = (0, 0)  # character span in the passage that matched best

    @property
    def supported(self) -> bool:
        return self.score >= SUPPORT_THRESHOLD


def _key_tokens(text: str) -> set[str]:
    """Numbers, dates and names: the tokens a fluent but false claim tends to swap."""
    keys: set[str] = set()
    for token in re.findall(r"\d[\d,.]*", text):
        keys.add(token.rstrip(".,").replace(",", ""))
    tokens = re.findall(r"[A-Za-z][A-Za-z'’-]*", text)
    for i, token in enumerate(tokens):
        low = token.lower()
        if low in NUMBER_WORDS and low not in ("a", "an", "once", "half"):
            keys.add(low)
        elif low in _MONTH_SET:
            keys.add(low)
        elif token[0].isupper() and i > 0 and low not in STOPWORDS:
            # "Trump-Putin talks" names two people that a passage may name apart.
            for part in low.rstrip("'’s").replace("’", "'").split("-"):
                if part and part not in STOPWORDS:
                    keys.add(part)
    return keys


def _number_values(keys: set[str]) -> set[str]:
    values = set()
    for key in keys:
        if key in NUMBER_WORDS:
            values.add(str(float(NUMBER_WORDS[key])))
        else:
            try:
                values.add(str(float(key)))
            except ValueError:
                values.add(key)
    return values


def _has_negation(text: str) -> bool:
    return any(w in _NEGATIONS or w.endswith("n't") for w in words(text.replace("’", "'")))


def verbatim(sentence: str, passage: str) -> bool:
    """The passage holds the sentence word for word, and no negation right before it turns it
    around ("no sign that a deal was reached" does not back "a deal was reached")."""
    tokens = re.findall(r"\w+", sentence)
    if len(tokens) < VERBATIM_MIN_WORDS:
        return False
    pattern = r"(?<!\w)" + r"\W+".join(re.escape(t) for t in tokens) + r"(?!\w)"
    match = re.search(pattern, passage, re.IGNORECASE)
    if match is None:
        return False
    lead = words(passage[:match.start()].replace("’", "'"))[-VERBATIM_NEGATION_LOOKBACK:]
    negated = any(w in _NEGATIONS or w.endswith("n't") for w in lead)
    return not negated or _has_negation(sentence)


@dataclass(frozen=True)
class _Window:
    """One or two consecutive sentences of a passage, with their span in it."""

    passage: int
    text: str
    start: int
    end: int
    single: bool


class SupportScorer:
    # Window vectors are cached: the guard scores every sentence (and clause) of a generated
    # answer against the same retrieved passages, so their windows repeat within one answer.
    CACHE_SIZE = 4096

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _embed_cached(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        fresh = self.embedder.embed(missing) if missing else None
        with self._lock:
            for text, vector in zip(missing, fresh if fresh is not None else [], strict=True):
                self._cache[text] = vector
                self._cache.move_to_end(text)
            while len(self._cache) > self.CACHE_SIZE:
                self._cache.popitem(last=False)
            found = {t: self._cache.get(t) for t in texts}
        if any(v is None for v in found.values()):  # evicted meanwhile by another thread
            return self.embedder.embed(texts)
        return np.stack([found[t] for t in texts])

    def score(self, sentence: str, passage: str, sentence_vector: np.ndarray | None = None
              ) -> Support:
        return self.score_many(sentence, [passage], sentence_vector)[0]

    def score_many(self, sentence: str, passages: list[str],
                   sentence_vector: np.ndarray | None = None) -> list[Support]:
        if not passages:
            return []
        windows: list[_Window] = []
        for p_index, passage in enumerate(passages):
            spans = split_sentences(passage) or []
            for i, span in enumerate(spans):
                windows.append(_Window(p_index, span.text, span.start, span.end, single=True))
                if i + 1 < len(spans):
                    windows.append(_Window(p_index, passage[span.start:spans[i + 1].end],
                                           span.start, spans[i + 1].end, single=False))
        if sentence_vector is None:
            sentence_vector = self.embedder.embed([sentence])[0]
        window_vectors = self._embed_cached([w.text for w in windows]) if windows else np.zeros(0)
        sims = window_vectors @ sentence_vector if len(windows) else np.zeros(0)
        return [self._combine(sentence, passage, p_index, windows, sims)
                for p_index, passage in enumerate(passages)]

    def _combine(self, sentence: str, passage: str, p_index: int,
                 windows: list[_Window], sims: np.ndarray) -> Support:
        best_sim, best_span = 0.0, (0, 0)
        best_single, single_sim = "", -1.0
        for window, sim in zip(windows, sims, strict=True):
            if window.passage != p_index:
                continue
            if sim > best_sim:
                best_sim, best_span = float(sim), (window.start, window.end)
            if window.single and sim > single_sim:
                best_single, single_sim = window.text, float(sim)
        content = [stem(w) for w in words(sentence) if w not in STOPWORDS]
        passage_stems = {stem(w) for w in words(passage)}
        precision = (sum(1 for w in content if w in passage_stems) / len(content)) if content else 0.0
        sentence_keys = _number_values(_key_tokens(sentence))
        # A sentence's first word is capitalised anyway, so _key_tokens skips it; it is a name
        # when the passage capitalises it mid-sentence ("Trump visited ..." is a claim about
        # Trump).
        first = re.match(r"\s*([A-Z][A-Za-z'’-]*)", sentence)
        if first:
            for part in first.group(1).lower().rstrip("'’s").split("-"):
                if part and part not in STOPWORDS and part in _key_tokens(passage):
                    sentence_keys.add(part)
        # Names, numbers and dates must appear in the window that matched, not just anywhere in
        # the passage: "Trump visited America ..." against "Putin visited America ... Trump's
        # meeting ..." swaps a name that the passage does hold, one sentence further on.
        region = passage[best_span[0]:best_span[1]] or passage
        if _PRONOUN.search(region):
            # "He later took it back": the name is in the sentence before the window.
            before = split_sentences(passage[:best_span[0]])
            region = (before[-1].text + " " + region) if before else region
        passage_keys = _number_values(_key_tokens(region)) | {stem(w) for w in words(region)} \
            | set(words(region))
        vetoed = sorted(k for k in sentence_keys if k not in passage_keys)
        # Negation is compared with the one passage sentence closest to the claim: a two-sentence
        # window often pairs the matching sentence with an unrelated negated one.
        if _has_negation(sentence) != _has_negation(best_single or passage):
            vetoed.append("negation")
        # Cosine between paraphrases of one fact sits around 0.6-0.9 for MiniLM; rescale.
        similarity = min(max((best_sim - SUPPORT_COSINE_FLOOR) / SUPPORT_COSINE_RANGE, 0.0), 1.0)
        score = SUPPORT_SIMILARITY_WEIGHT * similarity + SUPPORT_PRECISION_WEIGHT * precision
        if vetoed:
            score *= SUPPORT_VETO_FACTOR
        if verbatim(sentence, passage):
            score, vetoed = 1.0, []
        return Support(round(score, 4), round(best_sim, 4), round(precision, 4), vetoed, best_span)
