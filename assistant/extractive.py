"""The offline answerer: quote the sentences that answer the question, or abstain.

Each retrieved sentence gets a score from four signals: embedding similarity to the question,
the IDF-weighted share of the question's words it (or its neighbour) contains, whether it offers
the kind of answer asked for (a date for "when"), and its passage's retrieval rank. The best one
or two sentences form the answer. The answer's confidence comes from the best sentence's
similarity and from how much of the question the passage covers at all; a question whose
distinctive words the articles never use is one they don't answer. The weights, the confidence
and the abstention threshold live in heuristic_weights.json (hand-set on our dev sets; see it).

It reads only the Evidence the retrieve stage hands it (assistant/answering/retrieve.py); the
conflict check's search for other articles' amounts is a Probe the retrieve stage runs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from assistant.answer_types import expected_type, is_list_question, offers_type
from assistant.answering.retrieve import Evidence
from assistant.conflicts import Quantity, disagreement, quantities, unit_answers
from assistant.instructions import addresses_an_assistant
from assistant.retrieval import Candidate, Passage, question_terms
from assistant.selection import Probe, Selection
from assistant.tuning import (
    CONFIDENCE_SENTENCES,
    CONFLICT_MIN_SCORE_RATIO,
    CONFLICT_RATIO,
    LIST_ANSWER_SENTENCES,
    PREVIOUS_SENTENCE_COVERAGE,
    PROBE_UNIT_WORDS,
    SAME_TOPIC_COSINE,
    SECOND_SENTENCE_RATIO,
)
from index.stems import PorterStems
from index.text import STOPWORDS, words

# The numbers below are read from this file. They were set by hand on our dev sets (its
# "fitted_on" says so, and every figure on those sets is in-sample); training/fit_heuristic.py
# refits them on a training split, and its "refit" records why that fit is not shipped.
FITTED = Path(__file__).with_name("heuristic_weights.json")


@cache
def fitted_weights() -> dict[str, float]:
    """The fitted numbers (sentence weights, confidence, abstention threshold)."""
    data = json.loads(FITTED.read_text(encoding="utf-8"))
    return {k: float(v) for k, v in data.items() if isinstance(v, (int, float))}


def _fitted(name: str) -> Any:
    return field(default_factory=lambda: fitted_weights()[name])


@dataclass(frozen=True)
class ScoringWeights:
    # A candidate sentence's score: a weighted sum of its similarity to the question, the
    # IDF-weighted share of the question's words it (or the sentence before it) covers,
    # whether it offers the asked-for type of value, and 1 / (1 + its passage's rank).
    dense: float = _fitted("dense")
    lexical: float = _fitted("lexical")
    answer_type: float = _fitted("answer_type")
    passage_rank: float = _fitted("passage_rank")
    # Confidence that the articles answer the question: a logistic function of the best
    # sentence's similarity to the question, the share of the question's (IDF-weighted) words
    # that no article uses, whether a typed question ("how many", "when") finds no value of that
    # type, and the alignment gap: how much worse the question's worst-matched word fares than
    # its second-worst, in token-level similarity to the best two sentences (one word nothing
    # in the passage matches, while the rest match well, is the mark of a swapped detail).
    conf_bias: float = _fitted("conf_bias")
    conf_dense: float = _fitted("conf_dense")
    conf_missing: float = _fitted("conf_missing")
    conf_type_missing: float = _fitted("conf_type_missing")
    conf_alignment_gap: float = _fitted("conf_alignment_gap")
    # Not in the file (hand-set; assistant/tuning.py says where they came from): a second
    # sentence joins the answer when it scores at least this share of the best one; the conflict
    # check runs when the best sentence stating an amount scores conflict_ratio of the best.
    second_sentence_ratio: float = SECOND_SENTENCE_RATIO
    conflict_ratio: float = CONFLICT_RATIO


@dataclass
class _Pending:
    """A selection whose conflict check waits for its probe (other articles' amounts)."""

    question: str
    vector: np.ndarray
    best: Candidate
    answering: list[Candidate]
    amounts_of: Any  # Candidate -> the amounts in it that can answer the question


class ExtractiveAnswerer:
    def __init__(self, weights: ScoringWeights | None = None,
                 max_sentences: int = 2, abstain_threshold: float = 0.4,
                 embedder: Any = None, stems: PorterStems | None = None) -> None:
        self.embedder = embedder
        self.stems = stems or PorterStems()
        # Token-level vectors need the local model; other embedders skip that signal.
        self.token_vectors = getattr(embedder, "token_vectors", None)
        self.weights = weights or ScoringWeights()
        self.max_sentences = max_sentences
        self.abstain_threshold = abstain_threshold

    def score(self, question: str, query_vector: np.ndarray, passages: list[Passage],
              evidence: Evidence) -> tuple[list[Candidate], dict[str, float]]:
        """Score every candidate sentence. Returns them best first, plus question-level facts."""
        w = self.weights
        # A sentence that addresses an AI assistant is an injection attempt, not reporting.
        candidates = [c for c in evidence.candidates(passages)
                      if not addresses_an_assistant(c.text)]
        terms = question_terms(question)
        idf, stems, df = evidence.terms.idf(terms)
        term_stems = [stems[t] for t in terms]
        total_weight = sum(idf[s] for s in set(term_stems)) or 1.0
        kind = expected_type(question)
        # Words of each candidate sentence, as porter stems, for coverage.
        sentence_stems: list[set[str]] = []
        for cand in candidates:
            ws = [x for x in words(cand.text) if x not in STOPWORDS]
            sentence_stems.append(set(self.stems.stems(ws).values()))
        by_position = {(c.sentence.article_id, c.sentence.idx): i for i, c in enumerate(candidates)}
        if candidates:
            matrix = np.stack([c.sentence.vector for c in candidates])
            dense = matrix @ query_vector
        else:
            dense = np.zeros(0)
        facts = {"kind_expected": 1.0 if kind else 0.0}
        for i, cand in enumerate(candidates):
            own = sentence_stems[i]
            # Pronouns often carry the subject into the next sentence, so the previous
            # sentence's words count for half.
            prev_index = by_position.get((cand.sentence.article_id, cand.sentence.idx - 1))
            prev = sentence_stems[prev_index] if prev_index is not None else set()
            covered = sum(idf[s] * (1.0 if s in own else PREVIOUS_SENTENCE_COVERAGE if s in prev else 0.0)
                          for s in set(term_stems))
            cand.dense = float(dense[i])
            cand.lexical = covered / total_weight
            type_bonus = offers_type(cand.text, kind, question)
            cand.offers_type = type_bonus
            cand.score = (w.dense * cand.dense + w.lexical * cand.lexical
                          + w.answer_type * type_bonus
                          + w.passage_rank / (1 + cand.passage.rank))
        candidates.sort(key=lambda c: -c.score)
        # Words of the question that no indexed chunk contains: the articles can't say.
        missing = sum(idf[s] for s in set(term_stems) if df.get(s, 0) == 0)
        facts["missing"] = missing / total_weight
        # A typed question ("how many", "when") whose best sentences hold no such value is
        # usually a near-topic question about a detail the articles never give.
        top = candidates[:CONFIDENCE_SENTENCES]
        facts["type_missing"] = 1.0 if kind and not any(c.offers_type for c in top) else 0.0
        return candidates, facts

    def select(self, question: str, evidence: Evidence) -> Selection:
        """Pick the sentences that answer from the evidence's passages. When the answer states
        an amount, the conflict check may ask for a probe (`probe_for`) before it is decided
        (`other_side`)."""
        w = self.weights
        query_vector = evidence.vector_for(question)
        if query_vector is None:
            query_vector = self.embedder.embed([question])[0]
        passages = evidence.passages
        candidates, facts = self.score(question, query_vector, passages, evidence)
        if not candidates:
            return Selection([], 0.0, True, reason="nothing retrieved")
        best = candidates[0]
        facts["alignment_gap"] = self.alignment_gap(
            question, [c.text for c in candidates[:CONFIDENCE_SENTENCES]])
        z = (w.conf_bias + w.conf_dense * best.dense + w.conf_missing * facts["missing"]
             + w.conf_type_missing * facts["type_missing"]
             + w.conf_alignment_gap * facts["alignment_gap"])
        confidence = 1.0 / (1.0 + math.exp(-z))
        if confidence < self.abstain_threshold:
            return Selection([], confidence, True, reason="evidence too weak")
        limit = LIST_ANSWER_SENTENCES if is_list_question(question) else self.max_sentences
        chosen = [best]
        for cand in candidates[1:]:
            if len(chosen) >= limit:
                break
            if cand.score >= w.second_sentence_ratio * best.score and cand.text != best.text:
                chosen.append(cand)
        pending, probe = self._conflict_probe(question, query_vector, passages, candidates)
        if pending is None:
            return Selection(chosen, confidence, False)
        return Selection(chosen, confidence, False, probe=probe, pending=pending)

    def probe_for(self, selection: Selection) -> Probe | None:
        return selection.probe

    def other_side(self, question: str, selection: Selection, probe: Evidence) -> Selection:
        """Finish the conflict check of a selection that asked for a probe: each other
        article's amount, from the passages read and those the probe found. The question is the
        one the selection was made for."""
        pending = selection.pending
        if not isinstance(pending, _Pending):
            return selection
        probed: list[Candidate] = []
        if probe.passages:
            probed, _ = self.score(pending.question, pending.vector, probe.passages, probe)
        return self._decided(selection, pending, probed)

    def _decided(self, selection: Selection, pending: _Pending, probed: list[Candidate]
                 ) -> Selection:
        answering = pending.answering + [c for c in probed
                                         if c.lexical > 0 and pending.amounts_of(c)]
        conflict = self._conflict_among(pending, answering)
        if conflict is None:
            return Selection(selection.sentences, selection.confidence, False)
        _, first, second, _, _ = conflict
        return Selection([first, second], selection.confidence, False, conflict)

    def alignment_gap(self, question: str, sentences: list[str]) -> float:
        """The gap between the worst- and second-worst-matched question word, where a word's
        match is its best token cosine against the sentences."""
        if self.token_vectors is None or not sentences:
            return 0.0
        encoded = self.token_vectors([question, *sentences])
        q_tokens, q_vectors = encoded[0]
        keep = [i for i, t in enumerate(q_tokens)
                if t.isalnum() and not t.startswith("##") and t.lower() not in STOPWORDS]
        if len(keep) < 2:
            return 0.0
        passage = np.concatenate([vectors for _, vectors in encoded[1:]])
        matches = np.sort((q_vectors[keep] @ passage.T).max(axis=1))
        return float(matches[1] - matches[0])

    def _conflict_probe(self, question: str, query_vector: np.ndarray, passages: list[Passage],
                        candidates: list[Candidate]) -> tuple[_Pending | None, Probe]:
        """Compare each article's best answer of the asked-for kind: if two articles give
        different amounts of the same unit, the sources disagree.

        Only questions that ask for an amount ("how long", "how many") are checked, and only
        amounts that can answer them count. Articles that ranked too low to be retrieved are
        probed with a lexical search for the unit (the Probe returned): a disagreement between
        sources matters more than its retrieval rank. No _Pending when there is nothing to
        check.
        """
        kind = expected_type(question)
        if kind not in ("duration", "length", "number"):
            return None, Probe()

        def fits(unit: str) -> bool:
            return unit_answers(kind, unit, question)

        def amounts(cand: Candidate) -> list[Quantity]:
            return [q for q in quantities(cand.text) if fits(q.unit)]

        answering = [c for c in candidates if c.lexical > 0 and amounts(c)]
        if not answering:
            return None, Probe()
        best = answering[0]
        if best.score < self.weights.conflict_ratio * candidates[0].score:
            return None, Probe()
        unit_words = tuple(amount.text.split()[-1].split("-")[-1]
                           for amount in amounts(best)[:PROBE_UNIT_WORDS])
        terms = tuple(question_terms(question))
        pending = _Pending(question, query_vector, best, answering, amounts)
        return pending, Probe(unit_words=unit_words, terms=terms, rank=len(passages))

    def _conflict_among(self, pending: _Pending, answering: list[Candidate]
                        ) -> tuple[str, Candidate, Candidate, str, str] | None:
        best = pending.best
        kind = expected_type(pending.question)

        def fits(unit: str) -> bool:
            return unit_answers(kind, unit, pending.question)

        # Each other article's best-scoring sentence that states a fitting amount about the
        # same thing as the best answer.
        best_of_article: dict[str, Candidate] = {}
        for cand in sorted(answering, key=lambda c: -c.score):
            article = cand.sentence.article_id
            if article == best.sentence.article_id or article in best_of_article:
                continue
            if cand.score >= CONFLICT_MIN_SCORE_RATIO * best.score and same_topic(best, cand):
                best_of_article[article] = cand
        for other in sorted(best_of_article.values(), key=lambda c: -c.score):
            found = disagreement(best.text, other.text, fits)
            if found:
                unit, a, b = found
                return unit, best, other, a.text, b.text
        return None


# Two sentences must be about the same thing to disagree: MiniLM puts unrelated news sentences
# below about 0.3 and two reports of one event well above it (SAME_TOPIC_COSINE).


def same_topic(first: Candidate, second: Candidate) -> bool:
    return float(first.sentence.vector @ second.sentence.vector) >= SAME_TOPIC_COSINE
