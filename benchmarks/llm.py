"""Benchmark of the generative backend (SmolLM2-135M behind a real llama.cpp server) and its
grounding guard, against the offline extractive answerer on the same questions.

    python -m benchmarks.llm                           # both datasets, 24 questions each
    python -m benchmarks.llm --dataset user-articles --limit 0        # all 48 questions
    python -m benchmarks.llm --base-url http://127.0.0.1:8080/v1 --model NAME  # another server

Prints, per dataset:
- supported before/after the guard: the share of the model's sentences that some retrieved
  passage supports (and the share supported by the passage they cite), then the share of the
  final answer's sentences that the passages they cite support (an independent re-check);
- gold: the share of answerable questions whose answer holds a gold answer (case-insensitive
  substring), for the raw model reply, the guarded answer, and the offline answerer;
- abstention on unanswerable questions, and false abstention on answerable ones;
- what the guard did (kept, repaired, trimmed, removed), how each answer ended (generated,
  fell back to extractive, abstained before/after the LLM), and latency p50/p95.

Questions are taken evenly spread over the file (--limit N), so both answerable and
unanswerable ones are in a short run. Nothing is downloaded; the server runs on loopback.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant import Answer, Assistant
from assistant.grounding import SUPPORT_THRESHOLD

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DATASETS: dict[str, tuple[Path, Path]] = {
    # name: (questions.jsonl, articles) -- the user's articles are read from ../shared only.
    "user-articles": (ROOT / "evals/datasets/user-articles/questions.jsonl", SHARED / "articles"),
    "squad2-normans": (SHARED / "datasets/squad2-normans/questions.jsonl",
                       SHARED / "datasets/squad2-normans/articles"),
}


@dataclass
class Tally:
    n: int = 0
    answerable: int = 0
    unanswerable: int = 0
    gold_raw: int = 0
    gold: int = 0
    gold_offline: int = 0
    abstain_unanswerable: int = 0
    abstain_unanswerable_offline: int = 0
    false_abstain: int = 0
    false_abstain_offline: int = 0
    before_total: int = 0
    before_supported: int = 0
    before_cited: int = 0
    after_total: int = 0
    after_supported: float = 0.0
    actions: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    latency_ms: list[float] = field(default_factory=list)
    llm_latency_ms: list[float] = field(default_factory=list)
    offline_latency_ms: list[float] = field(default_factory=list)


def holds_gold(text: str, answers: list[str]) -> bool:
    lowered = text.lower()
    return any(a.lower() in lowered for a in answers)


def outcome_of(answer: Answer) -> str:
    if answer.guard is not None:
        return answer.guard.outcome
    if any(n.startswith("llm: not called") for n in answer.notes):
        return "abstained before the LLM"
    if any(n.startswith("llm:") for n in answer.notes):
        return "LLM failed, extractive"
    return "extractive"


def record(t: Tally, item: dict[str, Any], answer: Answer, offline: Answer, ms: float,
           offline_ms: float) -> None:
    answers = item.get("answers") or []
    answerable = bool(answers)
    t.n += 1
    t.latency_ms.append(ms)
    t.offline_latency_ms.append(offline_ms)
    t.outcomes[outcome_of(answer)] += 1
    guard = answer.guard
    if guard is not None:
        t.llm_latency_ms.append(answer.timings_ms.get("llm", 0.0))
        judged = [c for c in guard.checks if c.action != "dropped"]
        t.before_total += len(judged)
        t.before_supported += sum(c.support >= SUPPORT_THRESHOLD for c in judged)
        t.before_cited += sum(c.support_cited >= SUPPORT_THRESHOLD for c in judged)
        t.actions.update(c.action for c in guard.checks)
        t.after_total += len(answer.sentences)
        t.after_supported += guard.supported_after * len(answer.sentences)
    if answerable:
        t.answerable += 1
        raw = guard.generated if guard is not None else ""
        t.gold_raw += holds_gold(raw, answers)
        t.gold += (not answer.abstained) and holds_gold(answer.answer, answers)
        t.gold_offline += (not offline.abstained) and holds_gold(offline.answer, answers)
        t.false_abstain += answer.abstained
        t.false_abstain_offline += offline.abstained
    else:
        t.unanswerable += 1
        t.abstain_unanswerable += answer.abstained
        t.abstain_unanswerable_offline += offline.abstained


def pct(a: float, b: float) -> str:
    return f"{100 * a / b:5.1f}% ({a:g}/{b})" if b else "   n/a"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, t: Tally, wall_s: float) -> str:
    lines = [
        f"== {name}: {t.n} questions ({t.answerable} answerable, {t.unanswerable} unanswerable), "
        f"{wall_s:.0f} s",
        f"  model sentences supported, before guard: {pct(t.before_supported, t.before_total)}"
        f"   (by the passage they cite: {pct(t.before_cited, t.before_total)})",
        f"  answer sentences supported, after guard: {pct(round(t.after_supported), t.after_total)}",
        f"  answer holds gold (answerable): raw LLM {pct(t.gold_raw, t.answerable)} | guarded "
        f"{pct(t.gold, t.answerable)} | offline extractive {pct(t.gold_offline, t.answerable)}",
        f"  abstains on unanswerable: guarded {pct(t.abstain_unanswerable, t.unanswerable)} | "
        f"offline {pct(t.abstain_unanswerable_offline, t.unanswerable)}",
        f"  false abstention on answerable: guarded {pct(t.false_abstain, t.answerable)} | "
        f"offline {pct(t.false_abstain_offline, t.answerable)}",
        "  guard actions per model sentence: "
        + ", ".join(f"{k} {v}" for k, v in sorted(t.actions.items())),
        "  outcomes: " + ", ".join(f"{k} {v}" for k, v in t.outcomes.most_common()),
        f"  latency ms, guarded ask: p50 {percentile(t.latency_ms, 0.5):.0f}, "
        f"p95 {percentile(t.latency_ms, 0.95):.0f} | LLM call only (when made): p50 "
        f"{percentile(t.llm_latency_ms, 0.5):.0f}, p95 {percentile(t.llm_latency_ms, 0.95):.0f}"
        f" | offline ask: p50 {percentile(t.offline_latency_ms, 0.5):.0f}, "
        f"p95 {percentile(t.offline_latency_ms, 0.95):.0f}",
    ]
    return "\n".join(lines)


def spread(items: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    if limit <= 0 or limit >= len(items):
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def article_paths(folder: Path) -> list[Path]:
    # ../shared/articles also holds a README.md about the articles: not an article.
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".txt", ".html",
                                                                                 ".json", ".jsonl"))


def run_dataset(name: str, limit: int, base_url: str, model: str, key: str | None,
                max_tokens: int, timeout: float, verbose: bool, dump: Path | None = None) -> str:
    questions_path, articles = DATASETS[name]
    if not questions_path.exists() or not articles.is_dir():
        return f"== {name}: skipped ({questions_path} or {articles} missing)"
    items = [json.loads(line) for line in questions_path.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    items = spread(items, limit)
    with tempfile.TemporaryDirectory(prefix=f"bench-llm-{name}-") as store:
        offline = Assistant(store=store, llm="extractive")
        offline.ingest(article_paths(articles))
        guarded = Assistant(store=store, embedder=offline.embedder, llm="openai",
                            openai_base_url=base_url, openai_api_key=key, llm_model=model,
                            llm_max_tokens=max_tokens, llm_timeout=timeout)
        tally = Tally()
        started = time.perf_counter()
        for number, item in enumerate(items, start=1):
            t0 = time.perf_counter()
            answer = guarded.ask(item["question"])
            ms = (time.perf_counter() - t0) * 1000
            t0 = time.perf_counter()
            base = offline.ask(item["question"])
            offline_ms = (time.perf_counter() - t0) * 1000
            record(tally, item, answer, base, ms, offline_ms)
            if dump is not None:
                with dump.open("a", encoding="utf-8") as out:
                    out.write(json.dumps({"dataset": name, "id": item.get("id"),
                                          "answers": item.get("answers"),
                                          "answer": answer.model_dump(),
                                          "offline": base.answer}, ensure_ascii=False) + "\n")
            if verbose:
                raw = answer.guard.generated.replace("\n", " ")[:100] if answer.guard else ""
                print(f"[{name} {number}/{len(items)}] {item['question'][:60]!r} -> "
                      f"{outcome_of(answer)}; raw: {raw!r}; final: {answer.answer[:80]!r}",
                      file=sys.stderr, flush=True)
        return report(name, tally, time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=[*DATASETS, "all"], default="all")
    parser.add_argument("--limit", type=int, default=24,
                        help="questions per dataset, evenly spread (0: all)")
    parser.add_argument("--base-url", help="use this OpenAI-compatible server instead of "
                        "starting the local SmolLM2 one (key from OPENAI_API_KEY)")
    parser.add_argument("--model", help="model name (default: the local server's alias)")
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per question")
    parser.add_argument("--dump", type=Path, help="append each Answer as a JSON line here")
    args = parser.parse_args(argv)
    names = list(DATASETS) if args.dataset == "all" else [args.dataset]
    with ExitStack() as stack:
        if args.base_url:
            import os

            base_url, model, key = args.base_url, args.model or "gpt-4o-mini", \
                os.environ.get("OPENAI_API_KEY")
        else:
            from harness.llm_server import SMOLLM2_MODEL_ALIAS, running_llama_server

            base_url = stack.enter_context(running_llama_server())
            model, key = args.model or SMOLLM2_MODEL_ALIAS, None
        print(f"backend: {model} at {base_url}; max_tokens {args.max_tokens}; "
              f"support threshold {SUPPORT_THRESHOLD}", flush=True)
        for name in names:
            print(run_dataset(name, args.limit, base_url, model, key, args.max_tokens,
                              args.timeout, args.verbose, args.dump), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
