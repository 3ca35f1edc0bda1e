"""The lexical engines the benchmark compares (benchmarks/lexical.py): SQLite FTS5 (today's
catalog), tantivy and bm25s. Each builds, sizes, updates, counts, opens and searches its index;
each runs inside a worker process of its own (benchmarks/lexical_worker.py)."""

from __future__ import annotations

import re
import shutil
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.lexical_common import catalog_path
from index.chunking import CHUNK_TEXT_SQL, CHUNKS_WITH_ARTICLES_SQL, chunk_text_sql

# The attached catalog's chunks with their text (index/chunking.py).
_TEXT = chunk_text_sql("c", "a")
_ATTACHED = "FROM cat.chunks c JOIN cat.articles a ON a.article_id = c.article_id"
# FTS5's unicode61 tokens: runs of letters and digits (an apostrophe splits "o'brien").
TOKEN = r"(?u)[^\W_]+"


def dir_mb(path: Path) -> float:
    files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
    return round(sum(f.stat().st_size for f in files) / 1e6, 2)


def open_catalog(work: Path) -> Any:
    from index.catalog import Catalog

    return Catalog(catalog_path(work))


def _chunk_rows(catalog: Any, article_ids: list[str] | None = None
                ) -> Iterable[tuple[int, str, str]]:
    """(rowid, article_id, text) of every chunk (of the given articles), by rowid; every chunk
    is streamed from the catalog, not held."""
    db = catalog.read()
    if article_ids is None:
        return db.execute(f"SELECT chunks.rowid, chunks.article_id, {CHUNK_TEXT_SQL} "
                          f"FROM {CHUNKS_WITH_ARTICLES_SQL} ORDER BY chunks.rowid")
    rows: list[tuple[int, str, str]] = []
    for i in range(0, len(article_ids), 500):
        part = article_ids[i:i + 500]
        rows += db.execute(f"SELECT chunks.rowid, chunks.article_id, {CHUNK_TEXT_SQL} "
                           f"FROM {CHUNKS_WITH_ARTICLES_SQL} WHERE chunks.article_id IN "
                           f"({','.join('?' * len(part))}) ORDER BY chunks.rowid",
                           part).fetchall()
    return rows


def _chunk_ids(catalog: Any, rowids: list[int]) -> list[str]:
    """Catalog chunk ids of engine hits (catalog rowids), best first."""
    if not rowids:
        return []
    found = dict(catalog.read().execute(
        f"SELECT rowid, chunk_id FROM chunks WHERE rowid IN ({','.join('?' * len(rowids))})", rowids))
    return [found[r] for r in rowids if r in found]


def _scope_rowids(catalog: Any, article_ids: list[str]) -> list[int]:
    return [r[0] for r in catalog.read().execute(
        f"SELECT rowid FROM chunks WHERE article_id IN ({','.join('?' * len(article_ids))})",
        article_ids)]


def _add_to_catalog(catalog: Any, articles: Iterable[dict[str, Any]]) -> None:
    """What ingest writes to the catalog for each article, one transaction an article, less the
    sentence rows (no vectors here)."""
    import numpy as np

    from index.article import Article
    from index.chunking import Chunk

    no_vectors = np.zeros((0, 384), dtype=np.float32)
    for a in articles:
        article = Article(article_id=a["id"], key=a["key"], source=a["key"], title=a["title"],
                          text=a["text"], path=a["key"], date=a["date"])
        chunks = [Chunk(i, s, e, f, last, a["text"][s:e]) for i, s, e, f, last in a["chunks"]]
        ids = [f"{a['id']}-{article.content_hash[:10]}-{c.index}" for c in chunks]
        catalog.replace_article(article, [], no_vectors, chunks, ids)


def _checkpoint(catalog: Any) -> None:
    catalog.read().execute("PRAGMA wal_checkpoint(TRUNCATE)")


def fts5_sizes(path: Path) -> dict[str, float]:
    """MB of the FTS5 tables (chunk_fts and its shadow tables) and of their whole file."""
    db = sqlite3.connect(path)
    try:
        fts, content = db.execute(
            "SELECT sum(pgsize), sum(CASE WHEN name = 'chunk_fts_content' THEN pgsize END) "
            "FROM dbstat WHERE name LIKE 'chunk_fts%'").fetchone()
    except sqlite3.OperationalError:  # SQLite built without dbstat
        fts = content = None
    finally:
        db.close()
    # chunk_fts_content is FTS5's own copy of every chunk's text (the catalog's chunks table
    # has another).
    return {"index_mb": round(fts / 1e6, 2) if fts else dir_mb(path),
            "text_copy_mb": round(content / 1e6, 2) if content else None, "file_mb": dir_mb(path)}


# The FTS5 queries the catalog ran before the lexical index moved to tantivy (issue #22), over
# an FTS5 table in a file of its own whose rowids are the catalog's chunk rowids. The join to
# chunk ids runs after the LIMIT, on the top rows only.
_FTS5_DDL = "CREATE VIRTUAL TABLE chunk_fts USING fts5(text, tokenize='porter unicode61')"
_BM25_TOP = (
    "SELECT c.chunk_id, top.score FROM (SELECT rowid, -bm25(chunk_fts) AS score FROM chunk_fts "
    "WHERE chunk_fts MATCH ? ORDER BY bm25(chunk_fts) LIMIT ?) top "
    "JOIN cat.chunks c ON c.rowid = top.rowid ORDER BY top.score DESC"
)
_BM25_TOP_OF = (
    "SELECT c.chunk_id, -bm25(chunk_fts) AS score FROM chunk_fts JOIN cat.chunks c "
    "ON c.rowid = chunk_fts.rowid WHERE chunk_fts MATCH ? AND c.article_id IN ({marks}) "
    "ORDER BY bm25(chunk_fts) LIMIT ?"
)


class Fts5:
    """The catalog's former lexical index: the catalog rows written as ingest writes them, and
    an FTS5 table (porter unicode61) filled from their chunks."""

    name = "fts5"

    def __init__(self, work: Path) -> None:
        self.work = work
        self.path = work / "fts5" / "fts5.sqlite"

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("ATTACH ? AS cat", (str(catalog_path(self.work)),))
        return db

    def build(self, articles: Iterable[dict[str, Any]]) -> dict[str, Any]:
        path = catalog_path(self.work)
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = open_catalog(self.work)
        t0 = time.perf_counter()
        _add_to_catalog(catalog, articles)
        _checkpoint(catalog)
        catalog_s = time.perf_counter() - t0
        catalog.close()
        self.path.unlink(missing_ok=True)
        db = self._connect()
        t0 = time.perf_counter()
        db.execute(_FTS5_DDL)
        db.execute(f"INSERT INTO chunk_fts(rowid, text) SELECT c.rowid, {_TEXT} {_ATTACHED}")
        only_s = time.perf_counter() - t0
        db.close()
        return {"build_s": catalog_s + only_s, "fts5_only_build_s": only_s,
                "catalog_rows_s": catalog_s}

    def size(self) -> dict[str, float]:
        return {**fts5_sizes(self.path), "catalog_mb": dir_mb(catalog_path(self.work))}

    def update(self, add: list[dict[str, Any]], delete: list[str]) -> dict[str, Any]:
        catalog = open_catalog(self.work)
        db = self._connect()
        t0 = time.perf_counter()
        _add_to_catalog(catalog, add)
        ids = [a["id"] for a in add]
        marks = ",".join("?" * len(ids))
        db.execute("BEGIN")
        db.execute(f"INSERT INTO chunk_fts(rowid, text) SELECT c.rowid, {_TEXT} {_ATTACHED} "
                   f"WHERE c.article_id IN ({marks})", ids)
        for article_id in delete:
            db.execute("DELETE FROM chunk_fts WHERE rowid IN "
                       "(SELECT rowid FROM cat.chunks WHERE article_id=?)", (article_id,))
        db.execute("COMMIT")
        for article_id in delete:
            catalog.delete_article(article_id)
        _checkpoint(catalog)
        seconds = time.perf_counter() - t0
        db.close()
        catalog.close()
        return {"update_s": seconds}

    def count(self) -> int:
        db = self._connect()
        try:
            return db.execute("SELECT count(*) FROM chunk_fts").fetchone()[0]
        finally:
            db.close()

    def open(self) -> None:
        self.db = self._connect()
        self.db.execute("SELECT count(*) FROM chunk_fts").fetchone()

    def search(self, terms: list[str], k: int, scope: list[str] | None) -> list[str]:
        if not terms:
            return []
        query = " OR ".join('"' + t.replace('"', "") + '"' for t in terms)
        if scope is None:
            rows = self.db.execute(_BM25_TOP, (query, k)).fetchall()
        else:
            ids = sorted(scope)
            rows = self.db.execute(_BM25_TOP_OF.format(marks=",".join("?" * len(ids))),
                                   (query, *ids, k)).fetchall()
        return [r[0] for r in rows]


class Tantivy:
    """The product's lexical index (index/lexical.py), through the catalog as the answer path
    uses it: built from the catalog's chunks, updated by applying the articles the catalog
    marked."""

    name = "tantivy"

    def __init__(self, work: Path) -> None:
        self.work = work

    @property
    def path(self) -> Path:
        return catalog_path(self.work).with_name("catalog.lexical")

    def build(self, articles: Iterable[dict[str, Any]]) -> dict[str, Any]:
        catalog = open_catalog(self.work)
        t0 = time.perf_counter()
        catalog.lexical.rebuild()
        return {"build_s": time.perf_counter() - t0,
                "segments": catalog.lexical._open().searcher().num_segments}

    def size(self) -> dict[str, float]:
        return {"index_mb": dir_mb(self.path)}

    def update(self, add: list[dict[str, Any]], delete: list[str]) -> dict[str, Any]:
        # The fts5 update has already written the catalog, which marked these articles.
        catalog = open_catalog(self.work)
        t0 = time.perf_counter()
        applied = catalog.sync_lexical()
        return {"update_s": time.perf_counter() - t0, "articles_applied": applied}

    def count(self) -> int:
        return open_catalog(self.work).lexical.count()

    def open(self) -> None:
        self.catalog = open_catalog(self.work)
        self.catalog.lexical_search(["news"], 1)

    def search(self, terms: list[str], k: int, scope: list[str] | None) -> list[str]:
        return [cid for cid, _ in self.catalog.lexical_search(terms, k, scope)]


class _PorterList:
    """The original Porter algorithm (FTS5's), for a list of words, with a cache."""

    def __init__(self) -> None:
        from nltk.stem.porter import PorterStemmer

        self.stemmer = PorterStemmer(mode=PorterStemmer.ORIGINAL_ALGORITHM)
        self.cache: dict[str, str] = {}

    def __call__(self, words: list[str]) -> list[str]:
        out = []
        for w in words:
            s = self.cache.get(w)
            if s is None:
                s = self.cache[w] = self.stemmer.stem(w)
            out.append(s)
        return out


class Bm25s:
    name = "bm25s"

    def __init__(self, work: Path) -> None:
        self.path = work / "bm25s"
        self.work = work

    def _build_from_catalog(self, catalog: Any) -> dict[str, Any]:
        import bm25s
        import numpy as np

        from index.text import STOPWORDS

        t0 = time.perf_counter()
        rowids: list[int] = []

        def texts() -> Iterator[str]:  # read from the catalog as it goes
            for rowid, _, text in _chunk_rows(catalog):
                rowids.append(rowid)
                yield text

        tokens = bm25s.tokenize(texts(), lower=True, token_pattern=TOKEN,  # type: ignore[arg-type]
                                stopwords=sorted(STOPWORDS), stemmer=_PorterList(),
                                show_progress=False)
        retriever = bm25s.BM25()  # method "lucene", k1 1.5, b 0.75
        retriever.index(tokens, show_progress=False)
        # Written beside, then swapped in: a reader never sees half an index.
        fresh = self.path.with_name("bm25s-new")
        if fresh.exists():
            shutil.rmtree(fresh)
        retriever.save(str(fresh), show_progress=False)
        np.save(fresh / "rowids.npy", np.array(rowids, dtype=np.int64))
        if self.path.exists():
            shutil.rmtree(self.path)
        fresh.rename(self.path)
        return {"seconds": time.perf_counter() - t0}

    def build(self, articles: Iterable[dict[str, Any]]) -> dict[str, Any]:
        return {"build_s": self._build_from_catalog(open_catalog(self.work))["seconds"]}

    def size(self) -> dict[str, float]:
        return {"index_mb": dir_mb(self.path)}

    def update(self, add: list[dict[str, Any]], delete: list[str]) -> dict[str, Any]:
        # No incremental API (every score depends on the corpus's IDF and mean length): rebuild.
        t0 = time.perf_counter()
        self._build_from_catalog(open_catalog(self.work))
        return {"update_s": time.perf_counter() - t0}

    def count(self) -> int:
        import numpy as np

        return len(np.load(self.path / "rowids.npy", mmap_mode="r"))

    def open(self) -> None:
        import bm25s
        import numpy as np

        from index.text import STOPWORDS

        self.catalog = open_catalog(self.work)
        self.retriever = bm25s.BM25.load(str(self.path), mmap=True, show_progress=False)
        self.rowids = np.load(self.path / "rowids.npy", mmap_mode="r")
        self.stem = _PorterList()
        self.stop = STOPWORDS
        self.split = re.compile(TOKEN).findall

    def search(self, terms: list[str], k: int, scope: list[str] | None) -> list[str]:
        import numpy as np

        tokens = [t for term in terms for t in self.split(term.lower()) if t not in self.stop]
        tokens = list(dict.fromkeys(self.stem(tokens)))
        if not tokens:
            return []
        n_docs = len(self.rowids)
        mask = None
        if scope is not None:
            mask = np.zeros(n_docs, dtype=np.float32)
            rowids = np.array(_scope_rowids(self.catalog, scope), dtype=np.int64)
            if len(rowids):
                mask[np.searchsorted(self.rowids, rowids)] = 1.0
        docs, scores = self.retriever.retrieve([tokens], k=min(k, n_docs), show_progress=False,
                                               weight_mask=mask)
        keep = [int(self.rowids[d]) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]
        return _chunk_ids(self.catalog, keep)


ENGINE_CLASSES = {"fts5": Fts5, "tantivy": Tantivy, "bm25s": Bm25s}
