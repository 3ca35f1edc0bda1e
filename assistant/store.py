"""The store side of an Assistant: the catalog, the vectors, keeping up with other processes
that write to the same store (change token, writer lease), ingest, check and repair, and the
listing and removal of articles. The answer path reads the store through the retrieve stage
(assistant/answering/retrieve.py) only.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assistant.errors import (
    AssistantError,
    CatalogDamagedError,
    EmptyStoreError,
    StoreMismatchError,
    StoreUnavailableError,
)
from assistant.models import IngestSummary, Source
from assistant.settings import Settings
from index.catalog import CACHE_OF, SYNCED_RECORDS, SYNCED_TOKEN, Catalog, catalog_role
from index.check import (
    StoreCheck,
    catalog_health,
    catalog_problem,
    check_store,
    set_damaged_catalog_aside,
)
from index.embedding import Embedder, EmbeddingError
from index.pipeline import Indexer, IngestReport
from index.record import ServerRecord, sync_catalog
from index.sqlite import problem_of
from index.state import LeaseTimeout, LocalState, ServerState, StoreState, lease
from index.vectorstore import ChromaStore, VectorStoreError

log = logging.getLogger(__name__)


def catalog_guard(method: Callable[..., Any]) -> Callable[..., Any]:
    """Public methods report a damaged catalog in one line (see catalog_errors)."""

    @functools.wraps(method)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        with catalog_errors(self.store.catalog_path if hasattr(self, "store")
                            else self.catalog_path):
            return method(self, *args, **kwargs)

    return guarded


class Store:
    def __init__(self, settings: Settings, embedder: Callable[[], Embedder],
                 on_reset: Callable[[], None] = lambda: None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._on_reset = on_reset  # the parts built on the catalog drop it (a damaged one set aside)
        self._lock = threading.Lock()
        self._catalog: Catalog | None = None
        self._vectors: ChromaStore | None = None
        self._queryable = False  # set once the store is known to exist, hold articles and match
        # Keeping up with other processes that write to the same store (see _refresh).
        self._state: StoreState | None = None
        self._record: ServerRecord | None = None
        self._sync_turn = threading.Condition()  # one check at a time (see _refresh)
        self._checking = False
        self._seen_token: str | None = None
        # With a server: how many records it held at our last complete sync (see _follow_server).
        self._seen_records: int | None = None
        self._checked_at = float("-inf")
        # When and why the last check failed (a Chroma server that did not answer): shared with
        # the checks that waited for it.
        self._check_failed: tuple[float, type[AssistantError], str] = (
            float("-inf"), AssistantError, "")
        self._refuse_a_folder_of_the_other_kind()

    @property
    def embedder(self) -> Embedder:
        return self._embedder()

    @property
    def catalog_path(self) -> Path:
        return Path(self.settings.store) / self._catalog_name()

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            with self._lock:
                if self._catalog is None:
                    catalog = Catalog(Path(self.settings.store) / self._catalog_name())
                    if self.settings.chroma_url:
                        _mark_as_cache(catalog, self.settings.chroma_url)
                    self._catalog = catalog
        return self._catalog

    def _refuse_a_folder_of_the_other_kind(self) -> None:
        """A store folder is either a Chroma server's cache or a store of its own, and a command
        that takes it for the other kind is refused in one line before anything is written.
        A cache used without the server's URL became a store of its own: its articles searched
        without vectors, an ingest rebuilding the server's vectors into it, and a later
        `check --repair` with the URL writing to the server a vector of an article it had no
        record of. A store of its own used with a URL was emptied: the first sync dropped every
        article the server did not hold, and its catalog is their only record."""
        role = catalog_role(self.catalog_path)
        if role is None:
            return
        store, collection = self.settings.store, self.settings.collection
        if not self.server_mode and role.cache_of is not None:
            server = role.cache_of or "a Chroma server (its URL was not recorded)"
            raise StoreMismatchError(
                f"the store {store} caches the Chroma server {server} (collection "
                f"{collection!r}); pass --chroma-url {role.cache_of or 'URL'} (or "
                "ASSISTANT_CHROMA_URL) to use it, or choose another --store for a store of its own")
        if self.server_mode and role.cache_of is None and role.holds_articles:
            raise StoreMismatchError(
                f"the store {store} holds articles of its own (its catalog is their only "
                f"record), so it cannot cache the Chroma server {self.settings.chroma_url}; "
                "leave out --chroma-url to use it, or choose another --store for the server's "
                "cache")

    def _catalog_name(self) -> str:
        if self.settings.collection == "articles":
            return "catalog.sqlite"
        return f"catalog-{self.settings.collection}.sqlite"

    @property
    def vectors(self) -> ChromaStore:
        if self._vectors is None:
            with self._lock:
                if self._vectors is None:
                    s = self.settings
                    try:
                        self._vectors = ChromaStore(
                            path=Path(s.store) / "chroma", url=s.chroma_url,
                            collection=s.collection,
                            token=s.chroma_token.get_secret_value() if s.chroma_token else None,
                            token_header=s.chroma_token_header, tenant=s.chroma_tenant,
                            database=s.chroma_database, timeout=s.chroma_timeout_s)
                    except VectorStoreError as exc:
                        raise AssistantError(str(exc)) from None
        return self._vectors

    @property
    def server_mode(self) -> bool:
        """The Chroma server holds the articles; the store folder is only a cache."""
        return bool(self.settings.chroma_url)

    @property
    def record(self) -> ServerRecord | None:
        """The server's copy of every article (None for a store folder: its catalog is it)."""
        if self.server_mode and self._record is None:
            vectors = self.vectors
            with self._lock:
                if self._record is None:
                    self._record = ServerRecord(self._side("articles"), vectors.call)
        return self._record

    @property
    def state(self) -> StoreState:
        """The store's change token and writer lease (index/state.py)."""
        if self._state is None:
            if self.server_mode:
                vectors = self.vectors
                with self._lock:
                    if self._state is None:
                        self._state = ServerState(self._side("state"), vectors.call)
            else:
                self._state = _local_state(Path(self.settings.store) / "state.sqlite")
        return self._state

    def _side(self, suffix: str) -> Any:
        try:
            return self.vectors.side_collection(suffix)
        except VectorStoreError as exc:
            raise AssistantError(str(exc)) from None

    def _refresh(self, force: bool = False, *, full: bool = False, drop: bool = True) -> None:
        """Take in what other processes wrote to the store since we last looked: at most once
        every `sync_interval_s`, one read of the change token (a SQLite row; with a Chroma
        server, two requests: the token and the count of article records); only when it moved,
        a sync. With a server, the local catalog is brought up to date from the server's records
        (always, with `full`; keeping the cached articles the server has no record of, with
        `drop` False: see _follow_server); with a store folder, the catalog is already shared
        through SQLite, but the embedded Chroma client must reload its vectors."""
        now = time.monotonic()
        if not force and now - self._checked_at < self.settings.sync_interval_s:
            return
        with self._sync_turn:
            while self._checking:
                self._sync_turn.wait()
                failed_at, kind, failure = self._check_failed
                if failed_at > now:
                    # The check we waited for failed after this request began: a stalled
                    # server answers us no sooner, and each waiter trying in turn would hold
                    # every worker of the API's pool for a timeout times the queue. (Hence a
                    # condition, not a lock: a thread releasing a lock can take it again for
                    # its next request before a waiter wakes, which then sits out more checks.)
                    raise kind(failure)
            if not force and now - self._checked_at < self.settings.sync_interval_s:
                return
            self._checking = True
        try:
            token = self.state.token()
            if self.server_mode:
                synced = self._follow_server(token, full=full, drop=drop)
                if synced is None:
                    self._checked_at = now
                    return
                complete = synced
            elif token == self._seen_token:
                self._checked_at = now
                return
            else:
                complete = True
                if self._vectors is not None and self._seen_token is not None:
                    self._vectors.reopen()
        except VectorStoreError as exc:
            self._check_failed = (time.monotonic(), AssistantError, str(exc))
            raise AssistantError(str(exc)) from None
        except AssistantError as exc:  # opening the server's client failed
            self._check_failed = (time.monotonic(), type(exc), str(exc))
            raise
        else:
            self._checked_at = now
            if complete:
                self._seen_token = token
                self._queryable = False  # counts and the recorded embedder may have changed
        finally:
            with self._sync_turn:
                self._checking = False
                self._sync_turn.notify_all()

    def _follow_server(self, token: str, *, full: bool, drop: bool) -> bool | None:
        """Sync the cache from the server's records when they changed since our last complete
        sync (or always, with `full`). None: nothing changed, no sync; else whether the sync
        was complete (the cache holds what the server holds).

        The token moves with every write made through the assistant. Records deleted without
        it moving (by another program, or by a removal cut off before it replaced the token)
        were never seen: every cache kept answering from articles the server no longer had, and
        `check` found nothing. They lower the count of the server's article records, so a count
        below the last sync's is a change too. A count that rose is another process's write in
        progress, whose token follows."""
        record = self.record
        assert record is not None
        catalog = self.catalog
        if self._seen_token is None:
            self._seen_token = catalog.get_meta(SYNCED_TOKEN)
            recorded = catalog.get_meta(SYNCED_RECORDS)
            self._seen_records = int(recorded) if recorded and recorded.isdigit() else None
        records = record.count()
        lost = self._seen_records is None or records < self._seen_records
        if not full and not lost and token == self._seen_token:
            return None
        _fetched, _dropped, complete = sync_catalog(record, catalog, drop=drop)
        embedder = self._recorded_embedder()
        if embedder:
            catalog.set_meta("embedder", embedder)
        if complete:
            catalog.set_meta(SYNCED_TOKEN, token)
            catalog.set_meta(SYNCED_RECORDS, str(records))
            self._seen_records = records
        return complete

    def _recorded_embedder(self) -> str | None:
        """The embedder the store was built with: on the server with one (every process must
        agree), else in the catalog."""
        state = self.state
        if isinstance(state, ServerState):
            return state.info().get("embedder")
        return self.catalog.get_meta("embedder")

    @contextmanager
    def _writing(self, *, drop: bool = True) -> Iterator[None]:
        """Hold the store's writer lease (waiting for another process's ingest), then start
        from what the store holds now: with a server, a cache synced from all of its records
        (whatever the token says: a write must not build on articles the server no longer
        has); `drop` False keeps the cached articles it has no record of (for check_store to
        report and drop)."""
        try:
            with lease(self.state, seconds=self.settings.lease_seconds,
                       wait=self.settings.lease_wait_s):
                if self.server_mode:
                    self._refresh(force=True, full=True, drop=drop)
                    if self._seen_token != self.state.token():
                        # An article was mid-replacement: once more.
                        self._refresh(force=True, full=True, drop=drop)
                else:
                    # The catalog is shared through SQLite already; the embedded client is
                    # reloaded whatever the token says, as another writer may have written
                    # since it was opened (the reload _refresh would do, done once).
                    if self._vectors is not None:
                        self._vectors.reopen()
                    self._seen_token, self._checked_at = self.state.token(), time.monotonic()
                    self._queryable = False
                yield
        except LeaseTimeout as exc:
            raise AssistantError(str(exc)) from None
        except VectorStoreError as exc:
            raise AssistantError(str(exc)) from None


    def ready(self) -> None:
        """Fail with one line, before touching anything, when asking cannot work: a store that
        does not exist (asking must not create one), an empty store, or a store built with
        another embedding model (its vectors would be compared in the wrong space)."""
        store = Path(self.settings.store)
        self._require_index()
        self._refresh()
        if not self.catalog.has_articles():
            where = f"the collection {self.settings.collection!r} on {self.settings.chroma_url}" \
                if self.server_mode else f"the store {store}"
            raise EmptyStoreError(f"{where} is empty; run `assistant ingest PATH` first")
        if self._queryable:
            return
        recorded = self.catalog.get_meta("embedder")
        if recorded is not None and recorded != self.embedder.name:
            raise StoreMismatchError(
                f"store {store} was built with embedder {recorded!r}, not {self.embedder.name!r}; "
                "use the same embedding settings or a new --store")
        try:
            vectors = self.vectors.count()
        except VectorStoreError:
            vectors = -1  # the question's own search reports an unreachable store
        if vectors == 0:
            # A deleted chroma/ folder (or collection) would otherwise answer from keyword
            # search alone, with nothing said.
            log.warning("the store %s holds articles but no vectors: answers use keyword search "
                        "alone; `assistant check --repair` rebuilds them without the model", store)
        self._queryable = True

    def _check_embedder(self) -> None:
        recorded = self._recorded_embedder()
        name = self.embedder.name
        if recorded is None:
            state = self.state
            if isinstance(state, ServerState):
                state.set_info("embedder", name)
            self.catalog.set_meta("embedder", name)
        elif recorded != name:
            raise StoreMismatchError(
                f"store {self.settings.store} was built with embedder {recorded!r}, not {name!r}; "
                "use the same embedding settings or a new --store")


    # --- indexing -----------------------------------------------------------------------------

    @catalog_guard
    def ingest(self, paths: list[str | Path] | str | Path = (), *, prune: bool = False,
               progress: Callable[[int, int, str], None] | None = None,
               embedding_progress: Callable[[int, int, str], None] | None = None,
               feeds: list[str] | None = None, fetch_pages: bool = False,
               follow_links: bool = False) -> IngestSummary:
        """Index files, folders (.txt .md .html .json .jsonl .pdf) and web pages (http(s)://
        URLs in `paths`), and every entry of the RSS/Atom `feeds` (URLs or files; with
        `fetch_pages`, an entry that carries only a summary is fetched whole). Unchanged
        articles are skipped, changed ones replaced, a feed's known entries not fetched again.
        Symbolic links inside a folder are followed out of it only with `follow_links`."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        if isinstance(feeds, (str, Path)):
            feeds = [feeds]  # a bare string was read as a list of its letters
        feeds = [str(f) for f in feeds or []]
        with self._writing():
            self._check_embedder()
            indexer = Indexer(self.catalog, self.vectors, self.embedder,
                              self.settings.chunk_words, self.settings.chunk_overlap_sentences,
                              max_file_bytes=int(self.settings.max_file_mb * 1_000_000),
                              follow_links=follow_links, record=self.record, state=self.state,
                              sentences_per_flush=self.settings.ingest_batch_sentences)
            try:
                report: IngestReport = indexer.ingest(
                    list(paths), prune=prune, progress=progress,
                    embedding_progress=embedding_progress, feeds=list(feeds or []),
                    fetch_pages=fetch_pages)
            except (VectorStoreError, EmbeddingError) as exc:
                raise AssistantError(str(exc)) from None
            # Our own writes moved the token: no need to sync them back.
            self._seen_token, self._checked_at = self.state.token(), time.monotonic()
            if self.server_mode:
                assert self.record is not None
                self.catalog.set_meta(SYNCED_TOKEN, self._seen_token)
                self._seen_records = self.record.count()
                self.catalog.set_meta(SYNCED_RECORDS, str(self._seen_records))
        log.info("ingest: added %d, updated %d, unchanged %d, removed %d, failed %d; %d chunks, "
                 "%d tokens in %.2f s (%.0f tokens/s)", report.added, report.updated, report.unchanged,
                 report.removed, len(report.failed), report.chunks, report.tokens, report.seconds,
                 report.tokens_per_second)
        return IngestSummary(
            added=report.added, updated=report.updated, unchanged=report.unchanged,
            removed=report.removed, failed=report.failed, chunks=report.chunks,
            tokens=report.tokens, seconds=round(report.seconds, 3),
            tokens_per_second=round(report.tokens_per_second, 1), repaired=report.repaired)

    def check(self, *, repair: bool = False) -> StoreCheck:
        """Compare the catalog with the vectors: missing, orphaned, unreadable and wrong-sized
        vectors (and, with a Chroma server, article records no header owns and cached articles
        the server has no record of), and whether the catalog file is damaged. With `repair`
        (under the store's lease), orphans are deleted, cached articles the server has no record
        of dropped from the cache (nothing is deleted on the server for them), missing vectors
        rebuilt from the stored sentence vectors (no model run), and a damaged
        catalog is set aside: with a server it is a cache, rebuilt from the server (and the
        damaged copy deleted once the rebuilt one matches the server); with a store folder the
        copy and the vectors are kept, and its articles must be ingested again. A catalog that
        cannot be opened (permissions, a read-only store, a lock) is not damaged: that raises
        StoreUnavailableError, and `repair` changes nothing."""
        path = Path(self.settings.store) / self._catalog_name()
        self._require_index()
        notes: list[str] = []
        health = catalog_health(path)
        if health.problem not in (None, "damaged"):
            # A catalog this process cannot open is not damaged: setting it aside (and its
            # vectors with it) is how a healthy store of another user's was emptied.
            raise StoreUnavailableError(("--repair refused, nothing was changed: " if repair
                                         else "") + health.message)
        damaged = health.problem == "damaged"
        moved: Path | None = None
        if damaged:
            if not repair:
                return StoreCheck(catalog_damaged=True, damage=health.reason)
            try:
                moved = set_damaged_catalog_aside(path)
            except OSError as exc:
                raise StoreUnavailableError(
                    f"--repair refused, nothing was changed: the damaged catalog at {path} "
                    f"cannot be set aside ({exc.strerror or exc}); check the owner, "
                    "permissions and read-only flags of the store") from None
            with self._lock:
                self._catalog, self._queryable, self._seen_token = None, False, None
                self._seen_records = None
            self._on_reset()
            if self.server_mode:
                notes.append(f"moved the damaged catalog cache to {moved.name}; rebuilt it from "
                             "the server")
            else:
                # Its vectors stay: they are all that is left of its articles until these are
                # ingested again, and check_store keeps them while the damaged file is here.
                notes.append(f"moved the damaged catalog to {moved.name} and kept it; ingest "
                             "the articles again")
        with catalog_errors(path):
            try:
                if repair:
                    with self._writing(drop=False):
                        result = check_store(self.catalog, self.vectors, self.embedder.dimension,
                                             repair=True, record=self.record)
                        if result.repaired:
                            self.state.bump()
                        if moved is not None and self.server_mode:
                            result.repaired.append(self._drop_verified_cache(path, moved))
                else:
                    # All of the server's records, and the cached articles it has no record of
                    # kept, so that they are reported.
                    self._refresh(force=True, full=True, drop=False)
                    result = check_store(self.catalog, self.vectors, self.embedder.dimension,
                                         record=self.record)
            except VectorStoreError as exc:
                raise AssistantError(str(exc)) from None
        result.catalog_damaged = damaged
        result.repaired = notes + result.repaired
        recorded = self.catalog.get_meta("embedder")
        if recorded and recorded != self.embedder.name:
            result.other_embedder = recorded
        return result

    def _drop_verified_cache(self, path: Path, moved: Path) -> str:
        """A damaged catalog cache set aside is kept until the cache rebuilt from the server is
        verified: it opens, passes SQLite's check and matches the server. It then holds nothing
        the server does not, and is deleted."""
        verified = catalog_health(path).problem is None and check_store(
            self.catalog, self.vectors, self.embedder.dimension, record=self.record).consistent
        if not verified:
            return f"kept {moved.name}: the rebuilt cache does not match the server yet"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{moved}{suffix}").unlink(missing_ok=True)
        return f"the rebuilt cache matches the server; deleted {moved.name}"


    def discard(self) -> None:
        """Delete this store's collections on the Chroma server (a throwaway store, such as an
        evaluation's). The local cache goes with the store folder."""
        if self.server_mode and self._vectors is not None:
            self._vectors.drop()

    def exists(self) -> bool:
        """Whether there is a store to read: a Chroma server (the record) or a store folder that
        holds a catalog. Reading one that does not exist must not create it."""
        return self.server_mode or self._catalog is not None or self.catalog_path.exists()

    def _require_index(self) -> None:
        """EmptyStoreError, saying how to make one, when there is no store to read (exists)."""
        if not self.exists():
            store = self.settings.store
            raise EmptyStoreError(f"no index at {store}; run `assistant ingest PATH --store "
                                  f"{store}` first")

    @catalog_guard
    def sources(self) -> list[Source]:
        if not self.exists():
            return []
        self._refresh()
        return [Source(article_id=a.article_id, title=a.title, source=a.source, url=a.url,
                       date=a.date, chunks=a.n_chunks, file=a.path)
                for a in self.catalog.articles()]

    @catalog_guard
    def remove(self, article_id: str) -> bool:
        """Remove an article by id (see `sources`). Returns False when no such article."""
        if not self.exists():
            return False
        with self._writing():
            indexer = Indexer(self.catalog, self.vectors, self.embedder, record=self.record,
                              state=self.state)
            try:
                return indexer.remove(article_id)
            except VectorStoreError as exc:
                raise AssistantError(str(exc)) from None

    @catalog_guard
    def article(self, article_id: str) -> dict[str, Any] | None:
        """An indexed article's clean text and metadata (what citations' offsets refer to)."""
        if not self.exists():
            return None
        self._refresh()
        record = self.catalog.article(article_id)
        if record is None:
            return None
        return {"article_id": record.article_id, "title": record.title, "source": record.source,
                "url": record.url, "date": record.date, "text": self.catalog.article_text(article_id)}


def _mark_as_cache(catalog: Catalog, url: str) -> None:
    """Record in the catalog that its folder caches the Chroma server at `url` (see
    _refuse_a_folder_of_the_other_kind). A URL that changed (the server moved) is recorded
    anew: the cache follows whichever server it is used with."""
    if catalog.get_meta(CACHE_OF) == url:
        return
    try:
        catalog.set_meta(CACHE_OF, url)
    except sqlite3.OperationalError as exc:  # a read-only cache still answers
        log.warning("catalog %s: cannot record the Chroma server it caches (%s)", catalog.path,
                    exc)


def _local_state(path: Path) -> LocalState:
    """The store folder's state file, made anew when SQLite finds it damaged: it holds only the
    writers' lease and the change token, no article, so nothing indexed is lost. Reported as a
    damaged catalog, it sent `check --repair` round in a circle while the catalog was sound."""
    try:
        return LocalState(path)
    except sqlite3.DatabaseError as exc:
        if problem_of(exc) != "damaged":
            raise
        aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        path.replace(aside)
        log.warning("the store's state file %s was damaged (%s): set aside as %s and made anew "
                    "(it holds only the writers' lease and change token)", path,
                    str(exc).splitlines()[0], aside.name)
        return LocalState(path)


@contextmanager
def catalog_errors(path: Path) -> Iterator[None]:
    """A catalog SQLite cannot read (a truncated or overwritten file), cannot open (another
    user's, a read-only store), finds locked or cannot write for a full disk is one line that
    says which and what to do, not a sqlite3 traceback."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        # Only damage is worth `check --repair`; a catalog that cannot be opened (permissions,
        # a read-only store), a lock or a full disk each say what they are.
        problem, message = catalog_problem(exc, path, path.with_name("state.sqlite"))
        if problem == "damaged":
            raise CatalogDamagedError(message) from None
        raise StoreUnavailableError(message) from None
