"""LLM failures over real HTTP: an unreachable port, and tiny local servers written here that
answer 429, 500, garbage, nothing in time, or 401 (a real HTTP exchange, nothing mocked). Each
must end in the extractive answer with one clear note, within bounded time; the key must never
show. Also: a question the articles don't answer is not sent to the LLM at all."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import run_cli

from assistant import Answer, Assistant
from harness.llm_server import free_port

SECRET = "sk-test-Zq8v1Secret4Never2Print"


class FakeServer:
    """A real HTTP server on loopback whose reply to every request is `respond`."""

    def __init__(self, respond: Callable[[BaseHTTPRequestHandler], None]) -> None:
        self.requests: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                server.requests.append({"path": self.path,
                                        "auth": self.headers.get("authorization", "")})
                respond(self)

            do_GET = do_POST

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def send(handler: BaseHTTPRequestHandler, status: int, body: str,
         content_type: str = "application/json", headers: dict[str, str] | None = None) -> None:
    data = body.encode()
    handler.send_response(status)
    handler.send_header("content-type", content_type)
    handler.send_header("content-length", str(len(data)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(data)


def llm_assistant(store: Path, url: str, **overrides: object) -> Assistant:
    settings = {"llm": "openai", "openai_base_url": url, "llm_model": "test-model",
                "llm_timeout": 3.0, "llm_max_retries": 1, **overrides}
    return Assistant(store=store, **settings)


ANSWERABLE = "How long is Port Alder's Riverside tram line?"


_OFFLINE: dict[str, str] = {}


def assert_fell_back(answer: Answer, fragment: str) -> None:
    assert answer.backend == "extractive" and not answer.abstained
    notes = [n for n in answer.notes if n.startswith("llm:")]
    assert len(notes) == 1 and "\n" not in notes[0], answer.notes
    assert fragment in notes[0], notes[0]
    assert "answered extractively" in notes[0]
    assert answer.answer == _OFFLINE[answer.question]  # the offline answer, intact


@pytest.fixture(scope="module")
def store(sample_store: Path) -> Path:
    _OFFLINE[ANSWERABLE] = Assistant(store=sample_store, llm="extractive").ask(ANSWERABLE).answer
    return sample_store


def test_unreachable_server(store: Path) -> None:
    answer = llm_assistant(store, f"http://127.0.0.1:{free_port()}/v1").ask(ANSWERABLE)
    assert_fell_back(answer, "cannot reach the LLM server at http://127.0.0.1:")


def test_rate_limit_is_retried_within_bounds(store: Path) -> None:
    # Retry-After: 60 would make the SDK's own retry wait a minute; ours stays within the timeout.
    with FakeServer(lambda h: send(h, 429, '{"error": {"message": "slow down"}}',
                                   headers={"retry-after": "60"})) as server:
        started = time.monotonic()
        answer = llm_assistant(store, server.url).ask(ANSWERABLE)
        elapsed = time.monotonic() - started
    assert_fell_back(answer, "rate-limiting requests (HTTP 429) after 2 attempt(s)")
    assert len(server.requests) == 2  # one retry, as llm_max_retries=1 says
    print(f"429 handled in {elapsed:.1f} s")


def test_server_error(store: Path) -> None:
    with FakeServer(lambda h: send(h, 500, '{"error": "boom"}')) as server:
        answer = llm_assistant(store, server.url, llm_max_retries=0).ask(ANSWERABLE)
    assert_fell_back(answer, "failed (HTTP 500)")
    assert len(server.requests) == 1


def test_timeout(store: Path) -> None:
    def slow(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(4)
        send(handler, 200, "{}")

    with FakeServer(slow) as server:
        answer = llm_assistant(store, server.url, llm_timeout=1.0).ask(ANSWERABLE)
    assert_fell_back(answer, "did not answer within 1 s")


@pytest.mark.parametrize("body,content_type", [
    ("<html>this is not JSON</html>", "text/html"),
    ('{"choices": []}', "application/json"),
    ('{"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": '
     '{"role": "assistant", "content": null}, "finish_reason": "stop"}]}', "application/json"),
])
def test_malformed_reply(store: Path, body: str, content_type: str) -> None:
    with FakeServer(lambda h: send(h, 200, body, content_type)) as server:
        answer = llm_assistant(store, server.url).ask(ANSWERABLE)
    assert_fell_back(answer, "malformed reply")


def test_malformed_stream_ends_with_the_extractive_answer(store: Path) -> None:
    def garbage_stream(handler: BaseHTTPRequestHandler) -> None:
        send(handler, 200, "data: {not json\n\n", "text/event-stream")

    with FakeServer(garbage_stream) as server:
        items = list(llm_assistant(store, server.url).stream(ANSWERABLE))
    final = items[-1]
    assert isinstance(final, Answer)
    assert_fell_back(final, "malformed")


def test_unreachable_stream_ends_with_the_extractive_answer(store: Path) -> None:
    items = list(llm_assistant(store, f"http://127.0.0.1:{free_port()}/v1").stream(ANSWERABLE))
    assert isinstance(items[-1], Answer)
    assert_fell_back(items[-1], "cannot reach")


def test_weak_evidence_abstains_before_calling_the_llm(store: Path) -> None:
    with FakeServer(lambda h: send(h, 500, "{}")) as server:
        assistant = llm_assistant(store, server.url, llm_max_retries=0)
        answer = assistant.ask("Who won the Super Bowl?")
        assert answer.abstained
        assert any("not called" in n and "no tokens spent" in n for n in answer.notes)
        streamed = list(assistant.stream("Who won the Super Bowl?"))
        assert isinstance(streamed[-1], Answer) and streamed[-1].abstained
        assert server.requests == []  # nothing was sent
        # The same server does get a request for a question the articles answer.
        assistant.ask(ANSWERABLE)
        assert len(server.requests) == 1


def test_no_key_and_no_server_is_a_config_note(store: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    answer = Assistant(store=store, llm="openai").ask(ANSWERABLE)
    assert_fell_back(answer, "no API key: set OPENAI_API_KEY")


def test_key_is_sent_but_never_printed(store: Path) -> None:
    """Through the CLI with the SDK's debug logging on: the server sees the key, the user never
    does, neither on a 401 nor in the Answer JSON."""
    with FakeServer(lambda h: send(h, 401, json.dumps(
            {"error": {"message": f"Incorrect API key provided: {SECRET}"}}))) as server:
        result = run_cli("ask", ANSWERABLE, "--store", str(store), "--json",
                         "--llm-url", server.url, "--llm-model", "test-model",
                         env={"OPENAI_API_KEY": SECRET, "OPENAI_LOG": "debug",
                              "ASSISTANT_LLM_TIMEOUT": "5"})
    assert result.returncode == 0, result.stderr
    assert server.requests and server.requests[0]["auth"] == f"Bearer {SECRET}"
    assert SECRET not in result.stdout and SECRET not in result.stderr
    assert SECRET[-8:] not in result.stdout + result.stderr  # not even a masked tail
    answer = json.loads(result.stdout)
    assert any("rejected the API key (HTTP 401)" in n for n in answer["notes"])


def test_cli_rejects_a_bad_llm_url(store: Path) -> None:
    result = run_cli("ask", ANSWERABLE, "--store", str(store), "--llm-url", "localhost:8080")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: --llm-url must be an http:// or https:// URL, not 'localhost:8080'"]


def test_offline_ask_does_not_import_the_openai_sdk(store: Path) -> None:
    result = run_cli("ask", ANSWERABLE, "--store", str(store), "--json",
                     env={"PYTHONVERBOSE": "1", "ASSISTANT_LLM": "extractive"})
    assert result.returncode == 0
    imported = [line for line in result.stderr.splitlines() if line.startswith("import ")]
    assert imported, "PYTHONVERBOSE printed no imports"
    assert not [line for line in imported if line.startswith("import 'openai'")]
