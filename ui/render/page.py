"""The rest of the page: its header and the conversations drawer's head, the scope chip, status
callouts, example questions, the question counter and the conversations list's labels."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence

from assistant import Source
from ui.render.articles import corpus_summary
from ui.render.markup import esc

# Title separators that end a headline's main clause ("A; B", "A: B", "A | Site", "A/Reuters").
_TITLE_CLAUSE = re.compile(r"\s*(?:[;:|/]|\s,|\s[-–—]\s)\s*")
EXAMPLE_TOPIC_WORDS = 9


def header_html(sources: Sequence[Source]) -> str:
    """The page's header. Its Conversations button (shown on a phone) opens the conversations
    drawer (ui.chat_js.LAYOUT_JS)."""
    # The corpus line; a phone shows only its first half ("2 articles").
    articles, passages = esc(corpus_summary(sources)).split(" · ", 1)
    summary = f'{articles} <span class="aa-corpus-more">· {passages}</span>'
    return ('<div class="aa-header"><div class="aa-brand">'
            '<button type="button" id="aa-drawer-open" class="aa-drawer-open" '
            'aria-controls="aa-conversations" aria-expanded="false" aria-label="Conversations">'
            '<span aria-hidden="true">☰</span></button>'
            '<span class="aa-logo" aria-hidden="true">❝</span>'
            '<div><h1>Article Assistant</h1><p>Short answers quoted from your news articles, '
            'every sentence with its source.</p></div></div>'
            f'<div class="aa-corpus" id="aa-corpus">{summary}</div></div>')


def drawer_head_html() -> str:
    """The conversations drawer's title and close button (shown on a phone only)."""
    return ('<div class="aa-drawer-head"><span class="aa-drawer-title">Conversations</span>'
            '<button type="button" class="aa-drawer-close" aria-label="Close conversations">'
            '<span aria-hidden="true">×</span></button></div>')


def scope_chip_label(titles: Sequence[str]) -> str:
    """The scope chip beside the question box: what a question is limited to. Plain text (a
    button's label), cut to a chip's width."""
    if not titles:
        return "All articles ▾"
    if len(titles) == 1:
        title = " ".join(titles[0].split())
        return f"{title[:14].rstrip()}… ▾" if len(title) > 15 else f"{title} ▾"
    return f"{len(titles)} articles ▾"


def status_html(kind: str, lines: Iterable[str]) -> str:
    """A status callout: kind is ok, warn, error or info."""
    items = [esc(line) for line in lines if line]
    if not items:
        return ""
    body = items[0] if len(items) == 1 else "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"
    return f'<div class="aa-status aa-status-{esc(kind)}" role="status">{body}</div>'



# --- example questions -----------------------------------------------------------------------------


def example_questions(sources: Sequence[Source], limit: int = 3) -> list[str]:
    """Questions a first-time user can click, built from the headlines of the newest articles,
    so they fit whatever corpus is loaded. A headline's main clause names its story well enough
    for retrieval to find it ("What do the articles say about “Port Alder Opens …”?")."""
    ordered = sorted(sources, key=lambda s: s.date or "", reverse=True)
    questions: list[str] = []
    seen: set[str] = set()
    for s in ordered:
        topic = _headline_topic(s.title)
        # A story ingested twice (a file and its wire copy) must not make two identical chips.
        if not topic or topic.casefold() in seen:
            continue
        seen.add(topic.casefold())
        questions.append(f"What do the articles say about “{topic}”?")
        if len(questions) == limit:
            break
    return questions


def _headline_topic(title: str) -> str:
    title = re.sub(r"\s+", " ", title or "").strip()
    clause = _TITLE_CLAUSE.split(title, maxsplit=1)[0].strip(" ,.-–—") or title
    words = clause.split()
    if len(words) > EXAMPLE_TOPIC_WORDS:
        clause = " ".join(words[:EXAMPLE_TOPIC_WORDS]) + "…"
    return clause


# --- the ask box and the conversations list -----------------------------------------------------


def counter_html(length: int, limit: int) -> str:
    near = " aa-counter-near" if length > limit * 0.9 else ""
    return f'<span class="aa-counter{near}">{length:,} / {limit:,}</span>'


def counter_js_template(limit: int) -> str:
    """The body of a JS template literal giving counter_html for the box's `text` (the counter
    is updated in the browser, with no round trip per keystroke)."""
    return (f'<span class="aa-counter${{text.length > {limit * 0.9:.0f} ? \' aa-counter-near\' : \'\'}}">'
            f"${{text.length.toLocaleString('en')}} / {limit:,}</span>")


def conversation_label(title: str, updated: float, turns: int) -> str:
    """A conversation in the list: its title, when it was last used, how many questions."""
    now, then = time.localtime(), time.localtime(updated)
    if then[:3] == now[:3]:
        when = time.strftime("%H:%M", then)
    else:
        when = f"{then.tm_mday} {time.strftime('%b', then)}"
        if then.tm_year != now.tm_year:
            when += f" {then.tm_year}"
    return f"{title} · {when} · {turns} question{'s' if turns != 1 else ''}"
