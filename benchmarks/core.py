"""The core figures from issue 2, printed: answer quality on a dataset, in-process `ask`
latency, cold `python -m assistant ask` wall time, and ingest throughput.

    python -m benchmarks.core [--dataset ../shared/datasets/squad2-normans]
                              [--articles ../shared/articles]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assistant import Assistant
from assistant.testing import strip_markers
from evals.answer_match import holds_answer


def quality(dataset: Path) -> dict[str, float]:
    """Answer-holds-gold and abstention on an evaluation dataset (articles/ + questions.jsonl)."""
    questions = [json.loads(line) for line in (dataset / "questions.jsonl").read_text().splitlines()
                 if line.strip()]
    with tempfile.TemporaryDirectory() as store:
        assistant = Assistant(store=store)
        assistant.ingest([dataset / "articles"])
        holds = answered_sentences = false_abstain = abstain_unanswerable = 0
        answerable = [q for q in questions if q["answers"]]
        unanswerable = [q for q in questions if not q["answers"]]
        for q in questions:
            answer = assistant.ask(q["question"])
            if q["answers"]:
                if answer.abstained:
                    false_abstain += 1
                elif holds_answer(strip_markers(answer.answer), q["answers"]):
                    # SQuAD normalisation on word boundaries ("22" does not match "220"), the
                    # same test as the evaluation suite's.
                    holds += 1
                answered_sentences = max(answered_sentences, len(answer.sentences))
            elif answer.abstained:
                abstain_unanswerable += 1
    return {
        "questions": len(questions),
        "holds_gold_answerable": holds / max(len(answerable), 1),
        "abstain_unanswerable": abstain_unanswerable / max(len(unanswerable), 1),
        "false_abstain_answerable": false_abstain / max(len(answerable), 1),
        "max_answer_sentences": answered_sentences,
    }


SPEED_QUESTIONS = ["How long did the talks last?", "Where did the talks take place?",
                   "Who won the Super Bowl?", "What did Putin invite Trump to do?",
                   "When will Zelenskyy travel to Washington?", "What did Putin say about Ukraine?"]


def speed(articles: Path | list[Path], rounds: int = 60, *, questions: list[str] | None = None,
          answerer: str = "heuristic") -> dict[str, float]:
    """In-process `ask` latency (models loaded, as in a running app) and cold CLI wall time."""
    questions = questions or SPEED_QUESTIONS
    corpora = articles if isinstance(articles, list) else [articles]
    with tempfile.TemporaryDirectory() as store:
        assistant = Assistant(store=store, answerer=answerer)
        report = assistant.ingest(corpora)
        assistant.ask(questions[0])  # load the models once, as a running app has
        times = []
        for i in range(rounds):
            started = time.perf_counter()
            assistant.ask(questions[i % len(questions)])
            times.append((time.perf_counter() - started) * 1000)
        cold = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "assistant", "ask", questions[0], "--store", store],
                           check=True, capture_output=True,
                           env={**os.environ, "ASSISTANT_ANSWERER": answerer})
            cold.append(time.perf_counter() - started)
    times.sort()
    return {
        "ingest_tokens_per_s": report.tokens_per_second,
        "ask_p50_ms": statistics.median(times),
        "ask_p95_ms": times[int(0.95 * (len(times) - 1))],
        "cold_ask_s_median_of_3": statistics.median(cold),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", type=Path, default=Path("../shared/datasets/squad2-normans"))
    parser.add_argument("--articles", type=Path, default=Path("../shared/articles"))
    args = parser.parse_args()
    figures = {"quality": quality(args.dataset), "speed": speed(args.articles)}
    for section, values in figures.items():
        print(f"[{section}]")
        for key, value in values.items():
            print(f"  {key:28s} {value:.3f}" if isinstance(value, float) else f"  {key:28s} {value}")


if __name__ == "__main__":
    main()
