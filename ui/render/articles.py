"""The Articles tab's HTML: the table of indexed articles (filtered and sorted), an opened
article, the upload hint and the corpus summary."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant import Source
from index.loaders import SUPPORTED_SUFFIXES
from ui.render.markup import esc, source_label


def human_date(date: str) -> str:
    """"2025-08-15" or "2025-08-15T10:00:00Z" as "15 Aug 2025"; anything else as given."""
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})", date or "")
    if not match:
        return date or ""
    year, month, day = (int(g) for g in match.groups())
    if not 1 <= month <= 12:
        return date
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    return f"{day} {months[month - 1]} {year}"


def filter_and_sort(sources: Sequence[Source], query: str = "", order: str = "title"
                    ) -> list[Source]:
    """The Articles tab's view: sources whose title or source holds every word of `query`,
    ordered by title, or by date (newest or oldest first; undated last)."""
    needles = [w.lower() for w in (query or "").split()]
    shown = [s for s in sources
             if all(n in f"{s.title} {s.source} {s.article_id}".lower() for n in needles)]
    if order in ("newest", "oldest"):
        dated = sorted((s for s in shown if s.date), key=lambda s: s.date,
                       reverse=order == "newest")
        return dated + sorted((s for s in shown if not s.date), key=lambda s: s.title.lower())
    return sorted(shown, key=lambda s: s.title.lower())


def file_types_text(suffixes: Sequence[str] = SUPPORTED_SUFFIXES) -> str:
    """".txt, .md, ... or .pdf": the file types ingest accepts (index.loaders' list)."""
    suffixes = list(suffixes)
    if len(suffixes) < 2:
        return "".join(suffixes)
    return f"{', '.join(suffixes[:-1])} or {suffixes[-1]}"


def upload_hint_html() -> str:
    """The line under the Articles tab's upload box."""
    return (f'<p class="aa-muted aa-small aa-help">{esc(file_types_text())} files. Uploading the '
            "same file again changes nothing; a changed file replaces its earlier version.</p>")


def articles_html(sources: Sequence[Source], total: int | None = None) -> str:
    """The Articles tab's table. Each row's Open and Delete are buttons on a desktop; on a
    phone the Source and Passages columns fold away and the row's menu (a <details>) holds
    them with Open and Delete, so the table is never wider than the screen."""
    if not sources:
        if total:
            return ('<div class="aa-callout aa-info"><div class="aa-callout-title">No article '
                    "matches</div><p>Clear the filter to see all of them.</p></div>")
        return ('<div class="aa-callout aa-info"><div class="aa-callout-title">No articles yet</div>'
                f"<p>Add {esc(file_types_text())} files with “Add articles” to start asking "
                "questions.</p></div>")
    rows = []
    for s in sources:
        name = esc(s.title)
        article_id = esc(s.article_id)
        source = esc(source_label(s.source))
        passages = f"{s.chunks} passage{'s' if s.chunks != 1 else ''}"
        rows.append(
            f'<tr><td class="aa-col-title">{name}</td>'
            f'<td class="aa-col-date">{esc(human_date(s.date)) if s.date else "—"}</td>'
            f'<td class="aa-col-num">{s.chunks}</td>'
            f'<td class="aa-col-source" title="{esc(s.source)}"><span>{source}</span></td>'
            f'<td class="aa-col-actions"><span class="aa-row-buttons">'
            f'<button type="button" class="aa-row-open" data-id="{article_id}" '
            f'aria-label="Open {name}">Open</button>'
            f'<button type="button" class="aa-row-delete" data-id="{article_id}" '
            f'aria-label="Delete {name}">Delete</button></span>'
            f'<details class="aa-row-menu"><summary aria-label="More about {name}">'
            f'<span aria-hidden="true">⋯</span></summary>'
            f'<div class="aa-row-menu-panel">'
            f'<p class="aa-row-menu-source" title="{esc(s.source)}">'
            f'<span class="aa-muted">Source</span> {source}</p>'
            f'<p class="aa-muted">{passages}</p>'
            f'<button type="button" class="aa-menu-open" data-id="{article_id}" '
            f'data-action="open">Open</button>'
            f'<button type="button" class="aa-menu-delete" data-id="{article_id}" '
            f'data-action="delete">Delete</button></div></details></td></tr>')
    # Focusable, so a keyboard can scroll a long table (WCAG: scrollable regions).
    return ('<div class="aa-table-wrap" tabindex="0" role="region" aria-label="Indexed articles">'
            '<table class="aa-articles"><thead><tr><th class="aa-col-title">Title</th>'
            '<th class="aa-col-date">Date</th><th class="aa-col-num">Passages</th>'
            '<th class="aa-col-source">Source</th>'
            '<th class="aa-col-actions"><span class="aa-sr">Actions</span></th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def article_view_html(article: dict[str, object] | None) -> str:
    """One article opened from the Articles tab: its metadata and clean text."""
    if not article:
        return ""
    meta = [human_date(str(article.get("date") or "")),
            source_label(str(article.get("source") or ""))]
    paragraphs = "".join(f"<p>{esc(p)}</p>" for p in str(article.get("text") or "").split("\n\n")
                         if p.strip())
    return (f'<div class="aa-viewer aa-article-view" role="region" aria-label="Article">'
            f'<h3 class="aa-viewer-title">{esc(str(article.get("title") or ""))}</h3>'
            f'<p class="aa-muted aa-small">{esc(" · ".join(m for m in meta if m))}</p>'
            # Focusable: a keyboard scrolls it (WCAG: scrollable regions).
            f'<div class="aa-article-text" tabindex="0">{paragraphs}</div></div>')


def corpus_summary(sources: Sequence[Source]) -> str:
    articles = len(sources)
    chunks = sum(s.chunks for s in sources)
    return (f"{articles} article{'s' if articles != 1 else ''} · "
            f"{chunks} passage{'s' if chunks != 1 else ''} indexed")
