"""Reader v2 training resumes where a stopped run left off, and trains exactly what an
uninterrupted run would (the checkpoint holds weights, optimiser, schedule and position; each
epoch's examples and batch order are rebuilt from the seed). Needs the `train` extra (torch)."""

from __future__ import annotations

import importlib.util
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
