"""The lexical (BM25) index over chunks: a tantivy index in a folder beside the catalog.

Why tantivy: issue #22 measured it against the SQLite FTS5 table the catalog used to hold and
against bm25s (`benchmarks/lexical.py`; the figures are in docs/figures.md, "Lexical engines"):
it was the fastest and smallest at 10,000 and 100,000 articles, and it updates in place (bm25s
has to rebuild).

It is a cache of the catalog, which stays the record of what is indexed:

* Every catalog transaction that writes or removes an article's chunks also marks the article
  in the catalog's `lexical_pending` table. `LexicalIndex.sync` applies the marked articles
  (their old documents deleted by article id, their current chunks added), commits, and only
  then unmarks them. A process killed between the two commits leaves the marks, and the next
  sync applies them again: applying an article twice gives the same documents.
* A sync runs at the end of each ingest run and before a search that finds marks left.
* The folder records which catalog it was built from (the catalog's `catalog_id`). A missing,
  unreadable or foreign folder is rebuilt from the catalog's chunks into a fresh folder that
  then takes its place.
* One process writes at a time: syncs and rebuilds hold an exclusive lock on a file beside the
  folder (`<folder>.lock`), so two processes opening a new store never build into each other's
  folders. A store this process cannot write to is searched as it is.

Documents hold the chunk text (indexed with positions, not stored), the article id as a raw
term (scope filters, deletes) and the catalog's chunk rowid as a fast field, mapped back to
chunk ids by the catalog.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Any

import tantivy
from tantivy import Occur, Query

from index.chunking import CHUNK_TEXT_SQL, CHUNKS_WITH_ARTICLES_SQL
from index.text import STOPWORDS

log = logging.getLogger(__name__)

# tantivy's indexing memory budget for one writer (its minimum is 15 MB per thread).
WRITER_HEAP_BYTES = 32_000_000
# Chunks read from the catalog per query while a rebuild streams them.
REBUILD_BATCH = 2_000
# Articles whose chunks a sync holds in memory at once.
SYNC_BATCH = 1_000
_MARKER = "catalog-id"
_TOKENIZER = "news"


def analyzer() -> tantivy.TextAnalyzer:
    """How chunk text and question terms become index terms: runs of letters and digits,
    lower-cased, accents folded, the answer path's stop words dropped, Snowball English stems.
    (The FTS5 table it replaced used the original Porter stemmer: about 3 % of a news corpus's
    words stem differently.)"""
    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(40))
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.ascii_fold())
            .filter(tantivy.Filter.custom_stopword(sorted(STOPWORDS)))
            .filter(tantivy.Filter.stemmer("english"))
            .build())


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("text", tokenizer_name=_TOKENIZER, index_option="position")
    builder.add_text_field("article_id", tokenizer_name="raw")
    builder.add_integer_field("rowid", fast=True)
    return builder.build()


# (rowid, article_id, text) rows of chunks.
ChunkRows = Iterable[tuple[int, str, str]]


class LexicalIndex:
    """BM25 search over the catalog's chunks. `catalog_id` names the catalog it mirrors; `rows`
    is the catalog's side of a sync (CatalogRows)."""

    def __init__(self, path: Path, catalog_id: str, rows: CatalogRows) -> None:
        self.path = path
        self.catalog_id = catalog_id
        self.rows = rows
        self._analyzer = analyzer()
        self._lock = threading.Lock()
        self._index: tantivy.Index | None = None
        self._schema = _schema()

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """This thread alone in this process, and this process alone on this index."""
        with self._lock:
            lock_path = self.path.with_name(self.path.name + ".lock")
            with open(lock_path, "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    # --- opening and rebuilding -------------------------------------------------------------

    def _open(self) -> tantivy.Index:
        """The index, opened once; rebuilt first when missing, unreadable or another
        catalog's."""
        if self._index is not None:
            return self._index
        index = self._open_existing()
        if index is None:
            with self._exclusive():
                # Another process may have built it while this one waited.
                index = self._open_existing() or self._rebuild()
        self._index = index
        return index

    def _open_existing(self) -> tantivy.Index | None:
        marker = self.path / _MARKER
        try:
            if marker.read_text().strip() != self.catalog_id:
                log.info("lexical index %s belongs to another catalog: rebuilding", self.path)
                return None
            index = tantivy.Index.open(str(self.path))
        except (OSError, ValueError) as exc:
            if self.path.exists():
                log.warning("lexical index %s cannot be opened (%s): rebuilding", self.path, exc)
            return None
        self._register(index)
        return index

    def _register(self, index: tantivy.Index) -> None:
        index.register_tokenizer(_TOKENIZER, self._analyzer)
        # Other processes' commits become visible without a reopen.
        index.config_reader(reload_policy="commit")

    def _rebuild(self) -> tantivy.Index:
        """Every chunk of the catalog into a fresh folder, swapped in when committed. Articles
        marked before it started are unmarked after (they are in it); any marked meanwhile
        stay marked for the next sync."""
        marked = self.rows.pending()
        fresh = self.path.with_name(self.path.name + ".new")
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir(parents=True)
        index = tantivy.Index(self._schema, path=str(fresh), reuse=False)
        index.register_tokenizer(_TOKENIZER, self._analyzer)
        writer = index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=1)
        documents = 0
        for batch in self.rows.all_chunks():
            documents += self._add(writer, batch)
        writer.commit()
        writer.wait_merging_threads()
        (fresh / _MARKER).write_text(self.catalog_id)
        old = self.path.with_name(self.path.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if self.path.exists():
            self.path.rename(old)
        fresh.rename(self.path)
        shutil.rmtree(old, ignore_errors=True)
        self.rows.unmark(marked)
        log.info("lexical index %s rebuilt from the catalog: %d chunks", self.path, documents)
        index = tantivy.Index.open(str(self.path))
        self._register(index)
        return index

    def _add(self, writer: Any, rows: ChunkRows) -> int:
        n = 0
        for rowid, article_id, text in rows:
            writer.add_document(tantivy.Document(text=text, article_id=article_id, rowid=rowid))
            n += 1
        return n

    # --- keeping up with the catalog ----------------------------------------------------------

    def sync(self) -> int:
        """Apply the articles the catalog marked; returns how many. Waits while another
        process syncs or rebuilds (the lock file), then applies what is still marked."""
        index = self._open()
        marked = self.rows.pending()
        if not marked:
            return 0
        with self._exclusive():
            marked = self.rows.pending()
            if not marked:
                return 0
            writer = index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=1)
            article_ids = [article_id for article_id, _ in marked]
            # A batch of articles' chunks in memory at a time, one commit for all.
            for begin in range(0, len(article_ids), SYNC_BATCH):
                batch = article_ids[begin:begin + SYNC_BATCH]
                for article_id in batch:
                    writer.delete_documents_by_term("article_id", article_id)
                self._add(writer, self.rows.chunks_of(batch))
            writer.commit()
            writer.wait_merging_threads()
            index.reload()
            self.rows.unmark(marked)
        log.debug("lexical index %s: %d articles applied", self.path, len(marked))
        return len(marked)

    def rebuild(self) -> None:
        """Rebuild from the catalog now (`check --repair`, tests)."""
        with self._exclusive():
            self._index = self._rebuild()

    # --- searching ----------------------------------------------------------------------------

    def tokens(self, text: str) -> list[str]:
        return self._analyzer.analyze(text)

    def _terms_query(self, terms: Iterable[str]) -> Query | None:
        tokens = list(dict.fromkeys(t for term in terms for t in self.tokens(term)))
        if not tokens:
            return None
        return Query.boolean_query([(Occur.Should, Query.term_query(self._schema, "text", t))
                                    for t in tokens])

    def _run(self, query: Query, limit: int) -> list[tuple[int, float]]:
        searcher = self._open().searcher()
        hits = searcher.search(query, limit, count=False).hits
        rowids = searcher.fast_field_values("rowid", [address for _, address in hits])
        return [(int(rowid), float(score))
                for (score, _), rowid in zip(hits, rowids, strict=True) if rowid is not None]

    def search(self, terms: list[str], limit: int,
               article_ids: Collection[str] | None = None) -> list[tuple[int, float]]:
        """(chunk rowid, BM25 score) of the chunks holding any of `terms`, best first; only
        chunks of `article_ids` when given."""
        query = self._terms_query(terms)
        if query is None or limit <= 0 or (article_ids is not None and not article_ids):
            return []
        if article_ids is not None:
            # The filter scores 0 so that BM25 alone orders the hits.
            allowed = Query.const_score_query(
                Query.term_set_query(self._schema, "article_id", sorted(article_ids)), 0.0)
            query = Query.boolean_query([(Occur.Must, query), (Occur.Must, allowed)])
        return self._run(query, limit)

    def search_with(self, required: str, terms: list[str], limit: int
                    ) -> list[tuple[int, float]]:
        """The same, over chunks that hold `required` (every token of it) and one of `terms`."""
        optional = self._terms_query(terms)
        needed = self.tokens(required)
        if optional is None or not needed or limit <= 0:
            return []
        musts = [(Occur.Must, Query.term_query(self._schema, "text", t)) for t in needed]
        return self._run(Query.boolean_query([*musts, (Occur.Must, optional)]), limit)

    def document_frequencies(self, words: list[str]) -> dict[str, int]:
        """How many chunks hold each word (as the index stems it; a word of several tokens
        counts the rarest)."""
        searcher = self._open().searcher()
        out: dict[str, int] = {}
        for word in dict.fromkeys(words):
            tokens = self.tokens(word)
            if tokens:
                out[word] = min(searcher.doc_freq("text", t) for t in tokens)
        return out

    def count(self) -> int:
        return self._open().searcher().num_docs


class CatalogRows:
    """The catalog's half of a sync, over its connections (`db`: this thread's; `write`: a
    write transaction, SQLiteFile.write): what is marked, unmarking, and chunk rows (rowid,
    article id, text)."""

    def __init__(self, db: Callable[[], sqlite3.Connection],
                 write: Callable[[], AbstractContextManager[sqlite3.Connection]]) -> None:
        self.db = db
        self.write = write

    def pending(self) -> list[tuple[str, int]]:
        return self.db().execute("SELECT article_id, seq FROM lexical_pending").fetchall()

    def unmark(self, marked: list[tuple[str, int]]) -> None:
        # Only marks as they were read: an article written again since has a new seq.
        with suppress(sqlite3.OperationalError), self.write() as db:  # read-only: marks stay
            db.executemany("DELETE FROM lexical_pending WHERE article_id=? AND seq=?", marked)

    def chunks_of(self, article_ids: list[str]) -> list[tuple[int, str, str]]:
        rows: list[tuple[int, str, str]] = []
        for i in range(0, len(article_ids), 500):
            part = article_ids[i:i + 500]
            rows += self.db().execute(
                f"SELECT chunks.rowid, chunks.article_id, {CHUNK_TEXT_SQL} "
                f"FROM {CHUNKS_WITH_ARTICLES_SQL} WHERE chunks.article_id IN "
                f"({','.join('?' * len(part))})", part).fetchall()
        return rows

    def all_chunks(self) -> Iterator[list[tuple[int, str, str]]]:
        last = -1
        while True:
            batch = self.db().execute(
                f"SELECT chunks.rowid, chunks.article_id, {CHUNK_TEXT_SQL} "
                f"FROM {CHUNKS_WITH_ARTICLES_SQL} WHERE chunks.rowid > ? ORDER BY chunks.rowid "
                "LIMIT ?", (last, REBUILD_BATCH)).fetchall()
            if not batch:
                return
            yield batch
            last = batch[-1][0]
