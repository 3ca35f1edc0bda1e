"""RSS and Atom feeds, given as a URL or a local file: one Article per entry (`load_feed`), with
the same cleaning as local files, and a teaser entry's linked page read instead when asked.

A feed entry is keyed by its link (or its id when it has none), which is also what `known_keys`
is matched against so that re-running a feed fetches only the entries not yet ingested. Every
failure is a one-line `LoadError` (or one line in `LoadResult.errors`) that starts with the feed's
path or URL.
"""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import httpx

from index.article import Article, LoadError, LoadResult, article_id_for
from index.clean import clean_text
from index.fetch import fetch_with, http_client, short_reason
from index.html import feed_links, html_to_text
from index.sources import load_page

logger = logging.getLogger(__name__)

# A feed entry whose own content is shorter than this is a teaser: with fetch_pages the linked
# page is read instead.
SUMMARY_WORDS = 80


def load_feed(source: str, *, fetch_pages: bool = False, known_keys: Collection[str] = (),
              timeout: float = 20, max_bytes: int = 10_000_000) -> LoadResult:
    """One Article per entry of an RSS or Atom feed given as a URL or a local file.

    Entries whose key is in `known_keys` are skipped before anything is fetched for them. With
    `fetch_pages`, an entry that carries only a teaser has its linked page read instead; when
    that fails the teaser is kept and the failure is one line in LoadResult.errors.
    """
    known = set(known_keys)
    with http_client(timeout) as client:
        data, base_url = _read_feed_source(client, source, timeout=timeout, max_bytes=max_bytes)
        # From a stream, so feedparser reads exactly these bytes and never opens a URL itself.
        headers = {"content-location": base_url} if base_url else {}
        parsed = feedparser.parse(io.BytesIO(data), response_headers=headers)
        if not parsed.entries:
            if parsed.get("version"):
                return LoadResult([], [])  # a valid feed with nothing in it yet
            raise LoadError(_not_a_feed(source, parsed, data, base_url))
        publisher = _one_line(parsed.feed.get("title", ""))
        articles: list[Article] = []
        errors: list[str] = []
        seen: set[str] = set()
        skipped = 0
        for number, entry in enumerate(parsed.entries, start=1):
            key = entry.get("link") or entry.get("id") or ""
            if not key:
                errors.append(f"{source}: entry {number} has no link or id; skipped")
                continue
            if key in seen:
                continue  # the same story listed twice
            if key in known:
                skipped += 1
                continue
            seen.add(key)
            article = _entry_article(client, entry, key, publisher, errors, fetch_pages=fetch_pages,
                                     timeout=timeout, max_bytes=max_bytes)
            if article is not None:
                articles.append(article)
    if skipped:
        logger.info("%s: skipped %d entries already ingested", source, skipped)
    return LoadResult(articles, errors)


def _read_feed_source(client: httpx.Client, source: str, *, timeout: float, max_bytes: int
                      ) -> tuple[bytes, str]:
    """(bytes, base URL) of a feed given as a URL or a local file."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", source):
        fetched = fetch_with(client, source, timeout=timeout, max_bytes=max_bytes)
        return fetched.body, fetched.url
    path = Path(source)
    if not path.is_file():
        raise LoadError(f"{source}: no such file")
    try:
        # A local feed has the same limit as a fetched one, known before a byte is read.
        if path.stat().st_size > max_bytes:
            raise LoadError(f"{source}: feed file is larger than {max_bytes} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"{source}: cannot read the file ({exc.strerror or short_reason(exc)})") from None
    if not data.strip():
        raise LoadError(f"{source}: file is empty")
    return data, ""


def _not_a_feed(source: str, parsed: Any, data: bytes, base_url: str) -> str:
    reason = short_reason(parsed.get("bozo_exception")) if parsed.get("bozo") else "no entries"
    hint = ""
    if b"<html" in data[:4096].lower():
        links = feed_links(data.decode("utf-8", errors="replace"), base_url)
        hint = f"; the page names a feed at {links[0]}" if links else "; it is a web page"
    return f"{source}: not an RSS or Atom feed ({reason}){hint}"


def _entry_article(client: httpx.Client, entry: Any, key: str, publisher: str, errors: list[str], *,
                   fetch_pages: bool, timeout: float, max_bytes: int) -> Article | None:
    link = entry.get("link") or ""
    title = _one_line(entry.get("title", ""))
    date = _entry_date(entry)
    content = _entry_content(entry)
    text = content or _entry_summary(entry)
    pages: list[tuple[int, int]] = []
    # feedparser gives an Atom entry without a link its id as link ("urn:uuid:..."): no page.
    has_page = urlsplit(link).scheme.lower() in ("http", "https")
    if fetch_pages and has_page and len(content.split()) < SUMMARY_WORDS:
        try:
            page, page_errors = load_page(client, link, timeout=timeout, max_bytes=max_bytes)
        except LoadError as exc:
            errors.append(f"{exc}; kept the feed's summary")
        else:
            errors.extend(page_errors)
            # A page shorter than the feed's own teaser is a paywall or consent wall.
            if len(page.text) >= len(text):
                text, pages = page.text, page.pages
                title = title or page.title
                date = date or page.date
            else:
                logger.info("%s: page text shorter than the feed's summary; kept the summary", link)
    if not text:
        errors.append(f"{key}: feed entry has no text; skipped")
        return None
    url = link if has_page else ""
    return Article(article_id=article_id_for(key), key=key, source=key, title=title or _first_words(text),
                   text=text, url=url, date=date, publisher=publisher, pages=pages)


def _entry_content(entry: Any) -> str:
    """The entry's full content (RSS content:encoded, Atom <content>), cleaned; "" if none."""
    texts = [_detail_text(item) for item in entry.get("content") or []]
    return "\n\n".join(t for t in texts if t)


def _entry_summary(entry: Any) -> str:
    detail = entry.get("summary_detail") or {"value": entry.get("summary", ""), "type": "text/html"}
    return _detail_text(detail)


def _detail_text(detail: Any) -> str:
    value = str(detail.get("value") or "")
    if "html" in str(detail.get("type") or "text/html"):
        value = html_to_text(value)
    return clean_text(value.replace("\r\n", "\n"))


def _entry_date(entry: Any) -> str:
    for field_name in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(field_name)
        if parsed:
            return time.strftime("%Y-%m-%d", parsed)
    return ""


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _first_words(text: str, limit: int = 12) -> str:
    words = text.split()
    return " ".join(words[:limit]) + (" ..." if len(words) > limit else "")
