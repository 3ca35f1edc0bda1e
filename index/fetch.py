"""Fetching http(s) resources for ingest: one GET with a size and a time limit, following a few
redirects (`fetch_with`, on a client from `http_client`); what kind of resource came back (a
page, plain text, a PDF or a feed) and its text. Every failure is a one-line `LoadError` that
starts with the URL.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from index.article import LoadError

logger = logging.getLogger(__name__)

USER_AGENT = "ArticleAssistant/0.1"
MAX_REDIRECTS = 5

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


def http_client(timeout: float) -> httpx.Client:
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


def fetch_with(client: httpx.Client, url: str, *, timeout: float, max_bytes: int) -> Fetched:
    """GET a http(s) URL on `client` (redirects as it follows them), reading at most max_bytes.

    `timeout` bounds the whole download, not only each read: a server that trickles bytes
    must not hold an ingest forever. Every failure is a one-line LoadError naming the URL.
    """
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
        raise LoadError(f"{url}: could not connect ({short_reason(exc)})") from None
    except httpx.HTTPError as exc:
        raise LoadError(f"{url}: download failed ({short_reason(exc)})") from None
    except httpx.InvalidURL as exc:
        raise LoadError(f"{url}: not a valid URL ({short_reason(exc)})") from None
    logger.info("fetched %s (%s, %d bytes)", final_url, content_type or "no type", size)
    return Fetched(url=final_url, content_type=content_type, body=b"".join(chunks), charset=charset)


def _parse_content_type(header: str) -> tuple[str, str]:
    kind, _, params = header.partition(";")
    match = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", params, re.IGNORECASE)
    return kind.strip().lower(), match.group(1).lower() if match else ""


def kind_of(fetched: Fetched) -> str:
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


def decode_body(fetched: Fetched, *, html: bool) -> str:
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


def short_reason(exc: object) -> str:
    """An exception as a short single line for an error message."""
    text = re.sub(r"\s+", " ", str(exc)).strip() if exc is not None else ""
    name = type(exc).__name__ if exc is not None else "error"
    text = text or name
    return text if len(text) <= 160 else text[:157] + "..."
