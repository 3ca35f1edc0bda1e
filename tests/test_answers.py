"""Answer quality on the user's two articles: correct cited facts, the reported conflict, and
abstention on questions they don't answer. Questions and gold answers come from the gold set."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assistant import ABSTAIN_TEXT, Answer, Assistant

GOLD = Path(__file__).resolve().parent.parent / "evals" / "datasets" / "user-articles" / "questions.jsonl"
QUESTIONS = {q["id"]: q for q in map(json.loads, GOLD.read_text(encoding="utf-8").splitlines())}

# Plain facts, one or two from each part of both articles.
FACTS = ["ua-fact-01", "ua-fact-03", "ua-fact-07", "ua-fact-09", "ua-fact-13", "ua-fact-16"]




def assert_cited_verbatim(answer: Answer, assistant: Assistant) -> None:
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    assert markers == {c.n for c in answer.citations}
    for citation in answer.citations:
        article = assistant.article(citation.article_id)
        assert article is not None
        assert article["text"][citation.start:citation.end] == citation.text


@pytest.mark.parametrize("qid", FACTS)
def test_plain_fact_is_answered_and_cited(user_assistant: Assistant, qid: str) -> None:
    gold = QUESTIONS[qid]
    assert "fact" in gold["tags"]
    answer = user_assistant.ask(gold["question"])
    assert not answer.abstained, f"abstained on {gold['question']!r}"
    assert answer.citations
    found = [g for g in gold["answers"] if g.lower() in answer.answer.lower()]
    assert found, f"none of {gold['answers']} in {answer.answer[:200]!r}"
    # The gold answer sits in a quoted passage, not only in a generated summary.
    assert any(g.lower() in c.text.lower() for g in found for c in answer.citations)
    assert_cited_verbatim(answer, user_assistant)
    if not answer.conflicts:
        assert len([s for s in answer.sentences if s.citations]) <= 2


def test_talk_duration_reports_both_figures_as_a_conflict(user_assistant: Assistant) -> None:
    answer = user_assistant.ask("How long did the talks last?")
    assert not answer.abstained
    assert "four hours" in answer.answer and "two hours" in answer.answer
    assert answer.conflicts, "the sources disagree and the answer must say so"
    sides = answer.conflicts[0].sides
    assert len(sides) == 2 and sides[0].article_id != sides[1].article_id
    by_n = {c.n: c for c in answer.citations}
    assert len({c.article_id for c in answer.citations}) >= 2
    for side in sides:
        assert side.value in by_n[side.citation].text
        assert by_n[side.citation].article_id == side.article_id
    assert {"four hours", "two hours"} <= {
        figure for side in sides for figure in ("four hours", "two hours") if figure in side.value}
    for side in sides:  # "two hours" out of "more than two hours" would be another amount
        quoted = by_n[side.citation].text
        before = quoted[:quoted.index(side.value)].split()[-2:]
        assert not ({"than", "nearly", "about", "almost", "over", "least"} & {w.lower() for w in before}), \
            (before, side.value)
    assert_cited_verbatim(answer, user_assistant)


@pytest.mark.parametrize("question", ["Who won the Super Bowl?"]
                         + [q["question"] for q in QUESTIONS.values()
                            if "off-topic-unanswerable" in q["tags"]])
def test_off_topic_question_abstains_without_citations(user_assistant: Assistant,
                                                       question: str) -> None:
    answer = user_assistant.ask(question)
    assert answer.abstained, f"answered {question!r} with {answer.answer[:200]!r}"
    assert answer.answer == ABSTAIN_TEXT
    assert answer.citations == [] and answer.conflicts == []


def test_near_topic_questions_mostly_abstain(user_assistant: Assistant) -> None:
    """Near-topic questions (a detail the articles never give) are the hard case for an
    offline answerer: it must decline most of them (the product's floor, not a measurement:
    evals/ reports the rate with its interval, question by question) and never cite when it
    declines."""
    near = [q for q in QUESTIONS.values() if "near-topic-unanswerable" in q["tags"]]
    assert len(near) >= 8
    answers = [user_assistant.ask(q["question"]) for q in near]
    for answer in answers:
        if answer.abstained:
            assert answer.answer == ABSTAIN_TEXT and answer.citations == []
    answered = [a.question for a in answers if not a.abstained]
    assert len(answered) * 2 < len(near), f"answered near-topic questions: {answered}"


def test_answerable_questions_rarely_abstain(user_assistant: Assistant) -> None:
    answerable = [q for q in QUESTIONS.values() if q["answers"]]
    abstained = [q["question"] for q in answerable if user_assistant.ask(q["question"]).abstained]
    # A floor against breakage, not the measured rate: issue 9's target is 15 % (on SQuAD); the
    # trained reader declines about one answerable question in five of these (README), and one
    # in four would mean it has got worse.
    assert len(abstained) / len(answerable) <= 0.25, f"wrongly abstained on: {abstained}"


def test_a_streamed_answers_total_time_leaves_out_the_callers_pauses(
        sample_assistant: Assistant) -> None:
    import time

    started, slept, final = time.perf_counter(), 0.0, None
    for item in sample_assistant.stream("How many stops does the Riverside Line have?"):
        if isinstance(item, Answer):
            final = item
        else:
            time.sleep(0.2)  # a chat revealing the text at its own pace
            slept += 0.2
    elapsed_ms = (time.perf_counter() - started) * 1000
    assert final is not None and slept >= 0.4
    assert final.timings_ms["total"] <= elapsed_ms - slept * 1000 + 5


def test_the_readme_example_is_answered_beside_the_sample_corpus(tmp_path: Path,
                                                                 user_articles: Path) -> None:
    """With samples/articles indexed beside the user's articles, the second-best chunk of an
    article (the one that says how long the talks lasted) must not be pushed out of the top-k
    by the other articles' weak matches."""
    from conftest import SAMPLES

    assistant = Assistant(store=tmp_path / "store")
    assistant.ingest([SAMPLES, user_articles])
    answer = assistant.ask("How long did the talks last?")
    assert not answer.abstained, answer.passages
    assert "four hours" in answer.answer


def test_passages_carry_the_readers_score_when_it_read_them(sample_store: Path) -> None:
    question = "How many stops does the Riverside Line have?"
    heuristic = Assistant(store=sample_store, answerer="heuristic").ask(question)
    assert heuristic.passages and all(p.reader is None for p in heuristic.passages)
    read = Assistant(store=sample_store, answerer="reader").ask(question)
    scores = [p.reader for p in read.passages if p.reader is not None]
    assert scores and all(0.0 <= s <= 1.0 for s in scores)
    used = next(p for p in read.passages if p.used)
    assert used.reader == max(scores)


@pytest.mark.parametrize("top_k", [-1, 0, 51, 1000, "x", 1.5, True])
def test_a_top_k_out_of_its_range_is_refused_in_one_line(user_assistant: Assistant,
                                                         top_k: object) -> None:
    # Unchecked, -1 read the passages as a slice (two of them) and -3 none ("The articles
    # don't say"); 1000 read everything.
    from assistant.errors import InvalidArgumentError

    for call in (lambda: user_assistant.ask("How long did the talks last?", top_k=top_k),
                 lambda: user_assistant.retrieve("How long did the talks last?", top_k),
                 lambda: list(user_assistant.stream("How long did the talks last?", top_k=top_k))):
        with pytest.raises(InvalidArgumentError, match="top_k must be a whole number from 1 to 50"):
            call()
    assert len(user_assistant.ask("How long did the talks last?", top_k=6.0).passages) >= 1


def test_a_conflict_side_read_past_the_top_passages_is_listed_with_them(
        sample_assistant: Assistant) -> None:
    """With one passage retrieved, the other report's figure comes from the passages read past
    it: every article the answer quotes is among the passages it shows (outside probe: a
    conflict quoted two articles that no passage listed)."""
    answer = sample_assistant.ask("How many people attended the opening ceremony of Port "
                                  "Alder's Riverside tram line?", top_k=1)
    assert answer.conflicts, answer.answer
    assert {c.article_id for c in answer.citations} <= {p.article_id for p in answer.passages}
    beyond = answer.passages[1:]
    assert beyond and all(p.used and "past the top passages" in p.why for p in beyond)
    assert [p.rank for p in answer.passages] == list(range(1, len(answer.passages) + 1))
