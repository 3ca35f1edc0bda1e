"""The lexical benchmark's worker process (benchmarks/lexical.py): every build, query run and
update runs in a process of its own (`python -m benchmarks.lexical --worker ...`), so its time
and peak RSS are that engine's alone."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.lexical_common import ROOT
from benchmarks.lexical_corpus import read_articles
from benchmarks.lexical_engines import ENGINE_CLASSES, open_catalog

WARMUP = 3


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over an exec, so a
    worker started by a large parent would report the parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def rss_now_mb() -> float:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def run_worker(task: str, engine_name: str, work: Path, top_k: int) -> dict[str, Any]:
    engine = ENGINE_CLASSES[engine_name](work)
    if task == "build":
        # Only fts5 reads the prepared articles; the others read the catalog it wrote.
        out = engine.build(read_articles(work / "base.jsonl.gz") if engine_name == "fts5" else [])
        out.update(engine.size())
    elif task == "update":
        plan = json.loads((work / "update.json").read_text())
        add = list(read_articles(work / "extra.jsonl.gz"))
        if engine_name != "fts5":  # only the ids: the chunks come from the catalog
            add = [{"id": a["id"]} for a in add]
        out = engine.update(add, plan["delete"])
        out.update(engine.size())
        # Every chunk the catalog holds after the update, and no other, is in the index.
        out["docs_after_update"] = engine.count()
        out["catalog_chunks_after_update"] = open_catalog(work).chunk_count()
    elif task == "query":
        queries = json.loads((work / "queries.json").read_text())
        rss_start = rss_now_mb()
        t0 = time.perf_counter()
        engine.open()
        out = {"load_s": time.perf_counter() - t0, "rss_before_load_mb": rss_start,
               "rss_after_load_mb": rss_now_mb()}
        for q in queries[:WARMUP]:
            engine.search(q["terms"], top_k, None)
        lat, lat_scoped, top10, scoped = [], [], [], []
        for q in queries:
            t0 = time.perf_counter()
            hits = engine.search(q["terms"], top_k, None)
            lat.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            in_scope = engine.search(q["terms"], top_k, q["scope"])
            lat_scoped.append((time.perf_counter() - t0) * 1000)
            top10.append(hits[:10])
            scoped.append(in_scope)
        out.update({"latency_ms": lat, "scoped_latency_ms": lat_scoped, "top10": top10,
                    "scoped_hits": scoped, "hits_per_query": [len(h) for h in top10],
                    "rss_end_mb": rss_now_mb()})
    else:
        raise SystemExit(f"unknown task {task}")
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def worker(task: str, engine: str, work: Path, top_k: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.lexical", "--worker", task, "--engine", engine,
           "--work", str(work), "--top-k", str(top_k)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{engine} {task} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
