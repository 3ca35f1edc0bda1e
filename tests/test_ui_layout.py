"""Chat first, on a desktop (1366x900) and a phone (390x844), in a real browser (issue #23): the
question box on a phone's first screen, pinned to its bottom, with the scope as a chip beside
it; the Try questions above the fold in the empty state; the conversations in a drawer opened
from the header on a phone, their Rename, Export and Delete in a menu; an Articles table that
fits without a horizontal scroll (a row menu on a phone), placeholders that are not cut off,
and an upload hint that names every type ingest accepts. Every check is on the page's real
geometry. axe-core at zero serious or critical violations in each of these states, each one
photographed at both sizes (artifacts/screenshots/layout-*.png).

The server and the browser are test_ui_browser's fixtures (the user's articles, a reader that
answers plainly); this module gets its own server, so its conversations are its own."""

from __future__ import annotations

from typing import Any

import pytest
from test_ui_browser import SHOTS, Session, browser, server  # noqa: F401 (fixtures)

from index.loaders import SUPPORTED_SUFFIXES

pytestmark = pytest.mark.browser

DESKTOP = (1366, 900)
PHONE = (390, 844)
SIZES = pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
QUESTION = "How long did the talks last?"

# The rectangle of the first element matching a selector, or null.
RECT_JS = """(selector) => {
  const el = document.querySelector(selector);
  if (!el) return null;
  const r = el.getBoundingClientRect();
  return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height};
}"""

# Whether what the user sees at an element's centre is that element (not something over it).
ON_TOP_JS = """(el) => {
  const r = el.getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return !!hit && (hit === el || el.contains(hit));
}"""

# How wide a text field's placeholder is, set in the field's own font, against the room for it.
PLACEHOLDER_JS = """(el) => {
  const style = getComputedStyle(el);
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  return {text: el.placeholder, width: ctx.measureText(el.placeholder).width,
          room: el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)};
}"""

# Horizontal overflow of the page and of the articles table's box.
OVERFLOW_JS = """() => {
  const page = document.documentElement, wrap = document.querySelector('#articles-table .aa-table-wrap');
  const table = wrap.querySelector('table');
  return {page: [page.scrollWidth, page.clientWidth], wrap: [wrap.scrollWidth, wrap.clientWidth],
          table: table.getBoundingClientRect().width, wrapRight: wrap.getBoundingClientRect().right,
          wrapLeft: wrap.getBoundingClientRect().left};
}"""


def _rect(page: Any, selector: str) -> dict[str, float]:
    rect = page.evaluate(RECT_JS, selector)
    assert rect is not None, f"{selector} is not on the page"
    return rect


def _box(locator: Any) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None, f"{locator} is not rendered"
    return box


def _on_screen(page: Any, locator: Any, size: tuple[int, int]) -> dict[str, float]:
    """`locator` lies inside the window, without scrolling, and nothing covers its centre."""
    box = _box(locator)
    assert 0 <= box["x"] and box["x"] + box["width"] <= size[0] + 0.5, (box, size)
    assert 0 <= box["y"] and box["y"] + box["height"] <= size[1] + 0.5, (box, size)
    assert locator.evaluate(ON_TOP_JS), f"something covers {locator}"
    return box


def _checked_close(session: Session) -> None:
    try:
        assert not session.errors, f"page errors: {session.errors}"
        assert not session.external, f"the page reached beyond this machine: {session.external[:5]}"
    finally:
        session.close()


def _placeholder_fits(page: Any, selector: str) -> None:
    field = page.locator(selector)
    measured = field.evaluate(PLACEHOLDER_JS)
    assert measured["text"], f"{selector} has no placeholder"
    assert measured["width"] <= measured["room"], f"{selector}'s placeholder is cut off: {measured}"


def _open_drawer(page: Any) -> None:
    """The header's button, then the drawer's slide to its place."""
    page.click("#aa-drawer-open")
    page.wait_for_function("document.querySelector('#aa-conversations')"
                           ".getBoundingClientRect().left >= 0")


def _conversation_menu(page: Any, size: tuple[int, int]) -> None:
    """The open conversation's menu: in the tab bar's line over the chat's right edge, beside
    the tabs, not over them; Rename, Delete and Export only once it is opened; Escape closes
    it again, the focus back on its button."""
    menu = page.locator("#conv-menu")
    box = _on_screen(page, menu, size)
    chat = _rect(page, "#aa-chat-box")
    assert box["y"] + box["height"] <= chat["top"], (box, chat)
    assert abs(box["x"] + box["width"] - chat["right"]) <= 2, (box, chat)
    last_tab = _rect(page, "#tab-settings-button")
    assert last_tab["right"] <= box["x"], ("over the tabs", box, last_tab)
    title = page.locator("#conv-title input, #conv-title textarea")
    assert not title.is_visible() and not page.locator("#conv-delete").is_visible()
    menu.click()
    assert menu.get_attribute("aria-expanded") == "true"
    for selector in ("#conv-title", "#conv-rename", "#conv-delete", "#conv-export"):
        _on_screen(page, page.locator(selector), size)
    assert title.input_value() == QUESTION
    page.keyboard.press("Escape")
    title.wait_for(state="hidden")
    assert page.evaluate("document.activeElement?.id") == "conv-menu"
    menu.click()
    title.wait_for(state="visible")


def _serious(page: Any) -> list[Any]:
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    return [(v["id"], [n["target"] for n in v["nodes"][:3]]) for v in violations
            if v["impact"] in ("serious", "critical")]


def test_on_a_phone_the_question_box_is_on_the_first_screen_pinned_with_the_scope_beside_it(
        browser: Any, server: str) -> None:  # noqa: F811
    session = Session(browser, server, PHONE)
    page = session.page
    try:
        assert page.evaluate("window.scrollY") == 0
        box = page.locator("#question textarea")
        question = _on_screen(page, box, PHONE)
        # Pinned to the bottom of the screen, not merely near it.
        bar = _rect(page, "#aa-ask-bar")
        assert abs(bar["bottom"] - PHONE[1]) <= 1, bar
        assert page.locator("#aa-ask-bar").evaluate("(el) => getComputedStyle(el).position") \
            == "fixed"
        # The scope is a compact chip beside the box, not a field above it.
        chip = page.locator("#scope-chip")
        chip_box = _on_screen(page, chip, PHONE)
        assert chip_box["height"] <= 56, chip_box
        assert chip_box["x"] + chip_box["width"] <= question["x"], (chip_box, question)
        middle = chip_box["y"] + chip_box["height"] / 2
        assert question["y"] <= middle <= question["y"] + question["height"], (chip_box, question)
        assert chip.inner_text().startswith("All articles")
        assert not page.locator("#scope input").is_visible(), "the scope's choices wait behind it"

        # The chip opens the choices above the bar; choosing one names it on the chip.
        chip.click()
        assert chip.get_attribute("aria-expanded") == "true"
        choices = page.locator("#scope")
        choices_box = _on_screen(page, choices, PHONE)
        assert choices_box["y"] + choices_box["height"] <= bar["top"], (choices_box, bar)
        page.locator("#scope input").click()
        option = page.get_by_role("option").first
        title = option.inner_text().strip()
        option.click()
        page.keyboard.press("Escape")
        page.wait_for_function(
            "!document.querySelector('#scope-chip').innerText.startsWith('All articles')")
        assert title[:10] in chip.inner_text(), (title, chip.inner_text())
        page.wait_for_function("!document.querySelector('#aa-ask-bar').hasAttribute('data-open')")

        # After a long answer, with the page scrolled to its end, the box is still on screen.
        session.ask(QUESTION)
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        _on_screen(page, box, PHONE)
        assert abs(_rect(page, "#aa-ask-bar")["bottom"] - PHONE[1]) <= 1
        # And the chat's box ends above the bar: its last lines are not hidden under it.
        page.evaluate("window.scrollTo(0, 0)")
        chat = _rect(page, "#aa-chat-box")
        assert chat["bottom"] <= _rect(page, "#aa-ask-bar")["top"] + 1, chat
    finally:
        _checked_close(session)


@SIZES
def test_try_questions_are_above_the_fold_in_the_empty_state(
        browser: Any, server: str, size: tuple[int, int]) -> None:  # noqa: F811
    session = Session(browser, server, size)
    page = session.page
    try:
        assert page.evaluate("window.scrollY") == 0
        examples = page.locator("button.aa-example:visible")
        assert examples.count() >= 1, "a first-time user sees example questions"
        chat_box = _rect(page, "#aa-chat-box")
        question = _on_screen(page, page.locator("#question textarea"), size)
        for i in range(examples.count()):
            example = _on_screen(page, examples.nth(i), size)
            # In the empty state's box, above the question box.
            assert chat_box["top"] <= example["y"] and \
                example["y"] + example["height"] <= chat_box["bottom"] + 0.5, (example, chat_box)
            assert example["y"] + example["height"] <= question["y"], (example, question)
        # The words of the empty state are on screen too, above them.
        empty = page.locator("#chat .aa-empty h3")
        assert _on_screen(page, empty, size)["y"] < _box(examples.first)["y"]

        # One of them asks; the chat's box then belongs to the conversation.
        offered = examples.first.inner_text()
        examples.first.click()
        page.wait_for_selector('#chat [data-testid="bot"] .aa-final, #chat [data-testid="bot"] .aa-error')
        assert offered in page.locator('#chat [data-testid="user"]').first.inner_text()
        assert page.locator("button.aa-example:visible").count() == 0
    finally:
        _checked_close(session)


@SIZES
def test_the_articles_table_fits_without_a_horizontal_scroll(
        browser: Any, server: str, size: tuple[int, int]) -> None:  # noqa: F811
    session = Session(browser, server, size)
    page = session.page
    try:
        session.tab("articles")
        rows = page.locator("#articles-table tbody tr")
        rows.first.wait_for()
        fit = page.evaluate(OVERFLOW_JS)
        assert fit["page"][0] <= fit["page"][1], f"the page scrolls sideways: {fit}"
        assert fit["wrap"][0] <= fit["wrap"][1], f"the table scrolls sideways: {fit}"
        assert fit["table"] <= fit["wrap"][1] + 2, fit
        _placeholder_fits(page, "#articles-filter input, #articles-filter textarea")

        first = rows.first
        if size == DESKTOP:
            # Open and Delete on every row, whole and clickable, inside the table's box.
            for i in range(rows.count()):
                for name in ("aa-row-open", "aa-row-delete"):
                    button = rows.nth(i).locator(f"button.{name}")
                    box = _on_screen(page, button, size)
                    assert fit["wrapLeft"] <= box["x"] and \
                        box["x"] + box["width"] <= fit["wrapRight"], (name, box, fit)
            assert not first.locator("details.aa-row-menu").is_visible()
            first.locator("button.aa-row-open").click()
        else:
            # On a phone: the Source column and the buttons fold into the row's menu.
            assert not first.locator("button.aa-row-open").is_visible()
            assert not first.locator("td.aa-col-source").is_visible()
            menu = first.locator("details.aa-row-menu")
            summary = menu.locator("summary")
            _on_screen(page, summary, size)
            summary.click()
            panel = menu.locator(".aa-row-menu-panel")
            _on_screen(page, panel, size)
            assert "Source" in panel.inner_text()
            for action in ("open", "delete"):
                _on_screen(page, panel.locator(f'button[data-action="{action}"]'), size)
            # Delete asks first; Keep it leaves the article.
            panel.locator('button[data-action="delete"]').click()
            page.locator("#article-delete-confirm").wait_for(state="visible")
            page.click("#article-delete-no")
            page.locator("#article-delete-confirm").wait_for(state="hidden")
            assert not menu.evaluate("(el) => el.open"), "the menu closes once used"
            summary.click()
            panel.locator('button[data-action="open"]').click()
        page.locator("#article-view .aa-article-view").wait_for()
        fit = page.evaluate(OVERFLOW_JS)
        assert fit["page"][0] <= fit["page"][1], f"an opened article scrolls sideways: {fit}"

        # The upload hint names every type ingest accepts, as the loaders list them.
        hint = page.locator("#upload-hint").inner_text()
        missing = [s for s in SUPPORTED_SUFFIXES if s not in hint.replace(",", " ").split()]
        assert not missing, (missing, hint)
    finally:
        _checked_close(session)


def test_on_a_phone_the_conversations_are_a_drawer_opened_from_the_header(
        browser: Any, server: str) -> None:  # noqa: F811
    session = Session(browser, server, PHONE)
    page = session.page
    try:
        session.ask(QUESTION)
        conversations = page.locator("#conv-list")
        assert not conversations.is_visible(), "the conversations are not on the chat's screen"
        assert not page.locator("#new-chat").is_visible()

        opener = page.locator("#aa-drawer-open")
        _on_screen(page, opener, PHONE)
        assert _box(opener)["y"] + _box(opener)["height"] <= _rect(page, "#aa-tabs")["top"], \
            "the button is in the header"
        _open_drawer(page)
        assert opener.get_attribute("aria-expanded") == "true"
        drawer = page.locator("#aa-conversations")
        box = _box(drawer)
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE[0] and box["height"] >= PHONE[1] - 1
        entry = conversations.locator("label", has_text=QUESTION).first
        _on_screen(page, entry, PHONE)
        _placeholder_fits(page, "#conv-search input, #conv-search textarea")
        page.wait_for_function("document.activeElement?.closest('#aa-conversations') != null")

        # Escape closes it and gives the focus back to the header's button.
        page.keyboard.press("Escape")
        page.wait_for_function("!document.querySelector('#aa-conversations').hasAttribute('data-open')")
        conversations.wait_for(state="hidden")
        assert page.evaluate("document.activeElement?.id") == "aa-drawer-open"
        assert opener.get_attribute("aria-expanded") == "false"

        # New conversation, in the drawer, empties the chat and closes it.
        _open_drawer(page)
        _on_screen(page, page.locator("#new-chat"), PHONE)
        page.click("#new-chat")
        page.wait_for_function("document.querySelectorAll('#chat [data-testid=\"user\"]').length == 0")
        conversations.wait_for(state="hidden")

        # A click on the dimmed page beside it closes it, and only that: here, on a Try question
        # (or the Ask button) that the drawer leaves uncovered, which does not ask.
        _open_drawer(page)
        edge = _box(drawer)["x"] + _box(drawer)["width"]
        beside = page.evaluate(
            """(edge) => [...document.querySelectorAll('button.aa-example, #ask')]
                .map((b) => b.getBoundingClientRect()).filter((r) => r.width && r.right > edge + 10)
                .map((r) => [r.right - 6, r.top + r.height / 2])[0] || null""", edge)
        assert beside is not None
        page.mouse.click(*beside)
        conversations.wait_for(state="hidden")
        page.wait_for_timeout(800)
        assert page.locator('#chat [data-testid="user"]').count() == 0, "the click went through"

        # Choosing a conversation opens it in the chat and closes the drawer.
        _open_drawer(page)
        entry.click()
        page.locator('#chat [data-testid="user"]', has_text=QUESTION).first.wait_for()
        conversations.wait_for(state="hidden")

        # Its Rename, Export and Delete wait in a menu on it, outside the drawer.
        _conversation_menu(page, PHONE)
    finally:
        _checked_close(session)


def test_on_a_desktop_the_conversations_are_a_sidebar_with_a_menu_on_the_open_one(
        browser: Any, server: str) -> None:  # noqa: F811
    session = Session(browser, server, DESKTOP)
    page = session.page
    try:
        assert not page.locator("#aa-drawer-open").is_visible()
        _on_screen(page, page.locator("#conv-search input, #conv-search textarea"), DESKTOP)
        _placeholder_fits(page, "#conv-search input, #conv-search textarea")
        sidebar = _box(page.locator("#aa-conversations"))
        assert sidebar["x"] + sidebar["width"] <= _box(page.locator("#aa-chat-box"))["x"]
        assert not page.locator("#conv-menu").is_visible(), "no conversation open, no menu"
        session.ask(QUESTION)
        _conversation_menu(page, DESKTOP)
        # A click elsewhere closes it.
        page.locator("#chat .aa-final").first.click(position={"x": 5, "y": 5})
        page.locator("#conv-title input, #conv-title textarea").wait_for(state="hidden")
    finally:
        _checked_close(session)


@SIZES
def test_every_state_passes_axe_and_is_photographed(
        browser: Any, server: str, size: tuple[int, int]) -> None:  # noqa: F811
    """Each state of the chat-first layout at this size: axe-core finds no serious or critical
    violation, and a screenshot of the window goes to artifacts/screenshots/layout-*.png."""
    name = f"{size[0]}x{size[1]}"
    phone = size == PHONE
    found: dict[str, list[Any]] = {}
    session = Session(browser, server, size)
    page = session.page

    def state(kind: str) -> None:
        page.wait_for_timeout(400)  # the drawer's slide and the chat's scrolling
        page.screenshot(path=str(SHOTS / f"layout-{kind}-{name}.png"))
        found[kind] = _serious(page)

    try:
        state("empty-chat")
        page.click("#scope-chip")
        page.locator("#scope").wait_for(state="visible")
        state("scope-open")
        page.keyboard.press("Escape")
        page.locator("#scope").wait_for(state="hidden")
        session.ask(QUESTION)
        state("answer")
        page.click("#conv-menu")
        page.locator("#conv-rename").wait_for(state="visible")
        state("conversation-menu")
        page.keyboard.press("Escape")
        page.locator("#conv-rename").wait_for(state="hidden")
        if phone:
            _open_drawer(page)
            state("drawer")
            page.keyboard.press("Escape")
            page.locator("#conv-list").wait_for(state="hidden")
        session.tab("articles")
        page.locator("#articles-table tbody tr").first.wait_for()
        state("articles")
        if phone:
            page.locator("details.aa-row-menu summary").first.click()
            page.locator(".aa-row-menu-panel").first.wait_for(state="visible")
            state("article-menu")
            page.locator('.aa-row-menu-panel button[data-action="open"]').first.click()
        else:
            page.locator("button.aa-row-open").first.click()
        page.locator("#article-view .aa-article-view").wait_for()
        page.locator("#article-view").scroll_into_view_if_needed()
        state("article-open")
        session.tab("settings")
        state("settings")
        assert len(found) == (9 if phone else 7), found.keys()
        assert not any(found.values()), found
    finally:
        _checked_close(session)
