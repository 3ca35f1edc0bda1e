"""A chat turn's HTML: the question, the thinking and streaming states, an error, and the final
answer with its certainty, conflicts, footnotes, sources strip, copy text, retrieved passages
and the line about who answered."""

from __future__ import annotations

import re

from assistant import TENTATIVE_LEAD, Answer, Citation, RetrievedPassage
from ui.render.markup import cite_href, cite_link, esc

# [1], [2, 3] or [1; 2] in answer text; LLM backends write the combined forms.
_MARKERS = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")


def _link_markers(escaped: str, turn: int, citations: dict[int, Citation]) -> str:
    """Turn [n] markers in already-escaped text into footnote links; unknown numbers stay text."""

    def replace(match: re.Match[str]) -> str:
        numbers = [int(x) for x in re.split(r"\s*[,;]\s*", match.group(1))]
        if not all(n in citations for n in numbers):
            return match.group(0)
        return "".join(cite_link(turn, n, citations[n].title) for n in numbers)

    return _MARKERS.sub(replace, escaped)


def _paragraphs(escaped: str) -> str:
    parts = [p.strip() for p in re.split(r"\n\s*\n", escaped) if p.strip()]
    return "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in parts)



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
    text = answer.answer.strip()
    if answer.status == "tentative" and not text.startswith("Not sure"):
        # A tentative conflict reads "The sources disagree: ..."; the card says "Not sure", and
        # so must the copy, or the doubt is lost where it is pasted.
        text = f"Not sure: {text}"
    lines = [text, "", "Sources:"]
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
    detail = answer.declined_because or (
        "No passage in the indexed articles supports an answer strongly enough. "
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
            link = cite_link(turn, side.citation, side.title) if side.citation in citations else ""
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
