"""A real `assistant serve` on a free loopback port, for tests and benchmarks.

One place for what three test modules did by hand: start the process with its output in a log
file, wait until a page answers (never a fixed sleep), and stop it again."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.llm_server import free_port

ROOT = Path(__file__).resolve().parent.parent


def wait_until_answers(url: str, process: subprocess.Popen, log_path: Path, *,
                       timeout: float = 120.0, what: str = "serve") -> None:
    """Return once `url` answers; RuntimeError (with the log's tail) when the process exits
    first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                tail = Path(log_path).read_text(errors="replace")[-800:]
                raise RuntimeError(f"{what} did not start: {tail}") from None
            time.sleep(0.3)


def start_serve(store: Path, log_path: Path, *, before: Sequence[str] = (),
                after: Sequence[str] = (), env: Mapping[str, str], probe: str = "/"
                ) -> tuple[subprocess.Popen[bytes], str]:
    """`python -m assistant [before] serve --store STORE --port PORT [after]` with `env` as its
    whole environment; returns (process, "http://127.0.0.1:PORT") once `probe` answers."""
    port = free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "assistant", *before, "serve", "--store", str(store),
             "--port", str(port), *after], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env=dict(env))
    base = f"http://127.0.0.1:{port}"
    wait_until_answers(base + probe, process, log_path)
    return process, base


def stop_process(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """Terminate, and kill what does not exit within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
