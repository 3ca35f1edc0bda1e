"""The reader's training data: split by article, hard negatives that really lack the answer, and
positives whose offsets point at the answer. Pure Python (no torch)."""

from __future__ import annotations

import random

import pytest
from conftest import require

from training.reader_data import (
    POOL,
    Mix,
    build,
    derived_examples,
    load_pool,
    split_articles,
    swap_detail,
)

ARTICLE = {
    "title": "Riverside",
    "paragraphs": [
        {"context": "The Riverside Line opened in 2011. It was built by Kestrel Rail. "
                    "It carries 20,000 passengers a day.",
         "qas": [{"question": "When did the Riverside Line open?", "is_impossible": False,
                  "answers": [{"text": "2011", "answer_start": 29}]},
                 {"question": "Who built the Riverside Line?", "is_impossible": False,
                  "answers": [{"text": "Kestrel Rail", "answer_start": 50}]}]},
        {"context": "The harbour was dredged in 1990. Ferries stopped running in 2004.",
         "qas": [{"question": "When was the harbour dredged?", "is_impossible": False,
                  "answers": [{"text": "1990", "answer_start": 27}]}]},
    ],
}
OTHER = {"title": "Other", "paragraphs": [
    {"context": "Maria Lopez designed the footbridge.",
     "qas": [{"question": "Who did Maria Lopez design?", "is_impossible": True, "answers": []}]}]}


def test_swap_detail_replaces_a_shared_year_with_one_the_context_lacks() -> None:
    context = ARTICLE["paragraphs"][0]["context"]
    swapped = swap_detail("What happened in 2011 on the line?", context, random.Random(1), ["Maria"])
    assert swapped is not None and "2011" not in swapped
    year = next(w for w in swapped.split() if w.isdigit())
    assert year not in context


def test_swap_detail_needs_a_detail_shared_with_the_context() -> None:
    assert swap_detail("What is the line?", "The line is long.", random.Random(1), ["Maria"]) is None


def test_derived_examples_are_labelled_truthfully() -> None:
    every = Mix(1.0, 1.0, 1.0, 1.0, 1.0)
    examples = derived_examples([ARTICLE, OTHER], seed=3, mix=every)
    kinds = {e.kind for e in examples}
    assert {"other_paragraph", "other_article", "sentence_removed", "swapped_detail"} <= kinds
    gold = {qa["question"]: qa["answers"][0]["text"] for p in ARTICLE["paragraphs"] for qa in p["qas"]}
    for e in examples:
        if e.answerable:
            assert e.context[e.answer_start:e.answer_start + len(e.answer)] == e.answer
        elif e.kind in ("other_paragraph", "other_article", "sentence_removed"):
            assert gold[e.question].lower() not in e.context.lower(), e
        elif e.kind == "swapped_detail":
            assert e.question not in gold


def test_an_ablation_run_trains_without_a_kind_but_validates_on_the_whole_recipe() -> None:
    require(POOL.exists(), f"the training pool at {POOL}")
    whole = Mix.v2()
    without = whole.without("noisy_question")
    train, val, _ = build(mix=without, articles_cap=2, validation_mix=whole)
    full_train, full_val, _ = build(mix=whole, articles_cap=2)
    assert "noisy_question" not in {e.kind for e in train}
    assert "noisy_question" in {e.kind for e in full_train}
    assert val == full_val and "noisy_question" in {e.kind for e in val}
    # Without validation_mix the validation follows the training recipe, as before.
    assert build(mix=without, articles_cap=2)[1] != full_val


def test_pool_is_split_by_article() -> None:
    require(POOL.exists(), f"the training pool at {POOL}")
    train, val = split_articles(load_pool())
    assert len(val) == 5
    assert not {a["title"] for a in train} & {a["title"] for a in val}
    again = split_articles(load_pool())[1]
    assert [a["title"] for a in again] == [a["title"] for a in val], "the split must be seeded"


@pytest.mark.parametrize("name", ["Normans"])
def test_dev_set_is_not_in_the_pool(name: str) -> None:
    require(POOL.exists(), f"the training pool at {POOL}")
    assert name not in {a["title"] for a in load_pool()}


def test_features_label_the_answer_tokens_and_cls_for_no_answer() -> None:
    from tokenizers import Tokenizer

    from assistant.reader import MODEL_DIR
    from training.features import features_for

    tokenizer = Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
    context = "The Riverside Line opened in 2011. It was built by Kestrel Rail."
    start = context.index("Kestrel Rail")
    [feature] = features_for(tokenizer, "Who built it?", context, start, "Kestrel Rail", 256, 96)
    assert 0 < feature.start <= feature.end
    assert tokenizer.decode(feature.input_ids[feature.start:feature.end + 1]) == "kestrel rail"
    assert feature.context_mask[feature.start] == 1
    [none] = features_for(tokenizer, "Who built it?", context, -1, "", 256, 96)
    assert none.start == none.end == 0
    # An answer in the second window only: the first window says "no answer".
    long_context = " ".join(["Nothing happened on this day."] * 60) + " " + context
    at = long_context.index("Kestrel Rail")
    windows = features_for(tokenizer, "Who built it?", long_context, at, "Kestrel Rail", 64, 16)
    assert len(windows) > 1 and windows[0].start == 0
    assert any(w.start > 0 for w in windows)


def test_calibration_reads_validation_questions_through_the_reader(tmp_path) -> None:
    """`make train-reader`'s last step: every validation question goes through retrieval and the
    shipped reader. A small slice of one validation article, so the step cannot silently break."""
    require(POOL.exists(), f"the training pool at {POOL}")
    from assistant.reader import MODEL_DIR
    from training.calibrate_reader import budget_threshold, collect, validation_questions

    _, val = split_articles(load_pool())
    article = {**val[0], "paragraphs": val[0]["paragraphs"][:3]}
    questions = validation_questions([article])[:12]
    rows = collect([article], questions, MODEL_DIR)
    assert len(rows) == len(questions)
    assert all(r["span"] and r["margin"] > float("-inf") for r in rows)
    answerable = [r for r in rows if r["answers"]]
    assert answerable and max(r["f1"] for r in answerable) > 0.5, "the reader finds no gold answer"
    assert budget_threshold(rows) <= max(r["margin"] for r in answerable)


def test_the_ablation_table_reads_each_row_against_the_full_recipe() -> None:
    from training.ablation import row_name, section

    def run(variant: str, seed: int, swapped: float, exact: float, head: float = 0.5) -> dict:
        return {"variant": variant, "seed": seed, "steps": 300, "epoch_share": 0.25,
                "answerable_weight": head,
                "validation": {"by_kind": {
                    "swapped_detail": {"windows": 300, "margin_auc": swapped - 0.1, "sum_auc": swapped},
                    "squad": {"windows": 900, "span_exact": exact}}}}

    assert row_name("v2", 42) == "v2" and row_name("v2", 43) == "v2 (seed 43)"
    results = {"variants": {
        "without:swapped_detail": run("without:swapped_detail", 42, 0.61, 0.30),
        "v2": run("v2", 42, 0.75, 0.31),
        "no_head": run("no_head", 42, 0.70, 0.31, head=0.0),
        "v2 (seed 43)": run("v2", 43, 0.74, 0.33)}}
    text = section(results)
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert list(rows)[1:] == ["v2", "without swapped_detail", "no_head", "v2 (seed 43)"]
    assert "| 0.750 |" in rows["v2"] and "0.610 (-0.140)" in rows["without swapped_detail"]
    assert "0.300 (-0.010)" in rows["without swapped_detail"]
    # Without the head, the margin alone decides (0.70 - 0.1), against the full recipe's 0.75.
    assert "0.600 (-0.150)" in rows["no_head"]
    assert "0.740 (-0.010)" in rows["v2 (seed 43)"] and "noise floor" in text
    assert "about 25% of an epoch" in text and "Not yet run: without:noisy_question" in text


def test_the_phrase_conflict_fit_builds_its_pairs_from_one_articles_answers() -> None:
    """training/fit_conflict_similarity.py: a disagreeing report is the answer's sentence with
    another phrase in the answer's place; a spurious pair is two answers' sentences of one
    article, one of them a phrase; the threshold separates the two."""
    import numpy as np

    from training.fit_conflict_similarity import answered_sentences, pairs, youden

    article = {"title": "Ferry", "paragraphs": [
        {"context": "The ferry resumed on Monday. Passengers described the crossing as smooth "
                    "and quiet. The operator called the week a great success.",
         "qas": [{"question": "How was the crossing?", "is_impossible": False,
                  "answers": [{"text": "smooth and quiet", "answer_start": 66}]},
                 {"question": "What did the operator call the week?", "is_impossible": False,
                  "answers": [{"text": "a great success", "answer_start": 113}]},
                 {"question": "When did it resume?", "is_impossible": False,
                  "answers": [{"text": "Monday", "answer_start": 21}]},
                 {"question": "When did it open?", "is_impossible": False,
                  "answers": [{"text": "1990", "answer_start": 0}]}]}]}
    found = answered_sentences([article])
    # Amounts and dates are left out: they conflict in any wording.
    assert {a.answer for a in found} == {"smooth and quiet", "a great success", "Monday"}
    smooth = next(a for a in found if a.answer == "smooth and quiet")
    assert smooth.sentence == "Passengers described the crossing as smooth and quiet."
    reports, facts = pairs(found, 50, seed=1)
    assert reports and all(a != b for a, b in reports)
    for first, second in reports:  # the same sentence, the phrase swapped for the other one
        assert first.replace("smooth and quiet", "a great success") == second \
            or first.replace("a great success", "smooth and quiet") == second
    assert facts and all(a != b for a, b in facts)
    threshold, tpr, fpr = youden(np.array([0.9, 0.8, 0.7]), np.array([0.3, 0.5, 0.65]))
    assert threshold == 0.7 and tpr == 1.0 and fpr == 0.0
