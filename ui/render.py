"""HTML for the web chat, built from escaped text only.

Article text, titles, URLs and model output are data, never markup: every value that reaches the
page passes through `esc` (or `safe_url`) here, and the only tags in the output are the ones these
functions write themselves. The chat and the source viewer render these strings as HTML, so this
module is the one place that decides what the browser interprets.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import PurePath
from urllib.parse import urlparse

from assistant import TENTATIVE_LEAD, Answer, Citation, RetrievedPassage, Source
from index.loaders import SUPPORTED_SUFFIXES

# [1], [2, 3] or [1; 2] in answer text; LLM backends write the combined forms.
_MARKERS = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")
# Title separators that end a headline's main clause ("A; B", "A: B", "A | Site", "A/Reuters").
_TITLE_CLAUSE = re.compile(r"\s*(?:[;:|/]|\s,|\s[-–—]\s)\s*")
EXAMPLE_TOPIC_WORDS = 9


def esc(value: object) -> str:
    """Text to HTML text: escapes <, >, &, and both quotes (safe in attributes too)."""
    return html.escape(str(value), quote=True)


def safe_url(url: str) -> str | None:
    """The URL if it is an absolute http(s) URL, else None: a `javascript:` or `data:` URL from
    an article's metadata must never become a link."""
    url = (url or "").strip()
    try:
        parsed = urlparse(url)
    except ValueError:
        return None
    if parsed.scheme in ("http", "https") and parsed.netloc:
        return url
    return None


def cite_href(turn: int, n: int) -> str:
    """The footnote target the page's click handler decodes (see app.CITE_JS)."""
    return f"#cite-{turn}-{n}"


def parse_cite_href(href: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"#cite-(\d{1,6})-(\d{1,3})", (href or "").strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def _cite_link(turn: int, n: int, title: str, active: bool = False) -> str:
    cls = "aa-cite aa-active" if active else "aa-cite"
    return (f'<a class="{cls}" href="{cite_href(turn, n)}" title="{esc(title)}" '
            f'aria-label="Source {n}: {esc(title)}">{n}</a>')


def _link_markers(escaped: str, turn: int, citations: dict[int, Citation]) -> str:
    """Turn [n] markers in already-escaped text into footnote links; unknown numbers stay text."""

    def replace(match: re.Match[str]) -> str:
        numbers = [int(x) for x in re.split(r"\s*[,;]\s*", match.group(1))]
        if not all(n in citations for n in numbers):
            return match.group(0)
        return "".join(_cite_link(turn, n, citations[n].title) for n in numbers)

    return _MARKERS.sub(replace, escaped)


def _paragraphs(escaped: str) -> str:
    parts = [p.strip() for p in re.split(r"\n\s*\n", escaped) if p.strip()]
    return "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in parts)


# --- chat messages --------------------------------------------------------------------------------


def user_html(question: str) -> str:
    return f'<div class="aa-question">{esc(question)}</div>'


def thinking_html() -> str:
    return ('<div class="aa-answer aa-streaming aa-thinking"><span class="aa-dots" aria-live="polite">'
            "Searching the articles</span></div>")


def streaming_html(partial: str) -> str:
    """An answer while it streams in. Its [n] markers already look as they will in the final
    answer (footnote pills, not yet links: the citations arrive with the final Answer), and a
    marker still being written ("[", "[1") is held back, so nothing jumps when it ends."""
    partial = re.sub(r"\[[\d,; ]*$", "", partial)

    def pill(match: re.Match[str]) -> str:
        numbers = [x for x in re.split(r"\s*[,;]\s*", match.group(1)) if x]
        return "".join(f'<span class="aa-cite aa-pending">{n}</span>' for n in numbers)

    text = _MARKERS.sub(pill, esc(partial))
    return (f'<div class="aa-answer aa-streaming"><div class="aa-text">{_paragraphs(text)}'
            '<span class="aa-caret" aria-hidden="true"></span></div></div>')


def error_html(message: str) -> str:
    return ('<div class="aa-callout aa-error" role="alert"><div class="aa-callout-title">'
            f"Couldn't answer</div><p>{esc(message)}</p></div>")


def answer_status(answer: Answer) -> str:
    """answered, tentative or declined. An Answer stored before `status` existed reads as
    answered unless it abstained."""
    if answer.abstained:
        return "declined"
    status = getattr(answer, "status", "answered")
    return status if status in ("answered", "tentative") else "answered"


def answer_html(answer: Answer, turn: int) -> str:
    """The final answer, its certainty part of the layout: a plain answer is the bold card, a
    tentative one a quieter "Not sure" card, a decline a short callout; conflicts are a
    callout, footnotes link to the viewer."""
    status = answer_status(answer)
    if status == "declined":
        return _abstention_html(answer)
    citations = {c.n: c for c in answer.citations}
    tentative = status == "tentative"
    parts = ['<div class="aa-answer aa-final aa-tentative">' if tentative
             else '<div class="aa-answer aa-final aa-answered">']
    if tentative:
        parts.append(_tentative_head_html())
    if answer.conflicts:
        parts.append(_conflicts_html(answer, turn, citations))
    elif answer.short_answer and not tentative:
        parts.append(f'<div class="aa-short"><span class="aa-label">Answer</span> '
                     f'<strong class="aa-short-text">{esc(answer.short_answer)}</strong></div>')
    parts.append(f'<div class="aa-text">{_answer_text_html(answer, turn, citations)}</div>')
    parts.append(_notes_html(answer))
    if answer.citations:
        parts.append(_sources_strip(answer, turn))
    parts.append(_copy_html(answer))
    parts.append(_passages_html(answer))
    parts.append(_meta_html(answer))
    parts.append("</div>")
    return "".join(parts)


TENTATIVE_EXPLAINED = ("The articles may not answer this question. Below is the closest "
                       "passage found: read it before relying on it.")


def _tentative_head_html() -> str:
    # Said in words, not only in colour: the card's title and one sentence say it is unsure.
    return ('<div class="aa-tentative-head" role="note"><div class="aa-tentative-title">Not sure'
            f'</div><p class="aa-tentative-why">{esc(TENTATIVE_EXPLAINED)}</p></div>')


def answer_as_text(answer: Answer) -> str:
    """The answer with its sources as plain text: what "Copy with sources" puts on the
    clipboard."""
    lines = [answer.answer.strip(), "", "Sources:"]
    for c in answer.citations:
        page = f", p. {c.page}" if c.page else ""
        lines.append(f"[{c.n}] “{c.text}” — {c.title} ({c.url or c.source}{page})")
    return "\n".join(lines)


def _copy_html(answer: Answer) -> str:
    # The text rides along hidden in the message, so copying needs no round trip.
    return ('<div class="aa-copy-row"><a class="aa-copy" href="#copy" role="button">'
            f'Copy with sources</a><span class="aa-copy-text">{esc(answer_as_text(answer))}'
            "</span></div>")


PASSAGE_PREVIEW_CHARS = 360
# Below this cosine similarity of meaning, a passage that was not quoted is described as about
# something else. A display choice, not a fitted number: with the shipped MiniLM embedder,
# passages on a question's subject score 0.3 and more, unrelated news 0.15 and less.
OTHER_SUBJECT_BELOW = 0.25
# A passage the reader found a likely answer in (its calibrated probability at least this) but
# that was not quoted is described as not needed rather than as saying something else.
READER_FOUND_FROM = 0.25


def passage_verdict(passage: RetrievedPassage, answer: Answer) -> tuple[str, str, str]:
    """(key, label, explanation): why a retrieved passage was or was not used, in plain words,
    from what the Answer reports (`used`, `why`, the scores); no model is asked."""
    if passage.used:
        why = passage.why[:1].upper() + passage.why[1:] if passage.why else "Quoted in the answer"
        return "quoted", "Quoted", why
    reader = getattr(passage, "reader", None)
    declined = answer_status(answer) == "declined"
    if not declined and reader is not None and reader >= READER_FOUND_FROM:
        return ("not-needed", "Not needed",
                "It may answer too, but the quoted passages answer the question more directly")
    if passage.dense < OTHER_SUBJECT_BELOW:
        return ("other-subject", "About something else",
                "It has little in common with the question")
    if not declined and reader is None:
        # The heuristic answerer reads no passage; all it says is that others answered better.
        return ("not-needed", "Not needed", "The quoted passages answer the question better")
    return "says-else", "Says something else", "On the subject, but it does not answer the question"


def _passages_html(answer: Answer) -> str:
    """Every retrieved passage and, in words, why it was (not) used; the scores behind a
    Details toggle. Folded under every answer: under a decline, an open list would push the
    decline itself out of view when the chat scrolls to the end of the turn."""
    passages = getattr(answer, "passages", None) or []
    if not passages:
        return ""
    items, rows = [], []
    for p in passages:
        preview = p.text if len(p.text) <= PASSAGE_PREVIEW_CHARS else \
            p.text[:PASSAGE_PREVIEW_CHARS].rsplit(" ", 1)[0] + " …"
        state = "aa-used" if p.used else "aa-unused"
        key, label, explanation = passage_verdict(p, answer)
        items.append(
            f'<li class="aa-retrieved {state} aa-verdict-{key}"><div class="aa-retrieved-head">'
            f'<span class="aa-rank">{p.rank}</span> <strong>{esc(p.title)}</strong></div>'
            f'<div class="aa-why"><span class="aa-verdict">{esc(label)}</span> '
            f"{esc(explanation)}.</div>"
            f'<blockquote class="aa-retrieved-text">{esc(preview)}</blockquote></li>')
        reader = getattr(p, "reader", None)
        rows.append(f'<tr><th scope="row">{p.rank}</th><td>{p.dense:.2f}</td>'
                    f"<td>{p.lexical:.2f}</td><td>{p.fused:.3f}</td>"
                    f'<td>{"–" if reader is None else f"{reader:.2f}"}</td></tr>')
    details = (
        '<details class="aa-scores"><summary>Details: the scores</summary>'
        '<table class="aa-scores-table"><caption>The scores of each passage</caption>'
        '<thead><tr><th scope="col">#</th><th scope="col">dense</th>'
        '<th scope="col">lexical</th><th scope="col">fused</th><th scope="col">reader</th>'
        f'</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        '<p class="aa-scores-help">dense: similarity of meaning to the question; lexical: how '
        "well the question's words match (BM25); fused: the two combined, which ranks; reader: "
        "the reader's probability for the best answer it found in the passage.</p></details>")
    title = "Closest passages" if answer_status(answer) == "declined" else "Retrieved passages"
    return (f'<details class="aa-passages"><summary>{title} ({len(passages)})</summary>'
            f'<ol class="aa-retrieved-list">{"".join(items)}</ol>{details}</details>')


def _abstention_html(answer: Answer) -> str:
    detail = ("No passage in the indexed articles supports an answer strongly enough. "
              "Try naming the people, places or events involved, or add articles that cover it.")
    # The callout first and the passages folded under it, so the turn stays short and the
    # chat, which scrolls to a turn's end, keeps the decline itself in view.
    return ('<div class="aa-answer aa-final aa-declined"><div class="aa-callout aa-abstain" '
            'role="note"><div class="aa-callout-title">Not in the articles</div>'
            f'<p class="aa-abstain-text">{esc(answer.answer)}</p>'
            f'<p class="aa-muted">{esc(detail)}</p></div>{_notes_html(answer)}'
            f'{_passages_html(answer)}{_meta_html(answer)}</div>')


def _conflicts_html(answer: Answer, turn: int, citations: dict[int, Citation]) -> str:
    rows = []
    for conflict in answer.conflicts:
        for side in conflict.sides:
            link = _cite_link(turn, side.citation, side.title) if side.citation in citations else ""
            rows.append(f'<li>{link}<strong class="aa-value">{esc(side.value)}</strong>'
                        f'<span class="aa-muted"> — {esc(side.title)}</span></li>')
    topics = ", ".join(dict.fromkeys(c.topic for c in answer.conflicts if c.topic))
    topic = f' <span class="aa-chip">{esc(topics)}</span>' if topics else ""
    return ('<div class="aa-callout aa-conflict" role="note"><div class="aa-callout-title">'
            f'The sources disagree{topic}</div><ul>{"".join(rows)}</ul></div>')


def _answer_text_html(answer: Answer, turn: int, citations: dict[int, Citation]) -> str:
    text = answer.answer
    if answer_status(answer) == "tentative" and text.startswith(TENTATIVE_LEAD):
        # The card's title already says "Not sure"; the rest of the lead reads on from it.
        text = "The closest passage says" + text[len(TENTATIVE_LEAD):]
    if answer.conflicts:
        # The conflict summary sentence says what the callout above already shows.
        for sentence in answer.sentences:
            if sentence.note == "conflict summary" and sentence.text in text:
                text = text.replace(sentence.text, "", 1)
    text = text.strip()
    # Sentences the checker could not tie to their passages are marked, not hidden.
    spans: list[tuple[int, int]] = []
    for sentence in answer.sentences:
        if sentence.supported or not sentence.text:
            continue
        at = text.find(sentence.text)
        if at >= 0 and not any(s < at + len(sentence.text) and at < e for s, e in spans):
            spans.append((at, at + len(sentence.text)))
    out, pos = [], 0
    for start, end in sorted(spans):
        out.append(_link_markers(esc(text[pos:start]), turn, citations))
        out.append('<span class="aa-unsupported" title="Not fully supported by the cited passages">'
                   f"{_link_markers(esc(text[start:end]), turn, citations)}</span>")
        pos = end
    out.append(_link_markers(esc(text[pos:]), turn, citations))
    return _paragraphs("".join(out))


def _sources_strip(answer: Answer, turn: int) -> str:
    items = []
    for c in answer.citations:
        date = f'<span class="aa-source-date">{esc(c.date)}</span>' if c.date else ""
        items.append(f'<a class="aa-cite aa-source" href="{cite_href(turn, c.n)}" '
                     f'title="{esc(c.title)}"><span class="aa-n">{c.n}</span>'
                     f'<span class="aa-source-title">{esc(c.title)}</span>{date}</a>')
    return f'<div class="aa-sources"><span class="aa-label">Sources</span>{"".join(items)}</div>'


def _notes_html(answer: Answer) -> str:
    """What the generative path changed or why it fell back ("llm: ...", "guard: ..."): the
    reader should know when an answer is not what the model wrote. Other notes are internal."""
    shown = [n for n in answer.notes if n.startswith(("llm:", "guard:"))]
    if not shown:
        return ""
    items = "".join(f'<li class="aa-note-{n.split(":", 1)[0]}">{esc(n.split(":", 1)[1].strip())}</li>'
                    for n in shown)
    return f'<ul class="aa-notes" aria-label="Notes">{items}</ul>'


# Where the label for an uncalibrated confidence turns from "weak" to "strong" evidence. A
# display choice, not a fitted number and not a probability: the heuristic answerer abstains
# below 0.4, and 0.7 puts the upper third of its answers on our gold sets on the strong side.
STRONG_EVIDENCE = 0.7


def _answered_by(answer: Answer) -> str:
    """Who wrote the answer, in words: the offline answerer, or the LLM by its model's name."""
    if answer.backend == "extractive":
        return "offline answer"
    model = answer.guard.model if answer.guard is not None else ""
    return model or answer.backend


def _meta_html(answer: Answer) -> str:
    # A follow-up is answered from a standalone rewrite; showing it lets the reader check it.
    query = str(getattr(answer, "query", "") or "")
    rewrite = (f'<div class="aa-meta aa-rewrite">Read as: “{esc(query)}”</div>'
               if query and query != answer.question else "")
    bits = [esc(_answered_by(answer))]
    if not answer.abstained:
        # A percentage only when it is a calibrated probability; otherwise it would read as one
        # (the heuristic answerer's 80% is right about two times in three on fresh questions).
        if answer.confidence_calibrated:
            bits.append(f"confidence {answer.confidence:.0%}")
        else:
            bits.append("strong evidence" if answer.confidence >= STRONG_EVIDENCE else "weak evidence")
    total = answer.timings_ms.get("total")
    if total is not None:
        bits.append(f"{total:.0f} ms")
    return f'{rewrite}<div class="aa-meta">{" · ".join(bits)}</div>'


# --- the source viewer -----------------------------------------------------------------------------


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


def _source_label(source: str) -> str:
    """A local path shows as its file name (the full path is in the tooltip); URLs as they are."""
    if safe_url(source):
        return source
    return PurePath(source).name or source


def citation_html(answer: Answer, n: int, turn: int, article: dict[str, object] | None) -> str:
    """The viewer for footnote n of an answer: metadata, the passage with the quote highlighted,
    and the full article (when it is still indexed) behind a disclosure."""
    citation = next((c for c in answer.citations if c.n == n), None)
    if citation is None:
        return viewer_message_html(f"Answer {turn + 1} has no source [{n}].")
    nav = "".join(_cite_link(turn, c.n, c.title, active=c.n == n) for c in answer.citations)
    url = safe_url(citation.url)
    if url:
        url_html = (f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">'
                    f"{esc(url)}</a>")
    else:
        url_html = esc(citation.url) if citation.url else '<span class="aa-muted">not given</span>'
    date_html = esc(citation.date) if citation.date else '<span class="aa-muted">not given</span>'
    source_html = f'<span title="{esc(citation.source)}">{esc(_source_label(citation.source))}</span>'
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


# --- articles panel --------------------------------------------------------------------------------


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
        source = esc(_source_label(s.source))
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
            _source_label(str(article.get("source") or ""))]
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
