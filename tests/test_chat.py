"""Assistant.chat and Assistant.stream with the offline backend (no LLM)."""

from __future__ import annotations

import pytest

from assistant import ABSTAIN_TEXT, TENTATIVE_LEAD, Answer, Assistant, EmptyQuestionError
from assistant.chat import answered_history, is_follow_up, standalone_offline, usable_rewrite
from assistant.llm import Message


def test_follow_up_carries_the_subject(user_assistant: Assistant) -> None:
    answer = user_assistant.chat([
        {"role": "user", "content": "Where did Trump and Putin meet?"},
        {"role": "assistant", "content": "In Alaska [1]."},
        {"role": "user", "content": "and how long did they talk there?"}])
    assert answer.question == "and how long did they talk there?"
    assert "Trump" in answer.query and "Putin" in answer.query
    assert answer.notes[0].startswith("chat: follow-up rewritten offline")
    assert not answer.abstained
    assert "hours" in answer.answer


def test_standalone_question_is_not_rewritten(sample_assistant: Assistant) -> None:
    answer = sample_assistant.chat([
        {"role": "user", "content": "Who won the Coastal Cup final?"},
        {"role": "assistant", "content": "Northgate United [1]."},
        {"role": "user", "content": "How long is Port Alder's Riverside tram line?"}])
    assert answer.query == ""
    assert answer.answer == sample_assistant.ask(
        "How long is Port Alder's Riverside tram line?").answer


def test_a_follow_up_the_offline_rewrite_leaves_as_it_is_shows_no_rewrite(
        sample_assistant: Assistant) -> None:
    # The declined first turn lends no words, so nothing is carried over; the chat used to
    # print "(chat: follow-up rewritten offline: What about after that?)" all the same.
    history = [{"role": "user", "content": "Who won the Coastal Cup final?"},
               {"role": "assistant", "content": ABSTAIN_TEXT},
               {"role": "user", "content": "What about after that?"}]
    assert standalone_offline([Message(**m) for m in history[:-1]], history[-1]["content"]) \
        == history[-1]["content"]
    answer = sample_assistant.chat(history)
    assert answer.query == ""
    assert not any("rewritten" in note for note in answer.notes), answer.notes


def test_offline_rewrite_chains_through_follow_ups() -> None:
    history = [Message("user", "When did the Riverside tram line in Port Alder open?"),
               Message("assistant", "On Saturday [1]."),
               Message("user", "how much did it cost?"),
               Message("assistant", "$870 million [1].")]
    query = standalone_offline(history, "and who built it?")
    assert query.startswith("Who built it?")
    assert "Riverside" in query and "Port" in query and "Alder" in query
    assert is_follow_up("and when?") and is_follow_up("what did he say?")
    assert not is_follow_up("Who won the Coastal Cup final?")


def test_a_declined_or_tentative_turn_lends_no_words_to_the_next_question() -> None:
    history = [Message("user", "Where did Trump and Putin meet?"),
               Message("assistant", "In Alaska [1]."),
               Message("user", "What is the boiling point of tungsten?"),
               Message("assistant", ABSTAIN_TEXT),
               Message("user", "Who paid for the carpet?"),
               Message("assistant", f"{TENTATIVE_LEAD} “A red carpet was rolled out.” [1]")]
    assert answered_history(history) == history[:2]
    query = standalone_offline(history, "How long did they talk there?")
    assert query == "How long did they talk there? (Trump Putin)"
    # With only a declined turn before it, the follow-up is read as it was asked.
    assert standalone_offline(history[2:4], "Where did they take place?") == \
        "Where did they take place?"


def test_chat_reads_a_follow_up_after_a_decline_without_it(user_assistant: Assistant) -> None:
    answer = user_assistant.chat([
        {"role": "user", "content": "What is the boiling point of tungsten?"},
        {"role": "assistant", "content": ABSTAIN_TEXT},
        {"role": "user", "content": "Where did they take place?"}])
    assert answer.query == "", answer.query


def test_a_model_rewrite_is_used_only_when_it_keeps_the_question() -> None:
    follow_up = "and how long did they talk there?"
    assert usable_rewrite("Standalone question: How long did Trump and Putin talk in Alaska?",
                          follow_up) == "How long did Trump and Putin talk in Alaska?"
    assert usable_rewrite("The talks lasted nearly four hours.", follow_up) is None  # answered
    assert usable_rewrite("", follow_up) is None


def test_stream_offline_yields_pieces_then_the_answer(sample_assistant: Assistant) -> None:
    question = "How long is Port Alder's Riverside tram line?"
    items = list(sample_assistant.stream(question))
    *pieces, final = items
    assert isinstance(final, Answer) and all(isinstance(p, str) for p in pieces)
    assert len(pieces) > 1 and "".join(pieces) == final.answer  # type: ignore[arg-type]
    assert final.answer == sample_assistant.ask(question).answer
    assert "total" in final.timings_ms


def test_stream_accepts_a_conversation(user_assistant: Assistant) -> None:
    items = list(user_assistant.stream([
        {"role": "user", "content": "Where did Trump and Putin meet?"},
        {"role": "assistant", "content": [{"type": "text", "text": "In Alaska [1]."}]},
        {"role": "user", "content": "and how long did they talk there?"}]))
    final = items[-1]
    assert isinstance(final, Answer) and "Trump" in final.query


@pytest.mark.parametrize("messages,message", [
    ([], "the conversation is empty"),
    ([{"role": "assistant", "content": "Hello"}],
     "the conversation does not end with a question from the user"),
    ([{"role": "robot", "content": "Hi"}], "message 1 has role 'robot', not user or assistant"),
    ([{"role": "user", "content": 42}], "message 1 has no text content"),
    ([{"role": "user", "content": "   "}],
     "the conversation does not end with a question from the user"),
])
def test_bad_conversations_get_one_line_errors(sample_assistant: Assistant, messages: list,
                                               message: str) -> None:
    with pytest.raises(EmptyQuestionError) as info:
        sample_assistant.chat(messages)
    assert str(info.value) == message
