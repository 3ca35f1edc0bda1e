"""Stage 2, read: the configured answerer chooses what to quote from the Evidence.

Two answerers stand behind one protocol, `Answerer`: the trained reader (assistant/reading.py,
the default) and the heuristic answerer (assistant/extractive.py, answerer="heuristic"). Both
read only the Evidence the retrieve stage hands them and return a Selection (assistant/
selection.py): the sentences to quote, the confidence, whether to abstain, a conflict. When an
answer needs other articles' passages to find the other side of a conflict, its Selection asks
for them with a Probe, which the retrieve stage runs; `other_side` then finishes the selection.
"""

from __future__ import annotations

from typing import Protocol

from assistant.answering.retrieve import Evidence, about_the_subject
from assistant.selection import Probe, Selection


class Answerer(Protocol):
    def select(self, question: str, evidence: Evidence) -> Selection:
        """Choose from the evidence's passages (and its extra ones) for `question`."""
        ...

    def probe_for(self, selection: Selection) -> Probe | None:
        """The search that may find the other side of the selection's answer (None: none)."""
        ...

    def other_side(self, question: str, selection: Selection, probe: Evidence) -> Selection:
        """The selection checked against what the probe found."""
        ...


class Read:
    def __init__(self, answerer: Answerer) -> None:
        self.answerer = answerer

    def __call__(self, evidence: Evidence, query: str, focus: str | None = None
                 ) -> tuple[Evidence, Selection]:
        """The evidence as read (a follow-up reads the passages about its subject) and the
        selection for `focus` (default: the query)."""
        if focus not in (None, query):
            evidence = evidence.with_passages(about_the_subject(evidence.passages, query, focus))
        selection = self.answerer.select(focus or query, evidence)
        if selection.abstain and focus not in (None, query):
            # A bare follow-up ("where did they take place?") may be too vague on its own;
            # the rewrite carrying the conversation's subject may still find the answer.
            with_context = self.answerer.select(query, evidence)
            if not with_context.abstain:
                selection = with_context
        return evidence, selection

    def probe_for(self, selection: Selection) -> Probe | None:
        return self.answerer.probe_for(selection)

    def other_side(self, question: str, selection: Selection, probe: Evidence) -> Selection:
        return self.answerer.other_side(question, selection, probe)
