"""A real Chroma server (`chroma run`) on loopback, for tests and benchmarks."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from harness.llm_server import free_port
from harness.serve import stop_process, wait_until_answers


def chroma_command() -> Path:
    """The `chroma` CLI installed beside this Python (or on PATH)."""
    return Path(shutil.which("chroma") or Path(sys.executable).parent / "chroma")


@contextmanager
def running_chroma_server(path: Path, log_file: Path, *, startup_timeout: float = 60.0,
                          env: Mapping[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """Serve the Chroma folder `path` on a free loopback port; yield (url, pid). Raises
    RuntimeError, naming the log, when the server does not answer its heartbeat in time."""
    port = free_port()
    with open(log_file, "a") as out:
        process = subprocess.Popen(
            [str(chroma_command()), "run", "--path", str(path), "--host", "127.0.0.1",
             "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(f"{url}/api/v2/heartbeat", process, Path(log_file),
                           timeout=startup_timeout, what=f"chroma server ({log_file})")
        yield url, process.pid
    finally:
        stop_process(process, timeout=20)
