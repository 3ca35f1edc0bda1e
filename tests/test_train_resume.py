"""Reader v2 training resumes where a stopped run left off, and trains exactly what an
uninterrupted run would (the checkpoint holds weights, optimiser, schedule and position; each
epoch's examples and batch order are rebuilt from the seed). Needs the `train` extra (torch)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, require

from training.reader_data import POOL

SMALL = ["--limit", "40", "--epochs", "1", "--batch-size", "8", "--max-length", "128",
         "--checkpoint-every", "2"]


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
