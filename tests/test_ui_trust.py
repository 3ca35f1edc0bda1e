"""A chat you can trust at a glance (issue #23), in a real browser: a tentative answer looks
unlike a confident one, a decline stays in view, a follow-up after a decline or a tentative
answer is not read with its words, and axe-core still finds nothing serious.

Two real `assistant serve` processes over copies of one store of the user's articles: one whose
reader model copy answers plainly whenever it answers (conftest's sure_model: its calibration's
`plain_from` very low), one whose copy is never sure (unsure_model: very high), so which kind of
answer comes is decided by the model's own calibration file, not by where one question falls
in the shipped band. The model file and its `model_sha256` are untouched. Screenshots of each kind of
turn at 1366x900 and 390x844 go to artifacts/screenshots/trust-*.png."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import require, run_cli
from test_ui_browser import CHROMIUM, CHROMIUM_ARGS, SHOTS, Session, serving

from assistant import ABSTAIN_TEXT

pytestmark = pytest.mark.browser

CONFIDENT = "Where did Trump and Putin meet?"
CONFLICT = "How long did the talks last?"
DECLINED = "What is the boiling point of tungsten?"  # the user's articles never say
FOLLOW_UP = "How long did they talk there?"

# The nearest scrollable ancestor of an element (the chat's message list), as a rect.
SCROLLER_JS = """(el) => {
  let node = el.parentElement;
  while (node && !(node.scrollHeight > node.clientHeight + 1 &&
                   /(auto|scroll)/.test(getComputedStyle(node).overflowY))) node = node.parentElement;
  const r = (node || document.documentElement).getBoundingClientRect();
  return {top: r.top, bottom: r.bottom};
}"""


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, user_articles: Path) -> tuple[Path, Path]:
    require(CHROMIUM.exists(), f"Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    store = tmp_path_factory.mktemp("trust-store")
    result = run_cli("ingest", str(user_articles), "--store", str(store))
    assert result.returncode == 0, result.stderr
    # Each server its own copy: conversations are written as the tests ask.
    unsure = tmp_path_factory.mktemp("trust-store-unsure") / "store"
    shutil.copytree(store, unsure)
    return store, unsure


@pytest.fixture(scope="module")
def sure_server(stores: tuple[Path, Path], sure_model: Path) -> Iterator[str]:
    """Answers plainly whenever the reader answers at all (declines are unchanged)."""
    with serving(stores[0], {"ASSISTANT_READER_MODEL": str(sure_model)}) as url:
        yield url


@pytest.fixture(scope="module")
def unsure_server(stores: tuple[Path, Path], unsure_model: Path) -> Iterator[str]:
    """Never sure: every answer is tentative."""
    with serving(stores[1], {"ASSISTANT_READER_MODEL": str(unsure_model)}) as url:
        yield url


@pytest.fixture(scope="module")
def browser(stores: tuple[Path, Path]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _session(browser: Any, url: str, size: tuple[int, int] = (1366, 900)) -> Session:
    return Session(browser, url, size)


def _checked_close(session: Session) -> None:
    try:
        assert not session.errors, f"page errors: {session.errors}"
        assert not session.external, f"the page reached beyond this machine: {session.external[:5]}"
    finally:
        session.close()


def _card_style(turn: Any) -> dict[str, str]:
    """How the answer's card looks: the chat's message bubble around it, and its text."""
    return turn.locator(".aa-final").evaluate(
        "(el) => { const card = getComputedStyle(el.closest('.message') || el); "
        "const text = getComputedStyle(el.querySelector('.aa-text') || el); "
        "return {background: card.backgroundColor, border: card.borderTopStyle, "
        "color: text.color}; }")


def _settled(page: Any, element: Any, timeout_s: float = 15.0) -> None:
    """Wait until `element` has stood still for three looks 200 ms apart: a loaded machine
    scrolls late, and a fixed pause (1.2 s here once) was sometimes too short."""
    deadline = time.monotonic() + timeout_s
    last, still = None, 0
    while still < 3 and time.monotonic() < deadline:
        box = element.bounding_box()
        where = None if box is None else (round(box["x"]), round(box["y"]))
        still = still + 1 if where is not None and where == last else 0
        last = where
        page.wait_for_timeout(200)


def _in_view(page: Any, element: Any, size: tuple[int, int]) -> None:
    """`element` is on screen: inside the window and not scrolled out of the chat's list."""
    _settled(page, element)  # the chat has finished the scrolling it does after an answer
    box = element.bounding_box()
    assert box is not None
    assert 0 <= box["y"] and box["y"] + box["height"] <= size[1], (box, size)
    scroller = element.evaluate(SCROLLER_JS)
    assert scroller["top"] - 1 <= box["y"] and box["y"] + box["height"] <= scroller["bottom"] + 1, \
        (box, scroller)


def test_a_tentative_answer_is_a_quieter_card_than_a_confident_one(
        browser: Any, sure_server: str, unsure_server: str) -> None:
    sure = _session(browser, sure_server)
    unsure = _session(browser, unsure_server)
    try:
        confident = sure.ask(CONFIDENT)
        assert confident.locator(".aa-final").count() == 1, confident.inner_text()
        assert confident.locator(".aa-tentative").count() == 0
        assert confident.locator(".aa-short strong").count() == 1, "a plain answer leads in bold"

        tentative = unsure.ask(CONFIDENT)
        card = tentative.locator(".aa-final.aa-tentative")
        assert card.count() == 1, tentative.inner_text()
        # Taller than the chat, it is shown from its start, where it says it is unsure.
        _in_view(unsure.page, card.locator(".aa-tentative-title"), (1366, 900))
        # In words, not only in colour: a "Not sure" title and a sentence saying why.
        assert card.locator(".aa-tentative-title").inner_text().strip() == "Not sure"
        assert "may not answer" in card.locator(".aa-tentative-why").inner_text()
        # No bold short answer; the closest quote, with its footnote pill that opens it.
        assert card.locator(".aa-short").count() == 0
        text = card.locator(".aa-text")
        assert text.inner_text().startswith("The closest passage says “"), text.inner_text()
        pill = text.locator("a.aa-cite")
        assert pill.count() >= 1
        pill.first.click()
        unsure.page.locator("#source-viewer blockquote mark.aa-quote").wait_for()
        # And it looks different: its own background and border, not the confident card's.
        assert _card_style(tentative) != _card_style(confident), (
            _card_style(tentative), _card_style(confident))

        # A tentative turn is no context for the next question either.
        follow = unsure.ask(FOLLOW_UP)
        assert follow.locator(".aa-rewrite").count() == 0, follow.inner_text()
    finally:
        _checked_close(sure)
        _checked_close(unsure)


@pytest.mark.parametrize("size", [(1366, 900), (390, 844)], ids=["desktop", "phone"])
def test_a_decline_is_in_view_when_it_arrives_with_its_passages_folded(
        browser: Any, sure_server: str, size: tuple[int, int]) -> None:
    session = _session(browser, sure_server, size)
    page = session.page
    try:
        session.ask(CONFIDENT)  # a turn above it, so the chat has somewhere to scroll
        declined = session.ask(DECLINED)
        callout = declined.locator(".aa-callout.aa-abstain")
        assert callout.count() == 1 and ABSTAIN_TEXT in callout.inner_text()
        _in_view(page, callout, size)
        passages = declined.locator("details.aa-passages")
        assert passages.count() == 1 and passages.get_attribute("open") is None, \
            "the closest passages are folded under the decline"
        # Opened on request, they say in words why none of them answered.
        passages.locator("summary").first.click()
        verdicts = passages.locator(".aa-verdict")
        assert verdicts.count() >= 1
        assert {verdicts.nth(i).inner_text() for i in range(verdicts.count())} <= \
            {"Says something else", "About something else"}
    finally:
        _checked_close(session)


def test_a_follow_up_after_a_decline_is_not_read_with_it(browser: Any, sure_server: str) -> None:
    session = _session(browser, sure_server)
    try:
        first = session.ask(CONFIDENT)
        assert first.locator(".aa-final").count() == 1, first.inner_text()
        assert first.locator(".aa-tentative, .aa-abstain").count() == 0, first.inner_text()
        declined = session.ask(DECLINED)
        assert declined.locator(".aa-abstain").count() == 1, declined.inner_text()
        follow = session.ask(FOLLOW_UP)
        rewrite = follow.locator(".aa-rewrite")
        assert rewrite.count() == 1, follow.inner_text()
        read_as = rewrite.inner_text()
        # Read with the answered question's subject, never with the declined one's words.
        assert "Trump" in read_as and "Putin" in read_as, read_as
        for word in ("tungsten", "boiling", "point"):
            assert word not in read_as.lower(), read_as

        # A follow-up straight after a decline, in a new conversation, is read as asked.
        session.page.click("#new-chat")
        session.page.wait_for_function(
            "document.querySelectorAll('#chat [data-testid=\"user\"]').length == 0")
        session.ask(DECLINED)
        alone = session.ask("Where did they take place?")
        assert alone.locator(".aa-rewrite").count() == 0, alone.inner_text()
    finally:
        _checked_close(session)


def test_sources_are_explained_in_plain_words_with_the_numbers_behind_details(
        browser: Any, sure_server: str) -> None:
    session = _session(browser, sure_server)
    page = session.page
    try:
        answer = session.ask(CONFIDENT)
        panel = answer.locator("details.aa-passages")
        panel.locator("summary").first.click()
        items = panel.locator("li.aa-retrieved")
        assert items.count() >= 2
        words = {"Quoted", "Not needed", "Says something else", "About something else"}
        for i in range(items.count()):
            item = items.nth(i)
            assert item.locator(".aa-verdict").inner_text() in words, item.inner_text()
            assert "dense" not in item.inner_text() and "fused" not in item.inner_text()
        assert panel.locator("li.aa-used .aa-verdict").first.inner_text() == "Quoted"
        scores = panel.locator("details.aa-scores")
        assert scores.get_attribute("open") is None
        table = scores.locator("table.aa-scores-table")
        assert not table.is_visible(), "the numbers wait behind Details"
        scores.locator("summary").click()
        assert table.is_visible() and table.locator("tbody tr").count() == items.count()
        assert "dense" in table.locator("thead").inner_text()

        footer = answer.locator(".aa-meta").last.inner_text()
        assert footer.startswith("offline answer"), footer
        answer.locator(".aa-text a.aa-cite").first.click()
        viewer = page.locator("#source-viewer")
        viewer.locator("blockquote mark.aa-quote").wait_for()
        assert "match score" not in viewer.inner_text(), "an exact quote needs no match score"
        assert "Quoted word for word" in viewer.inner_text()

        session.tab("settings")
        assert page.get_by_label("Passages to read").count() >= 1
        assert "top-k" not in page.locator("#tab-settings").inner_text().lower()
    finally:
        _checked_close(session)


@pytest.mark.parametrize("size", [(1366, 900), (390, 844)], ids=["desktop", "phone"])
def test_each_kind_of_turn_passes_axe_and_is_photographed(
        browser: Any, sure_server: str, unsure_server: str, size: tuple[int, int]) -> None:
    """A plain answer, a conflict, a decline and a tentative answer, each with its passages and
    scores opened: axe-core finds no serious or critical violation, and each is photographed
    (the viewport, as a reader sees it arrive) for review."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    name = f"{size[0]}x{size[1]}"
    found: dict[str, list[Any]] = {}

    def audit(session: Session, turn: Any, kind: str) -> None:
        _settled(session.page, turn)  # the scrolling after an answer, as in _in_view
        session.page.screenshot(path=str(SHOTS / f"trust-{kind}-{name}.png"))
        turn.locator("details.aa-passages > summary").click()
        turn.locator("details.aa-scores > summary").click()
        # The passages as a reader opens them, then the scores behind Details.
        for part, selector in (("passages", "details.aa-passages"), ("scores", "details.aa-scores")):
            turn.locator(selector).evaluate("(el) => el.scrollIntoView({block: 'start'})")
            session.page.screenshot(path=str(SHOTS / f"trust-{kind}-{part}-{name}.png"))
        violations = axe.run(session.page).response["violations"]
        found[kind] = [(v["id"], [n["target"] for n in v["nodes"][:3]]) for v in violations
                       if v["impact"] in ("serious", "critical")]

    sure = _session(browser, sure_server, size)
    unsure = _session(browser, unsure_server, size)
    try:
        audit(sure, sure.ask(CONFIDENT), "answer")
        conflict = sure.ask(CONFLICT)
        assert conflict.locator(".aa-conflict").count() == 1, conflict.inner_text()
        audit(sure, conflict, "conflict")
        audit(sure, sure.ask(DECLINED), "decline")
        tentative = unsure.ask(CONFIDENT)
        assert tentative.locator(".aa-tentative").count() == 1, tentative.inner_text()
        audit(unsure, tentative, "tentative")
        assert found == {"answer": [], "conflict": [], "decline": [], "tentative": []}, found
    finally:
        _checked_close(sure)
        _checked_close(unsure)
