"""Load article files into clean text plus metadata.

Supported: .txt (first non-empty line is the title), .md, .html/.htm, .json (one record or a
list of records) and .jsonl (one record a line). A JSON record is one article with `text` and
optional `title`, `url`, `date` and `source` fields.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from index.clean import clean_text

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl")
# Files that describe a folder rather than report news. They are skipped when a folder is
# ingested (a file named explicitly is always ingested).
FOLDER_DOC_NAMES = {"readme", "license", "licence", "changelog", "contributing", "notice",
                    "copying", "authors"}


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

    def __post_init__(self) -> None:
        if not self.content_hash:
            payload = json.dumps(
                [self.title, self.text, self.url, self.date, self.publisher], ensure_ascii=False
            )
            self.content_hash = hashlib.sha256(payload.encode("utf-8")).hexdigest()


def article_id_for(key: str) -> str:
    """Stable short id for an article key, so re-ingesting the same file updates it in place."""
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


@dataclass
class LoadResult:
    articles: list[Article]
    errors: list[str]  # one-line messages for records that failed inside a readable file


def discover(paths: list[str | Path]) -> tuple[list[Path], list[str]]:
    """Expand files and folders into supported files. Returns (files, one-line errors)."""
    files: list[Path] = []
    errors: list[str] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            errors.append(f"{raw}: no such file or directory")
        elif path.is_dir():
            found = sorted(
                p for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
                and p.stem.lower() not in FOLDER_DOC_NAMES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                errors.append(f"{raw}: folder holds no .txt, .md, .html, .json or .jsonl files")
            files.extend(found)
        elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
            errors.append(f"{raw}: unsupported file type {path.suffix or '(none)'}; "
                          "use .txt, .md, .html, .json or .jsonl")
        else:
            files.append(path)
    unique = list(dict.fromkeys(p.resolve() for p in files))
    return unique, errors


def read_text_file(path: Path) -> str:
    data = path.read_bytes()
    if not data.strip():
        raise LoadError(f"{path}: file is empty")
    if b"\x00" in data[:8192]:
        raise LoadError(f"{path}: binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(f"{path}: not valid UTF-8 text (byte {exc.start})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def load_file(path: Path) -> LoadResult:
    """Load one file. Raises LoadError when nothing in it can be used."""
    raw = read_text_file(path)
    suffix = path.suffix.lower()
    key = str(path)
    if suffix in (".json", ".jsonl"):
        return _load_json(path, raw)
    if suffix in (".html", ".htm"):
        title, body, meta = _parse_html(raw)
    elif suffix in (".md", ".markdown"):
        meta, raw = _front_matter(raw)
        title, body = _split_markdown(raw, first_line_title="title" not in meta)
        title = meta.get("title") or title
    else:
        title, body = _split_first_line(raw)
        if not clean_text(body):
            # A file of one line (or one line plus boilerplate) is the article itself, not a
            # title with nothing under it.
            title, body = "", raw
        meta = {}
    text = clean_text(body)
    if not text:
        raise LoadError(f"{path}: no article text left after removing boilerplate")
    article = Article(
        article_id=article_id_for(key), key=key, source=meta.get("url") or str(path),
        title=title or path.stem, text=text, path=str(path), url=meta.get("url", ""),
        date=meta.get("date", ""), publisher=meta.get("source", ""),
    )
    return LoadResult([article], [])


def _split_first_line(raw: str) -> tuple[str, str]:
    lines = raw.split("\n")
    for i, line in enumerate(lines):
        if line.strip():
            return line.strip(), "\n".join(lines[i + 1:])
    return "", ""


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_FRONT_MATTER_KEYS = {"title": "title", "date": "date", "published": "date", "url": "url",
                      "link": "url", "source": "source", "publisher": "source"}


def _front_matter(raw: str) -> tuple[dict[str, str], str]:
    """Metadata from a leading YAML front-matter block (`---` ... `---`), and the rest.
    Without this the block's `title: ...` lines would be indexed as article text."""
    match = re.match(r"---[ \t]*\n(.*?\n)---[ \t]*(\n|$)", raw, re.DOTALL)
    if not match:
        return {}, raw
    meta: dict[str, str] = {}
    for line in match.group(1).split("\n"):
        key, sep, value = line.partition(":")
        name = _FRONT_MATTER_KEYS.get(key.strip().lower())
        if sep and name:
            meta.setdefault(name, value.strip().strip("\"'").strip())
    return {k: v for k, v in meta.items() if v}, raw[match.end():]


def _split_markdown(raw: str, first_line_title: bool = True) -> tuple[str, str]:
    title = ""
    body_lines = []
    for line in raw.split("\n"):
        stripped = line.strip()
        if not title and stripped.startswith("#"):
            title = stripped.lstrip("#").strip()
            continue
        if re.fullmatch(r"[-*_]{3,}", stripped):
            continue
        line = re.sub(r"^\s{0,3}#{1,6}\s*", "", line)
        line = re.sub(r"^\s*[-*+]\s+", "", line)
        line = re.sub(r"^\s*>\s?", "", line)
        line = _MD_LINK.sub(r"\1", line)
        line = re.sub(r"(\*\*|__|\*|`)", "", line)
        body_lines.append(line)
    body = "\n".join(body_lines)
    if not title and first_line_title:
        title, body = _split_first_line(body)
    return title, body


class _ArticleHTMLParser(HTMLParser):
    """Collects readable blocks of a news page, skipping navigation, scripts, footers and the
    share bars, teasers and comment boxes that pages mark with a class or id."""

    _SKIP = frozenset({"script", "style", "nav", "header", "footer", "aside", "form", "noscript",
             "svg", "button", "iframe", "template", "menu"})
    _BLOCK = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "div", "section",
              "article", "br", "tr", "figcaption", "pre", "main"})
    # Only containers that pages reliably close: a skipped <p> or <li> left open would swallow
    # the rest of the article.
    _CLASS_SKIPPABLE = frozenset({"div", "section", "ul", "ol", "span", "figure", "table"})
    _BOILERPLATE_CLASS = re.compile(
        r"(^|[-_\s])(share|sharing|social|related|newsletter|subscribe|comments?|promo|advert|ads?|"
        r"breadcrumbs?|recommended|most-read|trending|sidebar|cookie|paywall)([-_\s]|$)", re.IGNORECASE)

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        # The outermost skipped element, and how deeply tags of its name nest inside it.
        self.skip_tag: str | None = None
        self.skip_nesting = 0
        self.in_article = 0
        self.in_title = False
        self.title = ""
        self.h1 = ""
        self.in_h1 = False
        self.h1_done = False
        self.blocks: list[str] = []
        self.current: list[str] = []
        self.meta: dict[str, str] = {}

    def _starts_skip(self, tag: str, attributes: dict[str, str]) -> bool:
        if tag == "header" and self.in_article:
            return False  # an article's own header holds its headline
        if tag in self._SKIP:
            return True
        marks = f"{attributes.get('class', '')} {attributes.get('id', '')}"
        return tag in self._CLASS_SKIPPABLE and bool(self._BOILERPLATE_CLASS.search(marks))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if self.skip_tag:
            self.skip_nesting += tag == self.skip_tag
        elif self._starts_skip(tag, attributes):
            self.skip_tag, self.skip_nesting = tag, 1
        if tag in ("article", "main"):
            self.in_article += 1
        if tag == "title":
            self.in_title = True
        elif tag == "meta":
            name = (attributes.get("property") or attributes.get("name") or "").lower()
            content = attributes.get("content", "")
            if name in ("og:url",):
                self.meta.setdefault("url", content)
            elif name in ("article:published_time", "date", "pubdate", "og:published_time"):
                self.meta.setdefault("date", content)
            elif name in ("og:site_name", "publisher"):
                self.meta.setdefault("source", content)
        elif tag == "link" and attributes.get("rel") == "canonical":
            self.meta.setdefault("url", attributes.get("href", ""))
        elif tag == "time" and attributes.get("datetime"):
            self.meta.setdefault("date", attributes["datetime"])
        if tag in self._BLOCK:
            self._flush()
        if tag == "h1" and not self.h1_done and not self.skip_tag:
            self.in_h1 = True

    def handle_endtag(self, tag: str) -> None:
        if self.skip_tag and tag == self.skip_tag:
            self.skip_nesting -= 1
            if self.skip_nesting == 0:
                self.skip_tag = None
        if tag in ("article", "main") and self.in_article:
            self.in_article -= 1
        if tag == "title":
            self.in_title = False
        if tag == "h1" and self.in_h1:
            self.in_h1 = False
            self.h1_done = bool(self.h1.strip())
        if tag in self._BLOCK:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data
            return
        if self.skip_tag:
            return
        if self.in_h1:
            self.h1 += data
            return
        self.current.append(data)

    def _flush(self) -> None:
        text = re.sub(r"\s+", " ", "".join(self.current)).strip()
        if text:
            self.blocks.append(text)
        self.current = []


def _parse_html(raw: str) -> tuple[str, str, dict[str, str]]:
    parser = _ArticleHTMLParser()
    parser.feed(raw)
    parser.close()
    parser._flush()
    title = re.sub(r"\s+", " ", parser.h1 or parser.title).strip()
    return title, "\n\n".join(parser.blocks), parser.meta


_TEXT_FIELDS = ("text", "body", "content", "article")


def _load_json(path: Path, raw: str) -> LoadResult:
    records: list[tuple[str, object]] = []
    errors: list[str] = []
    if path.suffix.lower() == ".jsonl":
        for number, line in enumerate(raw.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                records.append((f"line {number}", json.loads(line)))
            except json.JSONDecodeError as exc:
                errors.append(f"{path}:{number}: malformed JSON ({exc.msg})")
    else:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise LoadError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg})") from None
        items = data if isinstance(data, list) else [data]
        records = [(f"record {i + 1}", item) for i, item in enumerate(items)]
    articles = []
    for where, record in records:
        try:
            articles.append(_article_from_record(path, where, record))
        except LoadError as exc:
            errors.append(str(exc))
    if not articles:
        raise LoadError(errors[0] if len(errors) == 1 else f"{path}: no usable article records "
                        f"({len(errors)} errors; first: {errors[0] if errors else 'none'})")
    return LoadResult(articles, errors)


def _article_from_record(path: Path, where: str, record: object) -> Article:
    if not isinstance(record, dict):
        raise LoadError(f"{path} ({where}): a record must be a JSON object")
    body = next((record[f] for f in _TEXT_FIELDS if isinstance(record.get(f), str)), None)
    if body is None or not body.strip():
        raise LoadError(f"{path} ({where}): record has no 'text' field")
    text = clean_text(body.replace("\r\n", "\n"))
    if not text:
        raise LoadError(f"{path} ({where}): no article text left after removing boilerplate")
    url = str(record.get("url") or "")
    record_id = str(record.get("id") or url or where)
    key = f"{path}#{record_id}"
    return Article(
        article_id=article_id_for(key), key=key, source=url or f"{path}#{record_id}",
        title=str(record.get("title") or "").strip() or f"{path.stem} ({where})", text=text,
        path=str(path), url=url, date=str(record.get("date") or ""),
        publisher=str(record.get("source") or ""),
    )
