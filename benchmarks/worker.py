"""One measurement in a process of its own, so its peak RSS and imports are its own.

    python -m benchmarks.worker TASK --json '{...}'

prints one JSON object on its last stdout line. `benchmarks.run` starts these; they are not meant
to be run by hand, but can be, to reproduce one figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from index.embedding import Embedder, LocalMiniLM


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def make_embedder(kind: str, pool_cache: str | None) -> Embedder:
    model = LocalMiniLM()
    if kind == "real":
        return model
    from benchmarks.embedders import PoolEmbedder

    assert pool_cache, "a pooled embedder needs --pool-cache"
    data = np.load(pool_cache)
    table = {row.tobytes(): vector for row, vector in zip(data["keys"], data["vectors"], strict=True)}
    return PoolEmbedder(model, table)


class Recording:
    """Passes texts through to an embedder and keeps them, so the tokens the baseline embeds can
    be counted after the clock stops (counting inside would slow the baseline down)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.texts: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.embed(texts)


class Memo:
    """Caches vectors by text. Only for the quality run, where answers (not timings) count: the
    baseline re-embeds the same few nodes' sentences for every question."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.cache: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if missing:
            self.cache.update(zip(missing, self.inner.embed(missing), strict=True))
        return np.stack([self.cache[t] for t in texts]) if texts else self.inner.embed([])


# --- tasks ---------------------------------------------------------------------------------------

def task_ceiling(p: dict[str, Any]) -> dict[str, Any]:
    return ceiling(Path(p["corpus"]), LocalMiniLM())


def ceiling(corpus: Path, model: LocalMiniLM) -> dict[str, Any]:
    """The embedding model alone on the sentences our pipeline embeds: the ingest ceiling."""
    from index.chunking import chunk_article
    from index.loaders import discover, load_file

    files, _ = discover([corpus])
    sentences = [s.text for f in files for a in load_file(f).articles
                 for s in chunk_article(a.text)[0]]
    model.embed(sentences[:64])  # warm-up: first runs of an ONNX session are slower
    started = time.perf_counter()
    for begin in range(0, len(sentences), 512):  # the pipeline's flush size
        model.embed(sentences[begin:begin + 512])
    seconds = time.perf_counter() - started
    tokens = model.count_tokens(sentences)
    return {"articles": len(files), "sentences": len(sentences), "tokens": tokens,
            "seconds": round(seconds, 3), "sentences_per_s": round(len(sentences) / seconds, 1),
            "tokens_per_s": round(tokens / seconds, 1)}


def task_ingest(p: dict[str, Any]) -> dict[str, Any]:
    embedder = make_embedder(p["embed"], p.get("pool_cache"))
    embedder.embed(["warm-up sentence for the ONNX session."])
    corpus, store = Path(p["corpus"]), Path(p["store"])
    # With a Chroma server the ingest writes through it (the supported path: for ours, the server
    # then holds the article records and the store's state too; `store` is the local cache).
    url = p.get("chroma_url")
    if p["system"] == "ours":
        # Imported before the clock starts, as the baseline's imports are.
        import llama_index.vector_stores.chroma  # noqa: F401

        from assistant import Assistant

        assistant = Assistant(store=store, chroma_url=url, embedder=embedder)
        started = time.perf_counter()
        report = assistant.ingest([corpus])
        seconds = time.perf_counter() - started
        out: dict[str, Any] = {
            "articles": report.added + report.updated + report.unchanged,
            "added": report.added + report.updated, "unchanged": report.unchanged,
            "chunks": report.chunks, "tokens_embedded": report.tokens,
            "failed": len(report.failed)}
    else:
        from benchmarks import baseline

        recording = Recording(embedder) if p.get("count_tokens") else None
        baseline.configure(recording or embedder)
        started = time.perf_counter()
        out = (baseline.reingest if p.get("again") else baseline.ingest)(corpus, store, url)
        seconds = time.perf_counter() - started
        if recording is not None:
            model = embedder if isinstance(embedder, LocalMiniLM) else embedder.model  # type: ignore[attr-defined]
            # The model reads at most 256 tokens of a text (count_tokens truncates the same way).
            out["tokens_embedded"] = model.count_tokens(recording.texts)
            out["texts_embedded"] = len(recording.texts)
    out.update(seconds=round(seconds, 3), peak_rss_mb=peak_rss_mb())
    if p.get("ceiling"):
        # Right after the ingest, in the same process: the machine is shared and its speed
        # drifts, so the share of the model's throughput compares two moments close together.
        model = embedder if isinstance(embedder, LocalMiniLM) else embedder.model  # type: ignore[attr-defined]
        out["ceiling"] = ceiling(corpus, model)
    if hasattr(embedder, "misses"):
        out["pool"] = {"hits": embedder.hits, "composed": embedder.composed,  # type: ignore[attr-defined]
                       "misses": embedder.misses}  # type: ignore[attr-defined]
    return out


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    array = np.asarray(values)
    return {"n": len(values), "p50": round(float(np.percentile(array, 50)), 2),
            "p95": round(float(np.percentile(array, 95)), 2),
            "mean": round(float(array.mean()), 2), "max": round(float(array.max()), 2)}


def task_query(p: dict[str, Any]) -> dict[str, Any]:
    """Latency (and, with keep_answers, the answers) for questions over a built store."""
    questions = [json.loads(line) for line in Path(p["questions"]).read_text().splitlines()
                 if line.strip()][:p.get("limit")]
    embedder: Embedder = LocalMiniLM()
    if p.get("memo"):
        embedder = Memo(embedder)
    store, mode, k = Path(p["store"]), p["mode"], p.get("k", 6)
    url = p.get("chroma_url")
    if p["system"] == "ours":
        from assistant import Assistant

        assistant = Assistant(store=store, chroma_url=url, embedder=embedder)

        def one(question: str) -> dict[str, Any]:
            if mode == "retrieve":
                return {"passages": len(assistant.retrieve(question, top_k=k))}
            answer = assistant.ask(question, top_k=k)
            return {"answer": answer.answer, "abstained": answer.abstained}
    else:
        from benchmarks import baseline

        qa = baseline.BaselineQA(store, baseline.configure(embedder), url, top_k=k)

        def one(question: str) -> dict[str, Any]:
            if mode == "retrieve":
                return {"passages": len(qa.retrieve(question))}
            return {**qa.answer(question), "abstained": False}

    # Warm-up: first queries pay one-off costs (ONNX session, SQLite and HNSW pages).
    for item in questions[:3]:
        one(item["question"])
    timings: list[float] = []
    answers: list[dict[str, Any]] = []
    for item in questions:
        started = time.perf_counter()
        result = one(item["question"])
        timings.append((time.perf_counter() - started) * 1000)
        if p.get("keep_answers"):
            answers.append({"id": item.get("id"), **result})
    out: dict[str, Any] = {"latency_ms": _percentiles(timings), "peak_rss_mb": peak_rss_mb()}
    if p.get("keep_answers"):
        out["answers"] = answers
    return out


def _asker(system: str, store: Path, embedder: Embedder, url: str | None, mode: str,
           k: int) -> Any:
    if system == "ours":
        from assistant import Assistant

        assistant = Assistant(store=store, chroma_url=url, embedder=embedder)
        if mode == "retrieve":
            return lambda q: assistant.retrieve(q, top_k=k)
        return lambda q: assistant.ask(q, top_k=k)
    from benchmarks import baseline

    qa = baseline.BaselineQA(store, baseline.configure(embedder), url, top_k=k)
    return qa.retrieve if mode == "retrieve" else qa.answer


def task_paired(p: dict[str, Any]) -> dict[str, Any]:
    """The same questions through the embedded client and a Chroma server, alternating query by
    query in one process, so load on a shared machine hits both alike. `store` is the embedded
    store; the server holds the same corpus, ingested through it, and `server_store` is the
    local folder of that ingest (for ours, its catalog: the cache of the server's records)."""
    questions = [json.loads(line)["question"] for line in Path(p["questions"]).read_text().splitlines()
                 if line.strip()][:p.get("limit")]
    embedder = LocalMiniLM()
    store, k = Path(p["store"]), p.get("k", 6)
    embedded = _asker(p["system"], store, embedder, None, p["mode"], k)
    served = _asker(p["system"], Path(p.get("server_store", store)), embedder, p["chroma_url"],
                    p["mode"], k)
    for question in questions[:3]:
        embedded(question)
        served(question)
    times: dict[str, list[float]] = {"embedded": [], "server": []}
    for i, question in enumerate(questions):
        order = [("embedded", embedded), ("server", served)]
        for name, call in order if i % 2 == 0 else order[::-1]:
            started = time.perf_counter()
            call(question)
            times[name].append((time.perf_counter() - started) * 1000)
    diff = [b - a for a, b in zip(times["embedded"], times["server"], strict=True)]
    return {"embedded": _percentiles(times["embedded"]), "server": _percentiles(times["server"]),
            "difference_ms": _percentiles(diff)}


def task_latency(p: dict[str, Any]) -> dict[str, Any]:
    """Latency of several targets (a system over a store) in one process, taking turns query by
    query in a rotating order: on a shared 2-core machine the load changes from minute to minute,
    and separate runs would compare load, not systems or sizes. Peak RSS is not measured here
    (the process holds every target); `query` runs measure it, one target each."""
    questions = [json.loads(line) for line in Path(p["questions"]).read_text().splitlines()
                 if line.strip()]
    embedder = LocalMiniLM()
    k = p.get("k", 6)
    targets = p["targets"]  # [{"name", "system", "store"}]
    out: dict[str, Any] = {t["name"]: {} for t in targets}
    for mode, n in (("retrieve", p["retrieve_n"]), ("answer", p["answer_n"])):
        calls = {t["name"]: _asker(t["system"], Path(t["store"]), embedder, None, mode, k)
                 for t in targets}
        for item in questions[:3]:
            for call in calls.values():
                call(item["question"])
        times: dict[str, list[float]] = {name: [] for name in calls}
        answers: dict[str, list[dict[str, Any]]] = {name: [] for name in calls}
        names = list(calls)
        for i, item in enumerate(questions[:n]):
            for name in names[i % len(names):] + names[:i % len(names)]:
                started = time.perf_counter()
                result = calls[name](item["question"])
                times[name].append((time.perf_counter() - started) * 1000)
                if mode == "answer" and p.get("keep_answers"):
                    answers[name].append(_answer_record(item.get("id"), result))
        for name in names:
            out[name][mode] = {"latency_ms": _percentiles(times[name])}
            if answers[name]:
                out[name][mode]["answers"] = answers[name]
    return out


def _answer_record(item_id: Any, result: Any) -> dict[str, Any]:
    if isinstance(result, dict):  # the baseline's answer
        return {"id": item_id, **result, "abstained": False}
    return {"id": item_id, "answer": result.answer, "abstained": result.abstained}


TASKS = {"ceiling": task_ceiling, "ingest": task_ingest, "query": task_query, "paired": task_paired,
         "latency": task_latency}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--json", required=True, help="the task's parameters")
    args = parser.parse_args()
    result = TASKS[args.task](json.loads(args.json))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
