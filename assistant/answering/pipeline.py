"""The answer path, run as stages: retrieve -> read -> compose -> check.

    retrieve (retrieve.py)  question -> Evidence: passages, their sentences, article texts, IDF
    read     (read.py)      Evidence -> Selection (reader or heuristic answerer, one protocol);
                            a Probe it asks for is run by retrieve, then read finishes it
    compose  (compose.py)   Selection -> Answer (quotes, citations, conflict wording, status)
    check    (check.py)     Answer -> Answer with every sentence's support scored

With an LLM configured, the generative composer (assistant/generative.py) takes the checked
offline Answer as its fallback and its guard (assistant/guard.py) is its check. Only the retrieve
stage reads the index; no stage calls back into the facade.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from assistant.answering.check import SupportCheck
from assistant.answering.compose import compose, pieces_then, retrieved_passages
from assistant.answering.read import Read
from assistant.answering.retrieve import Evidence, Retrieve
from assistant.models import Answer, Scope
from assistant.retrieval import Passage
from assistant.selection import Selection
from assistant.tuning import CONFLICT_PROBE_PASSAGES

log = logging.getLogger(__name__)


class Composer(Protocol):
    """Another composer of the Answer: the generative one (assistant/generative.py), given the
    checked offline Answer as its fallback."""

    def answer(self, question: str, query: str, passages: list[Passage], selection: Selection,
               fallback: Answer) -> Answer: ...

    def stream(self, question: str, query: str, passages: list[Passage], selection: Selection,
               fallback: Answer) -> Iterator[str | Answer]: ...


@dataclass
class Prepared:
    """A question ready for the stages: as asked, as searched (a follow-up's rewrite, typos
    corrected), what the answerer picks sentences for, and a note on the rewrite."""

    question: str
    query: str
    focus: str
    note: str = ""


@dataclass
class Outcome:
    """What the offline stages produced for one question."""

    evidence: Evidence
    selection: Selection
    answer: Answer
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def passages(self) -> list[Passage]:
        return self.evidence.passages


class Pipeline:
    def __init__(self, retrieve: Retrieve, read: Callable[[], Read],
                 check: Callable[[], SupportCheck], generative: Callable[[], Composer] | None,
                 *, calibrated: bool, probe: bool) -> None:
        self.retrieve = retrieve
        self._read = read
        self._check = check
        self._generative = generative  # None: offline answers only
        self.calibrated = calibrated  # the confidence is the reader's calibrated probability
        self.probe = probe  # read CONFLICT_PROBE_PASSAGES past top_k once there is an answer

    def run(self, prepared: Prepared, top_k: int | None, scope: Scope | None) -> Outcome:
        """retrieve -> read -> compose -> check, for the offline Answer."""
        question, query, focus = prepared.question, prepared.query, prepared.focus
        timings: dict[str, float] = {}
        evidence = self.retrieve(query, top_k, scope,
                                 probe=CONFLICT_PROBE_PASSAGES if self.probe else 0,
                                 also=(focus,) if focus not in (None, query) else (),
                                 timings=timings)
        t0 = time.perf_counter()
        read = self._read()
        evidence, selection = read(evidence, query, focus)
        probe = read.probe_for(selection)
        if probe is not None:
            selection = read.other_side(focus or query, selection,
                                        self.retrieve.probe(probe, evidence))
        answer = self._check()(compose(question, selection, self.calibrated))
        timings["answer"] = _ms(t0)
        return Outcome(evidence, selection, answer, timings)

    def answer(self, prepared: Prepared, top_k: int | None, scope: Scope | None,
               started: float) -> Answer:
        """The final Answer: offline, then by the generative composer when one is configured."""
        outcome = self.run(prepared, top_k, scope)
        answer = outcome.answer
        if self._generative is not None:
            t0 = time.perf_counter()
            answer = self._generative().answer(prepared.question, prepared.query,
                                               outcome.passages, outcome.selection, answer)
            outcome.timings["answer"] += _ms(t0)
        return self.finish(answer, outcome, prepared, scope, started)

    def stream(self, outcome: Outcome, prepared: Prepared, scope: Scope | None,
               started: float) -> Iterator[str | Answer]:
        """The answer's text as it is produced, then the final Answer."""
        if self._generative is None:
            items: Iterator[str | Answer] = pieces_then(outcome.answer)
        else:
            items = self._generative().stream(prepared.question, prepared.query,
                                              outcome.passages, outcome.selection, outcome.answer)
        # The total counts our own work only, not the time the caller spends between pieces
        # (a chat that paces the reveal would otherwise report its pacing as answer time).
        waited = 0.0
        for item in items:
            if isinstance(item, Answer):
                yield self.finish(item, outcome, prepared, scope, started + waited)
                return
            handed = time.perf_counter()
            yield item
            waited += time.perf_counter() - handed

    def finish(self, answer: Answer, outcome: Outcome, prepared: Prepared, scope: Scope | None,
               started: float) -> Answer:
        """Record the passages, pages, follow-up rewrite (if any), scope, status and timings on
        a final Answer. A generated answer over a tentative reading is tentative too."""
        answer.passages = retrieved_passages(outcome.passages, answer, outcome.selection)
        self.retrieve.pages(answer)
        if answer.abstained:
            answer.status = "declined"
        elif outcome.selection.tentative:
            answer.status = "tentative"
        answer.scope = None if scope is None or scope.is_everything() else scope
        if prepared.note:
            answer.notes = [prepared.note, *answer.notes]
        answer.query = prepared.query if prepared.query != prepared.question else ""
        timings = outcome.timings
        timings["total"] = _ms(started)
        answer.timings_ms = {**answer.timings_ms, **timings}
        # One line an answer: what happened and where the time went, never the question's text
        # (it may be private); DEBUG adds it.
        log.info("answer: %s, %d citations, confidence %.2f, %s", answer.status,
                 len(answer.citations), answer.confidence,
                 ", ".join(f"{k} {v:.0f} ms" for k, v in answer.timings_ms.items()))
        log.debug("answer to %r (read as %r)", prepared.question, prepared.query)
        return answer


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
