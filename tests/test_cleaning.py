"""Cleaning keeps every line of reporting and drops page furniture; hard-wrapped text becomes
whole sentences; a .txt headline is a title only when it looks like one. Measured on the
labelled sets in evals/datasets/cleaning (see evals/cleaning.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import USER_ARTICLES

from evals.cleaning import CLEANING, HELDOUT, labelled_lines, line_figures, read_jsonl
from index.clean import clean_text, reflow
from index.loaders import load_file
from index.text import split_sentences


@pytest.mark.parametrize("folder", [CLEANING, HELDOUT], ids=["first-set", "second-set"])
def test_no_reporting_is_dropped_and_boilerplate_is(folder: Path) -> None:
    figures = line_figures(labelled_lines(folder, USER_ARTICLES))
    assert figures["reporting"] >= 90 and figures["boilerplate"] >= 60
    assert figures["reporting_lost"] == [], "reporting the cleaner deleted"
    assert figures["boilerplate_dropped_share"] >= 0.95, figures["boilerplate_missed"]


def test_the_labelled_set_covers_the_users_articles_when_present() -> None:
    rows = labelled_lines(CLEANING, USER_ARTICLES)
    if USER_ARTICLES.is_dir():
        assert sum(r["kind"].startswith("user-article") for r in rows) >= 30
    assert len(rows) >= 300


@pytest.mark.parametrize("line", [
    "The judge ruled that the names of the minors cannot be published.",
    "Prosecutors said the song was copyrighted in 1998 by a label that no longer exists.",
    "Sign up for the marathon closes on Friday.",
    "Unless otherwise stated by the council, the road will reopen on Monday.",
    "The memo may not be published until the inquiry ends, the court said.",
])
def test_reporting_that_mentions_boilerplate_words_survives(line: str) -> None:
    assert clean_text(f"Headline\n\n{line}\n\nLeave a comment") == f"Headline\n\n{line}"


SPLIT_KINDS = ("abbrev", "us-uk", "initials", "decimal", "money", "quote", "question",
               "exclamation", "headline", "hard-wrapped", "url", "email", "parentheses")


def test_sentences_keep_abbreviations_quotes_decimals_and_initials_inside() -> None:
    cases = [c for c in read_jsonl(CLEANING / "sentences.jsonl") if c["kind"].startswith(SPLIT_KINDS)]
    assert len(cases) >= 40
    for case in cases:
        text, expected = case["text"], case["sentences"]
        if case["kind"] == "hard-wrapped":
            text = "\n\n".join(reflow(p) for p in text.split("\n\n"))
            expected = [e.replace("\n", " ") for e in expected]
        spans = split_sentences(text)
        assert [s.text for s in spans] == expected, case["kind"]
        assert all(text[s.start:s.end] == s.text for s in spans)


WRAPPED = """Harbour ferry fares will rise by a fifth from April, the operator said on
Tuesday, blaming the cost of fuel and a new agreement with its crews. The
change adds 80 pence to a return ticket between Port Wendle and Carrow.

Commuters' groups said they would ask the council to step in.
"""


def test_a_hard_wrapped_file_is_quoted_in_whole_sentences(tmp_path: Path) -> None:
    path = tmp_path / "fares.txt"
    path.write_text("Ferry Fares to Rise\n\n" + WRAPPED, encoding="utf-8")
    [article] = load_file(path).articles
    assert article.title == "Ferry Fares to Rise"
    sentences = [s.text for s in split_sentences(article.text)]
    assert sentences == [
        "Harbour ferry fares will rise by a fifth from April, the operator said on Tuesday, "
        "blaming the cost of fuel and a new agreement with its crews.",
        "The change adds 80 pence to a return ticket between Port Wendle and Carrow.",
        "Commuters' groups said they would ask the council to step in.",
    ]


def test_a_txt_starting_with_its_first_paragraph_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "no-headline.txt"
    path.write_text(WRAPPED, encoding="utf-8")
    [article] = load_file(path).articles
    assert article.text.startswith("Harbour ferry fares will rise by a fifth from April")
    assert article.title.startswith("Harbour ferry fares will rise")
    assert len(article.title) <= 121


def test_a_list_of_one_line_items_stays_a_list() -> None:
    text = ("Road closures this weekend are listed below for drivers.\n"
            "- Harbour Road between the pier and the market, all day Saturday\n"
            "- Mill Lane from the bridge to the school, Sunday morning only\n")
    assert clean_text(text) == text.strip()
