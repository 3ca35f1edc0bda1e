"""Stage 4, check: the support check on every offline answer.

Each quoted sentence is scored against the passages it cites with the same support scorer the
grounding guard uses on generated answers and the evaluation suite uses on every answer
(assistant/grounding.py), and the Answer's SentenceSupport records what it found: the score,
whether it reaches the threshold, and, when it does not, why. A verbatim quote of its passage
is normally supported outright (unless a negation just before it in the passage turns it
around); the check is what says so, not an assumption, and it says so without the embedding
the scorer needs for anything less than a verbatim quote.

The conflict summary restates the two sides' values; it is checked when composed (each value
quoted verbatim in the sentence it cites), as the scorer cannot judge two passages that
disagree. A generated answer is checked by its own guard (assistant/guard.py).
"""

from __future__ import annotations

from assistant.answering.compose import QUOTE_NOTE
from assistant.grounding import SupportScorer, verbatim
from assistant.models import Answer, Citation


def cited_premise(citations: list[Citation]) -> str:
    """What a set of citations offers as evidence: their passages (or quotes), one per line."""
    return "\n".join((c.passage or c.text) for c in citations)


class SupportCheck:
    def __init__(self, scorer: SupportScorer) -> None:
        self.scorer = scorer

    def __call__(self, answer: Answer) -> Answer:
        """Score the answer's quoted sentences against the passages they cite, in place."""
        by_n = {c.n: c for c in answer.citations}
        for sentence in answer.sentences:
            if sentence.note != QUOTE_NOTE:
                continue
            cited = [by_n[n] for n in sentence.citations if n in by_n]
            if not cited:
                sentence.support, sentence.supported = 0.0, False
                sentence.note = f"{QUOTE_NOTE}; it cites no passage"
                continue
            premise = cited_premise(cited)
            if verbatim(sentence.text, premise):
                # What the scorer would give a verbatim quote (1.0, supported), found without
                # embedding every window of the passage: that was most of an answer's check.
                sentence.support, sentence.supported = 1.0, True
                continue
            support = self.scorer.score(sentence.text, premise)
            sentence.support, sentence.supported = support.score, support.supported
            if not support.supported:
                missing = f", not in the passage: {', '.join(support.vetoed[:4])}" \
                    if support.vetoed else ""
                sentence.note = (f"{QUOTE_NOTE}; its passage supports it only "
                                 f"{support.score:.2f}{missing}")
        return answer
