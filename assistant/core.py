"""Assistant: the public entry point. It wires the index to retrieval, answering and checking.

An Assistant holds no global state: two of them over different stores can live in one process,
and one of them can answer from several threads at once.
"""

from __future__ import annotations

import functools
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.citations import citation_for
from assistant.errors import (
    AssistantError,
    CatalogDamagedError,
    EmptyStoreError,
    ScopeError,
    StoreMismatchError,
    StoreUnavailableError,
)
from assistant.extractive import ExtractiveAnswerer, fitted_weights
from assistant.grounding import SupportScorer
from assistant.models import (
    ABSTAIN_TEXT,
    TENTATIVE_LEAD,
    Answer,
    Citation,
    Conflict,
    ConflictSide,
    IngestSummary,
    RetrievedPassage,
    Scope,
    SentenceSupport,
    Source,
)
from assistant.question import check_question
from assistant.reader import MODEL_DIR, Reader, ReaderError
from assistant.reading import ReaderAnswerer
from assistant.retrieval import Passage, Retriever
from assistant.selection import Reading, Selection
from assistant.settings import Settings
from assistant.spelling import SpellingCorrector
from index.catalog import Catalog
from index.check import (
    StoreCheck,
    catalog_health,
    catalog_problem,
    check_store,
    set_damaged_catalog_aside,
)
from index.embedding import Embedder, EmbeddingError, LocalMiniLM, OpenAIEmbedder
from index.pipeline import Indexer, IngestReport
from index.record import ServerRecord, sync_catalog
from index.state import LeaseTimeout, LocalState, ServerState, StoreState, lease
from index.text import STOPWORDS, words
from index.vectorstore import ChromaStore, VectorStoreError

if TYPE_CHECKING:
    from assistant.chat import ChatMessages
    from assistant.generative import GenerativeAnswerer

log = logging.getLogger(__name__)

# Passages past top_k that are read only when there is an answer, to find a source that
# disagrees with it even though it ranked lower.
CONFLICT_PROBE_PASSAGES = 4
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _catalog_guard(method: Callable[..., Any]) -> Callable[..., Any]:
    """Public methods report a damaged catalog in one line (see _catalog_errors)."""

    @functools.wraps(method)
    def guarded(self: Assistant, *args: Any, **kwargs: Any) -> Any:
        with _catalog_errors(Path(self.settings.store) / self._catalog_name()):
            return method(self, *args, **kwargs)

    return guarded


class Assistant:
    """Question answering over a folder of news articles, with cited, checked sentences.

    >>> assistant = Assistant(store=".assistant")          # doctest: +SKIP
    >>> assistant.ingest(["samples/articles"])              # doctest: +SKIP
    >>> answer = assistant.ask("When did the tram open?")   # doctest: +SKIP
    >>> answer.answer, answer.citations[0].text             # doctest: +SKIP
    """

    def __init__(self, store: str | Path | None = None, *, chroma_url: str | None = None,
                 settings: Settings | None = None, embedder: Embedder | None = None,
                 reader: Reader | None = None, **overrides: Any) -> None:
        base = settings or Settings()
        updates = dict(overrides)
        if store is not None:
            updates["store"] = Path(store)
        if chroma_url is not None:
            updates["chroma_url"] = chroma_url
        self.settings = _validated(base, updates) if updates else base
        self._embedder = embedder
        self._lock = threading.Lock()
        self._catalog: Catalog | None = None
        self._vectors: ChromaStore | None = None
        self._retriever: Retriever | None = None
        self._answerer: ExtractiveAnswerer | None = None
        self._reader_answerer: ReaderAnswerer | None = None
        self._speller: SpellingCorrector | None = None
        self._reader: Reader | None = reader  # shared, like the embedder, by UI setting variants
        self._scorer: SupportScorer | None = None
        self._queryable = False  # set once the store is known to exist, hold articles and match
        self._generative: GenerativeAnswerer | None = None
        # Keeping up with other processes that write to the same store (see _refresh).
        self._state: StoreState | None = None
        self._record: ServerRecord | None = None
        self._sync_turn = threading.Condition()  # one check at a time (see _refresh)
        self._checking = False
        self._seen_token: str | None = None
        self._checked_at = float("-inf")
        # When and why the last check failed (a Chroma server that did not answer): shared with
        # the checks that waited for it.
        self._check_failed: tuple[float, type[AssistantError], str] = (
            float("-inf"), AssistantError, "")

    # --- wiring (lazy, so constructing an Assistant is free) ----------------------------------

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            with self._lock:
                if self._embedder is None:
                    self._embedder = self._make_embedder()
        return self._embedder

    def _make_embedder(self) -> Embedder:
        s = self.settings
        try:
            match s.embedding:
                case "local":
                    return LocalMiniLM()
                case "openai":
                    key = s.openai_api_key.get_secret_value() if s.openai_api_key else None
                    return OpenAIEmbedder(s.embedding_model, key,
                                          s.embedding_base_url or s.openai_base_url,
                                          timeout=s.llm_timeout, max_retries=s.llm_max_retries)
        except EmbeddingError as exc:
            raise AssistantError(str(exc)) from None
        raise AssistantError(f"unknown embedding backend {s.embedding!r}")

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            with self._lock:
                if self._catalog is None:
                    self._catalog = Catalog(Path(self.settings.store) / self._catalog_name())
        return self._catalog

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
                self._state = LocalState(Path(self.settings.store) / "state.sqlite")
        return self._state

    def _side(self, suffix: str) -> Any:
        try:
            return self.vectors.side_collection(suffix)
        except VectorStoreError as exc:
            raise AssistantError(str(exc)) from None

    def _refresh(self, force: bool = False) -> None:
        """Take in what other processes wrote to the store since we last looked: at most once
        every `sync_interval_s`, one read of the change token (a SQLite row, or one request to
        the Chroma server); only when it moved, a sync. With a server, the local catalog is
        brought up to date from the server's records; with a store folder, the catalog is
        already shared through SQLite, but the embedded Chroma client must reload its vectors."""
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
            if self._seen_token is None and self.server_mode:
                self._seen_token = self.catalog.get_meta("synced_token")
            if token == self._seen_token:
                self._checked_at = now
                return
            if self.server_mode:
                assert self.record is not None
                _fetched, _dropped, complete = sync_catalog(self.record, self.catalog)
                embedder = self._recorded_embedder()
                if embedder:
                    self.catalog.set_meta("embedder", embedder)
                if complete:
                    self.catalog.set_meta("synced_token", token)
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

    def _recorded_embedder(self) -> str | None:
        """The embedder the store was built with: on the server with one (every process must
        agree), else in the catalog."""
        state = self.state
        if isinstance(state, ServerState):
            return state.info().get("embedder")
        return self.catalog.get_meta("embedder")

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the store's writer lease (waiting for another process's ingest), then start
        from what the store holds now."""
        try:
            with lease(self.state, seconds=self.settings.lease_seconds,
                       wait=self.settings.lease_wait_s):
                if self.server_mode:
                    self._refresh(force=True)
                    if self._seen_token != self.state.token():
                        self._refresh(force=True)  # an article was mid-replacement: once more
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

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            self._retriever = Retriever(self.catalog, self.vectors)
        return self._retriever

    @property
    def reader(self) -> Reader:
        """The trained reader model (assistant/reader_model/), loaded on first use."""
        if self._reader is None:
            with self._lock:
                if self._reader is None:
                    try:
                        self._reader = Reader(self.settings.reader_model or MODEL_DIR)
                    except ReaderError as exc:
                        raise AssistantError(str(exc)) from None
        return self._reader

    @property
    def answerer(self) -> ExtractiveAnswerer:
        """The earlier, hand-set offline answerer (answerer="heuristic")."""
        if self._answerer is None:
            threshold = self.settings.abstain_threshold
            self._answerer = ExtractiveAnswerer(
                self.retriever, max_sentences=self.settings.max_answer_sentences,
                # Unset: the threshold that goes with the weights (heuristic_weights.json).
                abstain_threshold=fitted_weights()["abstain_threshold"] if threshold is None
                else threshold,
                embedder=self.embedder)
        return self._answerer

    @property
    def reader_answerer(self) -> ReaderAnswerer:
        """The trained reader's answerer (answerer="reader", the default)."""
        if self._reader_answerer is None:
            self._reader_answerer = ReaderAnswerer(
                self.retriever, self.reader, max_sentences=self.settings.max_answer_sentences,
                abstain_below=self.settings.abstain_threshold)
        return self._reader_answerer

    @property
    def scorer(self) -> SupportScorer:
        if self._scorer is None:
            self._scorer = SupportScorer(self.embedder)
        return self._scorer

    @property
    def speller(self) -> SpellingCorrector:
        """Corrects typos in questions against the indexed articles' words (assistant/spelling.py)."""
        if self._speller is None:
            self._speller = SpellingCorrector(self.catalog)
        return self._speller

    def _spelled(self, question: str, query: str, focus: str, note: str) -> tuple[str, str, str]:
        """(query, focus, note) with typos corrected; the question as asked stays the Answer's."""
        if not self.settings.spelling:
            return query, focus, note
        corrected_query = self.speller.correct(query)
        corrected_focus = corrected_query if focus == query else self.speller.correct(focus)
        if corrected_query != query:
            note = f"{note}; spelling: read as {corrected_query}" if note else \
                f"spelling: read as {corrected_query}"
        return corrected_query, corrected_focus, note

    @property
    def generative(self) -> GenerativeAnswerer:
        """The LLM backend (settings.llm="openai"). Imported on first use: the offline path
        never loads the openai SDK."""
        if self._generative is None:
            with self._lock:
                if self._generative is None:
                    from assistant.generative import GenerativeAnswerer

                    self._generative = GenerativeAnswerer(self.settings, self.scorer)
        return self._generative

    def _check_queryable(self) -> None:
        """Fail with one line, before touching anything, when asking cannot work: a store that
        does not exist (asking must not create one), an empty store, or a store built with
        another embedding model (its vectors would be compared in the wrong space)."""
        store = Path(self.settings.store)
        if (not self.server_mode and self._catalog is None
                and not (store / self._catalog_name()).exists()):
            raise EmptyStoreError(
                f"no index at {store}; run `assistant ingest PATH --store {store}` first")
        self._refresh()
        if self.catalog.count_articles() == 0:
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

    @_catalog_guard
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
        with self._writing():
            self._check_embedder()
            indexer = Indexer(self.catalog, self.vectors, self.embedder,
                              self.settings.chunk_words, self.settings.chunk_overlap_sentences,
                              max_file_bytes=int(self.settings.max_file_mb * 1_000_000),
                              follow_links=follow_links, record=self.record, state=self.state)
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
                self.catalog.set_meta("synced_token", self._seen_token)
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
        vectors (and, with a Chroma server, article records no header owns), and whether the
        catalog file is damaged. With `repair` (under the store's lease), orphans are deleted,
        missing vectors rebuilt from the stored sentence vectors (no model run), and a damaged
        catalog is set aside: with a server it is a cache, rebuilt from the server (and the
        damaged copy deleted once the rebuilt one matches the server); with a store folder the
        copy and the vectors are kept, and its articles must be ingested again. A catalog that
        cannot be opened (permissions, a read-only store, a lock) is not damaged: that raises
        StoreUnavailableError, and `repair` changes nothing."""
        path = Path(self.settings.store) / self._catalog_name()
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
                self._catalog, self._retriever, self._answerer = None, None, None
                self._reader_answerer, self._queryable = None, False
                self._seen_token = None
            if self.server_mode:
                notes.append(f"moved the damaged catalog cache to {moved.name}; rebuilt it from "
                             "the server")
            else:
                # Its vectors stay: they are all that is left of its articles until these are
                # ingested again, and check_store keeps them while the damaged file is here.
                notes.append(f"moved the damaged catalog to {moved.name} and kept it; ingest "
                             "the articles again")
        with _catalog_errors(path):
            try:
                if repair:
                    with self._writing():
                        result = check_store(self.catalog, self.vectors, self.embedder.dimension,
                                             repair=True, record=self.record)
                        if result.repaired:
                            self.state.bump()
                        if moved is not None and self.server_mode:
                            result.repaired.append(self._drop_verified_cache(path, moved))
                else:
                    self._refresh(force=True)
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

    def llm_models(self) -> list[str]:
        """The models the configured OpenAI-compatible endpoint lists; raises AssistantError
        with the reason in one line when it cannot be reached or refuses the key. Needs
        llm="openai"."""
        if self.settings.llm != "openai":
            raise AssistantError("no LLM endpoint is configured (llm is 'extractive')")
        from assistant.llm import ChatClient, LLMError

        try:
            return ChatClient(self.settings).models()
        except LLMError as exc:
            raise AssistantError(str(exc)) from None

    def discard(self) -> None:
        """Delete this store's collections on the Chroma server (a throwaway store, such as an
        evaluation's). The local cache goes with the store folder."""
        if self.server_mode and self._vectors is not None:
            self._vectors.drop()

    @_catalog_guard
    def sources(self) -> list[Source]:
        self._refresh()
        return [Source(article_id=a.article_id, title=a.title, source=a.source, url=a.url,
                       date=a.date, chunks=a.n_chunks) for a in self.catalog.articles()]

    @_catalog_guard
    def remove(self, article_id: str) -> bool:
        """Remove an article by id (see `sources`). Returns False when no such article."""
        with self._writing():
            indexer = Indexer(self.catalog, self.vectors, self.embedder, record=self.record,
                              state=self.state)
            try:
                return indexer.remove(article_id)
            except VectorStoreError as exc:
                raise AssistantError(str(exc)) from None

    @_catalog_guard
    def article(self, article_id: str) -> dict[str, Any] | None:
        """An indexed article's clean text and metadata (what citations' offsets refer to)."""
        self._refresh()
        record = self.catalog.article(article_id)
        if record is None:
            return None
        return {"article_id": record.article_id, "title": record.title, "source": record.source,
                "url": record.url, "date": record.date, "text": self.catalog.article_text(article_id)}

    # --- answering ----------------------------------------------------------------------------

    @_catalog_guard
    def retrieve(self, question: str, top_k: int | None = None, *, scope: Scope | None = None
                 ) -> list[Passage]:
        """The passages a question retrieves, best first (hybrid, spread across articles);
        only from the articles in `scope` when given."""
        question = self._validate(question)
        self._check_queryable()
        article_ids = self._scope_ids(scope)
        vector = self.embedder.embed([question])[0]
        try:
            return self.retriever.retrieve(question, vector, top_k or self.settings.top_k,
                                           article_ids)
        except VectorStoreError as exc:
            raise AssistantError(str(exc)) from None

    @_catalog_guard
    def ask(self, question: str, *, top_k: int | None = None, scope: Scope | None = None
            ) -> Answer:
        """Answer one question from the indexed articles (or those in `scope`), with cited,
        checked sentences."""
        started = time.perf_counter()
        question = self._validate(question)
        return self._answer(question, question, question, "", top_k, started, scope)

    @_catalog_guard
    def chat(self, messages: ChatMessages, *, top_k: int | None = None,
             scope: Scope | None = None) -> Answer:
        """Answer the last user message of a conversation ([{"role", "content"}, ...]). A
        follow-up ("and how long did they talk there?") is first rewritten into a standalone
        question for retrieval: by the LLM when one is configured, else deterministically. The
        Answer's `query` holds the rewrite."""
        started = time.perf_counter()
        question, query, focus, note = self._condense(messages)
        return self._answer(question, query, focus, note, top_k, started, scope)

    def _answer(self, question: str, query: str, focus: str, note: str, top_k: int | None,
                started: float, scope: Scope | None) -> Answer:
        """Retrieve for `query`, answer `question` (extractively, then by the LLM when one is
        configured), and record the rewrite note and timings."""
        query, focus, note = self._spelled(question, query, focus, note)
        passages, selection, answer, timings = self._evidence(question, query, top_k, focus, scope)
        if self.settings.llm != "extractive":
            t0 = time.perf_counter()
            answer = self.generative.answer(question, query, passages, selection, answer)
            timings["answer"] += _ms(t0)
        answer.passages = retrieved_passages(passages, answer, selection)
        return _finished(self._with_pages(answer), question, query, note, timings, started, scope,
                         selection)

    def stream(self, question_or_messages: str | ChatMessages, *, top_k: int | None = None,
               scope: Scope | None = None) -> Iterator[str | Answer]:
        """Yield the answer's text as it is produced (str deltas), then the checked Answer as
        the last item. The guard may change the text, so show the deltas while they come and
        then replace them with the final Answer's `answer`. Errors in the question raise before
        the first item; a failing LLM ends the stream with the extractive Answer and a note."""
        started = time.perf_counter()
        if isinstance(question_or_messages, str):
            question = self._validate(question_or_messages)
            query, focus, note = question, question, ""
        else:
            question, query, focus, note = self._condense(question_or_messages)
        query, focus, note = self._spelled(question, query, focus, note)
        with _catalog_errors(Path(self.settings.store) / self._catalog_name()):
            passages, selection, answer, timings = self._evidence(question, query, top_k, focus,
                                                                  scope)
        if self.settings.llm == "extractive":
            items: Iterator[str | Answer] = _pieces_then(answer)
        else:
            items = self.generative.stream(question, query, passages, selection, answer)
        # The total counts our own work only, not the time the caller spends between pieces
        # (a chat that paces the reveal would otherwise report its pacing as answer time).
        waited = 0.0
        for item in items:
            if isinstance(item, Answer):
                item.passages = retrieved_passages(passages, item, selection)
                yield _finished(self._with_pages(item), question, query, note, timings,
                                started + waited, scope, selection)
                return
            handed = time.perf_counter()
            yield item
            waited += time.perf_counter() - handed

    def _with_pages(self, answer: Answer) -> Answer:
        """Name the page each quote of a paginated source (a PDF) starts on."""
        for citation in answer.citations:
            citation.page = self.catalog.page_at(citation.article_id, citation.start)
        return answer

    def _condense(self, messages: ChatMessages) -> tuple[str, str, str, str]:
        """(question as asked, standalone query for retrieval, question the extractive answerer
        picks sentences for, note about the rewrite)."""
        from assistant.chat import is_follow_up, normalise_messages, standalone_offline, strip_lead

        turns = normalise_messages(messages)
        question = self._validate(turns[-1].content)
        history = turns[:-1]
        if not any(m.role == "user" for m in history) or not is_follow_up(question):
            return question, question, question, ""
        if self.settings.llm != "extractive":
            query, note = self.generative.condense(history, question)
        else:
            query, note = standalone_offline(history, question), "chat: follow-up rewritten offline"
        # An offline rewrite only appends the subject's names: they steer retrieval to the right
        # article, but sentences are picked for what the follow-up asks, or the answer drifts
        # back to whichever sentence repeats the names most.
        focus = query if note.startswith("chat: follow-up rewritten by the model") \
            else strip_lead(question)
        return question, query, focus, f"{note}: {query}"

    def _scope_ids(self, scope: Scope | None) -> frozenset[str] | None:
        """The article ids a scope allows (None: no limit). A scope that names an unknown
        article, or that no indexed article falls in, is an error rather than an abstention:
        the caller asked for something that cannot be searched."""
        if scope is None or scope.is_everything():
            return None
        for label, value in (("date_from", scope.date_from), ("date_to", scope.date_to)):
            if value is not None and not _ISO_DATE.fullmatch(value):
                raise ScopeError(f"scope {label} must be a date like 2025-06-14, not {value!r}")
        allowed: set[str] | None = None
        if scope.article_ids:
            unknown = [a for a in scope.article_ids if self.catalog.article(a) is None]
            if unknown:
                raise ScopeError(f"no indexed article with id {', '.join(unknown[:5])}")
            allowed = set(scope.article_ids)
        if scope.date_from or scope.date_to:
            dated = self.catalog.article_ids_in(scope.date_from, scope.date_to)
            allowed = dated if allowed is None else allowed & dated
        if not allowed:
            raise ScopeError("no indexed article is in the scope "
                             f"(ids {scope.article_ids or 'any'}, dates "
                             f"{scope.date_from or '…'} to {scope.date_to or '…'})")
        return frozenset(allowed)

    def _evidence(self, question: str, query: str, top_k: int | None, focus: str | None = None,
                  scope: Scope | None = None
                  ) -> tuple[list[Passage], Selection, Answer, dict[str, float]]:
        """Retrieve for `query` (within `scope`), select extractively for `focus` (default: the
        query), and build the extractive Answer."""
        self._check_queryable()
        article_ids = self._scope_ids(scope)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        vector = self.embedder.embed([query])[0]
        timings["embed"] = _ms(t0)
        t0 = time.perf_counter()
        k = top_k or self.settings.top_k
        try:
            probe = CONFLICT_PROBE_PASSAGES if self.settings.answerer == "reader" else 0
            pool = self.retriever.retrieve(query, vector, k + probe, article_ids)
        except VectorStoreError as exc:
            raise AssistantError(str(exc)) from None
        passages, extra = pool[:k], pool[k:]
        timings["retrieve"] = _ms(t0)
        t0 = time.perf_counter()
        if focus not in (None, query):
            passages = _about_the_subject(passages, query, focus)
        selection = self._select(focus or query, vector if focus in (None, query) else None,
                                 passages, extra, article_ids)
        if selection.abstain and focus not in (None, query):
            # A bare follow-up ("where did they take place?") may be too vague on its own;
            # the rewrite carrying the conversation's subject may still find the answer.
            with_context = self._select(query, vector, passages, extra, article_ids)
            if not with_context.abstain:
                selection = with_context
        if self.settings.answerer == "reader" and not selection.abstain and not selection.conflict:
            probe = self._other_reports(selection, passages + extra, article_ids)
            selection = self.reader_answerer.other_side(focus or query, selection, probe)
        answer = self._extractive_answer(question, selection)
        timings["answer"] = _ms(t0)
        return passages, selection, answer, timings

    def _other_reports(self, selection: Selection, read: list[Passage],
                       article_ids: frozenset[str] | None) -> list[Passage]:
        """Passages of the other articles about the answer's event, not read yet: found by
        searching with the answer's sentence, because another report may word the event
        differently from the question ("more than two hours of talks" for "how long did the
        talks last")."""
        assert selection.reading is not None
        sentence = selection.reading.sentence.text
        vector = self.embedder.embed([sentence])[0]
        try:
            found = self.retriever.retrieve(sentence, vector, 3 * CONFLICT_PROBE_PASSAGES, article_ids)
        except VectorStoreError as exc:
            raise AssistantError(str(exc)) from None
        seen = {p.chunk.chunk_id for p in read}
        best_article = selection.reading.article_id
        return [p for p in found if p.article.article_id != best_article
                and p.chunk.chunk_id not in seen][:CONFLICT_PROBE_PASSAGES]

    def _select(self, question: str, vector: np.ndarray | None, passages: list[Passage],
                extra: list[Passage], article_ids: frozenset[str] | None = None) -> Selection:
        """The configured answerer's choice. The reader reads the passages; the heuristic
        answerer scores their sentences against the question's embedding."""
        if self.settings.answerer == "reader":
            return self.reader_answerer.select(question, passages, extra)
        if vector is None:
            vector = self.embedder.embed([question])[0]
        return self.answerer.select(question, vector, passages, article_ids)

    @staticmethod
    def _validate(question: str) -> str:
        # Every door (CLI, chat, Gradio API, /v1) comes through here before any retrieval work:
        # the one length limit and the Unicode check live in assistant/question.py.
        return check_question(question)

    def _extractive_answer(self, question: str, selection: Selection) -> Answer:
        if selection.abstain:
            return Answer(question=question, answer=ABSTAIN_TEXT, abstained=True, status="declined",
                          confidence=round(selection.confidence, 4),
                          confidence_calibrated=self.settings.answerer == "reader",
                          notes=[f"abstained: {selection.reason}"])
        citations: list[Citation] = []
        sentences: list[SentenceSupport] = []
        parts: list[str] = []
        spans = [r for r in (selection.conflict_readings or (selection.reading,)) if r is not None]
        for cand in selection.sentences:
            n = len(citations) + 1
            citations.append(_with_span(citation_for(n, cand), spans))
            sentences.append(SentenceSupport(text=cand.text, citations=[n], support=1.0,
                                             note="verbatim quote"))
            parts.append(f"{cand.text} [{n}]")
        if selection.tentative and not selection.conflict:
            # Said in words, not as a plain answer: below the fitted band, answers were wrong
            # too often to be stated as what the articles say.
            parts = [f"{TENTATIVE_LEAD} " + " ".join(
                f"“{cand.text}” [{n}]" for n, cand in enumerate(selection.sentences, start=1))]
        conflicts: list[Conflict] = []
        if selection.conflict:
            unit, first, second, value_a, value_b = selection.conflict
            summary = f"The sources disagree: one says {value_a} [1], another says {value_b} [2]."
            # The summary restates the two figures; it is supported when each figure is quoted
            # verbatim in the sentence it cites.
            verbatim = value_a in first.text and value_b in second.text
            sentences.insert(0, SentenceSupport(
                text=summary, citations=[1, 2], support=1.0 if verbatim else 0.0,
                supported=verbatim,
                note="conflict summary"))
            parts.insert(0, summary)
            conflicts.append(Conflict(topic=unit, sides=[
                ConflictSide(citation=1, value=value_a, article_id=first.passage.article.article_id,
                             title=first.passage.article.title),
                ConflictSide(citation=2, value=value_b,
                             article_id=second.passage.article.article_id,
                             title=second.passage.article.title)]))
        return Answer(question=question, answer=" ".join(parts), abstained=False,
                      status="tentative" if selection.tentative else "answered",
                      short_answer=selection.reading.text if selection.reading else "",
                      citations=citations, sentences=sentences, conflicts=conflicts,
                      confidence=round(selection.confidence, 4),
                      confidence_calibrated=self.settings.answerer == "reader")


def _with_span(citation: Citation, readings: list[Reading]) -> Citation:
    """Mark where inside the quote the reader's answer lies (the first reading that falls in it)."""
    for reading in readings:
        if reading.article_id == citation.article_id and citation.start <= reading.start \
                and reading.end <= citation.end:
            citation.answer_start, citation.answer_end = reading.start, reading.end
            break
    return citation


def _validated(base: Settings, updates: dict[str, Any]) -> Settings:
    """Settings with keyword overrides applied and checked: model_copy alone would accept
    top_k=0 or a misspelt name silently."""
    from pydantic import ValidationError

    unknown = sorted(set(updates) - set(type(base).model_fields))
    if unknown:
        raise AssistantError(f"unknown setting {', '.join(unknown)}; see assistant.Settings")
    try:
        return type(base).model_validate({**base.model_dump(), **updates})
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(part) for part in error["loc"])
        raise AssistantError(f"bad setting {name}: {error['msg']}") from None


def _pieces_then(answer: Answer, words_per_piece: int = 4) -> Iterator[str | Answer]:
    """The offline answer streamed like a generated one: a few words at a time, then itself."""
    tokens = answer.answer.split(" ")
    for i in range(0, len(tokens), words_per_piece):
        yield (" " if i else "") + " ".join(tokens[i:i + words_per_piece])
    yield answer


def retrieved_passages(passages: list[Passage], answer: Answer,
                       selection: Selection | None = None) -> list[RetrievedPassage]:
    """The retrieved passages as the Answer reports them: scores (the reader's too, when it
    read them), and why each was used or not."""
    read = {r.passage.chunk.chunk_id: r.probability
            for r in (selection.readings if selection is not None else ())}
    out = []
    for number, passage in enumerate(passages, start=1):
        chunk = passage.chunk
        quoted = [c.n for c in answer.citations if c.article_id == chunk.article_id
                  and chunk.start <= c.start < chunk.end]
        if quoted:
            why = "quoted in the answer as " + ", ".join(f"[{n}]" for n in quoted)
        elif answer.abstained:
            why = (f"no sentence in it answered the question confidently enough (the answer's "
                   f"confidence was {answer.confidence:.2f})" if number == 1 else
                   "ranked lower than the passages above, which did not answer it either")
        elif passage.lexical == 0:
            why = "not quoted: found by meaning alone, none of the question's words are in it"
        else:
            why = "not quoted: the quoted sentences answered the question better"
        out.append(RetrievedPassage(
            rank=number, article_id=chunk.article_id, title=passage.article.title,
            start=chunk.start, end=chunk.end, text=chunk.text, dense=round(passage.dense, 4),
            lexical=round(passage.lexical, 4), fused=round(passage.fused, 4),
            reader=round(read[chunk.chunk_id], 4) if chunk.chunk_id in read else None,
            used=bool(quoted), why=why))
    return out


def _finished(answer: Answer, question: str, query: str, note: str,
              timings: dict[str, float], started: float, scope: Scope | None = None,
              selection: Selection | None = None) -> Answer:
    """Record the follow-up rewrite (if any), the scope, the status and the timings on a final
    Answer. A generated answer over a tentative reading is tentative too."""
    if answer.abstained:
        answer.status = "declined"
    elif selection is not None and selection.tentative:
        answer.status = "tentative"
    answer.scope = None if scope is None or scope.is_everything() else scope
    if note:
        answer.notes = [note, *answer.notes]
    answer.query = query if query != question else ""
    timings["total"] = _ms(started)
    answer.timings_ms = {**answer.timings_ms, **timings}
    # One line an answer: what happened and where the time went, never the question's text (it
    # may be private); DEBUG adds it.
    log.info("answer: %s, %d citations, confidence %.2f, %s", answer.status, len(answer.citations),
             answer.confidence, ", ".join(f"{k} {v:.0f} ms" for k, v in answer.timings_ms.items()))
    log.debug("answer to %r (read as %r)", question, query)
    return answer


def _about_the_subject(passages: list[Passage], query: str, focus: str) -> list[Passage]:
    """For a follow-up, the passages that mention the subject the rewrite carried over ("how
    long is it? (Riverside Line)"): the bare follow-up alone would match any article that
    says how long something is. All passages when none mentions it."""
    focus_words = set(words(focus))
    carried = [w for w in words(query) if w not in focus_words and w not in STOPWORDS]
    if not carried:
        return passages
    about = [p for p in passages if any(w in set(words(p.chunk.text)) for w in carried)]
    return about or passages


@contextmanager
def _catalog_errors(path: Path) -> Iterator[None]:
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


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
