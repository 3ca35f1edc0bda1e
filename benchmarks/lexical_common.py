"""What the lexical benchmark's modules (benchmarks/lexical.py) share: the repository root, where
the catalog lies in a working folder, and the log line."""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def catalog_path(work: Path) -> Path:
    return work / "fts5" / "catalog.sqlite"


def log(message: str) -> None:
    print(f"[lexical {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
