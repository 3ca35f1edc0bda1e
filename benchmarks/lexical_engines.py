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
        return db.execute("SELECT rowid, article_id, text FROM chunks ORDER BY rowid")
    rows: list[tuple[int, str, str]] = []
    for i in range(0, len(article_ids), 500):
        part = article_ids[i:i + 500]
        rows += db.execute(f"SELECT rowid, article_id, text FROM chunks WHERE article_id IN "
                           f"({','.join('?' * len(part))}) ORDER BY rowid", part).fetchall()
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
    """MB of the FTS5 tables (chunk_fts and its shadow tables) and of the whole catalog file."""
    db = sqlite3.connect(path)
    try:
        fts, content = db.execute(
            "SELECT sum(pgsize), sum(CASE WHEN name = 'chunk_fts_content' THEN pgsize END) "
            "FROM dbstat WHERE name LIKE 'chunk_fts%'").fetchone()
    except sqlite3.OperationalError:  # SQLite built without dbstat
        fts = content = None
    finally:
        db.close()
    # chunk_fts_content is FTS5's own copy of every chunk's text (the chunks table has another).
    return {"index_mb": round(fts / 1e6, 2) if fts else dir_mb(path),
            "text_copy_mb": round(content / 1e6, 2) if content else None, "catalog_mb": dir_mb(path)}


class Fts5:
    name = "fts5"

    def __init__(self, work: Path) -> None:
        self.work = work

    def build(self, articles: Iterable[dict[str, Any]]) -> dict[str, Any]:
        path = catalog_path(self.work)
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = open_catalog(self.work)
        t0 = time.perf_counter()
        _add_to_catalog(catalog, articles)
        _checkpoint(catalog)
        build_s = time.perf_counter() - t0
        # The FTS5 table alone, with the catalog's own DDL, filled from the chunks at once.
        ddl = catalog.read().execute("SELECT sql FROM sqlite_master WHERE name='chunk_fts'").fetchone()[0]
        scratch = self.work / "fts5-only.sqlite"
        db = sqlite3.connect(scratch, isolation_level=None)
        db.execute("ATTACH ? AS cat", (str(path),))
        t0 = time.perf_counter()
        db.execute(ddl.replace("chunk_fts", "main.fts_only", 1))
        db.execute("INSERT INTO main.fts_only(rowid, text) SELECT rowid, text FROM cat.chunks")
        only_s = time.perf_counter() - t0
        db.close()
        scratch.unlink()
        catalog.close()
        return {"build_s": build_s, "fts5_only_build_s": only_s}

    def size(self) -> dict[str, float]:
        return fts5_sizes(catalog_path(self.work))

    def update(self, add: list[dict[str, Any]], delete: list[str]) -> dict[str, Any]:
        catalog = open_catalog(self.work)
        t0 = time.perf_counter()
        _add_to_catalog(catalog, add)
        for article_id in delete:
            catalog.delete_article(article_id)
        _checkpoint(catalog)
        seconds = time.perf_counter() - t0
        catalog.close()
        return {"update_s": seconds}

    def count(self) -> int:
        return open_catalog(self.work).read().execute("SELECT count(*) FROM chunk_fts").fetchone()[0]

    def open(self) -> None:
        self.catalog = open_catalog(self.work)
        self.catalog.read().execute("SELECT count(*) FROM chunk_fts").fetchone()

    def search(self, terms: list[str], k: int, scope: list[str] | None) -> list[str]:
        return [cid for cid, _ in self.catalog.lexical_search(terms, k, scope)]


def _tantivy_analyzer() -> Any:
    """FTS5's porter unicode61, as near as tantivy's filters get: letters-and-digits tokens,
    lower-cased, accents folded, the answer path's stop words dropped (questions never search
    them), Snowball English stems (FTS5: the original Porter)."""
    import tantivy

    from index.text import STOPWORDS

    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(40))
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.ascii_fold())
            .filter(tantivy.Filter.custom_stopword(sorted(STOPWORDS)))
            .filter(tantivy.Filter.stemmer("english"))
            .build())


class Tantivy:
    name = "tantivy"
    HEAP = 64_000_000

    def __init__(self, work: Path) -> None:
        self.path = work / "tantivy"
        self.work = work

    def _index(self, create: bool) -> Any:
        import tantivy

        if create:
            builder = tantivy.SchemaBuilder()
            builder.add_text_field("text", tokenizer_name="news", index_option="position")
            builder.add_text_field("article_id", tokenizer_name="raw")
            builder.add_integer_field("rowid", fast=True)
            index = tantivy.Index(builder.build(), path=str(self.path), reuse=False)
        else:
            index = tantivy.Index.open(str(self.path))
        index.register_tokenizer("news", _tantivy_analyzer())
        return index

    @staticmethod
    def _add(writer: Any, rows: Iterable[tuple[int, str, str]]) -> None:
        import tantivy

        for rowid, article_id, text in rows:
            writer.add_document(tantivy.Document(text=text, article_id=article_id, rowid=rowid))

    def build(self, articles: Iterable[dict[str, Any]]) -> dict[str, Any]:
        catalog = open_catalog(self.work)
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)
        t0 = time.perf_counter()
        index = self._index(create=True)
        writer = index.writer(heap_size=self.HEAP, num_threads=1)
        self._add(writer, _chunk_rows(catalog))  # read from the catalog as it goes
        writer.commit()
        commit_s = time.perf_counter() - t0
        writer.wait_merging_threads()
        index.reload()
        return {"build_s": time.perf_counter() - t0, "build_to_commit_s": commit_s,
                "segments": index.searcher().num_segments}

    def size(self) -> dict[str, float]:
        return {"index_mb": dir_mb(self.path)}

    def update(self, add: list[dict[str, Any]], delete: list[str]) -> dict[str, Any]:
        catalog = open_catalog(self.work)  # the fts5 update has already put the new chunks there
        rows = _chunk_rows(catalog, [a["id"] for a in add])
        index = self._index(create=False)
        t0 = time.perf_counter()
        writer = index.writer(heap_size=self.HEAP, num_threads=1)
        self._add(writer, rows)
        for article_id in delete:
            writer.delete_documents_by_term("article_id", article_id)
        writer.commit()
        commit_s = time.perf_counter() - t0
        writer.wait_merging_threads()  # tantivy deletes merged-away files itself
        index.reload()
        return {"update_s": commit_s, "update_with_merge_s": time.perf_counter() - t0,
                "segments": index.searcher().num_segments}

    def count(self) -> int:
        return self._index(create=False).searcher().num_docs

    def open(self) -> None:
        self.catalog = open_catalog(self.work)
        self.index = self._index(create=False)
        self.schema = self.index.schema
        self.searcher = self.index.searcher()
        self.analyzer = _tantivy_analyzer()

    def search(self, terms: list[str], k: int, scope: list[str] | None) -> list[str]:
        from tantivy import Occur, Query

        tokens = list(dict.fromkeys(t for term in terms for t in self.analyzer.analyze(term)))
        if not tokens:
            return []
        query = Query.boolean_query([(Occur.Should, Query.term_query(self.schema, "text", t))
                                     for t in tokens])
        if scope is not None:
            allowed = Query.const_score_query(
                Query.term_set_query(self.schema, "article_id", scope), 0.0)
            query = Query.boolean_query([(Occur.Must, query), (Occur.Must, allowed)])
        hits = self.searcher.search(query, k, count=False).hits
        rowids = self.searcher.fast_field_values("rowid", [address for _, address in hits])
        return _chunk_ids(self.catalog, [int(r) for r in rowids if r is not None])


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
