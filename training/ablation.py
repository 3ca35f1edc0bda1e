"""The model card's ablation: which lever of reader v2's recipe moves which figure.

    python -m training.ablation                     # every variant, in the order below
    python -m training.ablation --steps 150 --variants v2,without:noisy_question
    python -m training.ablation --report            # train nothing: table and model card only

Each variant is `make train-reader`'s v2 recipe with one lever taken away: one kind of derived
example (`--without KIND`) or the answerability head (`--answerable-weight 0`). Every variant
trains the same number of steps from the same base model with the same seed (`--steps`, the
learning-rate schedule fitted to them), and every one is scored on the same validation set: the
5 held-out articles' official questions plus every kind of derived example of the whole v2
recipe (training/reader_data.build's validation_mix). A lever helps a figure when the run without
it scores lower there than the full recipe's run.

The figures are per window (training/reader_net.evaluate's "by_kind"): for each kind of
unanswerable window, the ROC-AUC of the span margin plus the answerability head against the
official answerable windows; for each kind of answerable window, how often the exact start and
end are found. The question-level figures of the shipped model come from
training/calibrate_reader.py.

Each variant is a train_reader run of its own, with its own checkpoint under the training cache:
a killed ablation picks up where it stopped, in this session or a later one. Results are written,
one variant at a time, to benchmarks/results/reader-ablation.json; the table goes to the model
card (assistant/reader_model/MODEL_CARD.md, "Ablation") and is printed.

The budget is short on 2 CPU cores (every variant costs a training run); the card states it, and
a lever whose effect is within a couple of points of zero is not told apart from noise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "reader-ablation.json"
MODEL_CARD = ROOT / "assistant" / "reader_model" / "MODEL_CARD.md"

# The order runs go in: the full recipe first (every other row is read against it), then the
# levers issue 20 names, then the v1 recipe's own kinds.
VARIANTS = ("v2", "without:noisy_question", "without:context_swapped", "without:swapped_detail",
            "without:sentence_removed", "without:long_passage", "no_head", "without:other_paragraph",
            "without:cropped", "without:other_article")

# Columns of the table: (example kind, heading).
UNANSWERABLE = (("squad", "SQuAD unanswerable"), ("other_paragraph", "other paragraph"),
                ("other_article", "other article"), ("sentence_removed", "answer sentence removed"),
                ("swapped_detail", "question detail swapped"),
                ("context_swapped", "passage detail swapped"),
                ("noisy_question", "noisy question"))
ANSWERABLE = (("squad", "SQuAD"), ("cropped", "cropped"), ("long_passage", "long passage"),
              ("noisy_question", "noisy question"))
SECTION = "## Ablation"
SEED = 42  # train_reader's default seed


def train_flags(variant: str) -> list[str]:
    if variant == "v2":
        return []
    if variant == "no_head":
        return ["--answerable-weight", "0"]
    if variant.startswith("without:"):
        return ["--without", variant.split(":", 1)[1]]
    raise SystemExit(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")


def row_name(variant: str, seed: int) -> str:
    """A variant's row: its name, and the seed when it is not the recipe's own (a second seed of
    the full recipe shows how far runs differ by chance alone)."""
    return variant if seed == SEED else f"{variant} (seed {seed})"


def run_variant(variant: str, steps: int, out_root: Path, extra: list[str], seed: int = SEED) -> dict:
    """Train (or resume) one variant and return its last validation record."""
    out = out_root / (variant.replace(":", "-") + ("" if seed == SEED else f"-seed{seed}"))
    command = [sys.executable, "-m", "training.train_reader", "--steps", str(steps), "--out", str(out),
               "--seed", str(seed), *train_flags(variant), *extra]
    print(f"[{time.strftime('%H:%M:%S')}] {variant}: {' '.join(command[1:])}", flush=True)
    done = subprocess.run(command, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{variant}: training stopped (exit {done.returncode}); run the same command "
                         "again to resume it")
    record = json.loads((out / "training.json").read_text())
    last = record["history"][-1]
    return {"variant": variant, "seed": seed, "steps": steps, "run_key": record["run_key"],
            "mix": record["mix"],
            "answerable_weight": record["hyper_parameters"]["answerable_weight"],
            "minutes": round(last["minutes"], 1),
            "epoch_share": round(steps * record["hyper_parameters"]["batch_size"]
                                 / max(record["train_windows_epoch_1"], 1), 3),
            "validation": last}


def load_results(path: Path = RESULTS) -> dict:
    if path.exists():
        return json.loads(path.read_text())
    return {"variants": {}}


def _cell(value: float | None, base: float | None) -> str:
    if value is None:
        return "-"
    if base is None or value == base:
        return f"{value:.3f}"
    return f"{value:.3f} ({value - base:+.3f})"


def table(results: dict) -> list[str]:
    """Markdown rows: one variant a row, each figure with its difference from the full recipe."""
    rows = results["variants"]
    if not rows:
        return ["No variant has been trained yet (`python -m training.ablation`)."]
    base = rows.get("v2", {}).get("validation", {}).get("by_kind", {})

    def figure(by_kind: dict, kind: str, name: str) -> float | None:
        return by_kind.get(kind, {}).get(name)

    heads = ["variant", *[f"AUC: {h}" for _, h in UNANSWERABLE], *[f"exact: {h}" for _, h in ANSWERABLE]]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" + "---:|" * (len(heads) - 1)]
    for variant in [v for v in VARIANTS if v in rows] + sorted(set(rows) - set(VARIANTS)):
        by_kind = rows[variant]["validation"].get("by_kind", {})
        # A run without the head decides on the margin alone (its head is untrained noise).
        score = "margin_auc" if rows[variant].get("answerable_weight") == 0 else "sum_auc"
        cells = [_cell(figure(by_kind, k, score), None if variant == "v2" else figure(base, k, "sum_auc"))
                 for k, _ in UNANSWERABLE]
        cells += [_cell(figure(by_kind, k, "span_exact"),
                        None if variant == "v2" else figure(base, k, "span_exact"))
                  for k, _ in ANSWERABLE]
        lines.append(f"| {variant.replace('without:', 'without ')} | " + " | ".join(cells) + " |")
    return lines


def section(results: dict) -> str:
    """The model card's ablation section (training/calibrate_reader.write_card includes it too)."""
    rows = results["variants"]
    steps = sorted({r["steps"] for r in rows.values()})
    shares = sorted({r.get("epoch_share", 0.0) for r in rows.values()})
    pending = [v for v in VARIANTS if v not in rows]
    reseeded = any(r.get("seed", SEED) != SEED for r in rows.values())
    lines = [
        SECTION,
        "`python -m training.ablation` (training/ablation.py): reader v2's recipe with one lever taken "
        "away a row, every run the same number of steps from the same base and seed"
        + (f" ({', '.join(map(str, steps))} steps of batch 32, a short budget for 2 CPU cores: about "
           f"{shares[-1]:.0%} of an epoch of the pool)" if steps else "")
        + ", scored per window on one validation set (the 5 held-out articles, every kind of "
        "derived example). AUC: the span margin plus the answerability head, the official answerable "
        "windows against that kind's unanswerable ones (no_head: the margin alone, its head "
        "untrained). exact: exact start and end on that kind's answerable windows. In "
        "brackets, the difference from the full recipe (v2): negative means the lever helped there. "
        "Per-kind validation sets hold some hundreds of windows, so differences of a couple of "
        "points are within noise."
        + (" A row with another seed is the full recipe again: its differences from v2 are chance "
           "alone, the noise floor of the other rows." if reseeded else ""),
        "",
        *table(results),
        *(["", f"Not yet run: {', '.join(pending)} (the same command resumes)."] if pending else []),
    ]
    return "\n".join(lines) + "\n"


def write_section(results: dict, card: Path = MODEL_CARD) -> None:
    """Replace (or add) the card's ablation section, keeping the rest of the card."""
    text = card.read_text()
    head = text.split(SECTION, 1)[0].rstrip("\n")
    card.write_text(head + "\n\n" + section(results))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps of every variant")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="comma-separated, in order: v2, no_head, without:KIND")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "ablation",
                        help="where each variant's trained model goes")
    parser.add_argument("--seed", type=int, default=SEED,
                        help="another seed gives rows of their own, e.g. 'v2 (seed 43)': the noise floor")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--card", type=Path, default=MODEL_CARD)
    parser.add_argument("--report", action="store_true", help="train nothing; write the table")
    parser.add_argument("--train-flag", action="append", default=[],
                        help="passed on to train_reader (e.g. --train-flag=--device --train-flag=cuda)")
    args = parser.parse_args(argv)
    results = load_results(args.results)
    if not args.report:
        for variant in [v.strip() for v in args.variants.split(",") if v.strip()]:
            train_flags(variant)  # an unknown variant is refused before any training
            name = row_name(variant, args.seed)
            current = results["variants"].get(name)
            if current and current["steps"] == args.steps:
                print(f"{name}: done ({args.steps} steps)", flush=True)
                continue
            results["variants"][name] = run_variant(variant, args.steps, args.out, args.train_flag,
                                                    args.seed)
            args.results.parent.mkdir(parents=True, exist_ok=True)
            args.results.write_text(json.dumps(results, indent=2) + "\n")
            write_section(results, args.card)
    write_section(results, args.card)
    print(section(results))


if __name__ == "__main__":
    main()
