"""Example questions made from the articles' sentences, offered only when answered from them."""

from __future__ import annotations

from assistant import Assistant
from ui.examples import candidates, checked_examples, questions_from_sentence


def test_sentences_of_known_shapes_become_questions_they_answer() -> None:
    assert list(questions_from_sentence(
        "The Marlow Street centre is open late and has 250 beds.")) == [
        "How many beds does the Marlow Street centre have?"]
    assert list(questions_from_sentence("The hearing lasted two days, officials said.")) == [
        "How long did the hearing last?"]
    assert list(questions_from_sentence("The new bridge took a year and cost $4.5 million.")) == [
        "How much did the new bridge cost?"]
    assert list(questions_from_sentence("The museum reopened on Friday after a fire.")) == [
        "When did the museum reopen?"]
    # Other shapes, and subjects that say nothing on their own, make no question.
    assert list(questions_from_sentence("Officials said the vote was close.")) == []
    assert list(questions_from_sentence("The company has 40 staff.")) == []


def test_only_questions_answered_from_their_own_sentence_are_offered(
        sample_assistant: Assistant) -> None:
    sources = sample_assistant.sources()
    made = {c.question: c for c in candidates(sample_assistant, sources)}
    offered = checked_examples(sample_assistant, sources, 3)
    assert offered and len(offered) <= 3
    for question in offered:
        answer = sample_assistant.ask(question)
        assert not answer.abstained
        source = made[question]
        assert any(c.article_id == source.article_id for c in answer.citations)
