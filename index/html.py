"""Main text and metadata of a news page, by trafilatura, kept as paragraphs.

Why trafilatura: a fetched news page is mostly not the article (menus, share bars, teasers,
comment threads, cookie banners), and its main-content heuristics drop those far better than a
tag-based parser. Four things are added around it:

* an unclosed <nav> or <aside> swallows every later element in the parsed tree, and trafilatura
  drops such elements whole, so the swallowed article body is moved back out first;
* newsletter, promo and author boxes marked as such by class or id are removed first: its own
  rules let those through when they sit inside the article;
* the result is rendered from trafilatura's XML body ourselves, so that paragraphs come out as
  blank-line separated blocks with headings on lines of their own (its text output separates
  them by single newlines, which the chunker cannot tell from line breaks);
* when trafilatura keeps nothing (a very short page), the plain text of the page's <p>, <h*> and
  <li> elements is used instead, so a short but real page is not lost.

Nothing here downloads anything: trafilatura and htmldate only parse the string they are given.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import trafilatura
from lxml import etree
from lxml import html as lxml_html

logger = logging.getLogger(__name__)

# trafilatura's balanced mode, chosen by measuring (see `extract_html`): it retries a short
# extraction with recall settings, which is what saved body text on page layouts that broke
# the precision mode.
_PRECISION = False
# htmldate's "extensive search" guesses a date from any year in the page: an article without a
# date got "2021-01-01" from "the last inspection in 2021" in its text, and one with a
# "© 2023" footer got "2023-01-01". A wrong date is worse than none (date-scoped questions
# would silently include or exclude the article), so only dates the page states as dates
# (meta tags, JSON-LD, <time>, the URL) are used, and the original date over an update.
_DATE_PARAMS = {"extensive_search": False, "original_date": True}


@dataclass
class HtmlArticle:
    """What a news page says about itself. Empty strings mean "not known"."""

    title: str = ""
    text: str = ""  # blank-line separated blocks; not yet passed through clean_text
    url: str = ""  # the page's own canonical URL when it names one, else the URL it came from
    date: str = ""  # YYYY-MM-DD
    publisher: str = ""  # the site's name
    author: str = ""


def extract_html(raw: str, url: str = "") -> HtmlArticle:
    """Main text and metadata of one HTML page; never raises, never downloads.

    Malformed input gives an HtmlArticle with empty text: the caller knows the page's name and
    reports it. Comments and tables are left out: reader comments are not reporting, and
    layout tables are mostly menus (a short page laid out in a table still keeps its <p>s).

    Options were measured on 21 news-page layouts built like those in tests/test_sources.py
    (article/div-soup/<br>-separated/link-dense bodies, in-article teasers and promos, unclosed
    <nav>/<aside>), counting 189 body snippets lost and boilerplate lines kept. Without this
    module's repairs: default 8 lost/12 kept, favor_precision 18/6, favor_recall 3/13. With
    them: default 4/7, favor_precision 4/7, favor_recall 3/9. Default and precision tie once
    repaired; default is used because when a page breaks our assumptions it loses less than
    half the body text that precision does, and a missing paragraph cannot be answered from
    while a kept teaser line rarely is.
    """
    try:
        return _extract(raw, url)
    except Exception as exc:  # lxml and trafilatura raise assorted errors on hostile input
        logger.warning("HTML extraction failed for %s: %s", url or "a page", exc)
        return HtmlArticle(url=url)


def _extract(raw: str, url: str) -> HtmlArticle:
    if not raw or not raw.strip():
        return HtmlArticle(url=url)
    raw = raw.replace("\x00", "")
    tree = trafilatura.load_html(raw)
    if tree is None:
        return HtmlArticle(url=url)
    _headings_text_only(tree)
    _free_swallowed_content(tree, raw)
    _prune_boilerplate_containers(tree)
    canonical = _canonical_url(tree, url)
    document = trafilatura.bare_extraction(
        tree, url=url or None, with_metadata=True, include_comments=False, include_tables=False,
        favor_precision=_PRECISION, date_extraction_params=dict(_DATE_PARAMS),
    )
    if document is None:
        # Too little text for trafilatura; its metadata is still worth having.
        document = trafilatura.extract_metadata(tree, url or None, dict(_DATE_PARAMS), extensive=False)
        blocks: list[str] = []
    else:
        blocks = _render_body(document.body)
    title = _article_headline(tree) or _one_line(getattr(document, "title", None)
                                                 or _fallback_title(tree))
    fallback = _fallback_blocks(tree)
    # On a short page trafilatura's baseline extractor returns the whole page as one run-on
    # paragraph (share bars and teasers inside it); the page's own paragraphs are better.
    if not blocks or (len(blocks) == 1 and len(fallback) >= 2):
        blocks = fallback
    if blocks and title and _same_text(blocks[0], title):
        blocks = blocks[1:]  # the headline is the title, not body text
    date = getattr(document, "date", None) or ""
    return HtmlArticle(
        title=title,
        text="\n\n".join(blocks),
        url=canonical or url,
        date=date if re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) else "",
        publisher=_one_line(getattr(document, "sitename", None) or ""),
        author=_one_line(getattr(document, "author", None) or ""),
    )


def html_to_text(fragment: str) -> str:
    """Readable text of an HTML fragment (a feed entry's content or summary), blocks kept.

    No boilerplate heuristics: a feed's content is the article already, and trafilatura's
    main-content scoring throws away short summaries. Never raises.
    """
    if not fragment or not fragment.strip():
        return ""
    try:
        root = lxml_html.fragment_fromstring(fragment.replace("\x00", ""), create_parent="div")
    except Exception:  # lxml.etree.ParserError on markup it cannot read at all
        return re.sub(r"<[^>]*>", " ", fragment).strip()
    for bad in root.xpath(".//script|.//style|.//noscript|.//template"):
        _drop(bad)
    parts: list[str] = []
    _flatten(root, parts)
    text = "".join(parts)
    lines = [re.sub(r"[ \t\r\f\v\xa0]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# -- repairs before extraction ------------------------------------------------------------------

_SWALLOWING_TAGS = ("nav", "aside")


def _free_swallowed_content(tree: lxml_html.HtmlElement, raw: str) -> None:
    """Move an article body out of a <nav> or <aside> that the page never closed.

    lxml closes an unclosed element only at its parent's end, so everything after it lands
    inside it, and extractors drop <nav> and <aside> whole. Only done when the source really
    has more opening than closing tags, and only to an element holding prose: a menu or a
    teaser box that is closed stays as it is.
    """
    for tag in _SWALLOWING_TAGS:
        opened = len(re.findall(rf"<{tag}[\s>/]", raw, re.IGNORECASE))
        closed = len(re.findall(rf"</{tag}\s*>", raw, re.IGNORECASE))
        if opened <= closed:
            continue
        for element in list(tree.iter(tag)):
            if not _holds_prose(element):
                continue
            children = list(element)
            first = next((i for i, child in enumerate(children) if _holds_prose(child)), 0)
            if first == 0:
                # The prose starts right away (or is bare text): keep the element, lose the tag
                # that makes extractors skip it.
                element.tag = "div"
                continue
            anchor = element
            for child in children[first:]:
                anchor.addnext(child)
                anchor = child
            logger.debug("moved %d elements out of an unclosed <%s>", len(children) - first, tag)


def _holds_prose(element: lxml_html.HtmlElement) -> bool:
    if element.tag in ("article", "main", "h1"):
        return True
    if next(element.iter("article", "main", "h1"), None) is not None:
        return True
    words = sum(len(p.text_content().split()) for p in element.iter("p"))
    return words >= 40


# Class or id words of boxes that trafilatura's own rules let through in our measurements
# (newsletter sign-ups and promos inside the article, author boxes). Matched as whole words.
_BOILERPLATE_MARKS = re.compile(
    r"(?:^|[\s_-])(newsletter|signup|sign-up|subscribe|subscription|promo|inline-promo|author-bio|"
    r"author-box|bio-box|ad-slot|advert|advertisement|sponsored|outbrain|taboola|cookie|paywall|"
    r"share|sharing|social|related|comments?|most-read|recommended|trending|breadcrumbs?)"
    r"(?:$|[\s_-])", re.IGNORECASE)
_PRUNABLE_TAGS = frozenset({"div", "section", "aside", "figure", "form", "span", "ul", "ol"})


def _prune_boilerplate_containers(tree: lxml_html.HtmlElement) -> None:
    """Remove promo boxes marked by class or id, but never one holding most of the prose: a
    page may put "has-newsletter" on the article's own wrapper."""
    total = sum(len(p.text_content().split()) for p in tree.iter("p")) or 1
    for element in list(tree.iter(*_PRUNABLE_TAGS)):
        marks = f"{element.get('class', '')} {element.get('id', '')}"
        if not _BOILERPLATE_MARKS.search(marks) or element.getparent() is None:
            continue
        if next(element.iter("article", "main", "h1"), None) is not None:
            continue
        words = sum(len(p.text_content().split()) for p in element.iter("p"))
        if words * 2 > total:
            continue
        _drop(element)


def _drop(element: etree._Element) -> None:
    """Remove an element but keep the text that follows it."""
    parent = element.getparent()
    if parent is None:
        return
    if element.tail and element.tail.strip():
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


# -- metadata -----------------------------------------------------------------------------------


def _canonical_url(tree: lxml_html.HtmlElement, url: str) -> str:
    """The page's own URL from <link rel=canonical> or og:url, resolved against `url`.

    A canonical naming the site's front page for an article's URL (a common template bug)
    is ignored: it would give every article of the site the same key.
    """
    candidates = [
        *tree.xpath("//link[contains(concat(' ', normalize-space(@rel), ' '), ' canonical ')]/@href"),
        *tree.xpath("//meta[@property='og:url' or @name='og:url']/@content"),
    ]
    for candidate in candidates:
        candidate = str(candidate).strip()
        if not candidate:
            continue
        resolved = urljoin(url, candidate) if url else candidate
        parts = urlsplit(resolved)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            continue
        if parts.path in ("", "/") and not parts.query and url and urlsplit(url).path not in ("", "/"):
            continue
        return resolved
    return ""


# Elements whose content is code or a fallback, never words of a heading.
_NOT_TEXT = "self::script or self::style or self::noscript or self::template"
_HEADINGS = " or ".join(f"self::h{n}" for n in range(1, 7))


def _headings_text_only(tree: lxml_html.HtmlElement) -> None:
    """A headline is text only: a <script> or <style> inside an <h1> (a tracker, an inline
    style) is no part of it, yet text_content() and trafilatura's title both read it, so
    script source ended up in the article's title. Removed from headings only: elsewhere
    trafilatura needs the page's JSON-LD scripts for its metadata."""
    for element in tree.xpath(f"//*[{_HEADINGS}]//*[{_NOT_TEXT}]"):
        _drop(element)


def _article_headline(tree: lxml_html.HtmlElement) -> str:
    """The first <h1> inside <article> or <main>: the story's own headline, where <title> often
    carries the site's name too ("Site | Dam")."""
    for element in tree.xpath("//article//h1 | //main//h1"):
        text = _one_line(element.text_content())
        if text:
            return text
    return ""


def _fallback_title(tree: lxml_html.HtmlElement) -> str:
    for xpath in ("//title", "//h1"):
        for element in tree.xpath(xpath):
            text = _one_line(element.text_content())
            if text:
                return text
    return ""


# -- rendering ----------------------------------------------------------------------------------

# trafilatura's body vocabulary: p, head, quote, list/item, table/row/cell, code, lb, hi, ref...
_CONTAINER_TAGS = frozenset({"quote", "div", "body", "section", "article"})
_SKIP_TAGS = frozenset({"graphic", "fw", "note"})


def _render_body(body: etree._Element | None) -> list[str]:
    """Blocks from trafilatura's XML: one per paragraph, heading, quote or list."""
    if body is None:
        return []
    blocks: list[str] = []
    _render_children(body, blocks)
    return [block for block in blocks if block]


def _render_children(element: etree._Element, blocks: list[str]) -> None:
    _add_blocks(blocks, element.text or "")
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in _SKIP_TAGS or not tag:
            pass
        elif tag == "list":
            items = [_inline(item).strip() for item in child if item.tag == "item"]
            lines = [re.sub(r"\s*\n\s*", " ", item) for item in items if item]
            if lines:
                blocks.append("\n".join(_squash(line) for line in lines))
        elif tag == "table":
            rows = [" | ".join(_squash(_inline(cell)) for cell in row) for row in child.iter("row")]
            if any(row.strip(" |") for row in rows):
                blocks.append("\n".join(row for row in rows if row.strip(" |")))
        elif tag in _CONTAINER_TAGS and any(
            isinstance(c.tag, str) and c.tag in ("p", "head", "list", "quote", "table") for c in child
        ):
            _render_children(child, blocks)
        else:
            _add_blocks(blocks, _inline(child))
        _add_blocks(blocks, child.tail or "")


def _inline(element: etree._Element) -> str:
    """Text of an element, its <lb/> line breaks kept as newlines.

    trafilatura's main extractor trims whitespace inside a paragraph, so a newline left in the
    text comes from its fallback extractor joining several of the page's paragraphs into one
    <p>: it is turned back into a paragraph break (except in code, where newlines are layout).
    """
    keep = element.tag == "code"

    def text(value: str | None) -> str:
        return (value or "") if keep else (value or "").replace("\n", "\n\n")

    parts = [text(element.text)]
    for child in element:
        if child.tag == "lb":
            parts.append("\n")
        elif isinstance(child.tag, str) and child.tag not in _SKIP_TAGS:
            parts.append(_inline(child))
        parts.append(text(child.tail))
    return "".join(parts)


def _add_blocks(blocks: list[str], text: str) -> None:
    """Add text as blocks: a blank line (two <br>s in the page) separates paragraphs."""
    for chunk in re.split(r"\n\s*\n", text):
        lines = [_squash(line) for line in chunk.split("\n")]
        block = "\n".join(line for line in lines if line)
        if block:
            blocks.append(block)


_FALLBACK_TAGS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "pre", "blockquote")
_FALLBACK_SKIP = frozenset({"nav", "footer", "header", "aside", "form", "script", "style", "noscript",
                            "template", "button", "select", "menu"})


def _fallback_blocks(tree: lxml_html.HtmlElement) -> list[str]:
    """Plain text of <p>, <h*> and <li> outside menus and footers, for pages too short for
    trafilatura. Nested matches (a <p> inside an <li>) are taken once, by the outer one."""
    blocks: list[str] = []
    taken: set[etree._Element] = set()
    for element in tree.iter(*_FALLBACK_TAGS):
        ancestors = list(element.iterancestors())
        if any(a in taken for a in ancestors) or any(a.tag in _FALLBACK_SKIP for a in ancestors):
            continue
        taken.add(element)
        text = _squash(element.text_content())
        if text:
            blocks.append(text)
    return blocks


_BLOCK_HTML = frozenset({"p", "div", "section", "article", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol",
                         "blockquote", "pre", "table", "figure", "figcaption", "header", "footer", "dl",
                         "hr"})
# Start a new line but not a new paragraph: list items and table rows stay one block.
_LINE_HTML = frozenset({"li", "br", "tr", "dt", "dd"})


def _flatten(element: etree._Element, parts: list[str]) -> None:
    tag = element.tag if isinstance(element.tag, str) else ""
    if not tag:
        return  # a comment or processing instruction: its text is not content
    if tag in _BLOCK_HTML:
        parts.append("\n\n")
    elif tag in _LINE_HTML:
        parts.append("\n")
    parts.append(element.text or "")
    for child in element:
        _flatten(child, parts)
        parts.append(child.tail or "")
    if tag in _BLOCK_HTML:
        parts.append("\n\n")


# -- small helpers ------------------------------------------------------------------------------


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _one_line(text: str) -> str:
    return _squash(text or "")


def _same_text(a: str, b: str) -> bool:
    return _squash(a).casefold() == _squash(b).casefold()


def feed_links(raw: str, url: str = "") -> list[str]:
    """RSS/Atom feeds a page names in <link rel=alternate>, resolved; for a helpful error when
    someone passes a site's page where a feed was expected. Never raises."""
    try:
        tree = trafilatura.load_html(raw)
        if tree is None:
            return []
        hrefs = tree.xpath(
            "//link[@rel='alternate' and (contains(@type, 'rss') or contains(@type, 'atom'))]/@href")
        return [urljoin(url, str(h)) if url else str(h) for h in hrefs if str(h).strip()]
    except Exception:
        return []
