"""The web chat for other apps: its named Gradio API endpoints through gradio_client, the chat
mounted inside a FastAPI app, and what `assistant serve` refuses or protects."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from html import escape as html_escape
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, run_cli

from assistant import Answer, Assistant
from harness.llm_server import free_port

# gradio's queue calls pandas in a way pandas 3 warns about; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")


def _wait_for(url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers (401 and the like count: it is up)
        except OSError:
            if (process is not None and process.poll() is not None) or time.monotonic() > deadline:
                pytest.fail(f"{url} did not come up")
            time.sleep(0.3)


def _assert_answer_json(result: Any, assistant: Assistant) -> Answer:
    """The endpoint returns the Answer JSON, and every citation's offsets hold its quote."""
    assert isinstance(result, dict)
    answer = Answer.model_validate(result)
    assert not answer.abstained and answer.citations, result
    for citation in answer.citations:
        article = assistant.article(citation.article_id)
        assert article is not None
        assert article["text"][citation.start:citation.end] == citation.text
        assert f"[{citation.n}]" in answer.answer
    return answer


@pytest.fixture(scope="module")
def app_url(user_assistant: Assistant) -> Iterator[str]:
    """build_app over the user's articles, launched in this process as another app would."""
    from ui.app import build_app, page_options

    demo = build_app(user_assistant)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                share=False, **page_options())
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_gradio_client_ask_returns_the_answer_json(app_url: str, user_assistant: Assistant) -> None:
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    api = client.view_api(print_info=False, return_format="dict")
    assert {"/ask", "/chat", "/sources"} <= set(api["named_endpoints"]), api["named_endpoints"].keys()
    # The UI's own events are private: the API page lists only what other apps should call.
    assert not api["unnamed_endpoints"]

    answer = _assert_answer_json(client.predict("How long did the talks last?", None, api_name="/ask"),
                                 user_assistant)
    assert answer.conflicts, "the user's two reports disagree on the talks' length"
    assert len(_assert_answer_json(client.predict("Where did the talks take place?", 2, api_name="/ask"),
                                   user_assistant).citations) <= 2

    follow_up = client.predict([{"role": "user", "content": "Where did Trump and Putin meet?"},
                                {"role": "assistant", "content": "In Alaska. [1]"},
                                {"role": "user", "content": "How long did the talks there last?"}],
                               api_name="/chat")
    _assert_answer_json(follow_up, user_assistant)

    listed = client.predict(api_name="/sources")
    assert {s["article_id"] for s in listed} == {s.article_id for s in user_assistant.sources()}

    # A bad question is one readable line, not a stack trace.
    with pytest.raises(Exception) as caught:
        client.predict("   ", None, api_name="/ask")
    assert "the question is empty" in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_chat_mounts_inside_a_fastapi_app(user_assistant: Assistant) -> None:
    """The README's FastAPI example: the chat under /chat next to the app's own routes."""
    import gradio as gr
    import uvicorn
    from fastapi import FastAPI
    from gradio_client import Client

    from ui.app import build_app, page_options

    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app = gr.mount_gradio_app(app, build_app(user_assistant), path="/chat", **page_options())
    port = free_port()
    # Gradio keeps its event stream open; without a short grace period shutdown waits ~15 s.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait_for(f"http://127.0.0.1:{port}/health")
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/chat/", timeout=10).read().decode()
        assert "Article Assistant" in page
        client = Client(f"http://127.0.0.1:{port}/chat/", verbose=False)
        _assert_answer_json(client.predict("Where did the talks take place?", None, api_name="/ask"),
                            user_assistant)
        client.close()
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.mark.parametrize(("args", "message"), [
    (["--host", "0.0.0.0"], "add --auth USER:PASSWORD"),
    (["--host", "192.168.1.10", "--auth", "nopassword"], "--auth must be USER:PASSWORD"),
    (["--host", "0.0.0.0", "--auth", "editor:pw"], "exposes the API beyond this machine"),
    (["--auth", "editor:pw"], "the API would be open"),
])
def test_serve_refuses_a_public_host_without_auth(tmp_path: Path, args: list[str],
                                                  message: str) -> None:
    result = run_cli("serve", "--store", str(tmp_path), "--port", str(free_port()), *args,
                     env={"ASSISTANT_AUTH": "", "ASSISTANT_API_KEYS": "", "ASSISTANT_API_KEYS_FILE": ""})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr


def test_serve_with_auth_requires_the_login(user_assistant: Assistant) -> None:
    """Auth from the environment (kept out of `ps`): the API needs the login, and gets in with
    it; the /v1 API needs its key; guessing the password is cut off by the login rate limit."""
    from gradio_client import Client

    port = free_port()
    env = {**os.environ, "ASSISTANT_AUTH": "editor:s3cret-pass", "ASSISTANT_API_KEYS": "sk-only-key",
           "ASSISTANT_LOGIN_ATTEMPTS_PER_MINUTE": "6"}
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--store", str(user_assistant.settings.store),
         "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_for(url, process)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}config", timeout=5)
        assert refused.value.code == 401
        with pytest.raises(Exception):  # noqa: B017 - gradio_client raises a plain ValueError
            Client(url, verbose=False, auth=("editor", "wrong"))
        client = Client(url, verbose=False, auth=("editor", "s3cret-pass"))
        _assert_answer_json(client.predict("Where did the talks take place?", None, api_name="/ask"),
                            user_assistant)
        with pytest.raises(urllib.error.HTTPError) as no_key:
            urllib.request.urlopen(f"{url}v1/models", timeout=5)
        assert no_key.value.code == 401
        keyed = urllib.request.Request(f"{url}v1/models",
                                       headers={"Authorization": "Bearer sk-only-key"})
        assert urllib.request.urlopen(keyed, timeout=5).status == 200
        # 6 attempts a minute: a guesser is stopped within a few tries, the right password too.
        codes = []
        for attempt in range(10):
            login = urllib.request.Request(f"{url}login", method="POST",
                                           data=f"username=editor&password=guess{attempt}".encode())
            try:
                codes.append(urllib.request.urlopen(login, timeout=5).status)
            except urllib.error.HTTPError as exc:
                codes.append(exc.code)
                if exc.code == 429:
                    assert int(exc.headers["Retry-After"]) >= 1
        assert 429 in codes and codes.count(429) >= 4, codes
        assert 200 not in codes, codes
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=15)
    assert b"s3cret-pass" not in output and b"sk-only-key" not in output


def test_render_escapes_text_and_links_only_real_footnotes() -> None:
    """The HTML the chat shows, without a browser: markup in article fields is text, a
    javascript: URL is no link, and only [n] markers with a citation become footnotes."""
    from ui.render import answer_html, citation_html, parse_cite_href

    evil = '<img src=x onerror="alert(1)">'
    quote = f"The budget is 4 million {evil}."
    text = f"Intro paragraph. {quote} More."
    citation = {"n": 1, "article_id": "a1", "title": f"Title {evil}", "source": "x.json",
                "url": "javascript:alert(2)", "date": "2025-01-01", "text": quote,
                "start": 17, "end": 17 + len(quote), "score": 0.9, "passage": text,
                "passage_start": 0, "passage_end": len(text)}
    answer = Answer(question="q", answer=f"{quote} [1] See also [7].", abstained=False,
                    citations=[citation])
    html = answer_html(answer, turn=3)
    assert "<img" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert html.count('href="#cite-3-1"') == 2  # the marker and the sources strip
    assert "[7]" in html and "#cite-3-7" not in html
    assert parse_cite_href("#cite-3-1") == (3, 1) and parse_cite_href("javascript:x") is None

    viewer = citation_html(answer, 1, 3, {"text": text})
    assert "<img" not in viewer and 'href="javascript' not in viewer
    assert f'<mark class="aa-quote">{html_escape(quote)}</mark>' in viewer
