"""With a Chroma server, the server is the system of record for everything an answer needs.

Besides the chunk vectors (the `<collection>` collection, which dense search queries), a second
collection, `<collection>-articles`, holds per article:
- a header record (id = article id): the clean text as its document and the metadata (title,
  source, key, dates, pages, content hash, how many parts);
- part records (id = `article:version:n`): a JSON document with a slice of its sentences' offsets
  and vectors (base64; int8 with a scale a vector, as the catalog keeps them, `"format": "int8"`;
  parts written before 2026-12-04 hold float16 and are still read), and the chunks that slice
  completes (offsets and sentence range).

The header is the commit point: parts (and chunk vectors) are written first, the header after,
and only then are the previous version's parts deleted. A reader that fetches an article while
it is replaced sees a header whose parts are not all there, skips it and tries again at its next
sync. Removal deletes the header first, so an interrupted removal leaves orphans (which
`check --repair` deletes), never half an article.

The local catalog (SQLite, with the BM25 index) is then a cache of this record, brought up to
date by `sync_catalog` whenever the store's change token (index/state.py) moves, or the count of
these records falls (records deleted without the token moving: by another program, or by a
removal cut off before it replaced the token); deleting it loses nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from index.article import Article
from index.catalog import Catalog
from index.chunking import BIG_ARTICLE_SENTENCES, Chunk
from index.sentence_vectors import decode_packed, encode_int8
from index.text import Span

log = logging.getLogger(__name__)

def _placeholder(record_id: str) -> list[float]:
    """Records here are fetched by id or metadata, never by vector, but Chroma stores one for
    each: a 2-d unit vector spread by the id's hash, since an HNSW graph of thousands of
    identical points builds slowly."""
    angle = int(hashlib.sha1(record_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF * 2 * math.pi
    return [math.cos(angle), math.sin(angle)]


PAGE = 500  # records listed per request


@dataclass(frozen=True)
class PartRef:
    part_id: str
    article_id: str
    version: str


def version_of(article: Article) -> str:
    return article.content_hash[:16]


@dataclass(frozen=True)
class PartDraft:
    """One part record to write: a slice of an article's sentences (from `first`), their
    vectors, and the chunks that end in the slice."""

    article: Article
    number: int
    first: int
    sentences: Sequence[Span]
    vectors: np.ndarray
    chunks: Sequence[Chunk]

    def record(self) -> tuple[str, str, dict[str, Any]]:
        """(id, document, metadata) as stored."""
        payload = {
            "first": self.first,
            "spans": [[s.start, s.end] for s in self.sentences],
            "dim": int(self.vectors.shape[1]) if len(self.vectors) else 0,
            # The catalog's own form (index/sentence_vectors.py): half of float16's bytes, and
            # Chroma indexes every document's text for full-text search, which a local server
            # cannot be told not to do, so the payload's size counts several times over.
            "format": "int8",
            "vectors": base64.b64encode(
                b"".join(encode_int8(self.vectors)) if len(self.vectors) else b"").decode(),
            "chunks": [[c.index, c.start, c.end, c.first_sentence, c.last_sentence]
                       for c in self.chunks],
        }
        version = version_of(self.article)
        part_id = f"{self.article.article_id}:{version}:{self.number}"
        return part_id, json.dumps(payload), {"kind": "part", "article_id": self.article.article_id,
                                              "version": version, "n": self.number}


def part_vectors(payload: dict[str, Any], rows: int) -> np.ndarray:
    """The sentence vectors of a part record's payload (float32 rows), int8 or the float16 of
    parts written before."""
    data = base64.b64decode(payload["vectors"])
    return decode_packed(data, rows, str(payload.get("format", "float16")))


def _header(article: Article, n_chunks: int, n_parts: int) -> dict[str, Any]:
    return {"kind": "article", "article_id": article.article_id, "version": version_of(article),
            "content_hash": article.content_hash, "key": article.key, "source": article.source,
            "title": article.title, "url": article.url, "date": article.date,
            "publisher": article.publisher, "path": article.path,
            "pages": json.dumps(article.pages), "n_chunks": n_chunks, "n_parts": n_parts,
            "ingested_at": time.time()}


class ServerRecord:
    """The articles' records on the server (see the module docstring)."""

    def __init__(self, collection: Any, call: Callable[..., Any]) -> None:
        self.collection = collection
        self.call = call

    # --- writing --------------------------------------------------------------------------

    def write_part(self, article: Article, number: int, first: int, sentences: Sequence[Span],
                   vectors: np.ndarray, chunks: Sequence[Chunk]) -> None:
        self.write_parts([PartDraft(article, number, first, sentences, vectors, chunks)])

    def write_parts(self, drafts: Sequence[PartDraft]) -> None:
        """Upsert many parts (of one or many articles) in as few round trips as Chroma allows:
        each call costs tens of milliseconds whatever its size."""
        # One record per id (Chroma refuses a call that names an id twice): the last wins.
        records = list({r[0]: r for r in (draft.record() for draft in drafts)}.values())
        for begin in range(0, len(records), PAGE):
            batch = records[begin:begin + PAGE]
            self.call(self.collection.upsert, ids=[r[0] for r in batch],
                      embeddings=[_placeholder(r[0]) for r in batch],
                      documents=[r[1] for r in batch], metadatas=[r[2] for r in batch])

    def commit(self, article: Article, n_chunks: int, n_parts: int) -> None:
        self.commit_many([(article, n_chunks, n_parts)])

    def commit_many(self, articles: Sequence[tuple[Article, int, int]]) -> None:
        """Write the headers of (article, chunks, parts) whose parts are all written: each
        article is visible to every reader from its header on. Then drop the parts of the
        articles' previous versions. A batch cut short leaves some headers written, each over
        its whole set of parts, never a header without them."""
        latest = list({article.article_id: (article, chunks, parts)
                       for article, chunks, parts in articles}.values())
        for begin in range(0, len(latest), PAGE):
            batch = latest[begin:begin + PAGE]
            ids = [article.article_id for article, _, _ in batch]
            self.call(self.collection.upsert, ids=ids,
                      embeddings=[_placeholder(i) for i in ids],
                      documents=[article.text for article, _, _ in batch],
                      metadatas=[_header(article, n_chunks, n_parts)
                                 for article, n_chunks, n_parts in batch])
            # Each article's parts of any version but its own, all in one call.
            old = [{"$and": [{"article_id": article.article_id},
                             {"version": {"$ne": version_of(article)}}]}
                   for article, _, _ in batch]
            self.call(self.collection.delete, where={"$and": [
                {"kind": "part"}, old[0] if len(old) == 1 else {"$or": old}]})

    def delete(self, article_id: str) -> None:
        # Header first: from this moment no reader takes the article, whatever fails next.
        self.call(self.collection.delete, ids=[article_id])
        self.call(self.collection.delete, where={"$and": [{"article_id": article_id},
                                                          {"kind": "part"}]})

    def relocate(self, article_id: str, key: str, source: str, path: str) -> None:
        got = self.call(self.collection.get, ids=[article_id], include=["metadatas"])
        if got["ids"]:
            meta = {**got["metadatas"][0], "key": key, "source": source, "path": path}
            self.call(self.collection.update, ids=[article_id], metadatas=[meta])

    def delete_parts(self, part_ids: list[str]) -> None:
        for begin in range(0, len(part_ids), PAGE):
            self.call(self.collection.delete, ids=part_ids[begin:begin + PAGE])

    # --- reading --------------------------------------------------------------------------

    def _list(self, kind: str) -> tuple[list[str], list[dict[str, Any]]]:
        ids: list[str] = []
        metas: list[dict[str, Any]] = []
        while True:
            got = self.call(self.collection.get, where={"kind": kind}, include=["metadatas"],
                            limit=PAGE, offset=len(ids))
            ids.extend(got["ids"])
            metas.extend(dict(m) for m in got["metadatas"])
            if len(got["ids"]) < PAGE:
                return ids, metas

    def headers(self) -> dict[str, dict[str, Any]]:
        ids, metas = self._list("article")
        return dict(zip(ids, metas, strict=True))

    def count(self) -> int:
        """How many records (headers and parts) the collection holds: one request, however many
        articles. A count lower than at the last sync means records were deleted."""
        return int(self.call(self.collection.count))

    def parts(self) -> list[PartRef]:
        ids, metas = self._list("part")
        return [PartRef(i, str(m["article_id"]), str(m["version"]))
                for i, m in zip(ids, metas, strict=True)]

    def fetch_into(self, catalog: Catalog, header: dict[str, Any]) -> bool:
        """Copy one article (header as listed) into the catalog. False when its parts are not
        all there (it is being replaced right now): the next sync takes it."""
        article_id = str(header["article_id"])
        got = self.call(self.collection.get, ids=[article_id], include=["documents", "metadatas"])
        if not got["ids"] or got["metadatas"][0].get("version") != header["version"]:
            return False
        meta, text = dict(got["metadatas"][0]), got["documents"][0]
        parts = self.call(self.collection.get, where={"$and": [
            {"article_id": article_id}, {"kind": "part"}, {"version": meta["version"]}]},
            include=["documents", "metadatas"])
        if len(parts["ids"]) != int(meta["n_parts"]):
            return False
        article = Article(
            article_id=article_id, key=str(meta["key"]), source=str(meta["source"]),
            title=str(meta["title"]), text=text, path=str(meta["path"]), url=str(meta["url"]),
            date=str(meta["date"]), publisher=str(meta["publisher"]),
            content_hash=str(meta["content_hash"]),
            pages=[tuple(p) for p in json.loads(str(meta["pages"]))])  # type: ignore[misc]
        order = sorted(range(len(parts["ids"])), key=lambda i: int(parts["metadatas"][i]["n"]))
        # As at ingest: only a big article's chunks keep their own text (CHUNK_TEXT_SQL). The
        # parts are consecutive slices of its sentences, so the last one says how many there
        # are; each part is parsed as it is written, never all of a big article's at once.
        last = json.loads(parts["documents"][order[-1]]) if order else {"first": 0, "spans": []}
        big = last["first"] + len(last["spans"]) > BIG_ARTICLE_SENTENCES
        prefix = f"{article_id}-{article.content_hash[:10]}-"
        with catalog.replacing_article(article, int(meta["n_chunks"])) as writer:
            for i in order:
                payload = json.loads(parts["documents"][i])
                spans = [Span(text[a:b], a, b) for a, b in payload["spans"]]
                if spans:
                    writer.sentences(payload["first"], spans, part_vectors(payload, len(spans)))
                chunks = [Chunk(c[0], c[1], c[2], c[3], c[4], text[c[1]:c[2]])
                          for c in payload["chunks"]]
                writer.chunks(chunks, [f"{prefix}{c.index}" for c in chunks], keep_text=big)
        return True


def sync_catalog(record: ServerRecord, catalog: Catalog, *, drop: bool = True
                 ) -> tuple[int, int, bool]:
    """Make the catalog (a cache) hold what the server holds. Returns (articles fetched,
    articles dropped, complete). Articles whose content hash matches are not fetched again.
    With `drop` False, cached articles the server has no record of are kept (`check` reports
    them before `--repair` drops them), and the sync is not complete while any are."""
    headers = record.headers()
    local = catalog.content_hashes()
    locations = catalog.locations()
    dropped = 0
    gone = sorted(set(local) - set(headers))
    for article_id in gone if drop else ():
        catalog.delete_article(article_id)
        dropped += 1
    fetched, complete = 0, drop or not gone
    for article_id, meta in headers.items():
        if local.get(article_id) != meta.get("content_hash"):
            if record.fetch_into(catalog, meta):
                fetched += 1
            else:
                complete = False
        elif locations.get(article_id) != (meta["key"], meta["source"], meta["path"]):
            catalog.relocate(article_id, str(meta["key"]), str(meta["source"]), str(meta["path"]))
    if fetched or dropped:
        # The lexical index applies them now rather than at the first question.
        catalog.sync_lexical()
        log.info("synced the store from the server: %d articles fetched, %d dropped",
                 fetched, dropped)
    return fetched, dropped, complete
