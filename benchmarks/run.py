"""`make bench`: Article Assistant against a plain LlamaIndex pipeline, side by side, and how its
costs grow from 1,000 to 10,000 (or, with --full, 100,000) articles.

    python -m benchmarks.run [--full] [--sizes 1000,10000] [--out benchmarks/results]
    python -m benchmarks.run --smoke     # every step at tiny sizes; reports in a temporary folder

Every figure comes from a subprocess of its own (benchmarks/worker.py), so each system's imports
and peak RSS are its own. See benchmarks/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from benchmarks import corpus as gen
from benchmarks.report import write_reports
from harness.chroma_server import running_chroma_server

ROOT = Path(__file__).resolve().parent.parent
DATASET = (ROOT.parent / "shared" / "datasets" / "squad2-normans").resolve()
CACHE = ROOT / "benchmarks" / ".cache"
SYSTEMS = ("ours", "baseline")
RSS_QUESTIONS = 20  # enough to reach a query process's peak: it loads everything on first use
# --smoke: every step of the run, at sizes that only show it still works end to end (tests/
# test_bench_smoke.py runs it in `make test`); flags given explicitly still win.
SMOKE = {"sizes": "10,20", "h2h_articles": 4, "queries": 2, "answers": 1, "cold_runs": 1,
         "pool_articles": 8, "quality_questions": 2}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --smoke runs every worker task in this process (set by main): a smoke run checks that each step
# still runs end to end, and some thirty fresh interpreters (each importing chromadb, onnxruntime
# and llama-index) were four of its five minutes. The cold start and the Chroma server stay real
# processes; the measured figures are never taken from an in-process run.
IN_PROCESS = False


def worker(task: str, params: dict[str, Any], log_file: Path) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter (in this one under --smoke); returns its JSON
    plus its wall time and the machine's load when it started (other people's work on the
    shared machine)."""
    load = os.getloadavg()[0]
    started = time.perf_counter()
    if IN_PROCESS:
        from benchmarks.worker import TASKS

        result = json.loads(json.dumps(TASKS[task](params)))  # what the process would print
    else:
        with open(log_file, "a") as err:
            done = subprocess.run([sys.executable, "-m", "benchmarks.worker", task, "--json",
                                   json.dumps(params)], cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=err, text=True, env=_env())
        if done.returncode != 0:
            tail = log_file.read_text()[-2000:]
            raise RuntimeError(f"worker {task} {params.get('system', '')} failed:\n{tail}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = round(time.perf_counter() - started, 3)
    result["load_1min_at_start"] = round(load, 2)
    return result


def _env() -> dict[str, str]:
    # Offline for certain: neither Chroma nor Hugging Face libraries may phone home mid-run.
    return {**os.environ, "ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def dir_size_mb(path: Path) -> float:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return round(total / 1e6, 2)


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def write_questions(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    return path


def score(answers: list[dict[str, Any]], gold: list[dict[str, Any]], field: str = "answer"
          ) -> dict[str, Any]:
    """Answer holds a gold answer (answerable), abstains (unanswerable). Same normalisation as
    benchmarks/core.py, so the figures agree with the core quality report."""
    by_id = {g["id"]: g for g in gold}
    answerable = [a for a in answers if by_id[a["id"]]["answers"]]
    unanswerable = [a for a in answers if not by_id[a["id"]]["answers"]]
    holds = sum(1 for a in answerable if not a["abstained"] and any(
        normalise(g) in normalise(a[field]) for g in by_id[a["id"]]["answers"]))
    return {
        "answerable": len(answerable), "unanswerable": len(unanswerable),
        "holds_gold": round(holds / max(len(answerable), 1), 4),
        "false_abstain": round(sum(a["abstained"] for a in answerable) / max(len(answerable), 1), 4),
        "abstain_unanswerable": round(sum(a["abstained"] for a in unanswerable)
                                      / max(len(unanswerable), 1), 4),
    }


def latency_run(targets: dict[str, tuple[str, Path]], questions: Path, args: argparse.Namespace,
                log_file: Path, keep_answers: bool = False) -> dict[str, Any]:
    """Retrieval and full-answer latency of every target (name -> system, store) in one process,
    taking turns query by query (see worker.task_latency)."""
    return worker("latency", {
        "targets": [{"name": name, "system": system, "store": str(store)}
                    for name, (system, store) in targets.items()],
        "questions": str(questions), "retrieve_n": args.queries, "answer_n": args.answers,
        "keep_answers": keep_answers}, log_file)


def rss_run(system: str, store: Path, questions: Path, args: argparse.Namespace, log_file: Path
            ) -> dict[str, Any]:
    """Peak RSS of a process answering questions from one store (and its own latencies, kept in
    the JSON only: the interleaved latency run is the one reported)."""
    return worker("query", {"system": system, "store": str(store), "mode": "answer",
                            "questions": str(questions),
                            "limit": min(RSS_QUESTIONS, args.answers)}, log_file)


def quality_subset(items: list[dict[str, Any]], n: int | None) -> list[dict[str, Any]]:
    """The first n questions, half of them answerable and half not, so every quality figure
    (holds gold, abstains, wrongly abstains) has questions behind it; all of them without n."""
    if n is None or n >= len(items):
        return items
    answerable = [i for i in items if i["answers"]]
    unanswerable = [i for i in items if not i["answers"]]
    return answerable[:(n + 1) // 2] + unanswerable[:n // 2]


def server_peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def cold_starts(commands: dict[str, list[str]], runs: int) -> dict[str, dict[str, Any]]:
    """Wall time of a fresh process answering one question, and its peak RSS (via wait4). The
    systems take turns, run after run."""
    walls: dict[str, list[float]] = {name: [] for name in commands}
    peaks: dict[str, list[float]] = {name: [] for name in commands}
    outputs: dict[str, str] = {}
    for _ in range(runs):
        for name, command in commands.items():
            started = time.perf_counter()
            process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, text=True, env=_env())
            assert process.stdout is not None
            output = process.stdout.read()
            _, status, usage = os.wait4(process.pid, 0)
            walls[name].append(time.perf_counter() - started)
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode != 0:
                raise RuntimeError(f"cold start failed: {' '.join(command)}")
            peaks[name].append(usage.ru_maxrss / 1024)
            outputs.setdefault(name, output.strip()[:200])
    out = {}
    for name, values in walls.items():
        values.sort()
        out[name] = {"runs": runs, "median_s": round(values[len(values) // 2], 3),
                     "min_s": round(values[0], 3), "max_s": round(values[-1], 3),
                     "peak_rss_mb": round(max(peaks[name]), 1), "answer": outputs[name]}
    return out


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in
                   Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu or platform.processor(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": platform.python_version(), "load_avg_start": [round(x, 2) for x in os.getloadavg()],
            "versions": {p: version(p) for p in ("chromadb", "llama-index-core",
                                                 "llama-index-vector-stores-chroma", "onnxruntime")}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="add the 100,000-article size")
    parser.add_argument("--sizes", help="comma-separated scale sizes (default 1000,10000)")
    parser.add_argument("--h2h-articles", type=int, default=80,
                        help="articles in the side-by-side corpus, embedded for real (default 80)")
    parser.add_argument("--queries", type=int, default=100, help="retrieval queries per run")
    parser.add_argument("--answers", type=int, default=40, help="full-answer queries per run")
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--quality-questions", type=int,
                        help=f"a subset of {DATASET.name}'s questions, half answerable (default: all)")
    parser.add_argument("--pool-articles", type=int, default=150,
                        help="fresh articles whose sentences the scale corpora reuse")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--server-articles", type=int, default=1000,
                        help="the Chroma server step runs at the largest scale size up to this "
                             "(default 1000; it ingests that corpus again, through the server)")
    parser.add_argument("--no-baseline-scale", action="store_true",
                        help="scale series for our system only")
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    parser.add_argument("--out", type=Path,
                        help="report folder (default benchmarks/results; with --smoke a new "
                             "temporary folder, so a smoke run never replaces the committed results)")
    parser.add_argument("--smoke", action="store_true",
                        help="every step at tiny sizes, to check the benchmark runs: "
                             + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in SMOKE.items())
                             + " unless given")
    args = parser.parse_args(argv)
    if args.smoke:
        global IN_PROCESS
        IN_PROCESS = True
        os.environ.update(_env())  # what the worker processes would have been given
        for key, value in SMOKE.items():
            if getattr(args, key) == parser.get_default(key):
                setattr(args, key, value)
    if args.out is None:
        args.out = (Path(tempfile.mkdtemp(prefix="bench-smoke-out-")) if args.smoke
                    else ROOT / "benchmarks" / "results")
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [1000, 10000]
    if args.full and 100000 not in sizes:
        sizes.append(100000)
    if not (DATASET / "questions.jsonl").exists():
        parser.error(f"dataset not found: {DATASET}")

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-"))
    work.mkdir(parents=True, exist_ok=True)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    started = time.perf_counter()
    results: dict[str, Any] = {"meta": {**machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                                        "args": {k: str(v) for k, v in vars(args).items()},
                                        "sizes": sizes}}
    try:
        run_all(args, sizes, work, logs, results)
    finally:
        results["meta"]["wall_s"] = round(time.perf_counter() - started, 1)
        results["meta"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    paths = write_reports(results, args.out)
    # The report of this run: full.md with --full, latest.md without (benchmarks/report.py).
    print(next(p for p in paths if p.suffix == ".md").read_text())
    log(f"done in {results['meta']['wall_s']:.0f} s; wrote {', '.join(str(p) for p in paths)}")
    return 0


def run_all(args: argparse.Namespace, sizes: list[int], work: Path, logs: Path,
            results: dict[str, Any]) -> None:
    seed = args.seed
    log_file = logs / "workers.log"

    # --- corpora -----------------------------------------------------------------------------
    h2h_dir = work / "corpus-h2h"
    h2h = gen.write_corpus(gen.fresh_corpus(args.h2h_articles, seed), h2h_dir)
    h2h_questions = write_questions(work / "q-h2h.jsonl", [
        {"id": f"h{i}", "question": f.question, "answers": [f.answer]}
        for i, f in enumerate(gen.questions_for(h2h, args.queries, seed))])
    normans_dir = work / "corpus-normans"
    normans_dir.mkdir()
    shutil.copy(DATASET / "articles" / "Normans.txt", normans_dir)
    squad_all = [json.loads(line) for line in (DATASET / "questions.jsonl").read_text().splitlines()
                 if line.strip()]
    squad = quality_subset(squad_all, args.quality_questions)
    squad_questions = write_questions(work / "q-squad.jsonl", squad)

    # --- side by side on the fresh corpus, real embedding -------------------------------------
    ingests: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for system in SYSTEMS:
        store = work / f"store-h2h-{system}"
        log(f"side by side: {system} ingest ({len(h2h)} articles, real embedding), then the "
            "model alone on the same sentences")
        first = worker("ingest", {"system": system, "corpus": str(h2h_dir), "store": str(store),
                                  "embed": "real", "count_tokens": True, "ceiling": True},
                       log_file)
        again = worker("ingest", {"system": system, "corpus": str(h2h_dir), "store": str(store),
                                  "embed": "real", "again": True}, log_file)
        ingests[system] = (first, again)
    # The ceiling measured right after our ingest is the headline one.
    ceiling = ingests["ours"][0]["ceiling"]
    results["ceiling"] = ceiling
    side: dict[str, Any] = {"corpus": {"articles": len(h2h), "sentences": ceiling["sentences"],
                                       "tokens": ceiling["tokens"],
                                       "words": sum(len(a.render().split()) for a in h2h)}}
    log("side by side: latency, the systems taking turns query by query")
    latency = latency_run({s: (s, work / f"store-h2h-{s}") for s in SYSTEMS}, h2h_questions, args,
                          log_file, keep_answers=True)
    gold = [json.loads(line) for line in h2h_questions.read_text().splitlines()]
    for system in SYSTEMS:
        store = work / f"store-h2h-{system}"
        first, again = ingests[system]
        rss = rss_run(system, store, h2h_questions, args, log_file)
        answers = latency[system]["answer"].pop("answers")
        side[system] = {
            "ingest": first, "reingest": again, "retrieve": latency[system]["retrieve"],
            "answer": {**latency[system]["answer"], "peak_rss_mb": rss["peak_rss_mb"]},
            "rss_run": rss,
            "generated_holds_gold": score(answers, gold)["holds_gold"],
            "index_mb": dir_size_mb(store),
            "articles_per_s": round(len(h2h) / first["seconds"], 2),
            "tokens_per_s": round(ceiling["tokens"] / first["seconds"], 1),
            # Each system against the ceiling measured in its own process, moments later.
            "share_of_ceiling": round(first["ceiling"]["seconds"] / first["seconds"], 3),
        }
    results["side_by_side"] = side

    # --- cold start: a fresh process answering one question ----------------------------------
    question = json.loads(h2h_questions.read_text().splitlines()[0])["question"]
    log("cold start")
    results["cold_start"] = {"question": question, **cold_starts({
        "ours": [sys.executable, "-m", "assistant", "ask", question, "--store",
                 str(work / "store-h2h-ours")],
        "baseline": [sys.executable, "-m", "benchmarks.baseline", "ask", "--store",
                     str(work / "store-h2h-baseline"), question],
    }, args.cold_runs)}

    # --- answer quality on squad2-normans ----------------------------------------------------
    quality: dict[str, Any] = {"dataset": str(DATASET.name), "questions": len(squad),
                               "questions_total": len(squad_all)}
    for system in SYSTEMS:
        store = work / f"store-normans-{system}"
        log(f"quality: {system} on {DATASET.name} ({len(squad)} questions)")
        worker("ingest", {"system": system, "corpus": str(normans_dir), "store": str(store),
                          "embed": "real"}, log_file)
        run = worker("query", {"system": system, "store": str(store), "mode": "answer",
                               "questions": str(squad_questions), "keep_answers": True,
                               "memo": system == "baseline"}, log_file)
        quality[system] = score(run["answers"], squad)
        if system == "baseline":
            quality["baseline_lead2"] = score(run["answers"], squad, field="lead2")
        else:
            quality[system]["latency_ms"] = run["latency_ms"]
    results["quality"] = quality

    # --- scale series: pooled corpora, vectors precomputed -----------------------------------
    pool = gen.make_pool(args.pool_articles, seed + 1)
    sentences = gen.pool_sentences(pool)
    cache = CACHE / f"pool-{args.pool_articles}-{seed + 1}.npz"
    log(f"sentence pool: {len(set(sentences))} sentences ({'cached' if cache.exists() else 'embedding'})")
    from benchmarks.embedders import load_or_build_table
    from index.embedding import LocalMiniLM

    _, pool_seconds = load_or_build_table(sentences, LocalMiniLM(), cache)
    scale_questions = write_questions(work / "q-scale.jsonl", [
        {"id": f"s{i}", "question": f.question, "answers": [f.answer]}
        for i, f in enumerate(gen.questions_for(pool.articles, args.queries, seed + 2))])
    results["pool"] = {"articles": args.pool_articles, "sentences": len(set(sentences)),
                       "embed_seconds": round(pool_seconds, 2), "cache": str(cache.relative_to(ROOT))}
    scale: list[dict[str, Any]] = []
    results["scale"] = scale
    systems = ("ours",) if args.no_baseline_scale else SYSTEMS
    # The Chroma server step ingests this size's corpus again, through the server: keep it. Not
    # at 10,000 by default: our ingest through a server writes each article's record in two
    # requests of its own (index/record.py), so 1,000 pooled articles took 270 s against 16 s
    # embedded on the loaded reference machine; 10,000 would add most of an hour.
    fits = [s for s in sizes if s <= args.server_articles]
    server_size = max(fits) if fits else min(sizes)
    for size in sizes:
        corpus_dir = work / f"corpus-{size}"
        t0 = time.perf_counter()
        gen.write_corpus(gen.pooled_corpus(pool, size, seed + size), corpus_dir)
        log(f"scale {size:,}: corpus written in {time.perf_counter() - t0:.1f} s")
        row: dict[str, Any] = {"articles": size}
        for system in systems:
            store = work / f"store-{size}-{system}"
            log(f"scale {size:,}: {system} ingest and re-ingest")
            first = worker("ingest", {"system": system, "corpus": str(corpus_dir),
                                      "store": str(store), "embed": "pool",
                                      "pool_cache": str(cache)}, log_file)
            again = worker("ingest", {"system": system, "corpus": str(corpus_dir),
                                      "store": str(store), "embed": "pool",
                                      "pool_cache": str(cache), "again": True}, log_file)
            row[system] = {"ingest": first, "reingest": again, "index_mb": dir_size_mb(store),
                           "reingest_share": round(again["seconds"] / first["seconds"], 4)}
        scale.append(row)
        if size != server_size:
            shutil.rmtree(corpus_dir, ignore_errors=True)
    log("scale: latency, every size and system taking turns query by query")
    targets = {f"{system}@{row['articles']}": (system, work / f"store-{row['articles']}-{system}")
               for row in scale for system in systems}
    latency = latency_run(targets, scale_questions, args, log_file)
    log("scale: peak RSS of query processes")
    for row in scale:
        for system in systems:
            name = f"{system}@{row['articles']}"
            rss = rss_run(system, targets[name][1], scale_questions, args, log_file)
            row[system].update(retrieve=latency[name]["retrieve"], rss_run=rss,
                               answer={**latency[name]["answer"], "peak_rss_mb": rss["peak_rss_mb"]})

    # --- the same retrieval against a `chroma run` server ------------------------------------
    results["server"] = server_step(args, systems, server_size, work / f"corpus-{server_size}",
                                    cache, scale_questions, work, logs)
    shutil.rmtree(work / f"corpus-{server_size}", ignore_errors=True)


def server_step(args: argparse.Namespace, systems: tuple[str, ...], size: int, corpus_dir: Path,
                cache: Path, questions: Path, work: Path, logs: Path) -> dict[str, Any]:
    """The scale series' retrieval (and our full answer) through a real `chroma run`, paired
    query by query with the embedded client over the same size's embedded store.

    Each system gets a server started on an empty folder and ingests the corpus through it with
    `chroma_url`, the supported way to fill a server: ours keeps its system of record there
    (the `<collection>-articles` records and the `<collection>-state` collection beside the
    chunk vectors), so a copy of an embedded store's Chroma folder would be an empty store to
    it. The baseline is ingested the same way (its collection would survive a copy, but a
    server that built the index and one that loaded it from disk differ in memory), and both
    use the pooled vectors, so the ingest costs no model time."""
    log_file = logs / "workers.log"
    server: dict[str, Any] = {"articles": size}
    for system in systems:
        data, local = work / f"served-{size}-{system}", work / f"store-{size}-{system}-server"
        log(f"chroma server: {system} ingests {size:,} articles through a fresh `chroma run`, then "
            "queries alternate with the embedded client")
        with running_chroma_server(data, logs / f"chroma-{system}.log", startup_timeout=90,
                                   env=_env()) as (url, pid):
            ingest = worker("ingest", {"system": system, "corpus": str(corpus_dir),
                                       "store": str(local), "embed": "pool",
                                       "pool_cache": str(cache), "chroma_url": url}, log_file)
            row: dict[str, Any] = {"ingest": ingest}
            for mode, limit in (("retrieve", args.queries), ("answer", args.answers)):
                # The baseline's answer adds nothing Chroma-bound to its retrieval.
                if mode == "answer" and system != "ours":
                    continue
                row[mode] = worker("paired", {
                    "system": system, "store": str(work / f"store-{size}-{system}"),
                    "server_store": str(local), "mode": mode, "questions": str(questions),
                    "limit": limit, "chroma_url": url}, log_file)
            row["server_peak_rss_mb"] = server_peak_rss_mb(pid)
        row["server_data_mb"] = dir_size_mb(data)
        server[system] = row
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(local, ignore_errors=True)
    return server

if __name__ == "__main__":
    sys.exit(main())
