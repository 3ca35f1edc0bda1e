"""Export the trained reader to the int8 ONNX file the package ships.

    python -m training.export_reader --checkpoint build/reader

Writes assistant/reader_model/: reader.onnx (int8 dynamic quantisation of the linear layers; its
outputs start_logits, end_logits and, for a v2 checkpoint, answerable_logit),
tokenizer.json (the base model's, unchanged), manifest.json (sha256 of both, checked at load) and
the training run's record, training.json.
The model card and calibration.json are written by training/calibrate_reader.py, once the
validation figures exist; an older calibration.json is removed here.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import torch

from assistant.reader import MODEL_DIR, sha256
from training.reader_net import ReaderNet, base_model_dir


class _Logits(torch.nn.Module):
    """A v1 checkpoint (BertForQuestionAnswering) with plain tensor outputs, which is what the
    ONNX exporter wants."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return out.start_logits, out.end_logits


def _load(checkpoint: Path) -> tuple[torch.nn.Module, list[str]]:
    """The model and its output names: a v2 checkpoint (model.pt, ReaderNet) has the
    answerability head's logit as a third output."""
    if (checkpoint / "model.pt").exists():
        return ReaderNet.load(checkpoint), ["start_logits", "end_logits", "answerable_logit"]
    from transformers import BertForQuestionAnswering

    model = BertForQuestionAnswering.from_pretrained(str(checkpoint), attn_implementation="eager")
    return _Logits(model), ["start_logits", "end_logits"]


def export(checkpoint: Path, out_dir: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model, outputs = _load(checkpoint)
    model.eval()
    example = torch.ones((1, 16), dtype=torch.long)
    out_dir.mkdir(parents=True, exist_ok=True)
    axes = {name: {0: "batch", 1: "sequence"} for name in
            ("input_ids", "attention_mask", "token_type_ids", "start_logits", "end_logits")}
    axes.update({name: {0: "batch"} for name in outputs[2:]})
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "reader-fp32.onnx"
        torch.onnx.export(
            model, (example, example, torch.zeros_like(example)), str(fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=outputs, dynamic_axes=axes, opset_version=17, dynamo=False,
        )
        target = out_dir / "reader.onnx"
        quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8, per_channel=True)
    shutil.copyfile(base_model_dir() / "tokenizer.json", out_dir / "tokenizer.json")
    write_manifest(out_dir)
    # The training run's record (hyper-parameters, per-epoch validation) travels with the model, so
    # the model card can be written again from a clean clone (training/calibrate_reader.py).
    record = checkpoint / "training.json"
    if record.exists():
        shutil.copyfile(record, out_dir / "training.json")
    # A calibration belongs to the model it was fitted on: a new export must be calibrated anew.
    (out_dir / "calibration.json").unlink(missing_ok=True)
    return target


def write_manifest(out_dir: Path) -> None:
    names = ["reader.onnx", "tokenizer.json"]
    manifest = {"files": {n: sha256(out_dir / n) for n in names}}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=Path("build/reader"))
    parser.add_argument("--out", type=Path, default=MODEL_DIR)
    args = parser.parse_args()
    target = export(args.checkpoint, args.out)
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
