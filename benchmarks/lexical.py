"""Lexical engines side by side (issue #22): today's SQLite FTS5 against tantivy and bm25s, on the
same chunk texts and the same question terms.

    python -m benchmarks.lexical --articles 1000 [--queries 300] [--write]

The corpus is the scale series' pooled news (benchmarks/corpus.py), loaded and chunked by the
product's own code (index/loaders.py, index/chunking.py) and cached in benchmarks/.cache/. The
questions are the scale series' questions, turned into search terms as the answer path does
(assistant.retrieval.question_terms). Every build, query run and update runs in a process of its
own (`--worker`), so its time and peak RSS are that engine's alone:

* fts5: today's path. Articles go into a `Catalog` with `replace_article` (no sentence vectors),
  searched with `Catalog.lexical_search`, removed with `Catalog.delete_article`. Its build and
  update times include the catalog rows the product writes anyway (articles, chunks, words);
  `fts5_only_build_s` is the FTS5 table alone, filled from the chunks in one statement.
* tantivy: an on-disk index beside the catalog; chunk text indexed (not stored) with positions,
  the article id as a raw term (scope filter, delete), the catalog's chunk rowid as a fast field.
* bm25s: eager sparse BM25 scores saved as .npy and loaded with mmap; the catalog rowid of each
  document in a .npy beside it. It has no incremental update: an update is a rebuild.

Both new engines read their chunks from the catalog (the rebuild-from-the-store path), and map
their hits back to chunk ids through it, as the product would. Tokenisation follows FTS5's
`porter unicode61` as closely as each allows (see benchmarks/README.md). A scope (a set of
article ids) filters every engine. Top-10 agreement with FTS5 and the share of questions whose
answer is in a top-10 chunk are sanity checks on quality, not a quality evaluation.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks" / ".cache"
RESULTS = ROOT / "benchmarks" / "results"
ENGINES = ("fts5", "tantivy", "bm25s")
WARMUP = 3
CORPUS_FORMAT = 2  # bump when what prepare_corpus caches changes
# FTS5's unicode61 tokens: runs of letters and digits (an apostrophe splits "o'brien").
TOKEN = r"(?u)[^\W_]+"


# --- small helpers ------------------------------------------------------------------------------

def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over an exec, so a
    worker started by a large parent would report the parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def rss_now_mb() -> float:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def dir_mb(path: Path) -> float:
    files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
    return round(sum(f.stat().st_size for f in files) / 1e6, 2)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def read_articles(path: Path) -> Iterator[dict[str, Any]]:
    """The prepared articles, one at a time (100,000 of them hold ~0.5 GB of text)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def catalog_path(work: Path) -> Path:
    return work / "fts5" / "catalog.sqlite"


# --- the corpus ---------------------------------------------------------------------------------

def _code_key(*parts: object) -> str:
    """Changes when the generator, loader, cleaning or chunking code changes."""
    h = hashlib.sha1(json.dumps(parts).encode())
    for name in ("benchmarks/corpus.py", "index/loaders.py", "index/clean.py", "index/topmatter.py",
                 "index/text.py", "index/chunking.py"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()[:12]


def _load_chunk(folder: Path, articles: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Articles as the product sees them: written as .txt files, loaded by index/loaders.py,
    chunked by index/chunking.py. Chunk texts are text[start:end], so only offsets are kept."""
    from benchmarks.corpus import write_corpus
    from index.chunking import chunk_article
    from index.loaders import load_file

    written = write_corpus(articles, folder)
    # write_corpus names files by position, so sorted paths line up with the generated articles.
    for path, generated in zip(sorted(folder.rglob("*.txt")), written, strict=True):
        for article in load_file(path).articles:
            _, chunks = chunk_article(article.text)
            # The key, as the catalog knows it: unique across both parts, or an extra article
            # would replace the base article at the same file name.
            key = f"{folder.name}/{path.relative_to(folder).as_posix()}"
            yield {"id": article.article_id, "key": key, "title": article.title,
                   "date": article.date, "text": article.text,
                   "questions": [f.question for f in generated.facts],
                   "chunks": [[c.index, c.start, c.end, c.first_sentence, c.last_sentence]
                              for c in chunks]}


def prepare_corpus(n: int, extra: int, seed: int, pool_articles: int, work: Path
                   ) -> tuple[Path, Path, Any]:
    """base.jsonl.gz (n articles), extra.jsonl.gz (`extra` more, for the update), and the pool.
    Cached in benchmarks/.cache/ by size, seed and the code that makes them."""
    from benchmarks import corpus as gen

    pool = gen.make_pool(pool_articles, seed + 1)  # the scale series' pool (benchmarks/run.py)
    key = _code_key(CORPUS_FORMAT, n, extra, seed, pool_articles)
    cached = {part: CACHE / f"lexical-{n}-{part}-{key}.jsonl.gz" for part in ("base", "extra")}
    if not all(p.exists() for p in cached.values()):
        CACHE.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        seen: set[str] = set()  # the same article twice is stored once
        counts = {}
        with tempfile.TemporaryDirectory(prefix="lexical-corpus-") as tmp:
            for part, articles, limit in (
                    ("base", gen.pooled_corpus(pool, n, seed + n), n),
                    ("extra", gen.pooled_corpus(pool, extra * 2, seed + n + 7919), extra)):
                tmp_path = cached[part].with_suffix(".tmp")
                counts[part] = 0
                with gzip.open(tmp_path, "wt", encoding="utf-8") as f:
                    for row in _load_chunk(Path(tmp) / part, articles):
                        if row["id"] not in seen and counts[part] < limit:
                            seen.add(row["id"])
                            counts[part] += 1
                            f.write(json.dumps(row) + "\n")
                tmp_path.replace(cached[part])
        log(f"corpus: {counts['base']} + {counts['extra']} articles loaded and chunked in "
            f"{time.perf_counter() - t0:.1f} s (cached in {CACHE.relative_to(ROOT)})")
    else:
        log(f"corpus: cached ({cached['base'].name})")
    for part, path in cached.items():
        shutil.copyfile(path, work / f"{part}.jsonl.gz")
    return work / "base.jsonl.gz", work / "extra.jsonl.gz", pool


def make_queries(ids: list[str], holders: dict[str, list[str]], pool: Any, n_queries: int,
                 scope_size: int, seed: int) -> list[dict[str, Any]]:
    """The scale series' questions (benchmarks/run.py), each with its search terms and a scope:
    `scope_size` random articles, one of which holds the question's fact when any does
    (`holders`: question -> the ids of the articles written with its fact)."""
    from assistant.retrieval import question_terms
    from benchmarks import corpus as gen

    facts = gen.questions_for(pool.articles, n_queries, seed + 2)
    rng = random.Random(seed + 3)
    size = max(1, min(scope_size, len(ids) // 3))
    queries = []
    for fact in facts:
        scope = set(rng.sample(ids, size))
        if fact.question in holders and not scope & set(holders[fact.question]):
            scope.remove(min(scope))
            scope.add(rng.choice(holders[fact.question]))
        queries.append({"question": fact.question, "answer": fact.answer,
                        "terms": question_terms(fact.question), "scope": sorted(scope),
                        "answerable": fact.question in holders})
    return queries


# --- engines: build, search, update (each runs inside a worker process) ------------------------

def _catalog(work: Path) -> Any:
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
        catalog = _catalog(self.work)
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
        catalog = _catalog(self.work)
        t0 = time.perf_counter()
        _add_to_catalog(catalog, add)
        for article_id in delete:
            catalog.delete_article(article_id)
        _checkpoint(catalog)
        seconds = time.perf_counter() - t0
        catalog.close()
        return {"update_s": seconds}

    def count(self) -> int:
        return _catalog(self.work).read().execute("SELECT count(*) FROM chunk_fts").fetchone()[0]

    def open(self) -> None:
        self.catalog = _catalog(self.work)
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
        catalog = _catalog(self.work)
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
        catalog = _catalog(self.work)  # the fts5 update has already put the new chunks there
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
        self.catalog = _catalog(self.work)
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
        return {"build_s": self._build_from_catalog(_catalog(self.work))["seconds"]}

    def size(self) -> dict[str, float]:
        return {"index_mb": dir_mb(self.path)}

    def update(self, add: list[dict[str, Any]], delete: list[str]) -> dict[str, Any]:
        # No incremental API (every score depends on the corpus's IDF and mean length): rebuild.
        t0 = time.perf_counter()
        self._build_from_catalog(_catalog(self.work))
        return {"update_s": time.perf_counter() - t0}

    def count(self) -> int:
        import numpy as np

        return len(np.load(self.path / "rowids.npy", mmap_mode="r"))

    def open(self) -> None:
        import bm25s
        import numpy as np

        from index.text import STOPWORDS

        self.catalog = _catalog(self.work)
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


# --- the worker process -------------------------------------------------------------------------

def run_worker(task: str, engine_name: str, work: Path, top_k: int) -> dict[str, Any]:
    engine = ENGINE_CLASSES[engine_name](work)
    if task == "build":
        # Only fts5 reads the prepared articles; the others read the catalog it wrote.
        out = engine.build(read_articles(work / "base.jsonl.gz") if engine_name == "fts5" else [])
        out.update(engine.size())
    elif task == "update":
        plan = json.loads((work / "update.json").read_text())
        add = list(read_articles(work / "extra.jsonl.gz"))
        if engine_name != "fts5":  # only the ids: the chunks come from the catalog
            add = [{"id": a["id"]} for a in add]
        out = engine.update(add, plan["delete"])
        out.update(engine.size())
        # Every chunk the catalog holds after the update, and no other, is in the index.
        out["docs_after_update"] = engine.count()
        out["catalog_chunks_after_update"] = _catalog(work).chunk_count()
    elif task == "query":
        queries = json.loads((work / "queries.json").read_text())
        rss_start = rss_now_mb()
        t0 = time.perf_counter()
        engine.open()
        out = {"load_s": time.perf_counter() - t0, "rss_before_load_mb": rss_start,
               "rss_after_load_mb": rss_now_mb()}
        for q in queries[:WARMUP]:
            engine.search(q["terms"], top_k, None)
        lat, lat_scoped, top10, scoped = [], [], [], []
        for q in queries:
            t0 = time.perf_counter()
            hits = engine.search(q["terms"], top_k, None)
            lat.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            in_scope = engine.search(q["terms"], top_k, q["scope"])
            lat_scoped.append((time.perf_counter() - t0) * 1000)
            top10.append(hits[:10])
            scoped.append(in_scope)
        out.update({"latency_ms": lat, "scoped_latency_ms": lat_scoped, "top10": top10,
                    "scoped_hits": scoped, "hits_per_query": [len(h) for h in top10],
                    "rss_end_mb": rss_now_mb()})
    else:
        raise SystemExit(f"unknown task {task}")
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def worker(task: str, engine: str, work: Path, top_k: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.lexical", "--worker", task, "--engine", engine,
           "--work", str(work), "--top-k", str(top_k)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{engine} {task} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the run ------------------------------------------------------------------------------------

def log(message: str) -> None:
    print(f"[lexical {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def analyse(results: dict[str, dict[str, Any]], queries: list[dict[str, Any]], work: Path) -> None:
    """Top-10 agreement with FTS5 (by chunk id, and by chunk text: the pooled corpus repeats
    paragraphs, so equal-scoring copies tie), answer found in a top-10 chunk, scope respected."""
    db = sqlite3.connect(catalog_path(work))
    chunk = {cid: (aid, text) for cid, aid, text in db.execute(
        "SELECT chunk_id, article_id, text FROM chunks")}
    db.close()
    reference = results["fts5"]["query"]["top10"]
    for res in results.values():
        q = res["query"]
        overlap_id, overlap_text, answered, outside, scoped_empty = [], [], 0, 0, 0
        for i, query in enumerate(queries):
            mine, ref = q["top10"][i], reference[i]
            if ref:
                overlap_id.append(len(set(mine) & set(ref)) / len(ref))
                ref_texts = [chunk[c][1] for c in ref]
                mine_texts = [chunk[c][1] for c in mine]
                common = sum(min(ref_texts.count(t), mine_texts.count(t)) for t in set(ref_texts))
                overlap_text.append(common / len(ref))
            if query["answerable"]:  # some article of the corpus was written with this fact
                answer = _normalise(query["answer"])
                answered += any(answer in _normalise(chunk[c][1]) for c in mine)
            scope = set(query["scope"])
            outside += sum(chunk[c][0] not in scope for c in q["scoped_hits"][i])
            scoped_empty += not q["scoped_hits"][i]
        n = sum(1 for query in queries if query["answerable"])
        res["quality"] = {
            "overlap10_id": round(sum(overlap_id) / len(overlap_id), 3) if overlap_id else None,
            "overlap10_text": round(sum(overlap_text) / len(overlap_text), 3) if overlap_text else None,
            "answer_in_top10": round(answered / n, 3) if n else None,
            "scoped_hits": sum(len(h) for h in q["scoped_hits"]),
            "scoped_hits_outside_scope": outside, "scoped_queries_without_hits": scoped_empty,
            "queries_without_hits": sum(1 for h in q["top10"] if not h)}


def summarise(res: dict[str, Any]) -> dict[str, Any]:
    q = res["query"]
    return {
        "build_s": round(res["build"]["build_s"], 2),
        "build_peak_rss_mb": res["build"]["peak_rss_mb"],
        "index_mb": res["build"]["index_mb"],
        "update_s": round(res["update"]["update_s"], 2),
        "index_mb_after_update": res["update"]["index_mb"],
        "docs_match_catalog_after_update":
            res["update"]["docs_after_update"] == res["update"]["catalog_chunks_after_update"],
        "query_p50_ms": round(percentile(q["latency_ms"], 50), 2),
        "query_p95_ms": round(percentile(q["latency_ms"], 95), 2),
        "scoped_p50_ms": round(percentile(q["scoped_latency_ms"], 50), 2),
        "scoped_p95_ms": round(percentile(q["scoped_latency_ms"], 95), 2),
        "load_s": round(q["load_s"], 3),
        "query_rss_after_load_mb": q["rss_after_load_mb"],
        "query_peak_rss_mb": q["peak_rss_mb"],
        **res["quality"],
    }


def table(summary: dict[str, dict[str, Any]]) -> str:
    cols = [("build s", "build_s"), ("build RSS MB", "build_peak_rss_mb"), ("index MB", "index_mb"),
            ("update s", "update_s"), ("MB after", "index_mb_after_update"),
            ("p50 ms", "query_p50_ms"), ("p95 ms", "query_p95_ms"),
            ("scoped p50", "scoped_p50_ms"), ("scoped p95", "scoped_p95_ms"), ("load s", "load_s"),
            ("query RSS MB", "query_peak_rss_mb"), ("top-10 = FTS5 (id/text)", None),
            ("answer@10", "answer_in_top10"), ("out of scope", "scoped_hits_outside_scope")]
    lines = ["| engine | " + " | ".join(c for c, _ in cols) + " |",
             "|---|" + "---:|" * len(cols)]
    for name, s in summary.items():
        cells = []
        for _, key in cols:
            cells.append(f"{s['overlap10_id']} / {s['overlap10_text']}" if key is None else str(s[key]))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lexical", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=1000, help="corpus size (default 1000)")
    parser.add_argument("--queries", type=int, default=300, help="questions (default 300)")
    parser.add_argument("--top-k", type=int, default=40, help="results per search (default 40)")
    parser.add_argument("--scope-articles", type=int, default=50,
                        help="articles in each question's scope (at most a third of the corpus)")
    parser.add_argument("--add", type=int, default=100, help="articles added by the update")
    parser.add_argument("--delete", type=int, default=10, help="articles removed by the update")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="comma-separated; fts5 always runs (it is the catalog the others read)")
    parser.add_argument("--pool-articles", type=int, default=150)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    parser.add_argument("--write", action="store_true",
                        help="write benchmarks/results/lexical-N.json")
    parser.add_argument("--out", type=Path, help="with --write: the JSON's path instead")
    parser.add_argument("--worker", choices=("build", "query", "update"), help=argparse.SUPPRESS)
    parser.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(run_worker(args.worker, args.engine, args.work, args.top_k)))
        return 0

    engines = ["fts5", *[e for e in args.engines.split(",") if e and e != "fts5"]]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        parser.error(f"unknown engine(s): {', '.join(unknown)}")
    work = args.work or Path(tempfile.mkdtemp(prefix="lexical-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    from benchmarks.run import machine

    meta: dict[str, Any] = {**machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                            "args": {k: str(v) for k, v in vars(args).items() if k not in
                                     ("worker", "engine")}}
    from importlib.metadata import version

    meta["versions"] = {p: version(p) for p in ("tantivy", "bm25s", "numpy")}
    meta["versions"]["sqlite"] = sqlite3.sqlite_version
    try:
        base_path, _, pool = prepare_corpus(args.articles, args.add, args.seed, args.pool_articles,
                                            work)
        ids: list[str] = []
        holders: dict[str, list[str]] = {}
        n_chunks = 0
        for a in read_articles(base_path):
            ids.append(a["id"])
            n_chunks += len(a["chunks"])
            for question in a["questions"]:
                holders.setdefault(question, []).append(a["id"])
        queries = make_queries(ids, holders, pool, args.queries, args.scope_articles, args.seed)
        delete = random.Random(args.seed + 4).sample(ids, min(args.delete, len(ids) // 2))
        (work / "queries.json").write_text(json.dumps(queries))
        (work / "update.json").write_text(json.dumps({"delete": delete}))
        meta.update({"articles": len(ids), "chunks": n_chunks, "queries": len(queries),
                     "scope_articles": len(queries[0]["scope"]) if queries else 0})
        log(f"{meta['articles']} articles, {n_chunks} chunks, {len(queries)} questions")

        results: dict[str, dict[str, Any]] = {e: {} for e in engines}
        for e in engines:  # fts5 first: it writes the catalog the others read
            results[e]["build"] = worker("build", e, work, args.top_k)
            log(f"{e}: built in {results[e]['build']['build_s']:.1f} s, "
                f"{results[e]['build']['index_mb']} MB")
        for e in engines:
            results[e]["query"] = worker("query", e, work, args.top_k)
            log(f"{e}: {len(queries)} questions, p50 "
                f"{percentile(results[e]['query']['latency_ms'], 50):.2f} ms")
        analyse(results, queries, work)
        for e in engines:  # fts5 first: it puts the new chunks in the catalog
            results[e]["update"] = worker("update", e, work, args.top_k)
            log(f"{e}: +{args.add} -{len(delete)} articles in {results[e]['update']['update_s']:.2f} s")
    finally:
        meta["wall_s"] = round(time.perf_counter() - started, 1)
        meta["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)

    summary = {e: summarise(r) for e, r in results.items()}
    extra = {e: {k: v for k, v in r["build"].items() if k not in ("build_s", "index_mb", "peak_rss_mb")}
             for e, r in results.items()}
    print(f"\nLexical engines, {meta['articles']:,} articles ({meta['chunks']:,} chunks), "
          f"{meta['queries']} questions, top {args.top_k}, scope {meta['scope_articles']} articles; "
          f"load {meta['load_avg_start']} -> {meta['load_avg_end']}\n")
    print(table(summary))
    print()
    for e, x in extra.items():
        if x:
            print(f"{e} build: " + ", ".join(f"{k} {round(v, 2) if isinstance(v, float) else v}"
                                             for k, v in x.items()))
    if args.write:
        out = args.out or RESULTS / f"lexical-{args.articles}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        details = {e: {"build": r["build"], "update": r["update"],
                       "query": {k: v for k, v in r["query"].items()
                                 if k not in ("top10", "scoped_hits", "latency_ms", "scoped_latency_ms",
                                              "hits_per_query")}}
                   for e, r in results.items()}
        out.write_text(json.dumps({"meta": meta, "summary": summary, "details": details}, indent=1)
                       + "\n")
        log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
