"""The ingest pipeline: file -> clean article -> sentences and chunks -> vectors -> stores.

Ingest is idempotent by content hash: an unchanged article costs one hash comparison, a changed
one replaces its old chunks, and `prune` drops articles whose files are gone.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from index.article import Article, LoadError, LoadResult
from index.catalog import Catalog
from index.chunking import Chunk, chunk_article
from index.embedding import Embedder, normalise
from index.loaders import check_size, discover, load_file
from index.record import ServerRecord
from index.state import StoreState
from index.text import Span
from index.vectorstore import ChromaStore, NodeToStore

ProgressCallback = Callable[[int, int, str], None]


@cache
def _loader_version() -> bytes:
    """The loading and cleaning code itself: when it changes, what a file yields may change, so
    every file must be read again (the content hash of each article would have noticed)."""
    from index import article, clean, loaders

    return hashlib.sha1(Path(loaders.__file__).read_bytes() + Path(article.__file__).read_bytes()
                        + Path(clean.__file__).read_bytes()).digest()


# Bytes read at a time while hashing a file: memory stays this, whatever the file's size.
HASH_BLOCK = 1 << 20


def _raw_hash(path: Path) -> str | None:
    """The file's bytes (and the loader's version), hashed as they stream by: a file is never
    held whole just to learn that it is unchanged."""
    digest = hashlib.sha1(_loader_version())
    try:
        with path.open("rb") as handle:
            while block := handle.read(HASH_BLOCK):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[str] = field(default_factory=list)  # one-line messages
    articles: list[str] = field(default_factory=list)  # ids of added or updated articles
    tokens: int = 0
    chunks: int = 0
    seconds: float = 0.0
    repaired: int = 0  # vectors rebuilt from the catalog before ingesting

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        return (f"added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
                f"removed {self.removed}, failed {len(self.failed)}")


@dataclass
class _Prepared:
    article: Article
    sentences: list[Span]
    chunks: list[Chunk]
    is_update: bool
    # Articles this one replaces: those at the same key (a file or feed entry whose text
    # changed gets a new id, since ids come from content).
    replaces: list[str] = field(default_factory=list)


class Indexer:
    """Owns the write path. Queries go through the same Catalog and ChromaStore objects.

    With a Chroma server, `record` is the server's copy of every article (index/record.py):
    each commit writes it before the local catalog, which is then only a cache. `state` is told
    of every committed change, so other processes sharing the store re-read it. The caller holds
    the store's lease (index/state.py) around the whole ingest or removal.
    """

    # Embedding many articles' sentences in one call keeps the model's batches full.
    sentences_per_flush = 512

    # Sentences embedded per model call: bounds the tokenizer's and the model's working memory
    # whatever the size of one article (a 50 MB text file holds ~400,000 sentences).
    embed_slice = 2048
    # An article with more sentences than this is written slice by slice (_flush_streaming).
    stream_sentences = 8192
    # Pending sentences that force a flush in the middle of a file of many records.
    max_pending_sentences = 8192

    def __init__(self, catalog: Catalog, vectors: ChromaStore, embedder: Embedder,
                 chunk_words: int = 120, overlap_sentences: int = 1,
                 max_file_bytes: int | None = None, follow_links: bool = False,
                 record: ServerRecord | None = None, state: StoreState | None = None) -> None:
        self.catalog = catalog
        self.record = record
        self.state = state
        self.vectors = vectors
        self.embedder = embedder
        self.chunk_words = chunk_words
        self.overlap_sentences = overlap_sentences
        self.max_file_bytes = max_file_bytes
        self.follow_links = follow_links
        self._embedding_progress: ProgressCallback | None = None
        self._locations: dict[str, tuple[str, str, str]] = {}
        self._by_key: dict[str, list[str]] = {}

    def ingest(self, paths: list[str | Path], prune: bool = False,
               progress: ProgressCallback | None = None,
               embedding_progress: ProgressCallback | None = None,
               feeds: list[str] | None = None, fetch_pages: bool = False) -> IngestReport:
        """Index files, folders and web pages (http(s) URLs in `paths`) and the entries of
        `feeds`. `progress(done, total, name)` follows the files; `embedding_progress(done,
        total, name)` the sentences embedded in each flush, so a single big file shows progress
        too."""
        started = time.perf_counter()
        report = IngestReport()
        self._embedding_progress = embedding_progress
        report.repaired = self._restore_missing_vectors()
        urls = [str(p) for p in paths if _is_url(p)]
        files, errors = discover([p for p in paths if not _is_url(p)], self.follow_links)
        report.failed.extend(errors)
        known = self.catalog.content_hashes()
        self._locations = self.catalog.locations()
        self._by_key = {}
        for article_id, (key, _source, _path) in self._locations.items():
            self._by_key.setdefault(key, []).append(article_id)
        by_path: dict[str, set[str]] = {}
        for record in self.catalog.articles():
            by_path.setdefault(record.path, set()).add(record.article_id)
        file_marks = self.catalog.file_marks()
        marks: list[tuple[str, str, int]] = []  # files to mark once their articles are committed
        pending: list[_Prepared] = []
        pending_sentences = 0
        sources: list[Path | str | tuple[str, str]] = [*files, *urls,
                                                        *(("feed", f) for f in feeds or [])]
        for number, item in enumerate(sources, start=1):
            if not isinstance(item, Path):
                loaded = self._load_remote(item, fetch_pages, report)
                if loaded is not None:
                    pending_sentences += self._prepare(loaded.articles, known, pending, report)
                if pending_sentences >= self.sentences_per_flush:
                    self._flush(pending, report)
                    pending, pending_sentences = [], 0
                if progress:
                    progress(number, len(sources), item if isinstance(item, str) else item[1])
                continue
            path = item
            # Refused from its size alone, before a byte is read: a 1 GB file was read and
            # hashed whole (10 s, 2.4 GB) only to be refused afterwards.
            try:
                check_size(path, self.max_file_bytes)
            except (LoadError, OSError) as exc:
                report.failed.append(str(exc) if isinstance(exc, LoadError) else
                                     f"{path}: cannot read ({exc.strerror or exc})")
                if progress:
                    progress(number, len(sources), str(path))
                continue
            # A file whose bytes are those of its last complete ingest, with all its articles
            # still indexed, is skipped without parsing: cleaning 10,000 unchanged articles
            # only to find their hashes unchanged was 80% of a re-ingest.
            raw_hash = _raw_hash(path)
            mark = file_marks.get(str(path))
            if raw_hash and mark and mark[0] == raw_hash and len(by_path.get(str(path), ())) == mark[1]:
                report.unchanged += mark[1]
                if progress:
                    progress(number, len(sources), str(path))
                continue
            try:
                loaded = load_file(path, self.max_file_bytes)
            except LoadError as exc:
                report.failed.append(str(exc))
                loaded = None
            except OSError as exc:
                report.failed.append(f"{path}: cannot read ({exc.strerror or exc})")
                loaded = None
            if loaded is not None:
                report.failed.extend(loaded.errors)
                # Records a JSON file no longer holds are gone from it. Only a file read without
                # record errors is trusted to say so: a malformed line may be one of them.
                if not loaded.errors:
                    present = {a.article_id for a in loaded.articles}
                    keys = {a.key for a in loaded.articles}
                    for stale in sorted(by_path.get(str(path), set()) - present):
                        if self._locations.get(stale, ("",))[0] in keys:
                            continue  # replaced in place by its new version (see _Prepared)
                        if self.remove(stale):
                            known.pop(stale, None)
                            report.removed += 1
                pending_sentences += self._prepare(loaded.articles, known, pending, report)
                if raw_hash and not loaded.errors:
                    marks.append((str(path), raw_hash,
                                  len({a.article_id for a in loaded.articles})))
            if pending_sentences >= self.sentences_per_flush:
                self._flush(pending, report)
                pending, pending_sentences = [], 0
                self.catalog.mark_files(marks)
                marks = []
            if progress:
                progress(number, len(sources), str(path))
        self._flush(pending, report)
        self.catalog.mark_files(marks)
        if prune:
            # Only articles read from under the folders (or files) named in this run: a store
            # shared with other folders or machines keeps theirs, and web pages and feed
            # entries are never pruned by a folder.
            roots = [Path(p).absolute() for p in paths if not _is_url(p)]
            for record in self.catalog.articles():
                if (record.path and _under(Path(record.path), roots)
                        and not Path(record.path).exists()):
                    self.remove(record.article_id)
                    report.removed += 1
            # Vectors an interrupted ingest wrote for articles it never committed are invisible
            # but still crowd the nearest-neighbour pool; pruning is the moment to drop them.
            # Not while a damaged catalog set aside by `check --repair` lies beside a store
            # folder's: they may be its articles' (see index/check.py).
            from index.check import set_aside_catalogs

            kept = self.record is None and bool(set_aside_catalogs(self.catalog.path))
            if not kept and self.vectors.count() != self.catalog.chunk_count():
                live = self.catalog.all_chunk_ids()
                self.vectors.delete([i for i in self.vectors.all_ids() if i not in live])
        report.seconds = time.perf_counter() - started
        return report

    def _prepare(self, articles: list[Article], known: dict[str, str], pending: list[_Prepared],
                 report: IngestReport) -> int:
        """Queue the new or changed articles for the next flush; returns their sentences."""
        added = 0
        for article in articles:
            if known.get(article.article_id) == article.content_hash:
                report.unchanged += 1
                self._relocate_if_moved(article)
                continue
            sentences, chunks = chunk_article(article.text, self.chunk_words,
                                              self.overlap_sentences)
            if len(sentences) > self.stream_sentences:
                # Offsets only: the text of each sentence and chunk is sliced from the article
                # when its slice is written (a 50 MB article's objects held ~200 MB).
                sentences = _OffsetSentences(article.text, sentences)  # type: ignore[assignment]
                chunks = _OffsetChunks(article.text, chunks)  # type: ignore[assignment]
            replaces = [other for other in self._by_key.get(article.key, ())
                        if other != article.article_id]
            pending.append(_Prepared(article, sentences, chunks,
                                     article.article_id in known or bool(replaces), replaces))
            known[article.article_id] = article.content_hash
            added += len(sentences)
            # A file of many records is flushed as it goes, not as a whole: memory stays that
            # of one flush however many records the file holds.
            if added >= self.max_pending_sentences:
                self._flush(pending, report)
                pending.clear()
                added = 0
        return added

    def _relocate_if_moved(self, article: Article) -> None:
        """An article already indexed from a place that no longer exists (a moved folder) is
        now known by its new place, so a prune does not drop it."""
        where = self._locations.get(article.article_id)
        if where is None or where == (article.key, article.source, article.path):
            return
        old_path = where[2]
        if old_path and Path(old_path).exists():
            return  # the same article in two places: it keeps its first
        if self.catalog.relocate(article.article_id, article.key, article.source, article.path):
            if self.record is not None:
                self.record.relocate(article.article_id, article.key, article.source,
                                     article.path)
            self._locations[article.article_id] = (article.key, article.source, article.path)
            self._changed()

    def _changed(self) -> None:
        if self.state is not None:
            self.state.bump()

    def _restore_missing_vectors(self) -> int:
        """The cheap part of `check`: when the store holds fewer vectors than the catalog has
        chunks (a deleted or damaged chroma/ folder, an interrupted write), rebuild the missing
        ones from the catalog, so an unchanged file is not reported unchanged over a store that
        has lost its vectors."""
        if self.vectors.count() >= self.catalog.chunk_count():
            return 0
        from index.check import check_store

        result = check_store(self.catalog, self.vectors, self.embedder.dimension, repair=True)
        return len(result.missing) + len(result.unreadable) + len(result.wrong_dimension)

    def _load_remote(self, item: str | tuple[str, str], fetch_pages: bool,
                     report: IngestReport) -> LoadResult | None:
        """A web page (a URL) or a feed's entries; a failure is one line in the report."""
        from index.feeds import load_feed
        from index.sources import load_url

        try:
            if isinstance(item, tuple):
                loaded = load_feed(item[1], fetch_pages=fetch_pages,
                                   known_keys=self.catalog.article_keys())
            else:
                loaded = load_url(item)
        except LoadError as exc:
            report.failed.append(str(exc))
            return None
        report.failed.extend(loaded.errors)
        return loaded

    def _embed(self, texts: list[str], report: IngestReport, name: str) -> np.ndarray:
        """float16 vectors of `texts`, embedded a slice at a time (see embed_slice)."""
        out = np.zeros((len(texts), getattr(self.embedder, "dimension", 0) or 1), dtype=np.float16)
        counter = getattr(self.embedder, "count_tokens", None)
        for begin in range(0, len(texts), self.embed_slice):
            batch = texts[begin:begin + self.embed_slice]
            vectors = self.embedder.embed(batch)
            if out.shape[1] != vectors.shape[1]:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float16)
            out[begin:begin + len(batch)] = vectors
            report.tokens += counter(batch) if counter else sum(len(t.split()) for t in batch)
            if self._embedding_progress:
                self._embedding_progress(begin + len(batch), len(texts), name)
        return out

    def _flush(self, pending: list[_Prepared], report: IngestReport) -> None:
        big = [item for item in pending if len(item.sentences) > self.stream_sentences]
        for item in big:
            self._flush_streaming(item, report)
        pending = [item for item in pending if len(item.sentences) <= self.stream_sentences]
        if not pending:
            return
        texts = [s.text for item in pending for s in item.sentences]
        # Named after the last file queued: a big file fills a flush on its own.
        name = pending[-1].article.path or pending[-1].article.source
        vectors = self._embed(texts, report, name)
        del texts
        staged: list[tuple[_Prepared, np.ndarray, list[str]]] = []
        nodes: list[NodeToStore] = []
        offset = 0
        for item in pending:
            sentence_vectors = vectors[offset:offset + len(item.sentences)]
            offset += len(item.sentences)
            chunk_ids, item_nodes = self._nodes(item, sentence_vectors)
            staged.append((item, sentence_vectors, chunk_ids))
            nodes.extend(item_nodes)
        # One Chroma round trip per flush, not per article: each call costs ~25 ms whatever its
        # size, which made Chroma writes 80% of ingest time at 1,000 articles.
        # Vectors left by an ingest that was killed before its catalog commit are orphans.
        article_ids = list(dict.fromkeys(item.article.article_id for item in pending))
        live = {cid for aid in article_ids for cid in self.catalog.chunk_ids_of(aid)}
        self.vectors.delete([i for i in self.vectors.ids_of_articles(article_ids) if i not in live])
        self.vectors.add(nodes)
        # The catalog still switches article by article (new vectors first, then the catalog,
        # then the old vectors), so an ingest killed here leaves every article whole.
        stale: list[str] = []
        for item, sentence_vectors, chunk_ids in staged:
            if self.record is not None:
                self._write_record(item, sentence_vectors)
            old = self.catalog.replace_article(item.article, item.sentences, sentence_vectors,
                                               item.chunks, chunk_ids)
            new = set(chunk_ids)
            stale.extend(cid for cid in old if cid not in new)
            report.chunks += len(item.chunks)
            report.articles.append(item.article.article_id)
            if item.is_update:
                report.updated += 1
            else:
                report.added += 1
        self.vectors.delete(stale)
        self._changed()

    def _write_record(self, item: _Prepared, sentence_vectors: np.ndarray) -> None:
        """The article's parts (a slice of embed_slice sentences each, with the chunks that
        end in it), then its header: the server's commit."""
        assert self.record is not None
        total, step = len(item.sentences), self.embed_slice
        n_parts = max(1, -(-total // step))
        for number in range(n_parts):
            begin = number * step
            chunks = [c for c in item.chunks if begin <= c.last_sentence < begin + step]
            self.record.write_part(item.article, number, begin, item.sentences[begin:begin + step],
                                   sentence_vectors[begin:begin + step], chunks)
        self.record.commit(item.article, len(item.chunks), n_parts)
        for replaced in item.replaces:
            self.record.delete(replaced)

    def _flush_streaming(self, item: _Prepared, report: IngestReport) -> None:
        """One big article, a slice of sentences at a time, inside one catalog transaction:
        embed the slice, write its sentence rows, then the chunks it completes and their
        vectors. Memory holds one slice's vectors (plus the few sentences a chunk carries over
        from the slice before), not the article's. Vectors reach Chroma before the catalog
        commits, as in _flush: an ingest killed midway leaves orphans, never a hole."""
        article = item.article
        name = article.path or article.source
        live = set(self.catalog.chunk_ids_of(article.article_id))
        self.vectors.delete([i for i in self.vectors.ids_of_article(article.article_id)
                             if i not in live])
        chunk_ids = [f"{article.article_id}-{article.content_hash[:10]}-{c.index}"
                     for c in item.chunks]
        metadata = {"title": article.title, "source": article.source, "url": article.url,
                    "date": article.date}
        counter = getattr(self.embedder, "count_tokens", None)
        total = len(item.sentences)
        with self.catalog.replacing_article(article, len(item.chunks)) as writer:
            held = np.zeros((0, 0), dtype=np.float16)  # vectors of sentences held_from...
            held_from = 0
            next_chunk = 0
            for begin in range(0, total, self.embed_slice):
                batch = item.sentences[begin:begin + self.embed_slice]
                texts = [sentence.text for sentence in batch]
                vectors = self.embedder.embed(texts).astype(np.float16)
                report.tokens += counter(texts) if counter else sum(len(t.split()) for t in texts)
                writer.sentences(begin, batch, vectors)
                held = vectors if held.size == 0 else np.concatenate([held, vectors])
                done = begin + len(batch)
                ready: list[Chunk] = []
                while next_chunk < len(item.chunks) and item.chunks[next_chunk].last_sentence < done:
                    ready.append(item.chunks[next_chunk])
                    next_chunk += 1
                if ready:
                    chunk_vectors = normalise(np.stack([
                        held[c.first_sentence - held_from:c.last_sentence - held_from + 1]
                        .astype(np.float32).mean(axis=0) for c in ready]))
                    ids = [chunk_ids[c.index] for c in ready]
                    self.vectors.add([NodeToStore(cid, article.article_id, c.text, c.start, c.end,
                                                  vec, metadata)
                                      for cid, c, vec in zip(ids, ready, chunk_vectors, strict=True)])
                    writer.chunks(ready, ids)
                if self.record is not None:
                    self.record.write_part(article, begin // self.embed_slice, begin, batch,
                                           vectors, ready)
                # Keep only what the next chunk still needs.
                keep_from = item.chunks[next_chunk].first_sentence \
                    if next_chunk < len(item.chunks) else done
                held, held_from = held[keep_from - held_from:], keep_from
                if self._embedding_progress:
                    self._embedding_progress(done, total, name)
            if self.record is not None:
                self.record.commit(article, len(item.chunks),
                                   -(-total // self.embed_slice))
                for replaced in item.replaces:
                    self.record.delete(replaced)
        stale = [cid for cid in writer.old_chunk_ids if cid not in set(chunk_ids)]
        self.vectors.delete(stale)
        self._changed()
        report.chunks += len(item.chunks)
        report.articles.append(article.article_id)
        if item.is_update:
            report.updated += 1
        else:
            report.added += 1

    def _nodes(self, item: _Prepared, sentence_vectors: np.ndarray
               ) -> tuple[list[str], list[NodeToStore]]:
        article = item.article
        # A chunk is represented by the mean of its sentences' vectors: every sentence is
        # embedded once, and overlapping chunks cost nothing extra to embed.
        chunk_vectors = normalise(np.stack([
            sentence_vectors[c.first_sentence:c.last_sentence + 1].astype(np.float32).mean(axis=0)
            for c in item.chunks
        ])) if item.chunks else np.zeros((0, sentence_vectors.shape[1]), dtype=np.float32)
        chunk_ids = [f"{article.article_id}-{article.content_hash[:10]}-{c.index}"
                     for c in item.chunks]
        metadata = {"title": article.title, "source": article.source, "url": article.url,
                    "date": article.date}
        return chunk_ids, [
            NodeToStore(cid, article.article_id, c.text, c.start, c.end, vec, metadata)
            for cid, c, vec in zip(chunk_ids, item.chunks, chunk_vectors, strict=True)
        ]

    def remove(self, article_id: str) -> bool:
        if self.catalog.article(article_id) is None:
            return False
        if self.record is not None:
            # The server's header goes first: a failure after it leaves orphan vectors that
            # `check --repair` deletes, never an article half there.
            self.record.delete(article_id)
        old = self.catalog.delete_article(article_id)
        self.vectors.delete(old)
        self.vectors.delete_article(article_id)  # and any an interrupted write left behind
        self._changed()
        return True


def _under(path: Path, roots: list[Path]) -> bool:
    path = path.absolute()
    return any(path == root or root in path.parents for root in roots)


def _is_url(item: str | Path) -> bool:
    return isinstance(item, str) and item.lower().startswith(("http://", "https://"))


class _OffsetSentences:
    """A big article's sentences as two offset arrays; slicing gives Span objects back."""

    def __init__(self, text: str, spans: list[Span]) -> None:
        self.text = text
        self.starts = np.fromiter((sp.start for sp in spans), dtype=np.int64, count=len(spans))
        self.ends = np.fromiter((sp.end for sp in spans), dtype=np.int64, count=len(spans))

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: slice) -> list[Span]:
        return [Span(self.text[a:b], int(a), int(b))
                for a, b in zip(self.starts[index], self.ends[index], strict=True)]


class _OffsetChunks:
    """A big article's chunks as an array of (start, end, first, last); items are Chunks."""

    def __init__(self, text: str, chunks: list[Chunk]) -> None:
        self.text = text
        self.rows = np.array([(c.start, c.end, c.first_sentence, c.last_sentence) for c in chunks],
                             dtype=np.int64).reshape(-1, 4)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> Chunk:
        start, end, first, last = (int(v) for v in self.rows[index])
        return Chunk(index, start, end, first, last, self.text[start:end])

    def __iter__(self) -> Iterator[Chunk]:
        return (self[i] for i in range(len(self)))
