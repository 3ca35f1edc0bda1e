"""How far to trust the offline support scorer: accuracy and ROC-AUC on labelled pairs.

    python -m evals.scorer_check [--articles ../shared/articles] [--json] [--min-auc 0.85]
                                 [--judge/--no-judge]

The pairs (evals/datasets/support-pairs/pairs.jsonl) point into the user's articles by offsets,
so the passages are read from --articles and never stored here. Accuracy counts a pair right when
`score >= SUPPORT_THRESHOLD` matches its label; ROC-AUC is the chance that a random supported pair
outscores a random unsupported one (ties count half), so it judges the ranking independently of
the threshold. With --min-auc, exits 1 below it. With an LLM configured (OPENAI_*), the judge
labels the same pairs and its accuracy and agreement with the scorer are reported too.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from assistant import Assistant, Settings
from assistant.grounding import SUPPORT_THRESHOLD, SupportScorer
from evals.judge import DEFAULT_CACHE, LLMJudge, cohen_kappa, configured

PAIRS_DIR = Path(__file__).resolve().parent / "datasets" / "support-pairs"


def load_pairs(articles: Path, pairs: Path | None = None) -> list[dict[str, Any]]:
    """The labelled pairs with their passages resolved, via the dataset's own loader."""
    spec = importlib.util.spec_from_file_location("check_pairs", PAIRS_DIR / "check_pairs.py")
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {PAIRS_DIR / 'check_pairs.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load_pairs(str(articles), str(pairs or PAIRS_DIR / "pairs.jsonl"))


def roc_auc(scores: list[float], labels: list[bool]) -> float | None:
    """Mann-Whitney form of the area under the ROC curve; ties count half."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def check_scorer(scorer: SupportScorer, pairs: list[dict[str, Any]],
                 judge: LLMJudge | None = None) -> dict[str, Any]:
    scores = [scorer.score(p["sentence"], p["passage"]).score for p in pairs]
    labels = [bool(p["supported"]) for p in pairs]
    predicted = [s >= SUPPORT_THRESHOLD for s in scores]
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for p, guess, label in zip(pairs, predicted, labels, strict=True):
        by_kind[p["kind"]].append(guess == label)
    # The best accuracy any threshold reaches: how much the threshold, not the ranking, costs.
    best_t, best_acc = SUPPORT_THRESHOLD, 0.0
    for t in sorted(set(scores)):
        acc = sum((s >= t) == y for s, y in zip(scores, labels, strict=True)) / len(pairs)
        if acc > best_acc:
            best_t, best_acc = t, acc
    auc = roc_auc(scores, labels)
    report: dict[str, Any] = {
        "pairs": len(pairs), "supported": sum(labels), "threshold": SUPPORT_THRESHOLD,
        "accuracy": round(sum(g == y for g, y in zip(predicted, labels, strict=True)) / len(pairs), 4),
        "roc_auc": None if auc is None else round(auc, 4),
        "true_positive": sum(g and y for g, y in zip(predicted, labels, strict=True)),
        "false_positive": sum(g and not y for g, y in zip(predicted, labels, strict=True)),
        "false_negative": sum(not g and y for g, y in zip(predicted, labels, strict=True)),
        "true_negative": sum(not g and not y for g, y in zip(predicted, labels, strict=True)),
        "accuracy_by_kind": {k: round(sum(v) / len(v), 4) for k, v in sorted(by_kind.items())},
        "best_threshold": round(best_t, 4), "best_threshold_accuracy": round(best_acc, 4),
        "wrong": [{"id": p["id"], "kind": p["kind"], "score": s}
                  for p, s, g, y in zip(pairs, scores, predicted, labels, strict=True) if g != y],
    }
    if judge is not None:
        verdicts = [judge(p["sentence"], p["passage"]) for p in pairs]
        judged = [(v, y, g) for v, y, g in zip(verdicts, labels, predicted, strict=True) if v is not None]
        report["judge"] = {
            **judge.stats(), "judged": len(judged),
            "accuracy": round(sum(v == y for v, y, _ in judged) / len(judged), 4) if judged else None,
            "agreement_with_scorer": round(sum(v == g for v, _, g in judged) / len(judged), 4)
            if judged else None,
            "kappa_with_scorer": cohen_kappa([v for v, _, _ in judged], [g for _, _, g in judged]),
        }
    return report


def format_report(r: dict[str, Any]) -> str:
    lines = [f"support scorer on {r['pairs']} labelled pairs ({r['supported']} supported):",
             f"  accuracy at threshold {r['threshold']}: {r['accuracy']:.3f}   ROC-AUC: {r['roc_auc']:.3f}",
             f"  confusion: TP {r['true_positive']}  FP {r['false_positive']}  "
             f"FN {r['false_negative']}  TN {r['true_negative']}",
             f"  best threshold {r['best_threshold']:.3f} would reach accuracy "
             f"{r['best_threshold_accuracy']:.3f}",
             "  accuracy by kind: " + ", ".join(f"{k} {v:.2f}" for k, v in r["accuracy_by_kind"].items())]
    if "judge" in r:
        j = r["judge"]
        acc = "n/a" if j["accuracy"] is None else f"{j['accuracy']:.3f}"
        agree = "n/a" if j["agreement_with_scorer"] is None else f"{j['agreement_with_scorer']:.3f}"
        lines.append(f"  LLM judge {j['model']}: judged {j['judged']}, accuracy {acc}, agreement with "
                     f"the scorer {agree}, kappa {j['kappa_with_scorer']} ({j['calls']} calls, "
                     f"{j['cache_hits']} cached, {j['errors']} errors, {j['unclear']} unclear replies)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.scorer_check",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, default=Path("../shared/articles"))
    parser.add_argument("--pairs", type=Path, default=None)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--min-auc", type=float, default=None, help="exit 1 below this ROC-AUC")
    parser.add_argument("--judge", action=argparse.BooleanOptionalAction, default=None,
                        help="also ask the LLM judge (default: when OPENAI_* is configured)")
    parser.add_argument("--judge-cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    if not args.articles.is_dir():
        print(f"error: {args.articles}: no such articles folder", file=sys.stderr)
        return 2
    try:
        pairs = load_pairs(args.articles, args.pairs)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: cannot load pairs ({exc.__class__.__name__}: {exc})", file=sys.stderr)
        return 2
    settings = Settings()
    use_judge = configured(settings) if args.judge is None else args.judge
    judge = LLMJudge.from_settings(settings, cache=args.judge_cache) if use_judge else None
    # Only the embedder is used; constructing an Assistant touches no store.
    scorer = SupportScorer(Assistant(settings=settings).embedder)
    report = check_scorer(scorer, pairs, judge)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    if args.min_auc is not None and (report["roc_auc"] or 0.0) < args.min_auc:
        print(f"ROC-AUC {report['roc_auc']} is below {args.min_auc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
