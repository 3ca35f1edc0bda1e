"""The web chat in a real browser: Debian's Chromium, driven by Playwright, against
`python -m assistant serve` started here on a free loopback port over a store of the user's
articles. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, TEST_THREADS, require, run_cli

from assistant import ABSTAIN_TEXT
from harness.llm_server import free_port
from harness.serve import start_serve, stop_process

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
SHOTS = ROOT / "artifacts" / "screenshots"
TIMEOUT_MS = 30_000

# Records every distinct state of the newest assistant message, to see an answer stream in.
WATCH_JS = """() => {
  window.__frames = [];
  const chat = document.querySelector('#chat');
  new MutationObserver(() => {
    const last = [...chat.querySelectorAll('[data-testid="bot"]')].pop();
    if (!last) return;
    const streaming = !!last.querySelector('.aa-streaming:not(.aa-thinking)');
    const text = last.innerText.trim();
    const prev = window.__frames[window.__frames.length - 1];
    if (!prev || prev.text !== text || prev.streaming !== streaming) window.__frames.push({streaming, text});
  }).observe(chat, {subtree: true, childList: true, characterData: true});
}"""

FINISHED = '#chat [data-testid="bot"]:has(.aa-final, .aa-error)'
LLM_KEY = "ui-test-key-7f3a91"


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@contextmanager
def serving(store: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """`assistant serve` over `store` on a free loopback port, offline and without a login
    (plus `env`); yields its URL, and checks its log for tracebacks and the test key after."""
    log_path = store / "serve.log"
    try:
        # The offline backend and no login, whatever this shell has configured.
        # A generous LLM timeout: CI's two cores may be shared with other tests.
        process, base = start_serve(store, log_path, env={
            **os.environ, "ASSISTANT_LLM": "extractive", "ASSISTANT_AUTH": "",
            "ASSISTANT_LLM_TIMEOUT": "120", **(env or {})})
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield f"{base}/"
    stop_process(process)
    log_text = log_path.read_text()
    assert "Traceback" not in log_text, log_text[-2000:]
    assert LLM_KEY not in log_text, "the API key reached the server log"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, user_articles: Path, sure_model: Path
           ) -> Iterator[str]:
    """`assistant serve` over a fresh store of the user's articles; yields its URL. Its reader
    answers plainly whenever it answers (conftest's sure_model): these tests are about the chat,
    not about where one question falls in the shipped confidence band (tests/test_ui_trust.py
    shows each band)."""
    require(CHROMIUM.exists(), f"Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    store = tmp_path_factory.mktemp("ui-store")
    result = run_cli("ingest", str(user_articles), "--store", str(store))
    assert result.returncode == 0, result.stderr
    # A short reply limit: SmolLM2 writing the default 200 tokens on shared cores was most of
    # the endpoint test's minute; what it checks is that the reply streams in and is guarded.
    with serving(store, {"ASSISTANT_READER_MODEL": str(sure_model),
                         "ASSISTANT_LLM_MAX_TOKENS": "64"}) as url:
        yield url


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Session:
    """One page on the app, recording dialogs, page errors and requests that leave loopback."""

    def __init__(self, browser: Any, url: str, size: tuple[int, int] = (1400, 900),
                 permissions: tuple[str, ...] = ()) -> None:
        self.context = browser.new_context(viewport={"width": size[0], "height": size[1]})
        if permissions:
            self.context.grant_permissions(list(permissions))
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.dialogs: list[str] = []
        self.external: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("request", self._request)
        self.page.goto(url)
        self.page.wait_for_selector("#chat")
        # The header's corpus line is filled on load: then the page is wired up.
        self.page.wait_for_function(
            "/^[1-9]\\d* articles? /.test(document.querySelector('#aa-corpus')?.textContent || '')")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _request(self, request: Any) -> None:
        host = re.match(r"[a-z]+://([^/:]+)", request.url)
        if host and host.group(1) not in ("127.0.0.1", "localhost"):
            self.external.append(request.url)

    def ask(self, question: str) -> Any:
        """Type a question, press Enter, wait for its answer; returns the answer's element."""
        page = self.page
        before = page.locator(FINISHED).count()
        index = page.locator('#chat [data-testid="bot"]').count()
        page.fill("#question textarea", question)
        page.press("#question textarea", "Enter")
        # At the first frame the finished answer shows, is Ask back (in place of Stop)? The
        # turn ends in the same update as its answer, so a question sent the moment it shows is
        # taken, not refused as "an answer is still coming in".
        page.wait_for_function(f"""() => {{
            if (document.querySelectorAll('{FINISHED}').length <= {before}) return false;
            const ask = document.querySelector('#ask');
            window.aaAskWithAnswer = !!ask && ask.offsetParent !== null;
            return true;
        }}""")
        assert page.evaluate("window.aaAskWithAnswer"), "the answer showed while Ask was hidden"
        # By position, not `.last`: a locator is re-resolved on use, and later answers come.
        return page.locator('#chat [data-testid="bot"]').nth(index)

    def tab(self, name: str) -> None:
        self.page.click(f"#tab-{name}-button")

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture()
def session(browser: Any, server: str) -> Iterator[Session]:
    s = Session(browser, server)
    yield s
    try:
        assert not s.errors, f"page errors: {s.errors}"
        assert not s.external, f"the page reached beyond this machine: {s.external[:5]}"
    finally:
        s.close()


def _user_article_texts(user_articles: Path) -> dict[str, str]:
    """Title (first non-empty line, as the loader takes it) -> whitespace-normalised text."""
    texts = {}
    for path in sorted(user_articles.glob("*.txt")):
        raw = path.read_text(encoding="utf-8")
        title = next(line.strip() for line in raw.splitlines() if line.strip())
        texts[title] = _norm(raw)
    return texts


def test_answer_streams_in_and_footnotes_open_the_quoted_passage(session: Session,
                                                                   user_articles: Path) -> None:
    page = session.page
    examples = page.locator("button.aa-example:visible")
    assert examples.count() >= 1, "a first-time user sees example questions"
    # Made from an article's own sentence ("... lasted nearly four hours") and checked by
    # answering it, not "What do the articles say about <headline>?".
    offered = [examples.nth(i).inner_text() for i in range(examples.count())]
    assert "How long did the talks last?" in offered, offered
    session.shot("01-empty-chat")

    page.evaluate(WATCH_JS)
    answer = session.ask("Where did Trump and Putin meet?")
    assert answer.locator(".aa-final").count() == 1, answer.inner_text()

    frames = page.evaluate("window.__frames")
    streamed = [f["text"] for f in frames if f["streaming"]]
    assert len(set(streamed)) >= 2, f"the answer did not stream in: {frames}"
    lengths = [len(t) for t in streamed]
    assert lengths == sorted(lengths), "streamed text only grows"
    assert not frames[-1]["streaming"], "the final answer replaces the stream"

    footnotes = answer.locator(".aa-text a.aa-cite")
    assert footnotes.count() >= 1
    texts = _user_article_texts(user_articles)
    footnotes.first.click()
    viewer = page.locator("#source-viewer")
    mark = viewer.locator("blockquote mark.aa-quote")
    mark.wait_for()
    quote = _norm(mark.inner_text())
    title = _norm(viewer.locator(".aa-viewer-title").inner_text())
    assert title in texts, f"viewer title {title!r} is not one of the user's articles"
    assert len(quote) > 20 and quote in texts[title], "the highlight is a verbatim quote of the cited article"
    meta = viewer.locator(".aa-viewer-meta").inner_text()
    for label in ("Date", "Source", "URL"):
        assert label in meta
    assert "answer 1" in (viewer.locator(".aa-viewer-nav").text_content() or "")
    session.shot("02-answer-with-source")

    # A follow-up that only makes sense after the first question: the conversation goes to the
    # assistant, which says how it read the follow-up.
    second = session.ask("And how long did they talk there?")
    assert second.locator(".aa-final").count() == 1, second.inner_text()
    assert second.locator(".aa-rewrite").count() == 1, "the follow-up was read in context"
    # The user's two reports disagree on how long the talks lasted: shown as a conflict.
    conflict = second.locator(".aa-conflict")
    assert conflict.count() == 1 and conflict.locator("li").count() >= 2, second.inner_text()
    second.locator(".aa-text a.aa-cite").first.click()
    page.wait_for_function(
        "document.querySelector('#source-viewer .aa-viewer-nav')?.textContent.includes('answer 2')")
    quote2 = _norm(viewer.locator("blockquote mark.aa-quote").inner_text())
    title2 = _norm(viewer.locator(".aa-viewer-title").inner_text())
    assert quote2 in texts[title2]
    session.shot("03-follow-up-with-conflict")
    # Each answer's footnotes keep opening that answer's own sources.
    answer.locator(".aa-sources a.aa-cite").last.click()
    page.wait_for_function(
        "document.querySelector('#source-viewer .aa-viewer-nav')?.textContent.includes('answer 1')")


def test_abstention_is_shown_as_one(session: Session) -> None:
    answer = session.ask("What is the boiling point of tungsten?")
    callout = answer.locator(".aa-callout.aa-abstain")
    assert callout.count() == 1, answer.inner_text()
    assert ABSTAIN_TEXT in callout.inner_text()
    assert answer.locator("a.aa-cite").count() == 0, "an abstention cites nothing"
    answer.screenshot(path=str(SHOTS / "04-abstention.png"))


# Notes whether the upload box ever showed indexing progress ("Indexing NAME - 1/1 files").
PROGRESS_JS = """() => {
  window.__progress = false;
  const box = document.querySelector('#upload');
  new MutationObserver(() => {
    if (/Indexing/.test(box.innerText)) window.__progress = true;
  }).observe(box, {subtree: true, childList: true, characterData: true});
}"""


def _upload(session: Session, path: Path) -> str:
    """Upload a file in the Articles panel; returns the status it reports."""
    page = session.page
    session.tab("articles")
    previous = page.locator("#upload-status").inner_text()
    page.evaluate(PROGRESS_JS)
    page.set_input_files("#upload input[type=file]", str(path))
    page.wait_for_function(
        "(prev) => { const s = document.querySelector('#upload-status .aa-status');"
        " return s && s.innerText !== prev; }", arg=previous)
    return page.locator("#upload-status").inner_text()


def test_upload_an_article_then_ask_about_it(session: Session, tmp_path: Path) -> None:
    title = "Harbourview Library Reopens With a Rooftop Reading Garden"
    article = tmp_path / "harbourview-library.md"
    article.write_text(
        f"# {title}\n\nThe Harbourview public library reopened on Monday after an eighteen-month "
        "renovation costing 9.6 million dollars.\n\nThe new rooftop reading garden has 112 seats "
        "and is open from 8 a.m. until sunset, head librarian Odile Varga said.\n\nThe building "
        "also gained a children's wing named after the poet Ines Marrow.\n", encoding="utf-8")
    page = session.page
    rows = page.locator("#articles-table tbody tr")

    status = _upload(session, article)
    assert "1 article added" in status, status
    assert page.evaluate("window.__progress"), "the upload showed indexing progress"
    assert page.locator("#articles-table").get_by_text(title).count() == 1
    count = rows.count()
    session.shot("05-articles-after-upload")

    again = _upload(session, article)
    assert "1 article unchanged" in again, again
    assert rows.count() == count, "re-uploading the same file changes nothing"

    # Another file that happens to have the same name is a second article, not a replacement.
    namesake = tmp_path / "other" / "harbourview-library.md"
    namesake.parent.mkdir()
    namesake.write_text("# Carrow Ferry Adds a Night Crossing\n\nThe Carrow ferry will run a "
                        "night crossing at 23:40 from March, the operator said.\n", encoding="utf-8")
    status = _upload(session, namesake)
    assert "1 article added" in status, status
    assert rows.count() == count + 1
    assert page.locator("#articles-table").get_by_text(title).count() == 1
    assert page.locator("#articles-table").get_by_text("Carrow Ferry Adds a Night Crossing").count() == 1

    session.tab("chat")
    answer = session.ask("How many seats does the rooftop reading garden have?")
    assert "112" in answer.locator(".aa-text").inner_text(), answer.inner_text()
    assert title in answer.locator(".aa-sources").inner_text()
    session.shot("06-answer-from-upload")

    # Remove it again through the panel.
    session.tab("articles")
    page.click("#remove-choice input")
    page.keyboard.type("Harbourview")
    page.get_by_role("option", name=re.compile("Harbourview")).first.click()
    page.keyboard.press("Escape")
    page.click("#remove")
    page.locator("#remove-status").get_by_text("Removed").wait_for()
    assert page.locator("#articles-table").get_by_text(title).count() == 0
    assert rows.count() == count
    # A misclick is not for good: its Undo ingests the file again.
    session.shot("06b-removed-with-undo")
    page.click("#remove-undo")
    page.locator("#remove-status").get_by_text("Restored.").wait_for()
    assert page.locator("#articles-table").get_by_text(title).count() == 1
    assert page.locator("#remove-undo").is_hidden()
    page.click("#remove-choice input")
    page.keyboard.type("Harbourview")
    page.get_by_role("option", name=re.compile("Harbourview")).first.click()
    page.keyboard.press("Escape")
    page.click("#remove")
    page.locator("#remove-undo").wait_for(state="visible")
    assert rows.count() == count


XSS_FLAG = "__aaXss"


def test_article_with_script_and_onerror_renders_inert(session: Session, tmp_path: Path) -> None:
    payload = (f'<script>window.{XSS_FLAG}=1;alert(1)</script>'
               f'<img src=x onerror="window.{XSS_FLAG}=2;alert(2)">')
    record = {
        "title": f'Dredging budget <img src=x onerror="window.{XSS_FLAG}=3;alert(3)">',
        "url": f"javascript:window.{XSS_FLAG}=4",
        "date": "2025-09-01",
        "text": (f"The Port Tarrow council approved a dredging budget of 4.2 million crowns on "
                 f"Monday {payload}.\n\nCouncillor Maren Holt said the work starts in October "
                 f"<a href=\"javascript:window.{XSS_FLAG}=5\">details</a> ${{window.{XSS_FLAG}=6}} "
                 "{{constructor.constructor('alert(7)')()}}.\n"),
    }
    path = tmp_path / "xss-article.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    page = session.page
    status = _upload(session, path)
    assert "1 article added" in status, status

    session.tab("chat")
    answer = session.ask("How large is the Port Tarrow dredging budget?")
    assert answer.locator(".aa-final").count() == 1, answer.inner_text()
    answer.locator("a.aa-cite").first.click()
    viewer = page.locator("#source-viewer")
    viewer.locator("blockquote mark.aa-quote").wait_for()
    viewer.locator("details.aa-full summary").click()
    session.tab("articles")
    session.tab("chat")
    page.wait_for_timeout(500)  # give any injected handler time to fire

    assert page.evaluate(f"window.{XSS_FLAG}") is None, "article markup ran in the page"
    assert session.dialogs == []
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator('a[href^="javascript:"]').count() == 0
    # Rendered as text: the markup is visible, literally, where the article is shown.
    assert "<script>" in viewer.inner_text()
    assert "<img src=x" in viewer.locator(".aa-viewer-title").inner_text()
    session.shot("07-xss-article-inert")


def _use_endpoint(session: Session, url: str, model: str, key: str) -> str:
    """Point this browser session at an OpenAI-compatible endpoint; returns the status line."""
    page = session.page
    session.tab("settings")
    page.get_by_label("An OpenAI-compatible endpoint").check()
    page.fill("#base-url textarea, #base-url input", url)
    page.fill("#model textarea, #model input", model)
    page.fill("#api-key input", key)
    page.click("#apply-settings")
    page.locator("#settings-status .aa-status-ok, #settings-status .aa-status-warn").wait_for()
    return page.locator("#settings-status").inner_text()


def test_an_unreachable_endpoint_is_explained_not_a_stack_trace(session: Session) -> None:
    status = _use_endpoint(session, f"http://127.0.0.1:{free_port()}/v1", "any-model", LLM_KEY)
    assert "API key set" in status
    # Not a plain "Applied": the endpoint was tried, and the status says it does not answer.
    assert session.page.locator("#settings-status .aa-status-warn").count() == 1
    assert "cannot reach the LLM server" in status
    session.tab("chat")
    answer = session.ask("Where did the talks take place?")
    note = answer.locator(".aa-notes .aa-note-llm")
    assert note.count() == 1, answer.inner_text()
    assert "cannot reach the LLM server" in note.inner_text()
    assert answer.locator(".aa-text a.aa-cite").count() >= 1, "it still answers from the articles"
    assert "Traceback" not in session.page.content() and LLM_KEY not in session.page.content()
    answer.screenshot(path=str(SHOTS / "10-endpoint-unreachable.png"))


@pytest.mark.llm
def test_settings_switch_to_an_openai_compatible_endpoint(session: Session) -> None:
    """The Settings panel points this session at a real local OpenAI-compatible server
    (llama.cpp + SmolLM2): the key field empties and the key never reaches the page, and
    the next answer streams in from the generative backend."""
    from harness.llm_server import SMOLLM2_MODEL_ALIAS, llama_server_unavailable_reason, running_llama_server

    reason = llama_server_unavailable_reason()
    require(reason is None, reason or "")
    page = session.page
    with running_llama_server(api_key=LLM_KEY, n_threads=TEST_THREADS) as url:
        status = _use_endpoint(session, url, SMOLLM2_MODEL_ALIAS, LLM_KEY)
        assert "API key set" in status and url in status, status
        assert page.input_value("#api-key input") == "", "the key is never shown again"
        assert LLM_KEY not in page.content()
        session.shot("08-settings-endpoint")

        session.tab("chat")
        page.evaluate(WATCH_JS)
        page.set_default_timeout(180_000)  # a small model on two shared cores
        answer = session.ask("Where did the talks take place?")
        assert answer.locator(".aa-error").count() == 0, answer.inner_text()
        # The model answered: its checked reply (the footer names the model, not "offline
        # answer"), or the guard's note when it kept none of it (SmolLM2 is tiny). An "llm:"
        # note would mean the call itself failed.
        assert answer.locator(".aa-notes .aa-note-llm").count() == 0, answer.inner_text()
        came_from_model = not answer.locator(".aa-meta").last.inner_text().startswith(
            "offline answer") \
            or answer.locator(".aa-notes .aa-note-guard").count() > 0
        assert came_from_model, answer.inner_text()
        streamed = {f["text"] for f in page.evaluate("window.__frames") if f["streaming"]}
        assert len(streamed) >= 2, "the generated answer streams in"
        assert LLM_KEY not in page.content()
        session.shot("09-answer-from-endpoint")


def _wait_last_bot(session: Session, selector: str) -> Any:
    bot = session.page.locator('#chat [data-testid="bot"]').last
    bot.locator(selector).first.wait_for()
    return bot


def test_typing_during_a_stream_is_kept_and_stop_cancels_it_on_the_server(
        session: Session) -> None:
    from slow_llm import SlowLLM

    page = session.page
    with SlowLLM(delay=0.35) as llm:
        _use_endpoint(session, llm.url, "slow", LLM_KEY)
        session.tab("chat")
        page.fill("#question textarea", "Where did the talks take place?")
        page.press("#question textarea", "Enter")
        # The answer streams in; Ask has become Stop.
        _wait_last_bot(session, ".aa-streaming:not(.aa-thinking)")
        page.locator("#stop").wait_for(state="visible")
        assert not page.locator("#ask").is_visible()
        typed = "And who was the manager"
        page.locator("#question textarea").press_sequentially(typed, delay=60)
        time.sleep(1.5)  # several more streamed updates arrive meanwhile
        assert page.input_value("#question textarea") == typed
        # Enter while it streams: refused with a message; the text stays.
        page.press("#question textarea", "Enter")
        time.sleep(0.5)
        assert page.input_value("#question textarea") == typed
        assert page.locator('#chat [data-testid="user"]').count() == 1
        session.shot("11-typing-during-a-stream")

        page.click("#stop")
        bot = _wait_last_bot(session, ".aa-error")
        assert "Stopped before the answer was complete" in bot.inner_text()
        page.locator("#ask").wait_for(state="visible")
        deadline = time.monotonic() + 10
        while llm.streams_abandoned < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert llm.streams_started == 1 and llm.streams_abandoned == 1, \
            "Stop closed the model's stream on the server"
        assert llm.streams_completed == 0
        assert page.input_value("#question textarea") == typed


def test_a_question_longer_than_the_limit_is_cut_at_it_and_counted(session: Session) -> None:
    page = session.page
    page.fill("#question textarea", "x" * 2100)
    assert len(page.input_value("#question textarea")) == 2000
    page.locator("#question textarea").press("End")
    page.locator("#question textarea").press_sequentially("y")
    page.wait_for_function(
        "document.querySelector('#question-counter').innerText.includes('2,000 / 2,000')")
    # Emptied with Backspace, the box is counted again (the counter stayed at its last typed
    # length: Gradio's `input` event came for typed characters only).
    box = page.locator("#question textarea")
    box.press("Control+a")
    box.press("Backspace")
    page.wait_for_function(
        "document.querySelector('#question-counter').innerText.trim().startsWith('0 / 2,000')")
    box.press_sequentially("abc")
    box.press("Backspace")
    page.wait_for_function(
        "document.querySelector('#question-counter').innerText.trim().startsWith('2 / 2,000')")


def test_conversations_last_across_reloads_and_can_be_renamed_exported_deleted(
        session: Session, tmp_path: Path) -> None:
    page = session.page
    marker = f"conv{int(time.time() * 1000) % 100000}"
    # Asked as a user would: a marker inside the question changes what the reader reads (an
    # odd token can tip it into declining), and this test is about conversations.
    first = session.ask("How long did the talks last?")
    assert first.locator(".aa-final").count() == 1
    assert first.locator("a.aa-cite").count() >= 1
    opened = page.locator("#conv-list label:has(input:checked)")
    opened.filter(has_text="1 question").wait_for()
    assert "How long did the talks last?" in opened.inner_text()
    # Renamed at once: other tests' conversations share this server's list. Rename, Export and
    # Delete are in the open conversation's menu.
    _conversation_menu(page)
    page.fill("#conv-title textarea, #conv-title input", f"Summit length {marker}")
    page.click("#conv-rename")
    page.locator("#conv-list label", has_text=f"Summit length {marker}").wait_for()
    session.ask("Where did they take place?")
    page.locator("#conv-list label", has_text="2 questions").filter(has_text=marker).wait_for()

    # A reload brings the conversation back, footnotes working, and follow-ups still follow.
    page.reload()
    page.wait_for_selector('#chat [data-testid="bot"] .aa-final')
    assert page.locator('#chat [data-testid="user"]').count() == 2
    users = page.locator('#chat [data-testid="user"]')
    assert "How long did the talks last?" in users.first.inner_text()
    assert page.locator("#conv-list label:has(input:checked)", has_text=marker).count() == 1
    page.locator('#chat [data-testid="bot"]').first.locator("a.aa-cite").first.click()
    page.locator("#source-viewer mark.aa-quote").first.wait_for()
    session.shot("12-conversation-after-reload")

    # Search, export.
    page.fill("#conv-search textarea, #conv-search input", "no-such-words-anywhere")
    page.wait_for_function("!document.querySelector('#conv-list').innerText.includes("
                           f"'{marker}')")
    page.fill("#conv-search textarea, #conv-search input", marker)
    page.locator("#conv-list label", has_text=marker).wait_for()
    _conversation_menu(page)
    with page.expect_download() as download:
        page.click("#conv-export")
    saved = tmp_path / "conversation.md"
    download.value.save_as(saved)
    markdown = saved.read_text(encoding="utf-8")
    assert markdown.startswith(f"# Summit length {marker}")
    assert "**Q:** How long did the talks last?" in markdown
    assert re.search(r"^> \[1\] “.+” — ", markdown, re.M), markdown

    # A new conversation is a new entry; deleting asks first.
    page.click("#new-chat")
    page.wait_for_function("document.querySelectorAll('#chat [data-testid=\"user\"]').length == 0")
    session.ask(f"Who met at the summit ({marker})?")
    page.locator("#conv-list label", has_text=f"Who met at the summit ({marker})").wait_for()
    _conversation_menu(page)
    page.click("#conv-delete")
    page.locator("#conv-delete-yes").wait_for(state="visible")
    page.click("#conv-delete-yes")
    page.wait_for_function("!document.querySelector('#conv-list').innerText.includes("
                           f"'Who met at the summit ({marker})')")
    assert page.locator("#conv-list label", has_text=f"Summit length {marker}").count() == 1
    assert page.locator('#chat [data-testid="user"]').count() == 0


def _conversation_menu(page: Any) -> None:
    """Open the open conversation's menu (Rename, Export, Delete), unless it is open."""
    page.locator("#conv-menu").wait_for(state="visible")
    if not page.locator("#conv-rename").is_visible():
        page.click("#conv-menu")
        page.locator("#conv-rename").wait_for(state="visible")


def test_every_retrieved_passage_is_on_view_and_an_abstention_says_why(session: Session) -> None:
    answer = session.ask("Where did the talks take place?")
    panel = answer.locator("details.aa-passages")
    assert panel.count() == 1 and panel.get_attribute("open") is None
    summary = panel.locator("summary").first
    count = int(re.search(r"\((\d+)\)", summary.inner_text()).group(1))
    assert count >= 2
    summary.click()
    items = panel.locator("li.aa-retrieved")
    assert items.count() == count
    used = panel.locator("li.aa-used")
    assert used.count() >= 1 and "Quoted in the answer as [1]" in used.first.inner_text()
    assert used.first.locator(".aa-verdict").inner_text() == "Quoted"
    # In words; the scores wait behind Details.
    assert "dense" not in items.first.inner_text()
    panel.locator("details.aa-scores > summary").click()
    assert re.search(r"dense\s+lexical\s+fused\s+reader", panel.locator("table").inner_text())
    assert re.search(r"1\s+\d\.\d\d\s+\d+\.\d\d\s+\d\.\d{3}",
                     panel.locator("table tbody").inner_text())
    unused = panel.locator("li.aa-unused .aa-verdict")
    if unused.count():
        assert unused.first.inner_text() in ("Not needed", "Says something else",
                                             "About something else")
    answer.screenshot(path=str(SHOTS / "13-retrieved-passages.png"))

    declined = session.ask("What is the boiling point of tungsten?")  # see the test above
    assert declined.locator(".aa-abstain").count() == 1
    panel = declined.locator("details.aa-passages")
    assert panel.get_attribute("open") is None, "folded, so the decline stays in view"
    panel.locator("summary").first.click()
    first = panel.locator("li.aa-retrieved").first
    assert "does not answer" in first.inner_text() or "little in common" in first.inner_text()


def test_feedback_is_kept_and_exported_as_a_dataset_that_eval_runs(
        session: Session, tmp_path: Path, user_articles: Path) -> None:
    page = session.page
    # Only this test rates answers on the test server.
    session.ask("Where did the talks take place?")
    page.locator('#chat button[aria-label="Like"]').last.click()
    page.locator("#feedback-status .aa-status-ok").wait_for()
    page.locator("#feedback-note-row").wait_for(state="visible")
    session.ask("How long did the talks last?")
    page.locator('#chat button[aria-label="Dislike"]').last.click()
    page.wait_for_function("document.querySelector('#feedback-status').innerText"
                           ".includes('poor answer')")
    page.fill("#feedback-note textarea, #feedback-note input", "It should give both figures.")
    page.click("#feedback-save")
    page.wait_for_function("document.querySelector('#feedback-status').innerText"
                           ".includes('Note saved')")

    session.tab("settings")
    assert "rated answer" in page.locator("#feedback-summary").inner_text()
    with page.expect_download() as download:
        page.click("#feedback-export")
    dataset = tmp_path / "from-feedback"
    dataset.mkdir()
    download.value.save_as(dataset / "questions.jsonl")
    items = [json.loads(line) for line in (dataset / "questions.jsonl").read_text().splitlines()]
    assert len(items) == 2
    liked, disliked = items
    assert "liked" in liked["tags"] and liked["answers"] and liked["evidence"]
    assert "review" in disliked["tags"] and disliked["note"] == "It should give both figures."

    result = run_cli("eval", "--dataset", str(dataset), "--articles", str(user_articles),
                     "--no-independent", "--thresholds", "none", "--json", timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [q["id"] for q in report["questions"]] == [liked["id"], disliked["id"]]


def test_ask_about_one_article_limits_the_citations_to_it(session: Session) -> None:
    page = session.page
    session.tab("articles")
    page.click("#remove-choice input")
    option = page.get_by_role("option").filter(has_text="Putin").first  # a user article
    title = option.inner_text().strip().rsplit(" (", 1)[0]  # "TITLE (ARTICLE_ID)"
    word = re.findall(r"[A-Za-z]{5,}", title)[0]
    option.click()
    page.keyboard.press("Escape")
    page.click("#ask-about")
    page.locator("#chat").wait_for(state="visible")  # back on the Chat tab
    # The scope: chosen in its panel, named on the chip beside the question box.
    assert word in page.locator("#scope").text_content()
    # The chip is renamed by the page's script after the choice lands: wait for it, not a moment.
    from playwright.sync_api import expect

    expect(page.locator("#scope-chip")).to_contain_text(title[:10], timeout=10_000)
    answer = session.ask("How long did the talks last?")
    sources = answer.locator(".aa-source-title")
    assert sources.count() >= 1, answer.inner_text()
    assert {sources.nth(i).inner_text() for i in range(sources.count())} == {title}
    assert answer.locator(".aa-conflict").count() == 0  # the other article is out of scope
    session.shot("14-scoped-question")


@pytest.mark.parametrize("size", [(1366, 900), (390, 844)], ids=["desktop", "phone"])
def test_every_tab_passes_axe_with_no_serious_or_critical_violation(
        browser: Any, server: str, size: tuple[int, int]) -> None:
    """axe-core (the axe-playwright-python package, which ships it) in Chromium, on each tab
    with an answer, its citations and its retrieved passages on screen. Screenshots of each tab
    at both sizes go to artifacts/screenshots/ for review."""
    from axe_playwright_python.sync_playwright import Axe

    session = Session(browser, server, size)
    page = session.page
    try:
        session.ask("How long did the talks last?")
        axe = Axe()
        found = {}
        for tab in ("chat", "articles", "settings"):
            page.click(f"#tab-{tab}-button")
            page.wait_for_timeout(500)
            page.screenshot(path=str(SHOTS / f"tab-{tab}-{size[0]}x{size[1]}.png"), full_page=True)
            violations = axe.run(page).response["violations"]
            found[tab] = [(v["id"], [n["target"] for n in v["nodes"][:3]]) for v in violations
                          if v["impact"] in ("serious", "critical")]
        assert found == {"chat": [], "articles": [], "settings": []}, found
    finally:
        session.close()


def test_on_a_phone_a_footnote_opens_a_bottom_sheet_that_takes_focus_and_gives_it_back(
        browser: Any, server: str) -> None:
    session = Session(browser, server, (390, 844))
    page = session.page
    try:
        assert not page.locator("#aa-viewer-col").is_visible()  # no empty viewer on a phone
        answer = session.ask("Where did the talks take place?")
        answer.locator(".aa-text a.aa-cite").first.click()
        page.locator("#source-viewer .aa-viewer-cited").wait_for()
        page.wait_for_function("document.activeElement?.closest('.aa-viewer-cited') != null")
        box = page.locator("#aa-viewer-col").bounding_box()
        assert box is not None and abs(box["y"] + box["height"] - 844) <= 2, box  # a bottom sheet
        assert page.locator("#source-viewer").get_attribute("class") is not None
        assert page.locator(".aa-viewer-cited").get_attribute("aria-live") == "polite"
        page.screenshot(path=str(SHOTS / "15-phone-source-sheet.png"))
        page.click("#source-viewer a.aa-back")
        page.locator("#aa-viewer-col").wait_for(state="hidden")
        assert page.evaluate("document.activeElement?.classList.contains('aa-cite')")
    finally:
        session.close()


def test_test_connection_lists_the_models_and_settings_are_kept_by_the_browser(
        session: Session) -> None:
    from slow_llm import SlowLLM

    page = session.page
    session.tab("settings")
    page.get_by_label("An OpenAI-compatible endpoint").check()
    dead = f"http://127.0.0.1:{free_port()}/v1"
    page.fill("#base-url textarea, #base-url input", dead)
    page.fill("#model textarea, #model input", "slow")
    page.click("#test-connection")
    page.locator("#settings-status .aa-status-error").wait_for()
    assert "cannot reach the LLM server" in page.locator("#settings-status").inner_text()
    with SlowLLM() as llm:
        page.fill("#base-url textarea, #base-url input", llm.url)
        page.click("#test-connection")
        page.locator("#settings-status .aa-status-ok").wait_for()
        assert f"Connected to {llm.url}: 1 model: slow." in \
            page.locator("#settings-status").inner_text()
        page.click("#apply-settings")
        page.wait_for_function("document.querySelector('#settings-status').innerText"
                               ".startsWith('Applied')")
        page.reload()
        page.wait_for_selector("#chat")
        session.tab("settings")
        page.wait_for_function("document.querySelector('#settings-status').innerText"
                               ".includes('Restored from this browser')")
        assert page.input_value("#base-url textarea, #base-url input") == llm.url
        assert page.get_by_label("An OpenAI-compatible endpoint").is_checked()


def test_articles_can_be_filtered_sorted_opened_deleted_and_restored(session: Session,
                                                                     tmp_path: Path) -> None:
    page = session.page
    title = "Westbrook Bakery Wins the Regional Bread Prize"
    article = tmp_path / "westbrook-bakery.md"
    article.write_text(
        f"---\ntitle: {title}\ndate: 2031-03-04\n---\n\nThe Westbrook bakery won the regional "
        "bread prize on Sunday with a rye loaf, judges said.\n\nOwner Tamsin Holt said the prize "
        "money of 4,000 pounds will buy a second oven.\n", encoding="utf-8")
    assert "1 article added" in _upload(session, article)
    rows = page.locator("#articles-table tbody tr")
    everything = rows.count()

    # Filter, and sort newest first (2031 is later than every other article here).
    page.fill("#articles-filter textarea, #articles-filter input", "westbrook bakery")
    page.wait_for_function("document.querySelectorAll('#articles-table tbody tr').length == 1")
    assert title in rows.first.inner_text() and "4 Mar 2031" in rows.first.inner_text()
    page.fill("#articles-filter textarea, #articles-filter input", "")
    page.wait_for_function(f"document.querySelectorAll('#articles-table tbody tr').length == "
                           f"{everything}")
    page.get_by_label("Newest").check()
    page.wait_for_function("document.querySelector('#articles-table tbody tr')"
                           f".innerText.includes('{title}')")
    page.get_by_label("Title").check()
    page.wait_for_function("!document.querySelector('#articles-table tbody tr')"
                           f".innerText.includes('{title}')")  # W is not first by title
    titles = [rows.nth(i).locator(".aa-col-title").inner_text() for i in range(rows.count())]
    assert titles == sorted(titles, key=str.lower)

    # Open it, then ask about it.
    row = page.locator("#articles-table tbody tr", has_text=title)
    row.locator("button.aa-row-open").click()
    page.locator("#article-view .aa-article-view", has_text="second oven").wait_for()
    page.click("#article-ask")
    page.locator("#chat").wait_for(state="visible")
    assert "Westbrook" in page.locator("#scope").text_content()
    # The chip follows the scope's change event, one round trip later.
    from playwright.sync_api import expect

    expect(page.locator("#scope-chip")).to_contain_text("Westbrook", timeout=10_000)
    session.tab("articles")

    # Delete asks first; Undo brings it back from its file. The header's count follows both
    # (it stayed as it was until a reload).
    counted = page.locator("#aa-header").inner_text()
    row.locator("button.aa-row-delete").click()
    page.locator("#article-delete-confirm").wait_for(state="visible")
    assert title in page.locator("#article-delete-question").inner_text()
    page.click("#article-delete-yes")
    page.locator("#article-status", has_text=f"Removed “{title}”.").wait_for()
    assert page.locator("#articles-table tbody tr", has_text=title).count() == 0
    page.wait_for_function(f"!document.querySelector('#aa-header').innerText"
                           f".includes({json.dumps(counted.split(' · ')[0])})")
    page.click("#article-undo")
    page.locator("#article-status", has_text="Restored.").wait_for()
    page.locator("#articles-table tbody tr", has_text=title).wait_for()
    page.wait_for_function(f"document.querySelector('#aa-header').innerText"
                           f".includes({json.dumps(counted.split(' · ')[0])})")
    session.shot("16-articles-tab")


def test_copy_with_sources_puts_the_answer_and_its_quotes_on_the_clipboard(
        browser: Any, server: str) -> None:
    session = Session(browser, server, (1366, 900), ("clipboard-read", "clipboard-write"))
    page = session.page
    try:
        answer = session.ask("Where did the talks take place?")
        answer.locator("a.aa-copy").click()
        answer.locator("a.aa-copy", has_text="Copied").wait_for()
        copied = page.evaluate("navigator.clipboard.readText()")
        text = _norm(answer.locator(".aa-text").inner_text())
        assert copied.split("\n")[0].split(" [")[0] in text, copied
        assert "\nSources:\n[1] “" in copied and "” — " in copied, copied
    finally:
        session.close()
