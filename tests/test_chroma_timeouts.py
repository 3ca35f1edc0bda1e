"""A Chroma server that stops answering (SIGSTOP: the port still accepts connections, nothing
replies): every call to it ends within ASSISTANT_CHROMA_TIMEOUT_S with one line naming it, the
CLI exits 1, the API answers 503 in OpenAI's error shape, and all recover once it answers again.

The module runs its own `chroma run`, so stopping it disturbs no other test; every stop is
followed by SIGCONT in a `finally`. A call that has not ended after HANG seconds is a hang (the
code before these timeouts waited forever), detected by a subprocess or client timeout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import SAMPLES, require, run_cli

from assistant import Assistant
from harness.chroma_server import chroma_command, running_chroma_server
from harness.serve import start_serve, stop_process
from index.record import ServerRecord
from index.state import ServerState
from index.vectorstore import ChromaStore, NodeToStore, VectorStoreError

pytestmark = pytest.mark.server  # the module runs its own `chroma run`

TIMEOUT_S = 3
WORKERS = 2  # the API's answer pool
HANG = 40.0  # well past TIMEOUT_S plus a cold start of the CLI on a busy machine
QUESTION = "When did the tram open?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """Our own `chroma run` holding the sample articles; yields (url, pid)."""
    require(chroma_command().exists(), "the `chroma` command (pip install chromadb)")
    data = tmp_path_factory.mktemp("stalling-chroma")
    try:
        with running_chroma_server(data / "db", data / "server.log") as (url, pid):
            try:
                Assistant(store=data / "writer", chroma_url=url).ingest([SAMPLES])
                yield url, pid
            finally:
                os.kill(pid, signal.SIGCONT)  # a stopped server would not act on the SIGTERM
    except RuntimeError as exc:
        pytest.fail(str(exc))


def answers(url: str, within: float) -> bool:
    try:
        urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=within)
        return True
    except OSError:  # a timeout is one too
        return False


@contextmanager
def stalled(url: str, pid: int) -> Iterator[None]:
    """The server stopped (it still accepts connections, the kernel queues them) for the body."""
    os.kill(pid, signal.SIGSTOP)
    try:
        assert not answers(url, 1.0), "SIGSTOP did not stall the server"
        yield
    finally:
        os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + 30
    while not answers(url, 2.0):
        assert time.monotonic() < deadline, "the server did not answer again after SIGCONT"
        time.sleep(0.2)


def ended_within(call: Callable[[], Any], limit: float) -> tuple[bool, BaseException | None]:
    """Run `call` in a thread: (whether it ended within `limit` s, what it raised). A hung call
    ends by itself once the server is resumed."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as exc:  # handed to the test as it is
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    return (not thread.is_alive(), outcome[0] if outcome else None)


def test_every_kind_of_call_to_a_stalled_server_ends_within_the_timeout(
        server: tuple[str, int]) -> None:
    """The chunk vectors, the article records, the state (token, lease), a side collection and
    opening a client (chromadb's identity, tenant and database checks). Its own collection:
    a write that timed out is still carried out once the server resumes."""
    url, pid = server
    store = ChromaStore(url=url, collection="stalls", timeout=TIMEOUT_S)
    record = ServerRecord(store.side_collection("articles"), store.call)
    state = ServerState(store.side_collection("state"), store.call)
    node = NodeToStore("c1", "a1", 0, 4, np.ones(384, dtype=np.float32), {})
    calls: dict[str, Callable[[], Any]] = {
        "open a client": lambda: ChromaStore(url=url, collection="stalls", timeout=TIMEOUT_S),
        "query": lambda: store.query(np.ones(384, dtype=np.float32), 3),
        "add": lambda: store.add([node]),
        "count": store.count,
        "side collection": lambda: store.side_collection("state"),
        "article headers": record.headers,
        "change token": state.token,
        "lease": lambda: state.try_take("owner", "holder", time.time() + 60),
    }
    with stalled(url, pid):
        for name, call in calls.items():
            started = time.monotonic()
            ended, error = ended_within(call, HANG)
            took = time.monotonic() - started
            assert ended, f"{name}: no answer after {HANG:.0f} s"
            assert isinstance(error, VectorStoreError), f"{name}: {error!r}"
            assert str(error).startswith(f"Chroma server at {url} did not answer within "
                                         f"{TIMEOUT_S} s"), f"{name}: {error}"
            assert "\n" not in str(error)
            assert took < TIMEOUT_S + 2.5, f"{name} took {took:.1f} s"
    assert store.count() >= 0  # the same client works again


def test_cli_fails_in_one_line_on_a_stalled_server_and_recovers(server: tuple[str, int],
                                                                tmp_path: Path) -> None:
    url, pid = server
    env = {"ASSISTANT_CHROMA_TIMEOUT_S": str(TIMEOUT_S)}
    cache = str(tmp_path / "cache")
    with stalled(url, pid):
        for args in (["ask", QUESTION], ["ingest", str(SAMPLES)]):
            try:
                result = run_cli("--chroma-url", url, *args, "--store", cache, env=env,
                                 timeout=HANG)
            except subprocess.TimeoutExpired:
                pytest.fail(f"`assistant {args[0]}` hung for {HANG:.0f} s on a stalled server")
            assert result.returncode == 1, result
            assert "Traceback" not in result.stderr, result.stderr
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1, result.stderr
            assert lines[0].startswith(f"error: Chroma server at {url} did not answer within "
                                       f"{TIMEOUT_S} s"), lines[0]
    result = run_cli("--chroma-url", url, "ask", QUESTION, "--store", cache, "--json", env=env,
                     timeout=HANG)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert any("Tram" in c["title"] for c in answer["citations"]), answer["answer"]


# --- the API of a real `assistant serve` ------------------------------------------------------


def serve_against(chroma_url: str, store: Path, log_path: Path
                  ) -> tuple[subprocess.Popen[bytes], str]:
    try:
        process, base = start_serve(store, log_path, before=["--chroma-url", chroma_url],
                                    probe="/v1/models", env={
            **os.environ, "ASSISTANT_LLM": "extractive", "ASSISTANT_AUTH": "",
            "ASSISTANT_API_KEYS": "", "ASSISTANT_API_KEYS_FILE": "",
            "ASSISTANT_API_RATE_PER_MINUTE": "0", "ASSISTANT_API_WORKERS": str(WORKERS),
            "ASSISTANT_CHROMA_TIMEOUT_S": str(TIMEOUT_S)})
    except RuntimeError as exc:
        pytest.fail(str(exc))
    return process, f"{base}/v1"


def post(url: str, body: dict[str, Any], timeout: float = 45.0
         ) -> tuple[int, dict[str, Any], float]:
    """(status, JSON body, seconds); status 0 when no answer came within `timeout`."""
    request = urllib.request.Request(url, method="POST", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, json.load(reply), time.monotonic() - started
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc), time.monotonic() - started
    except (TimeoutError, urllib.error.URLError):
        return 0, {}, time.monotonic() - started


def test_api_answers_503_while_the_server_is_stalled_and_the_pool_recovers(
        server: tuple[str, int], tmp_path: Path) -> None:
    url, pid = server
    process, api = serve_against(url, tmp_path / "cache", tmp_path / "serve.log")
    chat = (f"{api}/chat/completions",
            {"model": "article-assistant", "messages": [{"role": "user", "content": QUESTION}]})
    search = (f"{api}/search", {"query": "tram opening", "top_k": 3})
    try:
        status, body, _ = post(*chat, timeout=120)  # loads the models, fills the cache
        assert status == 200, body
        with stalled(url, pid):
            # Five times as many requests as workers. Each round of workers waits one timeout
            # (the requests queued behind a check that failed share its failure), so the last
            # answer comes after about five timeouts (15 s), not one timeout per request (30 s).
            wanted = [chat, search] * (5 * WORKERS // 2)
            with ThreadPoolExecutor(len(wanted)) as pool:
                replies = list(pool.map(lambda r: post(*r), wanted))
        for (status, body, seconds), (where, _) in zip(replies, wanted, strict=True):
            # status 0: no answer within 45 s
            assert status == 503, (where, status, body, f"{seconds:.1f} s")
            assert set(body["error"]) == {"message", "type", "param", "code"}, body
            assert body["error"]["type"] == "server_error", body
            # The caller is told what went wrong, not where the server keeps its data.
            assert body["error"]["message"].startswith(
                f"Chroma server did not answer within {TIMEOUT_S} s"), body
            assert url not in body["error"]["message"], body
        slowest = max(seconds for _, _, seconds in replies)
        assert slowest < (len(wanted) / WORKERS + 1) * TIMEOUT_S, \
            f"{[round(r[2], 1) for r in replies]} s: the requests waited for each other"
        # Resumed: the workers are free and the next requests are answered.
        status, body, seconds = post(*chat)
        assert status == 200 and body["choices"][0]["message"]["content"], body
        status, body, seconds = post(*search)
        assert status == 200 and body["data"], body
    finally:
        stop_process(process)
    log_text = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log_text, log_text[-2000:]
