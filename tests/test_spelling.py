"""Typos in questions: corrected against the indexed articles' own words before retrieval, so a
question with a typo is answered like the original; names and known words are never changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

from assistant import Assistant

SUMMIT = ("Summit Talks End Without a Deal\n\nThe talks between the two leaders lasted nearly four "
          "hours at the airbase, in its glassy skyhangar. Officials said the delegations would meet "
          "again in the autumn.\n")
TRAMS = ("Trams Return to Port Alder\n\nThe trams were built by Kestrel Rail. The line has "
         "fourteen stops between the harbour and the park.\n")


@pytest.fixture()
def small_store(tmp_path: Path) -> tuple[Assistant, Path]:
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "summit.txt").write_text(SUMMIT)
    (folder / "trams.txt").write_text(TRAMS)
    assistant = Assistant(store=tmp_path / "store")
    assistant.ingest([folder])
    return assistant, folder


def test_an_unknown_word_is_read_as_the_articles_closest_word(small_store) -> None:
    assistant, _ = small_store
    assert assistant.speller.correct("How long did the tlaks last?") == "How long did the talks last?"
    assert assistant.speller.correct("Who built the trmas?") == "Who built the trams?"
    # A dropped and a doubled letter, and the casing of the word kept.
    assert assistant.speller.correct("Tallks ended when?") == "Talks ended when?"
    assert assistant.speller.correct("how many stps are there") == "how many stops are there"


def test_a_word_the_articles_hold_only_in_another_form_is_corrected_from_english(small_store) -> None:
    """The articles say "lasted" and "built", not "last" or "build": common English words one
    edit away fill in."""
    assistant, _ = small_store
    assert assistant.speller.correct("How long did the talks lsat?") == "How long did the talks last?"
    assert assistant.speller.correct("Who will biuld the next line?") == "Who will build the next line?"
    # Two letters swapped: "many", not the commoner "may" (one letter dropped, as close).
    assert assistant.speller.correct("How mnay stops are there?") == "How many stops are there?"


def test_names_known_words_and_codes_are_never_changed(small_store) -> None:
    assistant, _ = small_store
    for question in ["Did Ptuin attend the talks?",  # a name, though the articles lack it
                     "How long was the flight?",  # English, though the articles lack it
                     "What is tram 4B7x?",  # a code
                     "Who is the mayor of Port Alder?"]:
        assert assistant.speller.correct(question) == question


def test_the_dictionary_follows_the_articles(small_store) -> None:
    """Removing the only article that holds a word removes it from the corrections too ("skyhangar"
    is no English word: only the article offers it)."""
    assistant, _ = small_store
    assert assistant.speller.correct("Where is the skyhagnar?") == "Where is the skyhangar?"
    summit = next(s for s in assistant.sources() if s.title.startswith("Summit"))
    assistant.remove(summit.article_id)
    assert assistant.speller.correct("Where is the skyhagnar?") == "Where is the skyhagnar?"


def test_a_question_with_a_typo_is_answered_like_the_original(sample_store: Path) -> None:
    """Through the CLI, as a user types it: the same answer and the same quote, and the
    corrected question shown as "Read as"."""
    for original, typo in [("When did construction of the Riverside Line begin?",
                            "When did constrution of the Riverside Line begin?"),
                           ("Which company built the trams for the Riverside Line?",
                            "Which compnay built the trams for the Riverside Line?")]:
        answers = []
        for question in (original, typo):
            result = run_cli("ask", question, "--store", str(sample_store), "--json")
            assert result.returncode == 0, result.stderr
            answers.append(json.loads(result.stdout))
        plain, typed = answers
        assert not plain["abstained"], plain["answer"]
        assert typed["short_answer"] == plain["short_answer"]
        assert [c["text"] for c in typed["citations"]] == [c["text"] for c in plain["citations"]]
        assert typed["query"] == original and typed["question"] == typo
    shown = run_cli("ask", "Which compnay built the trams for the Riverside Line?", "--store",
                    str(sample_store))
    assert "Read as: Which company built the trams for the Riverside Line?" in shown.stdout


def test_spelling_can_be_switched_off(small_store, tmp_path: Path) -> None:
    assert small_store[0].speller.correct("tlaks") == "talks"
    assistant = Assistant(store=tmp_path / "store", spelling=False)
    answer = assistant.ask("How long did the tlaks last?")
    assert answer.query == ""


@pytest.mark.parametrize("door", ["ask", "chat", "stream"])
def test_a_question_to_a_store_that_does_not_exist_creates_nothing(tmp_path: Path,
                                                                    door: str) -> None:
    # The typo makes the corrector read the store's words; it must not open (and so create)
    # a catalog before the store is known to exist. Before, `ask` left catalog.sqlite and
    # state.sqlite behind and said "the store ... is empty".
    from assistant import EmptyStoreError

    store = tmp_path / "never-ingested"
    assistant = Assistant(store=store)
    question = "How long did the tlaks last?"
    with pytest.raises(EmptyStoreError, match="no index at"):
        if door == "ask":
            assistant.ask(question)
        elif door == "chat":
            assistant.chat([{"role": "user", "content": question}])
        else:
            list(assistant.stream(question))
    assert not store.exists()
