"""Ingest of big files: time, throughput and peak memory of `python -m assistant ingest` on one
big text file and one JSONL file of many records, each into a fresh store.

    python -m benchmarks.big_files [--mb 50] [--records 10000] [--seed 7] [--keep DIR]

The text is the seeded news generator's (benchmarks/corpus.py) articles concatenated into one
file of about --mb megabytes: one article of hundreds of thousands of sentences, the worst case
for memory. The JSONL holds --records generated articles, one a line. Peak memory is each
ingest process's own maximum resident set (os.wait4). The per-file progress bar is
on stderr; its last state is printed. Expect about half an hour for 50 MB on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
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
    """Run the CLI ingest in a child; its wall time, its own peak RSS (os.wait4's rusage of that
    one child) and its last progress line."""
    started = time.perf_counter()
    env = {**os.environ, "ASSISTANT_MAX_FILE_MB": "100"}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen([sys.executable, "-m", "assistant", "ingest", str(path), "--store",
                                  str(store), "--json"], stdout=out, stderr=err, text=True,
                                 cwd=ROOT, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0:
        sys.exit(f"ingest of {path.name} failed: {stderr[-500:]}")
    report = json.loads(stdout.strip().splitlines()[-1])
    bars = [p for p in stderr.replace("\r", "\n").splitlines() if "sentence" in p]
    return {"file": path.name, "megabytes": round(path.stat().st_size / 1e6, 1),
            "seconds": round(seconds, 1), "articles": report["added"], "chunks": report["chunks"],
            "tokens": report["tokens"], "tokens_per_second": report["tokens_per_second"],
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
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
        results = []
        # The big text first: the children's peak RSS is a maximum over all of them, and the
        # text file's is the larger.
        for path, store in ((text, work / "store-text"), (jsonl, work / "store-jsonl")):
            r = ingest(path, store)
            results.append(r)
            print(f"{r['file']}: {r['megabytes']} MB, {r['articles']} articles, {r['chunks']} "
                  f"chunks, {r['tokens']} tokens in {r['seconds']} s ({r['tokens_per_second']} "
                  f"tokens/s); peak memory {r['peak_rss_mb']} MB; last progress: "
                  f"{r['progress_bar']}", flush=True)
            if args.json_path:
                Path(args.json_path).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
