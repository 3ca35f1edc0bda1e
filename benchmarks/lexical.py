"""Lexical engines side by side (issue #22): SQLite FTS5 (the catalog's lexical index until
issue #22), tantivy (the product's since) and bm25s, on the same chunk texts and the same
question terms.

    python -m benchmarks.lexical --articles 1000 [--queries 300] [--write]

The corpus is the scale series' pooled news (benchmarks/corpus.py), loaded and chunked by the
product's own code (index/loaders.py, index/chunking.py) and cached in benchmarks/.cache/. The
questions are the scale series' questions, turned into search terms as the answer path does
(assistant.retrieval.question_terms). Every build, query run and update runs in a process of its
own (`--worker`), so its time and peak RSS are that engine's alone:

* fts5: the former path. Articles go into a `Catalog` with `replace_article` (no sentence
  vectors), removed with `Catalog.delete_article`; an FTS5 table (porter unicode61) in a file of
  its own is filled from the catalog's chunks and searched with the queries the catalog ran.
  Its build and update times include the catalog rows the product writes anyway (articles,
  chunks, words); `fts5_only_build_s` is the FTS5 table alone, filled in one statement.
* tantivy: the product's lexical index (index/lexical.py) through the catalog: built from the
  catalog's chunks, updated by applying the articles the catalog marked, searched with
  `Catalog.lexical_search`. Chunk text indexed (not stored) with positions, the article id as a
  raw term (scope filter, delete), the catalog's chunk rowid as a fast field.
* bm25s: eager sparse BM25 scores saved as .npy and loaded with mmap; the catalog rowid of each
  document in a .npy beside it. It has no incremental update: an update is a rebuild.

Both other engines read their chunks from the catalog (the rebuild-from-the-store path), and map
their hits back to chunk ids through it, as the product would. Tokenisation follows FTS5's
`porter unicode61` as closely as each allows (see benchmarks/README.md). A scope (a set of
article ids) filters every engine. Top-10 agreement with FTS5 and the share of questions whose
answer is in a top-10 chunk are sanity checks on quality, not a quality evaluation.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.lexical_common import ROOT, catalog_path, log
from benchmarks.lexical_corpus import make_queries, prepare_corpus, read_articles
from benchmarks.lexical_worker import run_worker, worker
from index.chunking import CHUNK_TEXT_SQL, CHUNKS_WITH_ARTICLES_SQL

RESULTS = ROOT / "benchmarks" / "results"
ENGINES = ("fts5", "tantivy", "bm25s")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# --- the run ------------------------------------------------------------------------------------

def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def analyse(results: dict[str, dict[str, Any]], queries: list[dict[str, Any]], work: Path) -> None:
    """Top-10 agreement with FTS5 (by chunk id, and by chunk text: the pooled corpus repeats
    paragraphs, so equal-scoring copies tie), answer found in a top-10 chunk, scope respected."""
    db = sqlite3.connect(catalog_path(work))
    chunk = {cid: (aid, text) for cid, aid, text in db.execute(
        f"SELECT chunks.chunk_id, chunks.article_id, {CHUNK_TEXT_SQL} "
        f"FROM {CHUNKS_WITH_ARTICLES_SQL}")}
    db.close()
    reference = results["fts5"]["query"]["top10"]
    for res in results.values():
        q = res["query"]
        overlap_id, overlap_text, answered, outside, scoped_empty = [], [], 0, 0, 0
        for i, query in enumerate(queries):
            mine, ref = q["top10"][i], reference[i]
            if ref:
                overlap_id.append(len(set(mine) & set(ref)) / len(ref))
                ref_texts = [chunk[c][1] for c in ref]
                mine_texts = [chunk[c][1] for c in mine]
                common = sum(min(ref_texts.count(t), mine_texts.count(t)) for t in set(ref_texts))
                overlap_text.append(common / len(ref))
            if query["answerable"]:  # some article of the corpus was written with this fact
                answer = _normalise(query["answer"])
                answered += any(answer in _normalise(chunk[c][1]) for c in mine)
            scope = set(query["scope"])
            outside += sum(chunk[c][0] not in scope for c in q["scoped_hits"][i])
            scoped_empty += not q["scoped_hits"][i]
        n = sum(1 for query in queries if query["answerable"])
        res["quality"] = {
            "overlap10_id": round(sum(overlap_id) / len(overlap_id), 3) if overlap_id else None,
            "overlap10_text": round(sum(overlap_text) / len(overlap_text), 3) if overlap_text else None,
            "answer_in_top10": round(answered / n, 3) if n else None,
            "scoped_hits": sum(len(h) for h in q["scoped_hits"]),
            "scoped_hits_outside_scope": outside, "scoped_queries_without_hits": scoped_empty,
            "queries_without_hits": sum(1 for h in q["top10"] if not h)}


def summarise(res: dict[str, Any]) -> dict[str, Any]:
    q = res["query"]
    return {
        "build_s": round(res["build"]["build_s"], 2),
        "build_peak_rss_mb": res["build"]["peak_rss_mb"],
        "index_mb": res["build"]["index_mb"],
        "update_s": round(res["update"]["update_s"], 2),
        "index_mb_after_update": res["update"]["index_mb"],
        "docs_match_catalog_after_update":
            res["update"]["docs_after_update"] == res["update"]["catalog_chunks_after_update"],
        "query_p50_ms": round(percentile(q["latency_ms"], 50), 2),
        "query_p95_ms": round(percentile(q["latency_ms"], 95), 2),
        "scoped_p50_ms": round(percentile(q["scoped_latency_ms"], 50), 2),
        "scoped_p95_ms": round(percentile(q["scoped_latency_ms"], 95), 2),
        "load_s": round(q["load_s"], 3),
        "query_rss_after_load_mb": q["rss_after_load_mb"],
        "query_peak_rss_mb": q["peak_rss_mb"],
        **res["quality"],
    }


def table(summary: dict[str, dict[str, Any]]) -> str:
    cols = [("build s", "build_s"), ("build RSS MB", "build_peak_rss_mb"), ("index MB", "index_mb"),
            ("update s", "update_s"), ("MB after", "index_mb_after_update"),
            ("p50 ms", "query_p50_ms"), ("p95 ms", "query_p95_ms"),
            ("scoped p50", "scoped_p50_ms"), ("scoped p95", "scoped_p95_ms"), ("load s", "load_s"),
            ("query RSS MB", "query_peak_rss_mb"), ("top-10 = FTS5 (id/text)", None),
            ("answer@10", "answer_in_top10"), ("out of scope", "scoped_hits_outside_scope")]
    lines = ["| engine | " + " | ".join(c for c, _ in cols) + " |",
             "|---|" + "---:|" * len(cols)]
    for name, s in summary.items():
        cells = []
        for _, key in cols:
            cells.append(f"{s['overlap10_id']} / {s['overlap10_text']}" if key is None else str(s[key]))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lexical", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=1000, help="corpus size (default 1000)")
    parser.add_argument("--queries", type=int, default=300, help="questions (default 300)")
    parser.add_argument("--top-k", type=int, default=40, help="results per search (default 40)")
    parser.add_argument("--scope-articles", type=int, default=50,
                        help="articles in each question's scope (at most a third of the corpus)")
    parser.add_argument("--add", type=int, default=100, help="articles added by the update")
    parser.add_argument("--delete", type=int, default=10, help="articles removed by the update")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="comma-separated; fts5 always runs (it is the catalog the others read)")
    parser.add_argument("--pool-articles", type=int, default=150)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    parser.add_argument("--write", action="store_true",
                        help="write benchmarks/results/lexical-N.json")
    parser.add_argument("--out", type=Path, help="with --write: the JSON's path instead")
    parser.add_argument("--worker", choices=("build", "query", "update"), help=argparse.SUPPRESS)
    parser.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(run_worker(args.worker, args.engine, args.work, args.top_k)))
        return 0

    engines = ["fts5", *[e for e in args.engines.split(",") if e and e != "fts5"]]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        parser.error(f"unknown engine(s): {', '.join(unknown)}")
    work = args.work or Path(tempfile.mkdtemp(prefix="lexical-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    from benchmarks.run import machine

    meta: dict[str, Any] = {**machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                            "args": {k: str(v) for k, v in vars(args).items() if k not in
                                     ("worker", "engine")}}
    from importlib.metadata import version

    meta["versions"] = {p: version(p) for p in ("tantivy", "bm25s", "numpy")}
    meta["versions"]["sqlite"] = sqlite3.sqlite_version
    try:
        base_path, _, pool = prepare_corpus(args.articles, args.add, args.seed, args.pool_articles,
                                            work)
        ids: list[str] = []
        holders: dict[str, list[str]] = {}
        n_chunks = 0
        for a in read_articles(base_path):
            ids.append(a["id"])
            n_chunks += len(a["chunks"])
            for question in a["questions"]:
                holders.setdefault(question, []).append(a["id"])
        queries = make_queries(ids, holders, pool, args.queries, args.scope_articles, args.seed)
        delete = random.Random(args.seed + 4).sample(ids, min(args.delete, len(ids) // 2))
        (work / "queries.json").write_text(json.dumps(queries))
        (work / "update.json").write_text(json.dumps({"delete": delete}))
        meta.update({"articles": len(ids), "chunks": n_chunks, "queries": len(queries),
                     "scope_articles": len(queries[0]["scope"]) if queries else 0})
        log(f"{meta['articles']} articles, {n_chunks} chunks, {len(queries)} questions")

        results: dict[str, dict[str, Any]] = {e: {} for e in engines}
        for e in engines:  # fts5 first: it writes the catalog the others read
            results[e]["build"] = worker("build", e, work, args.top_k)
            log(f"{e}: built in {results[e]['build']['build_s']:.1f} s, "
                f"{results[e]['build']['index_mb']} MB")
        for e in engines:
            results[e]["query"] = worker("query", e, work, args.top_k)
            log(f"{e}: {len(queries)} questions, p50 "
                f"{percentile(results[e]['query']['latency_ms'], 50):.2f} ms")
        analyse(results, queries, work)
        for e in engines:  # fts5 first: it puts the new chunks in the catalog
            results[e]["update"] = worker("update", e, work, args.top_k)
            log(f"{e}: +{args.add} -{len(delete)} articles in {results[e]['update']['update_s']:.2f} s")
    finally:
        meta["wall_s"] = round(time.perf_counter() - started, 1)
        meta["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)

    summary = {e: summarise(r) for e, r in results.items()}
    extra = {e: {k: v for k, v in r["build"].items() if k not in ("build_s", "index_mb", "peak_rss_mb")}
             for e, r in results.items()}
    print(f"\nLexical engines, {meta['articles']:,} articles ({meta['chunks']:,} chunks), "
          f"{meta['queries']} questions, top {args.top_k}, scope {meta['scope_articles']} articles; "
          f"load {meta['load_avg_start']} -> {meta['load_avg_end']}\n")
    print(table(summary))
    print()
    for e, x in extra.items():
        if x:
            print(f"{e} build: " + ", ".join(f"{k} {round(v, 2) if isinstance(v, float) else v}"
                                             for k, v in x.items()))
    if args.write:
        out = args.out or RESULTS / f"lexical-{args.articles}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        details = {e: {"build": r["build"], "update": r["update"],
                       "query": {k: v for k, v in r["query"].items()
                                 if k not in ("top10", "scoped_hits", "latency_ms", "scoped_latency_ms",
                                              "hits_per_query")}}
                   for e, r in results.items()}
        out.write_text(json.dumps({"meta": meta, "summary": summary, "details": details}, indent=1)
                       + "\n")
        log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
