"""What every HTML string of the web chat starts from: `esc` and `safe_url`; the footnote links
that answers, the sources strip and the source viewer share; how a source is labelled."""

from __future__ import annotations

import html
import re
from pathlib import PurePath
from urllib.parse import urlparse


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


def cite_link(turn: int, n: int, title: str, active: bool = False) -> str:
    cls = "aa-cite aa-active" if active else "aa-cite"
    return (f'<a class="{cls}" href="{cite_href(turn, n)}" title="{esc(title)}" '
            f'aria-label="Source {n}: {esc(title)}">{n}</a>')



def source_label(source: str) -> str:
    """A local path shows as its file name (the full path is in the tooltip); URLs as they are."""
    if safe_url(source):
        return source
    return PurePath(source).name or source
