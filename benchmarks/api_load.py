"""The OpenAI-compatible API under load: N simultaneous chat completions against a real
`python -m assistant serve` process on loopback, and how close they come to the CPU-bound floor.

    python -m benchmarks.api_load [--requests 100] [--workers N] [--articles ../shared/articles]

It indexes samples/articles plus the user's articles into a temporary store, starts the server
(rate limit off, one API key), then:

1. the first request after the server starts (it warms its models up before it listens);
2. one answer's cost: 20 sequential requests, timing each and reading the server's CPU time from
   /proc (all its threads, so onnxruntime's are counted);
3. the load: N requests sent at once from one asyncio client (httpx), each timed from the common
   start; errors, p50, p95 and the slowest are printed.

The CPU-bound floor is N x (the server's CPU seconds a request) / cores: no server on this
machine can finish all N sooner. The issue's target is p95 <= 1.5 x that floor with 0 errors.
The client runs on the same cores, so its own cost is inside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from harness.llm_server import free_port

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-load-test"
QUESTION_SETS = [ROOT / "evals" / "datasets" / "sample" / "questions.jsonl",
                 ROOT / "evals" / "datasets" / "user-articles" / "questions.jsonl"]


def questions() -> list[str]:
    out: list[str] = []
    for path in QUESTION_SETS:
        out += [json.loads(line)["question"] for line in path.read_text().splitlines() if line]
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def load(url: str, asked: list[str]) -> tuple[list[float], list[str], float]:
    import httpx

    limits = httpx.Limits(max_connections=len(asked), max_keepalive_connections=len(asked))
    async with httpx.AsyncClient(timeout=300, limits=limits,
                                 headers={"Authorization": f"Bearer {KEY}"}) as client:
        start = time.perf_counter()

        async def one(question: str) -> tuple[float, str]:
            try:
                response = await client.post(f"{url}/chat/completions", json={
                    "model": "article-assistant",
                    "messages": [{"role": "user", "content": question}]})
                error = "" if response.status_code == 200 else \
                    f"{response.status_code}: {response.text[:120]}"
            except httpx.HTTPError as exc:
                error = f"{exc.__class__.__name__}: {exc}"
            return time.perf_counter() - start, error

        results = await asyncio.gather(*(one(q) for q in asked))
        wall = time.perf_counter() - start
    return [r[0] for r in results], [r[1] for r in results if r[1]], wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--workers", type=int, help="ASSISTANT_API_WORKERS (default: CPU count)")
    parser.add_argument("--articles", default=str(ROOT.parent / "shared" / "articles"))
    parser.add_argument("--json", dest="json_path", help="also write the figures here")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    pool = questions()
    asked = [pool[i % len(pool)] for i in range(args.requests)]

    with tempfile.TemporaryDirectory(prefix="api-load-") as work:
        store = Path(work) / "store"
        paths = [str(ROOT / "samples" / "articles")]
        if Path(args.articles).is_dir():
            paths.append(args.articles)
        subprocess.run([sys.executable, "-m", "assistant", "ingest", *paths, "--store", str(store)],
                       check=True, cwd=ROOT, capture_output=True)
        port = free_port()
        env = {**os.environ, "ASSISTANT_API_KEYS": KEY, "ASSISTANT_API_RATE_PER_MINUTE": "0",
               "ASSISTANT_LLM": "extractive", "ASSISTANT_AUTH": ""}
        if args.workers:
            env["ASSISTANT_API_WORKERS"] = str(args.workers)
        server = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--store", str(store),
                                   "--port", str(port)], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/v1"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        sys.exit("the server did not start")
                    time.sleep(0.3)
            # The first answer after start (the server warms its models up before it listens),
            # then a few more to warm caches, then one answer's cost, one request at a time.
            first, errors, _ = asyncio.run(load(url, pool[:1]))
            if errors:
                sys.exit(f"the first request failed: {errors[0]}")
            asyncio.run(load(url, pool[1:5]))
            sequential: list[float] = []
            cpu_before = cpu_seconds(server.pid)
            for question in pool[:20]:
                times, errors, _ = asyncio.run(load(url, [question]))
                if errors:
                    sys.exit(f"a sequential request failed: {errors[0]}")
                sequential += times
            cpu_per_request = (cpu_seconds(server.pid) - cpu_before) / 20
            latencies, errors, wall = asyncio.run(load(url, asked))
        finally:
            server.terminate()
            server.wait(timeout=30)

    floor = args.requests * cpu_per_request / cores
    p95 = percentile(latencies, 0.95)
    figures = {
        "requests": args.requests, "cores": cores, "workers": args.workers or cores,
        "first_request_ms": round(first[0] * 1000, 1),
        "sequential_p50_ms": round(statistics.median(sequential) * 1000, 1),
        "server_cpu_ms_per_request": round(cpu_per_request * 1000, 1),
        "cpu_bound_floor_s": round(floor, 2), "errors": len(errors),
        "p50_s": round(percentile(latencies, 0.5), 2), "p95_s": round(p95, 2),
        "max_s": round(max(latencies), 2), "wall_s": round(wall, 2),
        "p95_over_floor": round(p95 / floor, 2) if floor else None,
        # A stricter yardstick: the sequential latency split perfectly over the cores.
        "p95_over_ideal_speedup": round(p95 / (args.requests * statistics.median(sequential)
                                              / cores), 2),
    }
    print(f"{args.requests} simultaneous chat completions, {cores} cores, "
          f"{figures['workers']} answer workers")
    print(f"  the first request after start: {figures['first_request_ms']} ms")
    print(f"  one request alone: p50 {figures['sequential_p50_ms']} ms, "
          f"server CPU {figures['server_cpu_ms_per_request']} ms")
    print(f"  CPU-bound floor ({args.requests} x CPU / cores): {figures['cpu_bound_floor_s']} s")
    print(f"  errors {figures['errors']}; p50 {figures['p50_s']} s, p95 {figures['p95_s']} s, "
          f"slowest {figures['max_s']} s")
    print(f"  p95 / floor = {figures['p95_over_floor']} (target <= 1.5); p95 / (N x one "
          f"request's latency / cores) = {figures['p95_over_ideal_speedup']}")
    for error in errors[:5]:
        print(f"  error: {error}")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
