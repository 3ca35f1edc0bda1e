"""Before the stages: the question as every door hands it over, made ready to search.

One length limit and a Unicode check (assistant/question.py); a chat follow-up rewritten into a
standalone question (by the LLM when one is configured, else offline: assistant/chat.py); typos
corrected against the articles' words (assistant/spelling.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from assistant.answering.pipeline import Prepared
from assistant.question import check_question
from assistant.spelling import SpellingCorrector

if TYPE_CHECKING:
    from assistant.chat import ChatMessages
    from assistant.llm import Message


class Condenser(Protocol):
    def condense(self, history: list[Message], follow_up: str) -> tuple[str, str]: ...


class Prepare:
    def __init__(self, spelling: bool, speller: Callable[[], SpellingCorrector],
                 condenser: Callable[[], Condenser] | None) -> None:
        self.spelling = spelling
        self._speller = speller
        self._condenser = condenser  # None: follow-ups are rewritten offline

    def question(self, question: str) -> Prepared:
        question = check_question(question)
        return Prepared(question, question, question)

    def messages(self, messages: ChatMessages) -> Prepared:
        """(question as asked, standalone query for retrieval, question the answerer picks
        sentences for, note about the rewrite)."""
        from assistant.chat import is_follow_up, normalise_messages, standalone_offline, strip_lead

        turns = normalise_messages(messages)
        question = check_question(turns[-1].content)
        history = turns[:-1]
        if not any(m.role == "user" for m in history) or not is_follow_up(question):
            return Prepared(question, question, question)
        if self._condenser is not None:
            query, note = self._condenser().condense(history, question)
        else:
            query, note = standalone_offline(history, question), "chat: follow-up rewritten offline"
        if query == question:
            # Nothing was carried over: no rewrite to show ("rewritten: <the same words>").
            return Prepared(question, question, question)
        # An offline rewrite only appends the subject's names: they steer retrieval to the right
        # article, but sentences are picked for what the follow-up asks, or the answer drifts
        # back to whichever sentence repeats the names most.
        focus = query if note.startswith("chat: follow-up rewritten by the model") \
            else strip_lead(question)
        return Prepared(question, query, focus, f"{note}: {query}")

    def spelled(self, prepared: Prepared) -> Prepared:
        """Typos corrected in the query and focus; the question as asked stays the Answer's.
        Separate from `question` and `messages`, which refuse a bad question before any work:
        correcting reads the store's words, so it runs once the store is known to answer (a
        question to a store that does not exist must not create it)."""
        if not self.spelling:
            return prepared
        speller = self._speller()
        query, focus, note = prepared.query, prepared.focus, prepared.note
        corrected_query = speller.correct(query)
        corrected_focus = corrected_query if focus == query else speller.correct(focus)
        if corrected_query != query:
            note = f"{note}; spelling: read as {corrected_query}" if note else \
                f"spelling: read as {corrected_query}"
        return Prepared(prepared.question, corrected_query, corrected_focus, note)
