"""The ingest pipeline: file -> clean article -> sentences and chunks -> vectors -> stores.

Ingest is idempotent by content hash: an unchanged article costs one hash comparison, a changed
one replaces its old chunks, and `prune` drops articles whose files are gone.
"""

from __future__ import annotations

import hashlib
import time
from functools import cache
from pathlib import Path

from index.article import Article, LoadError, LoadResult
from index.catalog import Catalog
from index.chunking import chunk_article
from index.embedding import Embedder
from index.loaders import check_size, discover, load_file
from index.record import ServerRecord
from index.state import StoreState
from index.store_writer import (
    IngestReport,
    OffsetChunks,
    OffsetSentences,
    Prepared,
    ProgressCallback,
    StoreWriter,
)
from index.vectorstore import ChromaStore


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


class Indexer(StoreWriter):
    """Owns the write path. Queries go through the same Catalog and ChromaStore objects.

    With a Chroma server, `record` is the server's copy of every article (index/record.py):
    each commit writes it before the local catalog, which is then only a cache. `state` is told
    of every committed change, so other processes sharing the store re-read it. The caller holds
    the store's lease (index/state.py) around the whole ingest or removal. How prepared articles
    are written is StoreWriter's (index/store_writer.py).
    """

    # Embedding many articles' sentences in one call keeps the model's batches full, and each
    # flush is one Chroma write whose fixed cost is then shared by more chunks: 2,048 (one
    # embed_slice) instead of 512 took a 2,000-article ingest without the model from 12.5 to
    # 10.7 s (2026-12-04, 2 cores). A killed ingest redoes at most one flush. The setting
    # ASSISTANT_INGEST_BATCH_SENTENCES chooses another.
    sentences_per_flush = 2048
    # Pending sentences that force a flush in the middle of a file of many records.
    max_pending_sentences = 8192

    def __init__(self, catalog: Catalog, vectors: ChromaStore, embedder: Embedder,
                 chunk_words: int = 120, overlap_sentences: int = 1,
                 max_file_bytes: int | None = None, follow_links: bool = False,
                 record: ServerRecord | None = None, state: StoreState | None = None,
                 sentences_per_flush: int | None = None) -> None:
        self.catalog = catalog
        if sentences_per_flush is not None:
            self.sentences_per_flush = sentences_per_flush
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
        self._also_held: dict[str, Article] = {}  # unchanged articles a second file holds too

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
        self._also_held = {}
        self._by_key = {}
        for article_id, (key, _source, _path) in self._locations.items():
            self._by_key.setdefault(key, []).append(article_id)
        by_path: dict[str, set[str]] = {}
        for record in self.catalog.articles():
            by_path.setdefault(record.path, set()).add(record.article_id)
        file_marks = self.catalog.file_marks()
        marks: list[tuple[str, str, int]] = []  # files to mark once their articles are committed
        pending: list[Prepared] = []
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
                            continue  # replaced in place by its new version (see Prepared)
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
        self._keep_what_another_file_holds(known, report)
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
            if not kept and self.vectors.count() != self.catalog.vector_count():
                live = self.catalog.all_vector_ids()
                self.vectors.delete([i for i in self.vectors.all_ids() if i not in live])
        # The lexical index applies the run's articles once, now rather than at the next
        # question: a sync per flush cost a tantivy commit and merge each (minutes at 100,000
        # articles). A process searching meanwhile applies what is committed so far itself.
        self.catalog.sync_lexical()
        report.seconds = time.perf_counter() - started
        return report

    def _prepare(self, articles: list[Article], known: dict[str, str], pending: list[Prepared],
                 report: IngestReport) -> int:
        """Queue the new or changed articles for the next flush; returns their sentences."""
        added = 0
        for article in articles:
            if known.get(article.article_id) == article.content_hash:
                report.unchanged += 1
                where = self._locations.get(article.article_id)
                if where is not None and where[2] and article.path and where[2] != article.path:
                    # The same text in a second file: stored once, at the first file's key.
                    self._also_held[article.article_id] = article
                self._relocate_if_moved(article)
                continue
            sentences, chunks = chunk_article(article.text, self.chunk_words,
                                              self.overlap_sentences)
            if len(sentences) > self.stream_sentences:
                # Offsets only: the text of each sentence and chunk is sliced from the article
                # when its slice is written (a 50 MB article's objects held ~200 MB).
                sentences = OffsetSentences(article.text, sentences)  # type: ignore[assignment]
                chunks = OffsetChunks(article.text, chunks)  # type: ignore[assignment]
            replaces = [other for other in self._by_key.get(article.key, ())
                        if other != article.article_id]
            pending.append(Prepared(article, sentences, chunks,
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

    def _keep_what_another_file_holds(self, known: dict[str, str], report: IngestReport) -> None:
        """Two files held the same text (one article, recorded at the first file's key) and the
        first changed: its new version replaced the article at that key, but the second file
        still holds it. It is indexed again, from the second file: it was lost until the next
        ingest, while the report said that file was unchanged."""
        lost = [article for article_id, article in self._also_held.items()
                if self.catalog.article(article_id) is None]
        if not lost:
            return
        for article in lost:
            known.pop(article.article_id, None)
            self._locations.pop(article.article_id, None)
        pending: list[Prepared] = []
        self._prepare(lost, known, pending, report)
        self._flush(pending, report)
        report.unchanged -= len(lost)  # counted unchanged when its file was read; added now

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
    def _restore_missing_vectors(self) -> int:
        """The cheap part of `check`: when the store holds another count of vectors than the
        catalog has sections (a deleted or damaged chroma/ folder, an interrupted write, a
        store written before sections, whose vectors are its chunks'), rebuild the missing ones
        from the catalog, so an unchanged file is not reported unchanged over a store that has
        lost its vectors, and drop those nothing owns."""
        if self.vectors.count() == self.catalog.vector_count():
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

