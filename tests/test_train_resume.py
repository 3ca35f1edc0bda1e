"""Reader v2 training resumes where a stopped run left off, and trains exactly what an
uninterrupted run would (the checkpoint holds weights, optimiser, schedule and position; each
epoch's examples and batch order are rebuilt from the seed). Needs the `train` extra (torch)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, TEST_THREADS, require

from training.reader_data import POOL

pytestmark = pytest.mark.slow

SMALL = ["--limit", "12", "--epochs", "1", "--batch-size", "8", "--max-length", "128",
         "--checkpoint-every", "4", "--threads", str(TEST_THREADS)]


def _train(out: Path, checkpoints: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "training.train_reader", *SMALL, "--out", str(out),
                           "--checkpoint-dir", str(checkpoints), *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)


def test_a_stopped_training_run_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    require(importlib.util.find_spec("torch") is not None, "torch (pip install -e '.[train]')")
    require(POOL.exists(), f"the training pool at {POOL}")
    import torch

    stopped = _train(tmp_path / "resumed", tmp_path / "ck-a", "--stop-after", "3")
    assert stopped.returncode == 3, stopped.stderr[-2000:]
    assert "stopped at step 3" in stopped.stderr
    assert (tmp_path / "ck-a" / "checkpoint.pt").exists()
    assert not (tmp_path / "resumed" / "model.pt").exists(), "a stopped run must not save a final model"

    resumed = _train(tmp_path / "resumed", tmp_path / "ck-a")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming" in resumed.stderr and "at step 3 of" in resumed.stderr
    assert "step 1/" not in resumed.stderr

    straight = _train(tmp_path / "straight", tmp_path / "ck-b")
    assert straight.returncode == 0, straight.stderr[-2000:]
    a = torch.load(tmp_path / "resumed" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "straight" / "model.pt", weights_only=True)
    assert a.keys() == b.keys() and any(k.startswith("answerable.") for k in a)
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst < 1e-5, f"the resumed run trained something else (max weight difference {worst})"


def test_a_snapshot_writes_the_last_finished_epochs_model_while_a_run_goes_on(tmp_path: Path) -> None:
    require(importlib.util.find_spec("torch") is not None, "torch (pip install -e '.[train]')")
    require(POOL.exists(), f"the training pool at {POOL}")
    import json

    import torch

    too_early = _train(tmp_path / "snap", tmp_path / "ck", "--snapshot", "epoch")
    assert too_early.returncode != 0 and "no finished epoch" in too_early.stderr

    # Two epochs (a later --epochs wins), stopped in the second: the snapshot is epoch 1's model,
    # not the rolling checkpoint's.
    first = _train(tmp_path / "final", tmp_path / "ck", "--epochs", "2", "--stop-after", "1")
    assert first.returncode == 3, first.stderr[-2000:]
    per_epoch = int(re.search(r"epochs of (\d+) steps", first.stderr).group(1))
    assert per_epoch > 2
    run = _train(tmp_path / "final", tmp_path / "ck", "--epochs", "2", "--stop-after", str(per_epoch + 1))
    assert run.returncode == 3, run.stderr[-2000:]
    snap = _train(tmp_path / "snap", tmp_path / "ck", "--epochs", "2", "--snapshot", "epoch")
    assert snap.returncode == 0, snap.stderr[-2000:]
    record = json.loads((tmp_path / "snap" / "training.json").read_text())
    assert record["interim"].startswith("1 epochs and 0 steps of the run") and len(record["history"]) == 1
    weights = torch.load(tmp_path / "snap" / "model.pt", weights_only=True)
    rolling = torch.load(tmp_path / "ck" / "checkpoint.pt", weights_only=False)
    assert rolling["state"]["step"] == per_epoch + 2 and rolling["state"]["epoch"] == 1
    assert any(float((weights[k] - rolling["model"][k]).abs().max()) > 0 for k in weights), \
        "the snapshot must be the epoch's end, not the later checkpoint"

    latest = _train(tmp_path / "latest", tmp_path / "ck", "--epochs", "2", "--snapshot", "latest")
    assert latest.returncode == 0, latest.stderr[-2000:]
    newest = torch.load(tmp_path / "latest" / "model.pt", weights_only=True)
    assert all(float((newest[k] - rolling["model"][k]).abs().max()) == 0 for k in newest)
    interim = json.loads((tmp_path / "latest" / "training.json").read_text())["interim"]
    assert f"step {per_epoch + 2} of" in interim


def test_by_kind_scores_each_kind_of_window_against_the_official_answerable_ones() -> None:
    require(importlib.util.find_spec("torch") is not None, "torch (pip install -e '.[train]')")
    from training.reader_net import _by_kind

    kinds = ["squad", "squad", "squad", "swapped_detail", "swapped_detail", "long_passage"]
    labels = [True, True, False, False, False, True]
    margins = [3.0, 1.0, -1.0, 2.0, -2.0, 0.5]
    heads = [0.0, 0.0, 0.0, -5.0, 0.0, 0.0]
    exact = [True, False, False, False, False, True]
    figures = _by_kind(kinds, margins, heads, labels, exact)
    # SQuAD's own unanswerable window (-1) is below both answerable ones; of the swapped ones one
    # margin (2.0) beats an answerable window (1.0): AUC 3/4. The head's -5 puts it below both.
    assert figures["squad"] == {"windows": 3, "margin_auc": 1.0, "sum_auc": 1.0, "span_exact": 0.5}
    assert figures["swapped_detail"]["margin_auc"] == 0.75
    assert figures["swapped_detail"]["sum_auc"] == 1.0
    assert "span_exact" not in figures["swapped_detail"]
    assert figures["long_passage"] == {"windows": 1, "span_exact": 1.0}


def test_the_ablation_trains_each_variant_once_and_tables_it_against_the_full_recipe(tmp_path: Path) -> None:
    require(importlib.util.find_spec("torch") is not None, "torch (pip install -e '.[train]')")
    require(POOL.exists(), f"the training pool at {POOL}")
    import json

    card = tmp_path / "MODEL_CARD.md"
    card.write_text("# Model card\n\n## Limits\n- kept\n")
    results = tmp_path / "ablation.json"
    flags = [f"--train-flag={flag}" for flag in SMALL]  # its --epochs gives way to --steps
    # Each variant checkpoints under its own run key in the training cache: here, the test's.
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def ablation(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "training.ablation", "--steps", "2",
                               "--variants", "v2,no_head", "--results", str(results), "--card", str(card),
                               "--out", str(tmp_path / "out"), *flags, *extra],
                              capture_output=True, text=True, cwd=ROOT, timeout=600, env=env)

    first = ablation()
    assert first.returncode == 0, first.stderr[-2000:]
    record = json.loads(results.read_text())["variants"]
    assert set(record) == {"v2", "no_head"}
    assert record["no_head"]["answerable_weight"] == 0 and record["v2"]["answerable_weight"] == 0.5
    assert record["v2"]["validation"]["step"] == record["no_head"]["validation"]["step"] == 2
    text = card.read_text()
    assert text.startswith("# Model card") and "- kept" in text, "the rest of the card is kept"
    assert text.count("## Ablation") == 1 and "| no_head |" in text and "Not yet run: without:" in text
    assert len(list((tmp_path / "cache" / "article-assistant" / "reader-train").iterdir())) == 2, \
        "each variant trains from its own checkpoint"

    again = ablation()
    assert again.returncode == 0, again.stderr[-2000:]
    assert "v2: done (2 steps)" in again.stdout and "training.train_reader" not in again.stdout
    assert card.read_text().count("## Ablation") == 1

    unknown = ablation("--variants", "without_head")
    assert unknown.returncode != 0 and "unknown variant 'without_head'" in unknown.stderr
