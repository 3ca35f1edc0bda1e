"""Ingest sources beyond local text files: PDFs, web pages by URL, and RSS/Atom feeds.

Every source ends as `index.article.Article`s with the same cleaning as local files
(`index.clean.clean_text`), and every failure is a one-line `LoadError` (or one line in
`LoadResult.errors`) that starts with the path or URL, so the CLI can list what went wrong
without a traceback.

Keys: a PDF file is keyed by its path like any other file; a web page by its canonical URL (so
the same story reached through a tracking link or a redirect updates one article); a feed entry
by its link (or its id when it has none), which is also what `known_keys` is matched against so
that re-running a feed fetches only the entries not yet ingested.
"""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urldefrag, urlsplit

import feedparser
import httpx
from pypdf import PdfReader

from index.article import Article, LoadError, LoadResult, article_id_for, stable_article_id
from index.clean import clean_text
from index.html import extract_html, feed_links, html_to_text

logger = logging.getLogger(__name__)

USER_AGENT = "ArticleAssistant/0.1"
MAX_REDIRECTS = 5
# A feed entry whose own content is shorter than this is a teaser: with fetch_pages the linked
# page is read instead.
SUMMARY_WORDS = 80

_FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml",
                         "application/x-rss+xml", "application/x-atom+xml"})
_XML_TYPES = frozenset({"application/xml", "text/xml"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_FEED_MARKERS = (b"<rss", b"<feed", b"<rdf:rdf")


@dataclass
class Fetched:
    """One fetched resource, read whole (it is at most max_bytes)."""

    url: str  # the final URL, after redirects
    content_type: str  # lower case, without parameters; "" when the server sent none
    body: bytes
    charset: str = ""  # from the Content-Type header; "" when not sent


# -- PDF ----------------------------------------------------------------------------------------


def load_pdf(path: Path) -> LoadResult:
    """Load a text PDF page by page; `Article.pages` says where each page lies in the text.

    Pages are cleaned one by one (so a running header is judged per page, as on paper) and
    joined with a blank line; a page without text gets an empty (pos, pos) span so page numbers
    stay right. Raises LoadError for scanned, encrypted or unreadable PDFs.
    """
    path = Path(path)
    if not path.is_file():
        raise LoadError(f"{path}: no such file")
    try:
        with path.open("rb") as handle:
            title, text, pages, errors = _read_pdf(handle, str(path), path.stem)
    except OSError as exc:
        raise LoadError(f"{path}: cannot read the file ({exc.strerror or _reason(exc)})") from None
    key = str(path)
    article = Article(article_id=stable_article_id("", title, text), key=key, source=str(path),
                      title=title, text=text, path=str(path), pages=pages)
    return LoadResult([article], errors)


def _read_pdf(stream: BinaryIO, label: str, fallback_title: str
              ) -> tuple[str, str, list[tuple[int, int]], list[str]]:
    """(title, text, page spans, per-page errors) of a PDF; `label` names it in errors."""
    errors: list[str] = []
    if b"%PDF-" not in stream.read(1024):
        raise LoadError(f"{label}: not a PDF file (no %PDF header)")
    stream.seek(0)
    try:
        reader = PdfReader(stream)
        if reader.is_encrypted:
            _decrypt(reader, label)
        page_texts: list[str] = []
        for number, page in enumerate(reader.pages, start=1):
            try:
                page_texts.append(page.extract_text() or "")
            except Exception as exc:  # one broken page should not lose the others
                errors.append(f"{label}: page {number} could not be read ({_reason(exc)})")
                page_texts.append("")
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except LoadError:
        raise
    except Exception as exc:  # pypdf raises many kinds on damaged files
        raise LoadError(f"{label}: not a readable PDF ({_reason(exc)})") from None
    if not page_texts:
        raise LoadError(f"{label}: the PDF has no pages")

    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    for raw in page_texts:
        cleaned = clean_text(raw.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n"))
        if not cleaned:
            spans.append((pos, pos))
            continue
        if parts:
            parts.append("\n\n")
            pos += 2
        parts.append(cleaned)
        spans.append((pos, pos + len(cleaned)))
        pos += len(cleaned)
    text = "".join(parts)
    if not text:
        raise LoadError(f"{label}: no text in the PDF (scanned pages need OCR)")
    title = _pdf_title(str(meta_title)) or _first_short_line(text) or fallback_title
    return title, text, spans, errors


def _decrypt(reader: PdfReader, label: str) -> None:
    """Open a PDF that is encrypted with an empty user password (many are: only editing is
    restricted); anything else needs a password we do not have."""
    try:
        opened = reader.decrypt("")
    except Exception as exc:  # e.g. AES without the cryptography package
        raise LoadError(f"{label}: the PDF is encrypted and cannot be opened ({_reason(exc)})") from None
    if not opened:
        raise LoadError(f"{label}: the PDF is encrypted with a password")


_FILENAME_TITLE = re.compile(
    r"(\.(docx?|odt|rtf|pdf|txt|indd|pptx?|xlsx?|tex)$|^microsoft \w+ - |^untitled$)", re.IGNORECASE)


def _pdf_title(title: str) -> str:
    """The metadata title unless it is the name of the file the PDF was made from."""
    title = re.sub(r"\s+", " ", title).strip()
    if not title or _FILENAME_TITLE.search(title):
        return ""
    return title


def _first_short_line(text: str) -> str:
    """The first line of the first page when it is short enough to be a heading."""
    for line in text.split("\n", 3)[:3]:
        line = line.strip()
        if line:
            return line if len(line) <= 120 and re.search(r"[^\W\d_]{2}", line) else ""
    return ""


# -- fetching -----------------------------------------------------------------------------------


def fetch(url: str, *, timeout: float = 20, max_bytes: int = 10_000_000) -> Fetched:
    """GET a http(s) URL, following up to 5 redirects, reading at most max_bytes.

    `timeout` bounds the whole download, not only each read: a server that trickles bytes
    must not hold an ingest forever. Every failure is a one-line LoadError naming the URL.
    """
    with _client(timeout) as client:
        return _fetch(client, url, timeout=timeout, max_bytes=max_bytes)


def _client(timeout: float) -> httpx.Client:
    return httpx.Client(
        follow_redirects=True, max_redirects=MAX_REDIRECTS, timeout=httpx.Timeout(timeout),
        headers={"User-Agent": USER_AGENT,
                 "Accept": "text/html,application/xhtml+xml,application/pdf,text/plain;q=0.9,*/*;q=0.5"},
    )


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise LoadError(f"{url}: only http:// and https:// URLs can be fetched")
    if not parts.netloc:
        raise LoadError(f"{url}: not a valid URL (no host)")


def _fetch(client: httpx.Client, url: str, *, timeout: float, max_bytes: int) -> Fetched:
    _check_url(url)
    deadline = time.monotonic() + timeout
    try:
        with client.stream("GET", url) as response:
            if response.status_code >= 400:
                reason = response.reason_phrase or "error"
                raise LoadError(f"{url}: HTTP {response.status_code} {reason}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise LoadError(f"{url}: page is larger than {max_bytes} bytes")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise LoadError(f"{url}: page is larger than {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise LoadError(f"{url}: timed out after {timeout:g} s")
                chunks.append(chunk)
            content_type, charset = _parse_content_type(response.headers.get("content-type", ""))
            final_url = str(response.url)
    except LoadError:
        raise
    except httpx.TimeoutException:
        raise LoadError(f"{url}: timed out after {timeout:g} s") from None
    except httpx.TooManyRedirects:
        raise LoadError(f"{url}: more than {MAX_REDIRECTS} redirects") from None
    except httpx.UnsupportedProtocol:
        raise LoadError(f"{url}: redirected to a URL that is not http:// or https://") from None
    except httpx.ConnectError as exc:
        raise LoadError(f"{url}: could not connect ({_reason(exc)})") from None
    except httpx.HTTPError as exc:
        raise LoadError(f"{url}: download failed ({_reason(exc)})") from None
    except httpx.InvalidURL as exc:
        raise LoadError(f"{url}: not a valid URL ({_reason(exc)})") from None
    logger.info("fetched %s (%s, %d bytes)", final_url, content_type or "no type", size)
    return Fetched(url=final_url, content_type=content_type, body=b"".join(chunks), charset=charset)


def _parse_content_type(header: str) -> tuple[str, str]:
    kind, _, params = header.partition(";")
    match = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", params, re.IGNORECASE)
    return kind.strip().lower(), match.group(1).lower() if match else ""


def _kind(fetched: Fetched) -> str:
    """"html", "text", "pdf", "feed" or "" (unsupported), from the type and the first bytes;
    the bytes decide when a server sends no type or a generic one."""
    ctype = fetched.content_type
    head = fetched.body[:2048].lstrip().lower()
    if ctype == "application/pdf" or fetched.body.startswith(b"%PDF-"):
        return "pdf"
    if ctype in _FEED_TYPES:
        return "feed"
    if ctype in _XML_TYPES or (ctype in ("", "application/octet-stream") and head.startswith(b"<?xml")):
        if any(marker in head for marker in _FEED_MARKERS):
            return "feed"
        return "html" if b"<html" in head else ""
    if ctype in _HTML_TYPES:
        return "html"
    if ctype == "text/plain":
        return "text"
    if ctype in ("", "application/octet-stream"):
        if head.startswith((b"<!doctype html", b"<html")) or b"<body" in head:
            return "html"
        return "text" if b"\x00" not in head else ""
    return ""


def _decode(fetched: Fetched, *, html: bool) -> str:
    """Text of a body: the header's charset, else a BOM or the page's <meta charset>, else
    UTF-8, else Windows-1252 (which decodes any byte)."""
    body = fetched.body
    candidates = [fetched.charset] if fetched.charset else []
    if body.startswith(b"\xef\xbb\xbf"):
        candidates.insert(0, "utf-8-sig")
    if html:
        match = re.search(rb"<meta[^>]+charset\s*=\s*[\"']?([\w.:-]+)", body[:4096], re.IGNORECASE)
        if match:
            candidates.append(match.group(1).decode("ascii", "ignore"))
    candidates.append("utf-8")
    for encoding in candidates:
        try:
            return body.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("cp1252", errors="replace")


# -- web pages ----------------------------------------------------------------------------------


def load_url(url: str, *, timeout: float = 20, max_bytes: int = 10_000_000) -> LoadResult:
    """Fetch one page (HTML, plain text or PDF) and turn it into an Article keyed by its
    canonical URL. Raises LoadError (one line, naming the URL) when that is not possible."""
    with _client(timeout) as client:
        article, errors = _load_page(client, url, timeout=timeout, max_bytes=max_bytes)
    return LoadResult([article], errors)


def _load_page(client: httpx.Client, url: str, *, timeout: float, max_bytes: int
               ) -> tuple[Article, list[str]]:
    """The article at a URL, and one-line errors about parts of it (unreadable PDF pages)."""
    fetched = _fetch(client, url, timeout=timeout, max_bytes=max_bytes)
    kind = _kind(fetched)
    final = urldefrag(fetched.url).url
    if kind == "feed":
        raise LoadError(f"{url}: this is an RSS/Atom feed; ingest it with --feed")
    if kind == "pdf":
        title, text, pages, errors = _read_pdf(io.BytesIO(fetched.body), url, _title_from_url(final))
        return _url_article(final, title=title, text=text, pages=pages), errors
    if kind == "html":
        page = extract_html(_decode(fetched, html=True), fetched.url)
        text = clean_text(page.text)
        if not text:
            raise LoadError(f"{url}: no article text found in the page")
        key = urldefrag(page.url).url if page.url else final
        return _url_article(key, title=page.title or _title_from_url(key), text=text, date=page.date,
                            publisher=page.publisher), []
    if kind == "text":
        raw = _decode(fetched, html=False).replace("\r\n", "\n").replace("\r", "\n")
        title, body = _headline_split(raw)
        text = clean_text(body)
        if not text:
            raise LoadError(f"{url}: no article text in the document")
        return _url_article(final, title=title or _title_from_url(final), text=text), []
    shown = fetched.content_type or "unknown"
    raise LoadError(f"{url}: unsupported content type {shown}; expected an HTML page, plain text or a PDF")


def _url_article(key: str, *, title: str, text: str, date: str = "", publisher: str = "",
                 pages: list[tuple[int, int]] | None = None) -> Article:
    return Article(article_id=article_id_for(key), key=key, source=key, title=title, text=text, url=key,
                   date=date, publisher=publisher, pages=pages or [])


def _headline_split(raw: str) -> tuple[str, str]:
    """(title, rest) when the first line reads like a headline (short, not a sentence, with
    text after it); else ("", raw), because a plain-text page often starts mid-report."""
    lines = raw.split("\n")
    for i, line in enumerate(lines):
        candidate = line.strip()
        if not candidate:
            continue
        rest = "\n".join(lines[i + 1:])
        looks_like_headline = (
            len(candidate) <= 120 and len(candidate.split()) <= 16
            and not candidate.endswith((".", ",", ";", ":")) and candidate[0].isupper()
        )
        if looks_like_headline and clean_text(rest):
            return candidate, rest
        return "", raw
    return "", raw


def _title_from_url(url: str) -> str:
    parts = urlsplit(url)
    segment = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    segment = re.sub(r"\.(html?|php|aspx?|txt|pdf)$", "", segment, flags=re.IGNORECASE)
    words = re.sub(r"[-_+]+", " ", segment).strip()
    return words or parts.hostname or url


# -- feeds --------------------------------------------------------------------------------------


def load_feed(source: str, *, fetch_pages: bool = False, known_keys: Collection[str] = (),
              timeout: float = 20, max_bytes: int = 10_000_000) -> LoadResult:
    """One Article per entry of an RSS or Atom feed given as a URL or a local file.

    Entries whose key is in `known_keys` are skipped before anything is fetched for them. With
    `fetch_pages`, an entry that carries only a teaser has its linked page read instead; when
    that fails the teaser is kept and the failure is one line in LoadResult.errors.
    """
    known = set(known_keys)
    with _client(timeout) as client:
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
        fetched = _fetch(client, source, timeout=timeout, max_bytes=max_bytes)
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
        raise LoadError(f"{source}: cannot read the file ({exc.strerror or _reason(exc)})") from None
    if not data.strip():
        raise LoadError(f"{source}: file is empty")
    return data, ""


def _not_a_feed(source: str, parsed: Any, data: bytes, base_url: str) -> str:
    reason = _reason(parsed.get("bozo_exception")) if parsed.get("bozo") else "no entries"
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
            page, page_errors = _load_page(client, link, timeout=timeout, max_bytes=max_bytes)
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


# -- small helpers ------------------------------------------------------------------------------


def _reason(exc: object) -> str:
    """An exception as a short single line for an error message."""
    text = re.sub(r"\s+", " ", str(exc)).strip() if exc is not None else ""
    name = type(exc).__name__ if exc is not None else "error"
    text = text or name
    return text if len(text) <= 160 else text[:157] + "..."


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _first_words(text: str, limit: int = 12) -> str:
    words = text.split()
    return " ".join(words[:limit]) + (" ..." if len(words) > limit else "")
