"""Run a dataset through an Assistant and score every answer.

Only the public API is used, as any app would: `Assistant.ingest/sources/article/retrieve/ask`
and `assistant.grounding.SupportScorer`.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant import Assistant, AssistantError
from assistant.grounding import SUPPORT_THRESHOLD, SupportScorer
from evals.dataset import Dataset
from evals.metrics import aggregate, calibration, counts, intervals
from evals.question_scoring import (
    Checker,
    EvidenceSpan,
    Judge,
    PassageRef,
    QuestionResult,
    locate_evidence,
    score_question,
)


class EvalError(Exception):
    """The evaluation could not run (no articles indexed, a backend error). One line."""


class CachedEmbedder:
    """Wraps an embedder so each distinct text is embedded once per run: the scorer re-reads the
    same passages for every sentence of every answer, which would otherwise dominate the time."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name: str = inner.name
        self.dimension: int = inner.dimension
        self._cache: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for text, vector in zip(missing, self.inner.embed(missing), strict=True):
                self._cache[text] = vector
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])


@dataclass
class EvalRun:
    dataset: str
    dataset_path: str
    articles: str
    backend: str
    top_k: int
    support_threshold: float
    results: list[QuestionResult]
    metrics: dict[str, float | None]
    counts: dict[str, int]
    seconds: float
    notes: list[str] = field(default_factory=list)
    judge: dict[str, Any] | None = None
    intervals: dict[str, dict[str, float] | None] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)


@contextmanager
def assistant_for(dataset: Dataset, *, store: str | Path | None = None, backend: str = "extractive",
                  chroma_url: str | None = None, log: Callable[[str], None] = print,
                  **overrides: Any) -> Iterator[Assistant]:
    """An Assistant over the dataset's articles: in `store` when given (ingest skips unchanged
    articles, so a kept store makes reruns fast), else in a temporary store removed afterwards.
    `overrides` are Settings fields (openai_base_url, llm_model, ...)."""
    if chroma_url:
        # A collection of its own, deleted afterwards: an evaluation never writes into (or
        # prunes) the articles other processes serve from the same server.
        overrides.setdefault("collection", f"eval-{uuid.uuid4().hex[:16]}")
    with tempfile.TemporaryDirectory(prefix="assistant-eval-") as tmp:
        assistant: Assistant | None = None
        try:
            try:
                assistant = Assistant(store=store or tmp, chroma_url=chroma_url, llm=backend,
                                      **overrides)
                summary = assistant.ingest([dataset.articles])
            except AssistantError as exc:
                raise EvalError(str(exc)) from None
            for message in summary.failed:
                log(f"warning: {message}")
            if not assistant.sources():
                raise EvalError(f"no articles could be indexed from {dataset.articles}")
            yield assistant
        finally:
            if chroma_url and assistant is not None:
                assistant.discard()


def run_eval(dataset: Dataset, assistant: Assistant, *, top_k: int | None = None,
             judge: Judge | None = None, checker: Checker | None = None,
             progress: Callable[[int, int, QuestionResult], None] | None = None) -> EvalRun:
    started = time.perf_counter()
    k = top_k or assistant.settings.top_k
    scorer = SupportScorer(CachedEmbedder(assistant.embedder))
    articles: dict[str, dict[str, Any] | None] = {}

    def article(article_id: str) -> dict[str, Any] | None:
        if article_id not in articles:
            articles[article_id] = assistant.article(article_id)
        return articles[article_id]

    texts = {s.article_id: str((article(s.article_id) or {}).get("text") or "")
             for s in assistant.sources()}
    try:
        # One untimed question first, so latency figures exclude loading the models.
        assistant.ask("warm-up question", top_k=k)
    except AssistantError as exc:
        raise EvalError(str(exc)) from None

    results: list[QuestionResult] = []
    backends: set[str] = set()
    for i, question in enumerate(dataset.questions):
        try:
            t0 = time.perf_counter()
            answer = assistant.ask(question.question, top_k=k)
            latency = (time.perf_counter() - t0) * 1000
            passages = [PassageRef(p.chunk.article_id, p.chunk.start, p.chunk.end, p.chunk.text,
                                   p.article.title)
                        for p in assistant.retrieve(question.question, top_k=k)]
        except AssistantError as exc:
            raise EvalError(f"{question.id}: {exc}") from None
        backends.add(answer.backend)
        evidence: list[EvidenceSpan | None] = [locate_evidence(e, texts) for e in question.evidence]
        result = score_question(question, answer, passages, scorer, article, evidence, latency,
                                judge=judge, checker=checker)
        results.append(result)
        if progress:
            progress(i + 1, len(dataset.questions), result)

    notes = []
    backend = assistant.settings.llm
    if backends - {backend}:
        notes.append(f"asked for backend {backend!r}, answers came from {sorted(backends)}")
    run = EvalRun(dataset=dataset.name, dataset_path=str(dataset.path), articles=str(dataset.articles),
                  backend=backend, top_k=k, support_threshold=SUPPORT_THRESHOLD, results=results,
                  metrics=aggregate(results), counts=counts(results),
                  seconds=round(time.perf_counter() - started, 2), notes=notes,
                  intervals=intervals(results), calibration=calibration(results))
    if judge is not None:
        run.judge = judge_agreement(results)
    return run


def judge_agreement(results: list[QuestionResult]) -> dict[str, Any]:
    """How often the LLM judge agrees with the offline scorer on (sentence, cited passages)."""
    pairs = [(s.judge, s.supported_by_citations) for r in results for s in r.sentences
             if s.citations]
    judged = [(j, o) for j, o in pairs if j is not None]
    agree = sum(j == o for j, o in judged)
    return {"pairs": len(pairs), "judged": len(judged),
            "agreement": round(agree / len(judged), 4) if judged else None,
            "judge_supported": sum(j for j, _ in judged), "scorer_supported": sum(o for _, o in judged)}
