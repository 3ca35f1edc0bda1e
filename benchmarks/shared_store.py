"""Several app processes on one Chroma server: ask latency with 1 and with 4 processes, and what
keeping up with other writers costs.

    python -m benchmarks.shared_store [--questions 40] [--articles ../shared/articles]

It starts a real `chroma run` on loopback, ingests samples/articles (plus the user's articles
when present) into one collection, then:

1. ask latency, 1 process: one worker process (its own store folder, i.e. its own cache) asks
   the question set in order; p50 and p95 of `Assistant.ask`, after a warm-up question;
2. the same with 4 worker processes at once (on this machine's cores: with 2 cores, 4 processes
   contend, and the figure says so);
3. the change check: the cost of one read of the store's change token (what a question pays at
   most once per `sync_interval_s`), and ask latency with the check before every question
   (`sync_interval_s=0`) against the default;
4. a sync: after another process ingests one new article, how long the next question takes
   (it fetches that article from the server into the local cache).
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
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION_SETS = [ROOT / "evals" / "datasets" / "sample" / "questions.jsonl",
                 ROOT / "evals" / "datasets" / "user-articles" / "questions.jsonl"]
NEW_ARTICLE = """Kestrel Bay Opens Cooling Centres

Kestrel Bay opened four cooling centres on Tuesday as temperatures reached 39 degrees.
The largest centre, in the Marlow Street library, can hold 250 people.
"""


def questions(limit: int) -> list[str]:
    out: list[str] = []
    for path in QUESTION_SETS:
        out += [json.loads(line)["question"] for line in path.read_text().splitlines() if line]
    return out[:limit]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def worker(url: str, collection: str, store: str, asked: list[str], interval: float) -> None:
    """One app process: answer the questions, print their latencies (ms) as JSON."""
    from assistant import Assistant

    assistant = Assistant(store=store, chroma_url=url, collection=collection,
                          sync_interval_s=interval)
    assistant.ask(asked[0])  # warm-up: model load, first sync into the cache
    times = []
    for question in asked:
        started = time.perf_counter()
        assistant.ask(question)
        times.append((time.perf_counter() - started) * 1000)
    print(json.dumps(times))


def run_workers(n: int, url: str, collection: str, tmp: Path, asked: list[str],
                interval: float = 1.0) -> list[float]:
    processes = [subprocess.Popen(
        [sys.executable, "-m", "benchmarks.shared_store", "--worker", url, collection,
         str(tmp / f"worker-{n}-{i}-{interval}"), str(interval), json.dumps(asked)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT) for i in range(n)]
    times: list[float] = []
    for process in processes:
        out, _ = process.communicate(timeout=1800)
        if process.returncode != 0:
            raise SystemExit(f"a worker failed (exit {process.returncode})")
        times += json.loads(out)
    return times


def line(label: str, times: list[float]) -> str:
    return (f"{label}: p50 {statistics.median(times):.0f} ms, p95 {percentile(times, 0.95):.0f} ms"
            f" ({len(times)} asks)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--articles", type=Path, default=ROOT.parent / "shared" / "articles")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        url, collection, store, interval, asked = args.worker
        worker(url, collection, store, json.loads(asked), float(interval))
        return

    from assistant import Assistant
    from harness.chroma_server import running_chroma_server

    asked = questions(args.questions)
    collection = f"bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="bench-shared-") as name:
        tmp = Path(name)
        with running_chroma_server(tmp / "chroma", tmp / "chroma.log") as (url, _pid):
            writer = Assistant(store=tmp / "writer", chroma_url=url, collection=collection)
            paths = [ROOT / "samples" / "articles"]
            if args.articles.is_dir():
                paths.append(args.articles)
            summary = writer.ingest(paths)
            print(f"{os.cpu_count()} cores; {summary.added} articles on one `chroma run`; "
                  f"{len(asked)} questions")
            print(line("1 app process", run_workers(1, url, collection, tmp, asked)))
            print(line("4 app processes at once", run_workers(4, url, collection, tmp, asked)))

            reader = Assistant(store=tmp / "reader", chroma_url=url, collection=collection)
            reader.ask(asked[0])
            started = time.perf_counter()
            for _ in range(200):
                reader.state.token()
            print(f"change check (one token read from the server): "
                  f"{(time.perf_counter() - started) / 200 * 1000:.1f} ms")
            print(line("1 process, default (check at most once a second)",
                       run_workers(1, url, collection, tmp, asked, 1.0)))
            print(line("1 process, check before every question",
                       run_workers(1, url, collection, tmp, asked, 0.0)))

            (tmp / "new").mkdir()
            (tmp / "new" / "heat.txt").write_text(NEW_ARTICLE, encoding="utf-8")
            writer.ingest([tmp / "new"])
            time.sleep(reader.settings.sync_interval_s)
            started = time.perf_counter()
            answer = reader.ask("How many people can the Marlow Street centre hold?")
            print(f"first question after another process added an article (sync included): "
                  f"{(time.perf_counter() - started) * 1000:.0f} ms, "
                  f"{'answered' if not answer.abstained else 'abstained'}")


if __name__ == "__main__":
    main()
