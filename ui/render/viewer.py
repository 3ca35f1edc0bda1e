"""The source viewer: a footnote's passage with the quote (and the reader's short answer)
highlighted, its article's metadata and full text; its placeholder and messages."""

from __future__ import annotations

from assistant import Answer, Citation
from ui.render.markup import cite_link, esc, safe_url, source_label


def viewer_placeholder_html() -> str:
    return ('<div class="aa-viewer aa-viewer-empty"><div class="aa-viewer-kicker">Source viewer</div>'
            '<p>Click a footnote such as <span class="aa-cite aa-demo">1</span> in an answer to read '
            "the passage it quotes, with the quoted sentence highlighted.</p></div>")


def viewer_message_html(message: str) -> str:
    return (f'<div class="aa-viewer aa-viewer-empty"><div class="aa-viewer-kicker">Source viewer</div>'
            f"<p>{esc(message)}</p></div>")


def _highlight(text: str, start: int, end: int, quote: str,
               span: tuple[int, int] | None = None) -> str:
    """`text` escaped, with text[start:end] in a <mark>; falls back to finding the quote.
    `span` (offsets relative to the quote's start) marks the reader's short answer inside it."""
    if not (0 <= start < end <= len(text)) or text[start:end] != quote:
        found = text.find(quote) if quote else -1
        if found < 0:
            return esc(text)
        start, end = found, found + len(quote)
    inner = esc(text[start:end])
    if span is not None and 0 <= span[0] < span[1] <= end - start:
        a, b = start + span[0], start + span[1]
        inner = (f'{esc(text[start:a])}<strong class="aa-span" title="The short answer">'
                 f"{esc(text[a:b])}</strong>{esc(text[b:end])}")
    return f'{esc(text[:start])}<mark class="aa-quote">{inner}</mark>{esc(text[end:])}'


def _span_in_quote(citation: Citation) -> tuple[int, int] | None:
    if citation.answer_start is None or citation.answer_end is None:
        return None
    return citation.answer_start - citation.start, citation.answer_end - citation.start


def _quote_line(citation: Citation, article_text: object) -> str:
    """Where the quote is in the article. A match score only for a quote that is not word for
    word (it says how close it came); for an exact quote it would only raise a doubt."""
    where = f"characters {citation.start}–{citation.end} of the article"
    if isinstance(article_text, str):
        exact = article_text[citation.start:citation.end] == citation.text
    else:
        at = citation.start - citation.passage_start
        exact = (citation.passage or "")[at:at + len(citation.text)] == citation.text
    if exact:
        return f'<div class="aa-muted aa-small">Quoted word for word: {where}</div>'
    return (f'<div class="aa-muted aa-small">Closest match in the article: {where} · match score '
            f"{citation.score:.2f}</div>")



def citation_html(answer: Answer, n: int, turn: int, article: dict[str, object] | None) -> str:
    """The viewer for footnote n of an answer: metadata, the passage with the quote highlighted,
    and the full article (when it is still indexed) behind a disclosure."""
    citation = next((c for c in answer.citations if c.n == n), None)
    if citation is None:
        return viewer_message_html(f"Answer {turn + 1} has no source [{n}].")
    nav = "".join(cite_link(turn, c.n, c.title, active=c.n == n) for c in answer.citations)
    url = safe_url(citation.url)
    if url:
        url_html = (f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">'
                    f"{esc(url)}</a>")
    else:
        url_html = esc(citation.url) if citation.url else '<span class="aa-muted">not given</span>'
    date_html = esc(citation.date) if citation.date else '<span class="aa-muted">not given</span>'
    source_html = f'<span title="{esc(citation.source)}">{esc(source_label(citation.source))}</span>'
    passage = citation.passage or citation.text
    rel_start, rel_end = citation.start - citation.passage_start, citation.end - citation.passage_start
    text = article.get("text") if article else None
    lead = "… " if citation.passage_start > 0 else ""
    tail = " …" if isinstance(text, str) and citation.passage_end < len(text.rstrip()) else ""
    parts = [
        # Announced, and focused when it opens (CITE_JS); "Back to the answer" returns focus to
        # the footnote, and closes the sheet the viewer is on a phone.
        '<a class="aa-back" href="#aa-back">Back to the answer</a>',
        f'<div class="aa-viewer aa-viewer-cited" role="region" aria-live="polite" tabindex="-1" '
        f'aria-label="Source {n} of answer {turn + 1}">',
        f'<div class="aa-viewer-nav"><span class="aa-label">Sources of answer {turn + 1}</span>{nav}</div>',
        f'<div class="aa-viewer-kicker">Source {n} of {len(answer.citations)}</div>',
        f'<h3 class="aa-viewer-title">{esc(citation.title)}</h3>',
        '<dl class="aa-viewer-meta">',
        f"<dt>Date</dt><dd>{date_html}</dd>",
        f"<dt>Source</dt><dd>{source_html}</dd>",
        f"<dt>Page</dt><dd>{citation.page}</dd>" if citation.page else "",
        f"<dt>URL</dt><dd>{url_html}</dd>",
        "</dl>",
        f'<blockquote class="aa-passage">{esc(lead)}'
        f"{_highlight(passage, rel_start, rel_end, citation.text, _span_in_quote(citation))}"
        f"{esc(tail)}</blockquote>",
        _quote_line(citation, text),
    ]
    if isinstance(text, str):
        full = _highlight(text, citation.start, citation.end, citation.text, _span_in_quote(citation))
        parts.append('<details class="aa-full"><summary>Read the full article</summary>'
                     f'<div class="aa-article">{full}</div></details>')
    else:
        parts.append('<p class="aa-muted aa-small">This article is no longer indexed.</p>')
    parts.append("</div>")
    return "".join(parts)
