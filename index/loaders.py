"""Load article files into clean text plus metadata.

Supported: .txt, .md, .html/.htm, .json (one record or a list of records), .jsonl (one record a
line) and .pdf (index/sources.py). A .txt file's title is its first line that is not a photo
caption, a byline or a "Published" stamp (index/topmatter.py), when that line looks like a
headline (short, no final full stop, a blank line after it); otherwise the text keeps it and
the title is the first sentence after the lines passed over. A .txt, .md or HTML article whose
metadata gives no date takes one from a "Published ..." line or a wire dateline at its top
(index/topmatter.py), never from the story's sentences. A JSON record is one article with
`text` and optional `title`, `url`, `date` and `source` fields. Text may be UTF-8, or UTF-16/32
with a byte-order mark.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
from datetime import date
from pathlib import Path

from index.article import Article, LoadError, LoadResult, stable_article_id
from index.clean import clean_text
from index.topmatter import date_from_top, is_not_headline, iso_date

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", ".pdf")
# Files that describe a folder rather than report news. They are skipped when a folder is
# ingested (a file named explicitly is always ingested).
FOLDER_DOC_NAMES = {"readme", "license", "licence", "changelog", "contributing", "notice",
                    "copying", "authors"}


def discover(paths: list[str | Path], follow_links: bool = False) -> tuple[list[Path], list[str]]:
    """Expand files and folders into supported regular files. Returns (files, one-line errors).

    Only regular files are read: a FIFO would block forever, a device (or a link to /dev/zero)
    would read until memory runs out. Inside a folder, a symbolic link is followed only when it
    stays inside that folder, unless `follow_links` (a link to /etc/passwd is not an article)."""
    files: list[Path] = []
    errors: list[str] = []
    for raw in paths:
        if not str(raw).strip():
            # Path("") is the current folder: everything under it would be ingested.
            errors.append("(empty path): give a file or folder")
            continue
        path = Path(raw)
        try:
            _discover_one(raw, path, follow_links, files, errors)
        except OSError as exc:  # a name too long, a permission on the way to it
            errors.append(f"{raw}: cannot read ({exc.strerror or exc})")
    unique = list(dict.fromkeys(p.resolve() for p in files))
    return unique, errors


def _discover_one(raw: str | Path, path: Path, follow_links: bool, files: list[Path],
                  errors: list[str]) -> None:
    """One path named to ingest: its supported files added to `files`, or a line to `errors`."""
    if not path.exists():
        errors.append(f"{raw}: no such file or directory" if not path.is_symlink()
                      else f"{raw}: broken symbolic link")
    elif path.is_dir():
        found, skipped = _walk(path, follow_links)
        errors.extend(skipped)
        if not found and not skipped:
            errors.append(f"{raw}: folder holds no .txt, .md, .html, .json, .jsonl or .pdf files")
        files.extend(found)
    elif not path.is_file():
        errors.append(f"{raw}: not a regular file (a FIFO, socket or device), skipped")
    elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
        errors.append(f"{raw}: unsupported file type {path.suffix or '(none)'}; "
                      "use .txt, .md, .html, .json, .jsonl or .pdf")
    else:
        files.append(path)


def _walk(root: Path, follow_links: bool) -> tuple[list[Path], list[str]]:
    """Supported files under `root`, sorted; and one-line notes on what was skipped."""
    real_root = root.resolve()
    found: list[Path] = []
    skipped: list[str] = []
    seen_dirs: set[Path] = set()
    for folder, dirs, names in os.walk(root, followlinks=follow_links):
        here = Path(folder)
        # A followed link may lead back to a folder already walked: stop the loop there.
        real = here.resolve()
        if real in seen_dirs:
            dirs[:] = []
            continue
        seen_dirs.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = here / name
            if name.startswith(".") or path.suffix.lower() not in SUPPORTED_SUFFIXES \
                    or path.stem.lower() in FOLDER_DOC_NAMES:
                continue
            if path.is_symlink() and not follow_links:
                try:
                    target = path.resolve()
                except (RuntimeError, OSError):  # Python raises RuntimeError for a link loop
                    skipped.append(f"{path}: symbolic link that loops back to itself, skipped")
                    continue
                if not target.is_relative_to(real_root):
                    skipped.append(f"{path}: symbolic link to {target}, outside {root}; skipped "
                                   "(use --follow-links to follow it)")
                    continue
            if not path.is_file():
                skipped.append(f"{path}: not a regular file (a FIFO, socket, device or broken "
                               "link), skipped")
                continue
            found.append(path)
    return found, skipped


# Byte-order marks, longest first (UTF-32's little-endian mark begins with UTF-16's).
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"), (b"\xef\xbb\xbf", "utf-8-sig"))


def check_size(path: Path, max_bytes: int | None = None) -> None:
    """Refuse, from `stat` alone, what is not a regular file or is over `max_bytes` (a sparse
    file's apparent size counts: its reading would yield every byte). Raises LoadError, or
    OSError when the file cannot be looked at."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise LoadError(f"{path}: not a regular file (a FIFO, socket or device)")
    if max_bytes is not None and info.st_size > max_bytes:
        raise LoadError(f"{path}: file is {info.st_size / 1e6:.1f} MB, over the "
                        f"{max_bytes / 1e6:.0f} MB limit (ASSISTANT_MAX_FILE_MB)")


def read_bytes(path: Path, max_bytes: int | None = None) -> bytes:
    """A regular file's bytes, refusing what is over `max_bytes` before reading it."""
    check_size(path, max_bytes)
    if max_bytes is None:
        return path.read_bytes()
    with path.open("rb") as handle:
        data = handle.read(max_bytes + 1)  # a file grown since its stat is refused too
    if len(data) > max_bytes:
        raise LoadError(f"{path}: file grew over the {max_bytes / 1e6:.0f} MB limit "
                        "(ASSISTANT_MAX_FILE_MB) while it was read")
    return data


def decode_text(path: Path, data: bytes) -> str:
    """Text from bytes: UTF-8, or UTF-16/32 when a byte-order mark says so. Line ends are
    normalised to \\n."""
    if not data.strip():
        raise LoadError(f"{path}: file is empty")
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8")
    if encoding == "utf-8" and b"\x00" in data[:8192]:
        raise LoadError(f"{path}: binary file, not text")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise LoadError(f"{path}: not valid {encoding.upper().replace('-SIG', '')} text "
                        f"(byte {exc.start})") from None
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise LoadError(f"{path}: file is empty")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_text_file(path: Path, max_bytes: int | None = None) -> str:
    return decode_text(path, read_bytes(path, max_bytes))


def load_file(path: Path, max_bytes: int | None = None) -> LoadResult:
    """Load one file. Raises LoadError when nothing in it can be used."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        from index.sources import load_pdf

        read_bytes(path, max_bytes)  # the size limit and the regular-file check
        return load_pdf(path)
    raw = read_text_file(path, max_bytes)
    key = str(path)
    if suffix in (".json", ".jsonl"):
        return _load_json(path, raw)
    if suffix in (".html", ".htm"):
        title, body, meta = _parse_html(raw)
        top = body
    elif suffix in (".md", ".markdown"):
        meta, raw = _front_matter(raw)
        title, body = _split_markdown(raw, first_line_title="title" not in meta)
        title = meta.get("title") or title
        top = body
    else:
        title, body = split_headline(raw)
        meta = {}
        top = raw  # a "Published" line may stand above the headline
    if not meta.get("date"):
        # Only marked lines at the top: a stated date, never one guessed from the story.
        date = date_from_top(top)
        if date:
            meta["date"] = date
    text = clean_text(body)
    if not text:
        raise LoadError(f"{path}: no article text left after removing boilerplate")
    title = title or title_from_text(text) or path.stem
    article = Article(
        article_id=stable_article_id(meta.get("url", ""), title, text), key=key,
        source=meta.get("url") or str(path), title=title, text=text, path=str(path),
        url=meta.get("url", ""), date=meta.get("date", ""), publisher=meta.get("source", ""),
    )
    return LoadResult([article], [])


# A headline: one short line without a closing full stop, set off by a blank line.
_HEADLINE_MAX_CHARS = 160
_TITLE_MAX_CHARS = 120


def split_headline(raw: str) -> tuple[str, str]:
    """(title, body) of plain text.

    Blank lines, photo captions, bylines and "Published" stamps at the top are passed over (a
    caption is no headline); the next line is the title when it looks like a headline (short,
    no final full stop, followed by a blank line, the end or another line passed over), and is
    then left out of the body. The lines passed over stay in the body: a caption is text a
    reader may cite. Otherwise the body is the whole text, and the title is the first sentence
    after the lines passed over, or "" when none was (the caller takes the first sentence)."""
    lines = raw.split("\n")
    start = 0
    passed_over = False
    while start < len(lines) and (not lines[start].strip() or is_not_headline(lines[start])):
        passed_over = passed_over or bool(lines[start].strip())
        start += 1
    if start == len(lines):
        return "", raw
    line = lines[start].strip()
    after = lines[start + 1:]
    set_off = not after or not after[0].strip() or is_not_headline(after[0])
    rest = "\n".join(after)
    if 0 < len(line) <= _HEADLINE_MAX_CHARS and not line.endswith(".") and set_off \
            and rest.strip() and clean_text(rest):
        return line, "\n".join(lines[:start] + after)
    if passed_over:
        remaining = clean_text("\n".join(lines[start:]))
        return (title_from_text(remaining) if remaining else ""), raw
    return "", raw


def title_from_text(text: str) -> str:
    """The first sentence, shortened at a word boundary to at most 120 characters."""
    from index.text import split_sentences

    sentences = split_sentences(text[:2000])
    first = sentences[0].text if sentences else text.strip().split("\n", 1)[0]
    if len(first) <= _TITLE_MAX_CHARS:
        return first
    return first[:_TITLE_MAX_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "…"


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


def _parse_html(raw: str) -> tuple[str, str, dict[str, str]]:
    """Title, main text and metadata of a news page (trafilatura, in index/html.py)."""
    from index.html import extract_html

    page = extract_html(raw)
    meta = {"url": page.url, "date": page.date, "source": page.publisher}
    return page.title, page.text, {k: v for k, v in meta.items() if v}


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
            except RecursionError:
                errors.append(f"{path}:{number}: JSON nested too deeply to read")
    else:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise LoadError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg})") from None
        except RecursionError:
            raise LoadError(f"{path}: JSON nested too deeply to read") from None
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


def _record_date(value: object, path: Path, where: str) -> str:
    """A record's date as YYYY-MM-DD (what date scopes compare), from an ISO date or time, a
    written-out date or a number such as 20250101; "" (and a warning) for anything else: a
    date stored as given ("not a date", "20250101") sorted wrongly against every scope."""
    if value in (None, ""):
        return ""
    text = str(value).strip()
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ].*)?", text):
            try:
                return date.fromisoformat(text[:10]).isoformat()
            except ValueError:
                pass
        elif iso := iso_date(text):
            return iso
    log.warning("%s (%s): date %r is not a date; the record is kept without one", path, where,
                text[:40])
    return ""


def _article_from_record(path: Path, where: str, record: object) -> Article:
    if not isinstance(record, dict):
        raise LoadError(f"{path} ({where}): a record must be a JSON object")
    body = next((record[f] for f in _TEXT_FIELDS if isinstance(record.get(f), str)), None)
    if body is None or not body.strip():
        raise LoadError(f"{path} ({where}): record has no 'text' field")
    text = clean_text(body.replace("\r\n", "\n"))
    if not text:
        raise LoadError(f"{path} ({where}): no article text left after removing boilerplate")
    url = record.get("url") if isinstance(record.get("url"), str) else ""
    record_id = str(record.get("id") or url or where)
    key = f"{path}#{record_id}"
    return Article(
        article_id=stable_article_id(url, str(record.get("title") or "").strip(), text), key=key,
        source=url or f"{path}#{record_id}",
        title=str(record.get("title") or "").strip() or f"{path.stem} ({where})", text=text,
        path=str(path), url=url, date=_record_date(record.get("date"), path, where),
        publisher=str(record.get("source") or ""),
    )
