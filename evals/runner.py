"""Run a dataset through an Assistant and score every answer.

Only the public API is used, as any app would: `Assistant.ingest/sources/article/retrieve/ask`,
`Assistant.llm_models` (is the LLM there?), `Assistant.catalog` (which file each article came
from) and `assistant.grounding.SupportScorer`.
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

from assistant import Answer, Assistant, AssistantError
from assistant.generative import NOT_CALLED_NOTE
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

# Question ids named in a console line before "and N more".
MAX_LISTED_IDS = 10
# With --backend openai, the LLM calls that may fail, none having succeeded, before the run
# stops: a wrong model name or a dead server would otherwise yield minutes of extractive answers
# labelled "openai" (and, with --update-baseline, a baseline of them).
MAX_LLM_FAILURES_BEFORE_ANY_REPLY = 3


class EvalError(Exception):
    """The evaluation could not run (no articles indexed, articles that do not match the
    dataset, a backend error). One line."""


def listed_ids(ids: list[str], limit: int = MAX_LISTED_IDS) -> str:
    """'q1, q2, q3' or 'q1, ..., q10 and 5 more'."""
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


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
                if backend == "openai":
                    check_llm(assistant)
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


def check_llm(assistant: Assistant) -> None:
    """Before anything is indexed or asked: the LLM endpoint answers (its model list), else
    EvalError. Without this, every answer falls back to the extractive one and the run reports
    offline figures under the name of the LLM backend."""
    try:
        assistant.llm_models()
    except AssistantError as exc:
        raise EvalError(f"--backend openai: the LLM could not be reached ({exc}); nothing was "
                        "evaluated") from None


def extra_articles(dataset: Dataset, assistant: Assistant) -> list[str]:
    """Titles of the store's articles that were not read from the dataset's articles: a kept
    --store may hold other sets' articles, whose passages can then be retrieved and cited."""
    root = dataset.articles.resolve()
    return [record.title for record in assistant.catalog.articles()
            if not record.path or not (Path(record.path).resolve() == root
                                       or root in Path(record.path).resolve().parents)]


@dataclass
class LLMCalls:
    """With --backend openai: how the LLM fared on the questions that called it."""

    replied: int = 0
    failed: list[str] = field(default_factory=list)  # ids of the questions whose call failed
    first_error: str = ""

    def record(self, question_id: str, answer: Answer) -> None:
        if answer.guard is not None:  # the guard checked a reply: the LLM answered
            self.replied += 1
        elif NOT_CALLED_NOTE not in answer.notes:
            self.failed.append(question_id)
            self.first_error = self.first_error or next(
                (n for n in answer.notes if n.startswith("llm: ")), "no reply")

    def error(self) -> str:
        return (f"--backend openai: the LLM answered none of the {len(self.failed)} questions that "
                f"called it ({self.first_error}); stopped, nothing was evaluated")


def locate_dataset_evidence(dataset: Dataset, texts: dict[str, str]
                            ) -> tuple[dict[str, list[EvidenceSpan | None]], list[str]]:
    """Every question's evidence spans (None: not found), and notes. None of the snippets found
    means the articles are not the dataset's (a wrong --articles): EvalError, since every
    retrieval and evidence metric would be n/a and the gate would pass on nothing."""
    evidence = {q.id: [locate_evidence(e, texts) for e in q.evidence] for q in dataset.questions}
    total = sum(len(spans) for spans in evidence.values())
    missing = {qid: sum(span is None for span in spans) for qid, spans in evidence.items()}
    missing = {qid: n for qid, n in missing.items() if n}
    if not total or not missing:
        return evidence, []
    if sum(missing.values()) == total:
        raise EvalError(f"none of the {total} evidence snippets of {dataset.questions_file} is found "
                        f"in the {len(texts)} articles from {dataset.articles}: the articles do not "
                        "match the dataset (is --articles right?)")
    return evidence, [f"dataset: {sum(missing.values())} of {total} evidence snippets not found in "
                      f"the articles ({listed_ids(list(missing))})"]


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
    evidence_by_question, notes = locate_dataset_evidence(dataset, texts)
    extra = [repr(title) for title in extra_articles(dataset, assistant)]
    if extra:
        notes.append(f"the store holds {len(extra)} articles that are not in the dataset's articles "
                     f"({listed_ids(extra, 3)}); they can be retrieved and cited, so these figures "
                     "are not the dataset's alone (evaluate without --store, or in a store of its "
                     "own)")
    backend = assistant.settings.llm
    llm_calls = LLMCalls() if backend == "openai" else None
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
        if llm_calls is not None:
            llm_calls.record(question.id, answer)
            if not llm_calls.replied and len(llm_calls.failed) >= MAX_LLM_FAILURES_BEFORE_ANY_REPLY:
                raise EvalError(llm_calls.error())
        evidence = evidence_by_question[question.id]
        result = score_question(question, answer, passages, scorer, article, evidence, latency,
                                judge=judge, checker=checker)
        results.append(result)
        if progress:
            progress(i + 1, len(dataset.questions), result)

    if llm_calls is not None and llm_calls.failed:
        if not llm_calls.replied:
            raise EvalError(llm_calls.error())
        notes.append(f"the LLM failed on {len(llm_calls.failed)} questions, answered extractively "
                     f"({listed_ids(llm_calls.failed)}; first: {llm_calls.first_error})")
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
