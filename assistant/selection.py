"""The hand-over from reading to composing an answer: the Selection an answerer makes (the
sentences to quote, its confidence, whether to abstain, a conflict) and, from the reader answerer
(assistant/reading.py), the Readings it made it from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.reader import Span
from assistant.retrieval import Candidate, Passage


@dataclass(frozen=True)
class Probe:
    """A search a Selection asks the retrieve stage for, to find the other side of its answer:
    with the answer's sentence (`sentence`, outside `best_article`), or for chunks that hold
    one of `unit_words` and one of the question's `terms` (placed at `rank`)."""

    sentence: str = ""
    best_article: str = ""
    # The sentence's stored vector (the catalog's): searched with, rather than embedding it again.
    vector: np.ndarray | None = None
    unit_words: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    rank: int = 0


@dataclass
class Reading:
    """The reader's best span in one passage, placed in its article."""

    passage: Passage
    span: Span
    start: int  # offsets of the span in the article's text
    end: int
    sentence: Candidate  # the sentence the span lies in
    probability: float = 0.0

    @property
    def text(self) -> str:
        return self.span.text

    @property
    def strength(self) -> float:
        """What readings are ranked and decided on (Span.strength)."""
        return self.span.strength

    @property
    def article_id(self) -> str:
        return self.passage.article.article_id


@dataclass
class Selection:
    """What the answerer chose, before it is turned into an Answer."""

    sentences: list[Candidate]
    confidence: float
    abstain: bool
    conflict: tuple[str, Candidate, Candidate, str, str] | None = None
    reason: str = ""
    # Why the articles don't say, in words for whoever reads the answer (shown with a decline);
    # empty when it is only that no passage answers well enough.
    explanation: str = ""
    # Set by the reader answerer (assistant/reading.py): the span the answer gives, and the two
    # sides' spans of a conflict.
    reading: Reading | None = None
    conflict_readings: tuple[Reading, Reading] | None = None
    # Every passage's best reading (reader answerer only), for Answer.passages' reader scores.
    readings: tuple[Reading, ...] = ()
    # The reader answered below its fitted confidence band: shown as "Not sure: ...".
    tentative: bool = False
    # The heuristic answerer's conflict check waiting for a search of other articles' amounts
    # (the retrieve stage runs it; the answerer's other_side finishes the check).
    probe: Probe | None = None
    pending: Any = None
