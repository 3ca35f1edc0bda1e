"""Generative answers: retrieved passages -> prompt -> LLM -> grounding guard -> Answer.

The Assistant hands this the extractive answerer's Selection and Answer for the same question:

- when the Selection abstains (nothing relevant retrieved), the LLM is not called at all;
- when the LLM call fails (unreachable, 401, timeout, 429, malformed reply), the extractive
  Answer is returned with one note naming the failure;
- otherwise the reply goes through the GroundingGuard, which may still fall back to the
  extractive Answer or abstain when nothing the model wrote is supported.

Streaming yields the reply's text deltas as they arrive and then the checked Answer. The guard
can change the text (drop a sentence, re-number a citation), so a UI shows the deltas while
they come and then replaces them with the final Answer's `answer`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from assistant.chat import answered_history, standalone_offline, usable_rewrite
from assistant.grounding import SupportScorer
from assistant.guard import GroundingGuard
from assistant.llm import ChatClient, LLMError, Message
from assistant.models import Answer
from assistant.prompts import PromptBuilder
from assistant.retrieval import Passage
from assistant.selection import Selection
from assistant.settings import Settings

NOT_CALLED_NOTE = "llm: not called, the retrieved passages do not answer this (no tokens spent)"


class GenerativeAnswerer:
    def __init__(self, settings: Settings, scorer: SupportScorer,
                 client: ChatClient | None = None) -> None:
        self.client = client or ChatClient(settings)
        self.prompts = PromptBuilder()
        self.guard = GroundingGuard(scorer)
        self.max_passages = settings.llm_max_passages

    @property
    def model(self) -> str:
        return self.client.model

    def messages(self, query: str, passages: list[Passage]) -> list[Message]:
        return self.prompts.answer_messages(query, passages[:self.max_passages])

    def generate(self, query: str, passages: list[Passage]) -> str:
        """The model's raw reply, unchecked (raises LLMError). For tests and benchmarks."""
        return self.client.complete(self.messages(query, passages))

    def answer(self, question: str, query: str, passages: list[Passage], selection: Selection,
               fallback: Answer) -> Answer:
        if selection.abstain:
            return _with_note(fallback, NOT_CALLED_NOTE)
        started = time.perf_counter()
        try:
            reply = self.generate(query, passages)
        except LLMError as exc:
            return self._failed(fallback, exc, started)
        llm_ms = _ms(started)
        return self._checked(question, reply, passages, selection, fallback, llm_ms)

    def stream(self, question: str, query: str, passages: list[Passage], selection: Selection,
               fallback: Answer) -> Iterator[str | Answer]:
        if selection.abstain:
            yield fallback.answer
            yield _with_note(fallback, NOT_CALLED_NOTE)
            return
        started = time.perf_counter()
        pieces: list[str] = []
        try:
            for delta in self.client.stream(self.messages(query, passages)):
                pieces.append(delta)
                yield delta
        except LLMError as exc:
            yield self._failed(fallback, exc, started)
            return
        yield self._checked(question, "".join(pieces), passages, selection, fallback,
                            _ms(started))

    def condense(self, history: list[Message], follow_up: str) -> tuple[str, str]:
        """(standalone question, note). Falls back to the offline rewrite when the model's is
        unusable or the call fails."""
        # The model sees only the answered turns, as the offline rewrite does: a declined or
        # tentative turn is no context for the next question.
        history = answered_history(history)
        if not any(m.role == "user" for m in history):
            return follow_up, "chat: no answered question before this one; used it as asked"
        offline = standalone_offline(history, follow_up)
        try:
            reply = self.client.complete(self.prompts.condense_messages(history, follow_up))
        except LLMError as exc:
            return offline, f"chat: rewrite by the model failed ({exc}); used the offline rewrite"
        rewrite = usable_rewrite(reply, follow_up)
        if rewrite is None:
            return offline, "chat: the model's rewrite of the follow-up was unusable; used the " \
                            "offline rewrite"
        return rewrite, "chat: follow-up rewritten by the model"

    def _checked(self, question: str, reply: str, passages: list[Passage], selection: Selection,
                 fallback: Answer, llm_ms: float) -> Answer:
        started = time.perf_counter()
        answer = self.guard.check(question, reply, passages, prompt_passages=self.max_passages,
                                  selection=selection, fallback=fallback, model=self.model)
        answer.timings_ms = {**answer.timings_ms, "llm": llm_ms, "guard": _ms(started)}
        return answer

    def _failed(self, fallback: Answer, error: LLMError, started: float) -> Answer:
        answer = _with_note(fallback, f"llm: {error}; answered extractively")
        answer.timings_ms = {**answer.timings_ms, "llm": _ms(started)}
        return answer


def _with_note(answer: Answer, note: str) -> Answer:
    copy = answer.model_copy(deep=True)
    copy.notes = [*copy.notes, note]
    return copy


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
