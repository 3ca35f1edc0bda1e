"""The Article every loader yields (files in index/loaders.py; PDFs, web pages and feeds in
index/sources.py), its stable id, and the one-line LoadError a loader raises."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field


class LoadError(Exception):
    """A file (or one record of it) could not be read as an article. The message is one line."""


@dataclass
class Article:
    """One article ready to index: clean text plus metadata."""

    article_id: str
    key: str  # what identifies the article across re-ingests: a path, or path#record
    source: str  # the ingested path or the URL, shown in citations
    title: str
    text: str
    path: str = ""
    url: str = ""
    date: str = ""
    publisher: str = ""
    content_hash: str = field(default="")
    # Where each page of a paginated source (a PDF) lies in `text`: (start, end) offsets, the
    # first pair being page 1. Empty for sources without pages.
    pages: list[tuple[int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.content_hash:
            payload = json.dumps(
                [self.title, self.text, self.url, self.date, self.publisher], ensure_ascii=False
            )
            self.content_hash = hashlib.sha256(payload.encode("utf-8")).hexdigest()


def article_id_for(key: str) -> str:
    """Stable short id for a key (a URL, a feed entry's id)."""
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def stable_article_id(url: str, title: str, text: str) -> str:
    """An article's id: from its URL when it has one, else from its title and text, never from
    where the file sits. Moving a folder changes no id, and the same article ingested from two
    paths or two machines is stored once."""
    if url:
        return article_id_for(url)
    payload = json.dumps(["content", title, text], ensure_ascii=False)
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()[:16]


@dataclass
class LoadResult:
    articles: list[Article]
    errors: list[str]  # one-line messages for records that failed inside a readable file
