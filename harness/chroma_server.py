"""A real Chroma server (`chroma run`) on loopback, for tests and benchmarks."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from harness.llm_server import free_port


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
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = Path(log_file).read_text(errors="replace")[-500:]
                    raise RuntimeError(f"chroma server did not start ({log_file}): {tail}") from None
                time.sleep(0.3)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
