"""Ingest sources beyond local text files: PDFs and web pages by URL (RSS/Atom feeds are
index/feeds.py; fetching a URL is index/fetch.py).

Every source ends as `index.article.Article`s with the same cleaning as local files
(`index.clean.clean_text`), and every failure is a one-line `LoadError` (or one line in
`LoadResult.errors`) that starts with the path or URL, so the CLI can list what went wrong
without a traceback.

Keys: a PDF file is keyed by its path like any other file; a web page by its canonical URL (so
the same story reached through a tracking link or a redirect updates one article).
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urldefrag, urlsplit

import httpx
from pypdf import PdfReader

from index.article import Article, LoadError, LoadResult, article_id_for, stable_article_id
from index.clean import clean_text
from index.fetch import decode_body, fetch_with, http_client, kind_of, short_reason
from index.html import extract_html

# pypdf logs what it repairs or gives up on ("EOF marker not found") as warnings of its own; a
# file it cannot read is our one-line error, so its lines would only print twice.
logging.getLogger("pypdf").setLevel(logging.ERROR)

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
        raise LoadError(f"{path}: cannot read the file ({exc.strerror or short_reason(exc)})") from None
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
                errors.append(f"{label}: page {number} could not be read ({short_reason(exc)})")
                page_texts.append("")
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except LoadError:
        raise
    except Exception as exc:  # pypdf raises many kinds on damaged files
        raise LoadError(f"{label}: not a readable PDF ({short_reason(exc)})") from None
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
        raise LoadError(f"{label}: the PDF is encrypted and cannot be opened ({short_reason(exc)})") from None
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


# -- web pages ----------------------------------------------------------------------------------


def load_url(url: str, *, timeout: float = 20, max_bytes: int = 10_000_000) -> LoadResult:
    """Fetch one page (HTML, plain text or PDF) and turn it into an Article keyed by its
    canonical URL. Raises LoadError (one line, naming the URL) when that is not possible."""
    with http_client(timeout) as client:
        article, errors = load_page(client, url, timeout=timeout, max_bytes=max_bytes)
    return LoadResult([article], errors)


def load_page(client: httpx.Client, url: str, *, timeout: float, max_bytes: int
               ) -> tuple[Article, list[str]]:
    """The article at a URL, and one-line errors about parts of it (unreadable PDF pages)."""
    fetched = fetch_with(client, url, timeout=timeout, max_bytes=max_bytes)
    kind = kind_of(fetched)
    final = urldefrag(fetched.url).url
    if kind == "feed":
        raise LoadError(f"{url}: this is an RSS/Atom feed; ingest it with --feed")
    if kind == "pdf":
        title, text, pages, errors = _read_pdf(io.BytesIO(fetched.body), url, _title_from_url(final))
        return _url_article(final, title=title, text=text, pages=pages), errors
    if kind == "html":
        page = extract_html(decode_body(fetched, html=True), fetched.url)
        text = clean_text(page.text)
        if not text:
            raise LoadError(f"{url}: no article text found in the page")
        key = urldefrag(page.url).url if page.url else final
        return _url_article(key, title=page.title or _title_from_url(key), text=text, date=page.date,
                            publisher=page.publisher), []
    if kind == "text":
        raw = decode_body(fetched, html=False).replace("\r\n", "\n").replace("\r", "\n")
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
