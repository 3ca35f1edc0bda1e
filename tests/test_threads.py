"""One Assistant answering from 8 threads at once gives the answers it gives one at a time."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import pytest

from assistant import Answer, Assistant

GOLD = Path(__file__).resolve().parent.parent / "evals" / "datasets" / "sample" / "questions.jsonl"
QUESTIONS = [json.loads(line)["question"] for line in GOLD.read_text(encoding="utf-8").splitlines()]
THREADS = 8
# Each thread asks its own shuffled six of the gold questions: the 8 threads still overlap from
# start to finish, with 48 answers instead of 280 (92 s of a loaded suite).
PER_THREAD = 6


def comparable(answer: Answer) -> dict:
    return answer.model_dump(exclude={"timings_ms"})


@pytest.mark.slow  # a quarter of a minute on 2 cores: 8 threads each asking 6 gold questions
def test_concurrent_asks_match_sequential(sample_assistant: Assistant, sample_store: Path) -> None:
    orders = [random.Random(index).sample(QUESTIONS, PER_THREAD) for index in range(THREADS)]
    sequential = {q: comparable(sample_assistant.ask(q)) for order in orders for q in order}
    assert any(not a["abstained"] for a in sequential.values())

    # A fresh Assistant, so its lazy wiring (embedder, catalog, Chroma, retriever) is also
    # built under contention, not only the queries.
    shared = Assistant(store=sample_store)
    barrier = threading.Barrier(THREADS)
    results: list[list[tuple[str, dict]]] = [[] for _ in range(THREADS)]
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        order = orders[index]
        try:
            barrier.wait(timeout=30)
            for question in order:
                results[index].append((question, comparable(shared.ask(question))))
        except BaseException as exc:  # reported below, in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert errors == []
    for per_thread in results:
        assert len(per_thread) == PER_THREAD
        for question, answer in per_thread:
            assert answer == sequential[question], question
