"""The catalog: a SQLite file beside the vector store holding what is indexed.

It is the source of truth for which chunks are visible, so an ingest killed midway leaves the
previous index intact: new vectors are written to Chroma first under fresh ids, then the catalog
switches to them in one transaction, and only then are the old vectors deleted. Chroma results
whose ids the catalog does not know are ignored.

It also marks what the lexical (BM25) index beside it must apply (index/lexical.py: a tantivy
folder, a cache of these rows, because Chroma has no native sparse search), and holds the
per-sentence vectors that the extractive answerer and the grounding checker score against.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.article import Article
from index.catalog_lexical import CatalogLexicalSearch
from index.chunking import CHUNK_TEXT_SQL, CHUNKS_WITH_ARTICLES_SQL, Chunk
from index.lexical import LexicalIndex
from index.sections import SECTION_SENTENCES, SectionId, section_id_of_chunk, section_ids
from index.sentence_vectors import decode_many, encode_int8
from index.sqlite import SQLiteFile
from index.text import Span, words

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, raw_hash TEXT NOT NULL, n_articles INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS articles (
    article_id TEXT PRIMARY KEY, key TEXT UNIQUE NOT NULL, source TEXT NOT NULL,
    title TEXT NOT NULL, url TEXT NOT NULL, date TEXT NOT NULL, publisher TEXT NOT NULL,
    path TEXT NOT NULL, content_hash TEXT NOT NULL, text TEXT NOT NULL,
    n_chunks INTEGER NOT NULL, ingested_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_path ON articles(path);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE NOT NULL, article_id TEXT NOT NULL,
    idx INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
    sent_first INTEGER NOT NULL, sent_last INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE TABLE IF NOT EXISTS sentences (
    article_id TEXT NOT NULL, idx INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
    vector BLOB NOT NULL, PRIMARY KEY (article_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pages (
    article_id TEXT NOT NULL, page INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
    PRIMARY KEY (article_id, page)
) WITHOUT ROWID;
-- Articles whose chunks the lexical index has not applied yet (index/lexical.py); seq is new
-- with each mark, so a sync unmarks only the writes it applied.
CREATE TABLE IF NOT EXISTS lexical_pending (
    article_id TEXT PRIMARY KEY, seq INTEGER NOT NULL
) WITHOUT ROWID;
-- The articles' own words (lower-cased, unstemmed) and how many articles hold each: the
-- dictionary that spelling correction of questions draws on (assistant/spelling.py).
CREATE TABLE IF NOT EXISTS words (
    word TEXT PRIMARY KEY, articles INTEGER NOT NULL
) WITHOUT ROWID;
"""


# The meta of a catalog that caches a Chroma server's records (a store folder used with
# --chroma-url): the server's URL, recorded when the folder is first used so; and the change token
# and record count of its last complete sync (assistant/store.py). A folder whose catalog has
# either is a cache, which a command without the URL must not take for a store of its own.
CACHE_OF = "cache_of"
SYNCED_TOKEN = "synced_token"
SYNCED_RECORDS = "synced_records"


@dataclass(frozen=True)
class CatalogRole:
    """What a catalog file says its store folder is (read by `catalog_role`)."""

    # The URL of the Chroma server the catalog caches; "" for a cache whose first use came
    # before the URL was recorded; None when it is no cache but the folder's own store.
    cache_of: str | None
    holds_articles: bool


def catalog_role(path: Path) -> CatalogRole | None:
    """Whether the catalog at `path` is a Chroma server's cache, and whether it holds articles,
    read without writing anything: a command refused on what this says must leave the folder
    as it found it. None when there is no catalog, or it cannot be read (damaged, locked out):
    the commands' own checks report those."""
    if not path.is_file():
        return None
    # Read-only; and immutable when no WAL is beside it (all of it is in the file), since a
    # read-only connection to a WAL database still creates the -wal and -shm files.
    uri = path.absolute().as_uri() + "?mode=ro"
    if not Path(f"{path}-wal").exists():
        uri += "&immutable=1"
    try:
        db = sqlite3.connect(uri, uri=True, timeout=5)
        try:
            meta = dict(db.execute("SELECT key, value FROM meta WHERE key IN (?, ?)",
                                   (CACHE_OF, SYNCED_TOKEN)).fetchall())
            holds = db.execute("SELECT 1 FROM articles LIMIT 1").fetchone() is not None
        finally:
            db.close()
    except sqlite3.Error:
        return None
    cache_of = meta.get(CACHE_OF, "" if SYNCED_TOKEN in meta else None)
    return CatalogRole(cache_of=cache_of, holds_articles=holds)


@dataclass(frozen=True)
class ArticleRecord:
    article_id: str
    key: str
    source: str
    title: str
    url: str
    date: str
    publisher: str
    path: str
    content_hash: str
    n_chunks: int


# ChunkRecord's fields, from CHUNKS_WITH_ARTICLES_SQL.
CHUNK_COLUMNS = ("chunks.rowid, chunks.chunk_id, chunks.article_id, chunks.idx, chunks.start, "
                 f"chunks.end, chunks.sent_first, chunks.sent_last, {CHUNK_TEXT_SQL}")


@dataclass(frozen=True)
class ChunkRecord:
    rowid: int
    chunk_id: str
    article_id: str
    idx: int
    start: int
    end: int
    sent_first: int
    sent_last: int
    text: str


@dataclass(frozen=True)
class SentenceRecord:
    article_id: str
    idx: int
    start: int
    end: int
    vector: np.ndarray


class Catalog(CatalogLexicalSearch, SQLiteFile):
    """Thread-safe access to the catalog file (one SQLite connection per thread); its lexical
    index and searches are in index/catalog_lexical.py."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, SCHEMA)
        if self.get_meta("words") is None:
            try:
                self._build_words()
            except sqlite3.OperationalError as exc:  # a read-only store: questions go uncorrected
                log.warning("catalog %s: cannot build the words table (%s)", path, exc)
        self._lexical: LexicalIndex | None = None
        self._lexical_failed = False
        self._sync_warned = False
        try:
            self._upgrade()
        except sqlite3.OperationalError as exc:  # a read-only store: searched as it is
            log.warning("catalog %s: cannot upgrade (%s)", path, exc)
        # How sentence vectors are stored: int8 (encode_int8) in a catalog made since issue
        # #22, float16 in one that already held sentences (its rows are not rewritten).
        self.vector_format = self.get_meta("sentence_vectors") or self._format_of_rows()

    def _format_of_rows(self) -> str:
        """The sentence-vector format of a catalog that has not recorded one: float16 where it
        already holds sentences (written before int8), int8 for an empty one."""
        held = self.read().execute("SELECT 1 FROM sentences LIMIT 1").fetchone()
        return "float16" if held else "int8"

    def _upgrade(self) -> None:
        """Give the catalog its id (which its lexical index records), and drop the FTS5 table
        of a catalog written before the lexical index moved to tantivy."""
        if self.get_meta("catalog_id") is None:
            self.set_meta("catalog_id", uuid.uuid4().hex)
        if self.get_meta("sentence_vectors") is None:
            self.set_meta("sentence_vectors", self._format_of_rows())
        if self.read().execute("SELECT 1 FROM sqlite_master WHERE name='chunk_fts'").fetchone():
            with self.write() as db:
                db.execute("DROP TABLE IF EXISTS chunk_vocab")
                db.execute("DROP TABLE IF EXISTS chunk_fts")
            log.info("catalog %s: FTS5 table dropped (the lexical index is %s now)",
                     self.path, self.lexical_path)

    def _build_words(self) -> None:
        """Fill the words table of a catalog written before it existed (once)."""
        with self.write() as db:
            db.execute("DELETE FROM words")
            for (text,) in db.execute("SELECT text FROM articles").fetchall():
                _count_words(db, text, +1)
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('words', '0')")

    def vocabulary(self, limit: int) -> dict[str, int]:
        """The `limit` words most articles hold, with how many hold each."""
        return dict(self.read().execute(
            "SELECT word, articles FROM words ORDER BY articles DESC, word LIMIT ?", (limit,)))

    def known_words(self, candidates: Iterable[str]) -> set[str]:
        """Which of the candidate words some article holds."""
        found: set[str] = set()
        batch = list(dict.fromkeys(candidates))
        for i in range(0, len(batch), 500):
            part = batch[i:i + 500]
            marks = ",".join("?" * len(part))
            found.update(r[0] for r in self.read().execute(
                f"SELECT word FROM words WHERE word IN ({marks})", part))
        return found

    def words_version(self) -> str:
        """Changes whenever an article is written or removed (the words table with it)."""
        return self.get_meta("words") or "0"

    # --- metadata ---------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.read().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.write() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # --- articles ---------------------------------------------------------------------------

    def articles(self) -> list[ArticleRecord]:
        rows = self.read().execute(
            "SELECT article_id, key, source, title, url, date, publisher, path, content_hash, "
            "n_chunks FROM articles ORDER BY title"
        ).fetchall()
        return [ArticleRecord(*row) for row in rows]

    def article(self, article_id: str) -> ArticleRecord | None:
        row = self.read().execute(
            "SELECT article_id, key, source, title, url, date, publisher, path, content_hash, "
            "n_chunks FROM articles WHERE article_id=?", (article_id,)
        ).fetchone()
        return ArticleRecord(*row) if row else None

    def article_text(self, article_id: str) -> str | None:
        row = self.read().execute("SELECT text FROM articles WHERE article_id=?",
                                  (article_id,)).fetchone()
        return row[0] if row else None

    def page_at(self, article_id: str, offset: int) -> int | None:
        """The page (1-based) of a paginated article (a PDF) that holds this text offset."""
        row = self.read().execute(
            "SELECT page FROM pages WHERE article_id=? AND start<=? AND ?<end ORDER BY page LIMIT 1",
            (article_id, offset, offset)).fetchone()
        return row[0] if row else None

    def article_keys(self) -> set[str]:
        """Every article's key (its path, path#record, or URL)."""
        return {r[0] for r in self.read().execute("SELECT key FROM articles")}

    def content_hashes(self) -> dict[str, str]:
        return dict(self.read().execute("SELECT article_id, content_hash FROM articles"))

    def file_marks(self) -> dict[str, tuple[str, int]]:
        """path -> (hash of the raw file, articles it held) as of its last complete ingest."""
        return {r[0]: (r[1], r[2]) for r in self.read().execute(
            "SELECT path, raw_hash, n_articles FROM files")}

    def mark_files(self, marks: list[tuple[str, str, int]]) -> None:
        if marks:
            with self.write() as db:
                db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?)", marks)

    def has_articles(self) -> bool:
        """Whether any article is indexed: one row read, where counting them scans an index
        (milliseconds at 100,000 articles, on every question)."""
        return self.read().execute("SELECT 1 FROM articles LIMIT 1").fetchone() is not None

    def chunk_ids_of(self, article_id: str) -> list[str]:
        return [r[0] for r in self.read().execute(
            "SELECT chunk_id FROM chunks WHERE article_id=?", (article_id,))]

    def vector_ids_of(self, article_id: str) -> set[str]:
        """The ids of the article's vectors in Chroma: one per section (index/sections.py)."""
        return section_ids(self.read().execute(
            "SELECT chunk_id, sent_first FROM chunks WHERE article_id=?", (article_id,)))

    def replace_article(self, article: Article, sentences: list[Span], sentence_vectors: np.ndarray,
                        chunks: list[Chunk], chunk_ids: list[str]) -> set[str]:
        """Swap an article's rows for new ones in one transaction. Returns the old vector ids."""
        with self.write() as db:
            old = self._begin_article(db, article, len(chunks))
            self._insert_sentences(db, article.article_id, 0, sentences, sentence_vectors)
            self._insert_chunks(db, article.article_id, chunks, chunk_ids)
        return old

    @contextmanager
    def replacing_article(self, article: Article, n_chunks: int) -> Iterator[ArticleWriter]:
        """The same swap, written piece by piece inside one transaction, so an article of
        hundreds of thousands of sentences never has all its vectors in memory at once. The
        old vector ids are on the writer (`old_vector_ids`)."""
        with self.write() as db:
            writer = ArticleWriter(self, db, article.article_id,
                                   self._begin_article(db, article, n_chunks))
            yield writer

    def _begin_article(self, db: sqlite3.Connection, article: Article, n_chunks: int) -> set[str]:
        # An article replaces what was at its key too: a feed entry or record whose text
        # changed has a new id (ids come from content) but the same key.
        replaced = [r[0] for r in db.execute(
            "SELECT article_id FROM articles WHERE key=? AND article_id!=?",
            (article.key, article.article_id))]
        old: set[str] = set()
        for article_id in [article.article_id, *replaced]:
            old |= section_ids(db.execute(
                "SELECT chunk_id, sent_first FROM chunks WHERE article_id=?", (article_id,)))
            self._delete_rows(db, article_id)
        db.execute(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (article.article_id, article.key, article.source, article.title, article.url,
             article.date, article.publisher, article.path, article.content_hash,
             article.text, n_chunks, time.time()),
        )
        _count_words(db, article.text, +1)
        db.executemany("INSERT INTO pages VALUES (?,?,?,?)",
                       [(article.article_id, number, start, end)
                        for number, (start, end) in enumerate(article.pages, start=1)])
        return old

    def _insert_sentences(self, db: sqlite3.Connection, article_id: str, first: int,
                          sentences: list[Span], vectors: np.ndarray) -> None:
        blobs = (encode_int8(vectors) if self.vector_format == "int8"
                 else [v.tobytes() for v in np.asarray(vectors, dtype=np.float16)])
        # A generator, not a list: a 50 MB article has ~600,000 sentence rows.
        db.executemany(
            "INSERT INTO sentences VALUES (?,?,?,?,?)",
            ((article_id, first + i, s.start, s.end, blobs[i]) for i, s in enumerate(sentences)),
        )

    @staticmethod
    def _insert_chunks(db: sqlite3.Connection, article_id: str, chunks: list[Chunk],
                       chunk_ids: list[str], *, keep_text: bool = False) -> None:
        """The chunks' rows; their text only with `keep_text` (see CHUNK_TEXT_SQL)."""
        for chunk, chunk_id in zip(chunks, chunk_ids, strict=True):
            db.execute(
                "INSERT INTO chunks(chunk_id, article_id, idx, start, end, sent_first, "
                "sent_last, text) VALUES (?,?,?,?,?,?,?,?)",
                (chunk_id, article_id, chunk.index, chunk.start, chunk.end,
                 chunk.first_sentence, chunk.last_sentence, chunk.text if keep_text else ""),
            )

    def relocate(self, article_id: str, key: str, source: str, path: str) -> bool:
        """An unchanged article found at a new place (a moved folder): same id, new key. Not
        done (False) while another article still holds that key."""
        with self.write() as db:
            if db.execute("SELECT 1 FROM articles WHERE key=? AND article_id!=?",
                          (key, article_id)).fetchone():
                return False
            return db.execute("UPDATE articles SET key=?, source=?, path=? WHERE article_id=?",
                              (key, source, path, article_id)).rowcount == 1

    def locations(self) -> dict[str, tuple[str, str, str]]:
        """article_id -> (key, source, path)."""
        return {r[0]: (r[1], r[2], r[3]) for r in self.read().execute(
            "SELECT article_id, key, source, path FROM articles")}

    def delete_article(self, article_id: str) -> set[str]:
        """Remove an article. Returns its vector ids so the caller can drop them."""
        with self.write() as db:
            old = section_ids(db.execute(
                "SELECT chunk_id, sent_first FROM chunks WHERE article_id=?", (article_id,)))
            self._delete_rows(db, article_id)
        return old

    @staticmethod
    def _delete_rows(db: sqlite3.Connection, article_id: str) -> None:
        row = db.execute("SELECT text FROM articles WHERE article_id=?", (article_id,)).fetchone()
        if row is not None:
            _count_words(db, row[0], -1)
        # Marked for the lexical index in the same transaction (index/lexical.py). A fresh
        # random seq: a sync unmarks only the marks it read, and max(seq)+1 would scan every
        # mark left (quadratic while a server's record fills a new catalog).
        db.execute("INSERT OR REPLACE INTO lexical_pending VALUES (?, random())", (article_id,))
        db.execute("DELETE FROM chunks WHERE article_id=?", (article_id,))
        db.execute("DELETE FROM sentences WHERE article_id=?", (article_id,))
        db.execute("DELETE FROM pages WHERE article_id=?", (article_id,))
        db.execute("DELETE FROM articles WHERE article_id=?", (article_id,))

    # --- retrieval support ------------------------------------------------------------------

    def chunks_by_id(self, chunk_ids: Iterable[str]) -> dict[str, ChunkRecord]:
        ids = list(chunk_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.read().execute(
            f"SELECT {CHUNK_COLUMNS} FROM {CHUNKS_WITH_ARTICLES_SQL} "
            f"WHERE chunks.chunk_id IN ({marks})", ids
        ).fetchall()
        return {row[1]: ChunkRecord(*row) for row in rows}

    def article_ids_in(self, date_from: str | None, date_to: str | None) -> set[str]:
        """Ids of the articles dated within [date_from, date_to] (ISO dates compare as text)."""
        rows = self.read().execute(
            "SELECT article_id FROM articles WHERE date != '' AND substr(date, 1, 10) >= ? "
            "AND substr(date, 1, 10) <= ?", (date_from or "0000", date_to or "9999")).fetchall()
        return {r[0] for r in rows}

    def all_chunk_ids(self) -> set[str]:
        return {r[0] for r in self.read().execute("SELECT chunk_id FROM chunks")}

    def chunk_count(self) -> int:
        return self.read().execute("SELECT count(*) FROM chunks").fetchone()[0]

    def all_vector_ids(self) -> set[str]:
        """The ids of every vector Chroma should hold: a section's (index/sections.py)."""
        return section_ids(self.read().execute("SELECT chunk_id, sent_first FROM chunks"))

    def vector_count(self) -> int:
        return self.read().execute(
            "SELECT count(*) FROM (SELECT DISTINCT article_id, sent_first / ? FROM chunks)",
            (SECTION_SENTENCES,)).fetchone()[0]

    def chunks_of_sections(self, sections: list[SectionId]) -> dict[SectionId, list[ChunkRecord]]:
        """The catalog's chunks of each section id, in one query: none for an id of an older
        version of the article (the catalog decides what is visible)."""
        out: dict[SectionId, list[ChunkRecord]] = {section: [] for section in sections}
        if not sections:
            return out
        # A table of the ranges joined to the chunks: SQLite looks each range up in the index
        # (an OR of ranges made it scan).
        values = ",".join(["(?,?,?)"] * len(sections))
        params = [v for s in sections for v in (s.article_id, s.first_sentence, s.last_start)]
        rows = self.read().execute(
            f"WITH wanted(article_id, first, last) AS (VALUES {values}) "
            f"SELECT {CHUNK_COLUMNS} FROM wanted CROSS JOIN {CHUNKS_WITH_ARTICLES_SQL} "
            "WHERE chunks.article_id = wanted.article_id "
            "AND chunks.sent_first BETWEEN wanted.first AND wanted.last "
            "ORDER BY chunks.article_id, chunks.idx", params).fetchall()
        by_id = {section.vector_id: section for section in sections}
        for row in rows:
            section = by_id.get(section_id_of_chunk(row[1], row[6]))
            if section is not None:  # None: a row of another version of the article
                out[section].append(ChunkRecord(*row))
        return out

    def chunks_of_section(self, section: SectionId) -> list[ChunkRecord]:
        return self.chunks_of_sections([section])[section]

    def sentence_vectors(self, article_id: str, first: int, last: int) -> np.ndarray:
        """The stored vectors of sentences first..last (inclusive), one row each, float32."""
        rows = self.read().execute(
            "SELECT vector FROM sentences WHERE article_id=? AND idx BETWEEN ? AND ? ORDER BY idx",
            (article_id, first, last)).fetchall()
        return decode_many([r[0] for r in rows], self.vector_format)

    def sentence_vectors_of(self, ranges: list[tuple[str, int, int]]
                            ) -> tuple[dict[tuple[str, int], int], np.ndarray]:
        """The stored vectors of the sentences in each (article id, first, last) range, in one
        query: the row of each (article id, sentence index), and the rows (float32)."""
        merged: list[list] = []  # overlapping chunks share sentences: read each once
        for article_id, first, last in sorted(ranges):
            if merged and merged[-1][0] == article_id and first <= merged[-1][2] + 1:
                merged[-1][2] = max(merged[-1][2], last)
            else:
                merged.append([article_id, first, last])
        if not merged:
            return {}, np.zeros((0, 0), dtype=np.float32)
        values = ",".join(["(?,?,?)"] * len(merged))
        rows = self.read().execute(
            f"WITH wanted(article_id, first, last) AS (VALUES {values}) "
            "SELECT s.article_id, s.idx, s.vector FROM wanted CROSS JOIN sentences s "
            "WHERE s.article_id = wanted.article_id AND s.idx BETWEEN wanted.first AND wanted.last",
            [v for r in merged for v in r]).fetchall()
        return ({(r[0], r[1]): i for i, r in enumerate(rows)},
                decode_many([r[2] for r in rows], self.vector_format))

    def sentences_of(self, article_id: str, first: int, last: int) -> list[SentenceRecord]:
        rows = self.read().execute(
            "SELECT article_id, idx, start, end, vector FROM sentences "
            "WHERE article_id=? AND idx BETWEEN ? AND ? ORDER BY idx", (article_id, first, last)
        ).fetchall()
        vectors = decode_many([r[4] for r in rows], self.vector_format)
        return [SentenceRecord(r[0], r[1], r[2], r[3], vectors[i]) for i, r in enumerate(rows)]


@dataclass
class ArticleWriter:
    """Rows of one article written inside Catalog.replacing_article's transaction."""

    catalog: Catalog
    db: sqlite3.Connection
    article_id: str
    old_vector_ids: set[str]

    def sentences(self, first: int, sentences: list[Span], vectors: np.ndarray) -> None:
        self.catalog._insert_sentences(self.db, self.article_id, first, sentences, vectors)

    def chunks(self, chunks: list[Chunk], chunk_ids: list[str], *, keep_text: bool = True
               ) -> None:
        # A big article's chunks keep their text: see CHUNK_TEXT_SQL.
        self.catalog._insert_chunks(self.db, self.article_id, chunks, chunk_ids,
                                    keep_text=keep_text)


def _count_words(db: sqlite3.Connection, text: str, delta: int) -> None:
    """Add (+1) or take away (-1) one article's distinct words, and move the words version."""
    distinct = {w for w in words(text) if len(w) >= 3 and w.isalpha()}
    if delta > 0:
        db.executemany("INSERT INTO words VALUES (?, 1) ON CONFLICT(word) DO UPDATE SET "
                       "articles = articles + 1", ((w,) for w in distinct))
    else:
        db.executemany("UPDATE words SET articles = articles - 1 WHERE word=?", ((w,) for w in distinct))
        db.execute("DELETE FROM words WHERE articles <= 0")
    db.execute("INSERT INTO meta(key, value) VALUES ('words', '1') ON CONFLICT(key) DO UPDATE SET "
               "value = CAST(value AS INTEGER) + 1")
