"""A support check independent of the grounding guard: the trained reader reads the question
over the passages a sentence cites, and the sentence is supported when it states the answer the
reader finds there (the reader's span, normalised, inside the sentence).

The guard and the evaluation's own scorer share one method (assistant/grounding.py); grading
the guard with it would grade it by itself. The reader is another model, trained on other data
(squad2-pool), so when both agree the verdict means more, and where they disagree the report
shows it. A sentence citing passages where the reader finds no answer at all is unsupported.
"""

from __future__ import annotations

from assistant import Assistant
from evals.answer_match import normalize_answer


class ReaderChecker:
    """check(question, sentence, passages) -> True / False (None: nothing to read)."""

    name = "reader"

    def __init__(self, assistant: Assistant) -> None:
        self.reader = assistant.reader

    def __call__(self, question: str, sentence: str, passages: list[str]) -> bool | None:
        passages = [p for p in passages if p.strip()]
        if not passages:
            return None
        claim = f" {normalize_answer(sentence)} "
        for span in self.reader.read(question, passages):
            if span is not None and self.reader.answers(span):
                answer = normalize_answer(span.text)
                if answer and f" {answer} " in claim:
                    return True
        return False
