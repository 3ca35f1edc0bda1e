"""Ingest of big files: time, throughput and peak memory of `python -m assistant ingest` on one
big text file and one JSONL file of many records, each into a fresh store.

    python -m benchmarks.big_files [--mb 50] [--records 10000] [--seed 7] [--keep DIR]

The text is the seeded news generator's (benchmarks/corpus.py) articles concatenated into one
file of about --mb megabytes: one article of hundreds of thousands of sentences, the worst case
for memory. The JSONL holds --records generated articles, one a line. Peak memory is the
ingest process's maximum resident set (getrusage of the child). The per-file progress bar is
on stderr; its last state is printed. Expect about half an hour for 50 MB on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.corpus import generate_article

ROOT = Path(__file__).resolve().parent.parent


def write_text(path: Path, megabytes: float, seed: int) -> None:
    rng = random.Random(seed)
    target = int(megabytes * 1_000_000)
    written = 0
    with path.open("w", encoding="utf-8") as out:
        out.write("One Big File of Generated News\n\n")
        while written < target:
            article = generate_article(rng)
            block = "\n\n".join([article.title, *article.paragraphs]) + "\n\n"
            out.write(block)
            written += len(block.encode("utf-8"))


def write_jsonl(path: Path, records: int, seed: int) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        for i in range(records):
            article = generate_article(rng)
            out.write(json.dumps({"id": f"r{i}", "title": article.title,
                                  "text": "\n\n".join(article.paragraphs)}) + "\n")


def ingest(path: Path, store: Path) -> dict[str, object]:
    """Run the CLI ingest in a child; its wall time, peak RSS and last progress line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    env = {**os.environ, "ASSISTANT_MAX_FILE_MB": "100"}
    result = subprocess.run([sys.executable, "-m", "assistant", "ingest", str(path), "--store",
                             str(store), "--json"], capture_output=True, text=True, cwd=ROOT, env=env)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if result.returncode != 0:
        sys.exit(f"ingest of {path.name} failed: {result.stderr[-500:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    bars = [p for p in result.stderr.replace("\r", "\n").splitlines() if "sentence" in p]
    return {"file": path.name, "megabytes": round(path.stat().st_size / 1e6, 1),
            "seconds": round(seconds, 1), "articles": report["added"], "chunks": report["chunks"],
            "tokens": report["tokens"], "tokens_per_second": report["tokens_per_second"],
            # ru_maxrss of children is the largest of any child so far; each run is the largest
            # process yet when it grows past the previous one.
            "peak_rss_mb": round(max(peak_kb, before) / 1024, 1),
            "progress_bar": bars[-1].strip() if bars else "(none)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=50)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", help="work in this folder and keep it")
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="big-files-") as temp:
        work = Path(args.keep or temp)
        work.mkdir(parents=True, exist_ok=True)
        jsonl, text = work / f"records-{args.records}.jsonl", work / f"one-article-{args.mb:g}mb.txt"
        write_jsonl(jsonl, args.records, args.seed)
        write_text(text, args.mb, args.seed)
        # The smaller run first, so the peak of the bigger one is its own.
        results = [ingest(jsonl, work / "store-jsonl"), ingest(text, work / "store-text")]
    for r in results:
        print(f"{r['file']}: {r['megabytes']} MB, {r['articles']} articles, {r['chunks']} chunks, "
              f"{r['tokens']} tokens in {r['seconds']} s ({r['tokens_per_second']} tokens/s); "
              f"peak memory {r['peak_rss_mb']} MB; last progress: {r['progress_bar']}")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
