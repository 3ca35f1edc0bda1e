"""Assistant: the public entry point, a thin facade over parts built from Settings.

The parts (assistant/factory.py) are the store (assistant/store.py: catalog, vectors, sync,
lease, ingest, check and repair) and the answer path's stages (assistant/answering/: retrieve
-> read -> compose -> check). An Assistant holds no global state: two of them over different
stores can live in one process, and one of them can answer from several threads at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.answering.pipeline import Pipeline, Prepared
from assistant.errors import AssistantError, InvalidArgumentError, ScopeError
from assistant.factory import Parts, PassageHeuristic, PassageReader
from assistant.grounding import SupportScorer
from assistant.models import Answer, IngestSummary, Scope, Source
from assistant.question import check_question
from assistant.reader import Reader
from assistant.retrieval import Passage, Retriever
from assistant.settings import Settings
from assistant.spelling import SpellingCorrector
from assistant.store import Store, catalog_errors, catalog_guard
from index.catalog import Catalog
from index.check import StoreCheck
from index.embedding import Embedder
from index.record import ServerRecord
from index.state import StoreState
from index.text import split_sentences
from index.vectorstore import ChromaStore

if TYPE_CHECKING:
    from assistant.chat import ChatMessages
    from assistant.generative import GenerativeAnswerer

log = logging.getLogger(__name__)


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
        base = settings or Settings.from_environment()
        updates = dict(overrides)
        if isinstance(store, str) and not store.strip():
            # Path("") is the current folder: a store would be written among whatever is there.
            raise AssistantError("the store path is empty; name a folder (--store, "
                                 "ASSISTANT_STORE)")
        if store is not None:
            updates["store"] = Path(store)
        if chroma_url is not None:
            updates["chroma_url"] = chroma_url
        self.settings = _validated(base, updates) if updates else base
        folder = Path(self.settings.store)
        if folder.exists() and not folder.is_dir():
            # Opening it would fail deep in SQLite's set-up with a FileExistsError traceback.
            raise AssistantError(f"the store {folder} is a file, not a folder; choose another "
                                 "--store (ASSISTANT_STORE)")
        inside = next((p for p in folder.absolute().parents if p.exists()), None)
        if inside is not None and not inside.is_dir():
            raise AssistantError(f"the store {folder} would be inside {inside}, a file; choose "
                                 "another --store (ASSISTANT_STORE)")
        self.parts = Parts(self.settings, embedder, reader)
        self.store: Store = self.parts.store

    # --- the parts (built on first use, so constructing an Assistant is free) -----------------

    @property
    def embedder(self) -> Embedder:
        return self.parts.embedder

    @property
    def catalog(self) -> Catalog:
        return self.store.catalog

    @property
    def vectors(self) -> ChromaStore:
        return self.store.vectors

    @property
    def server_mode(self) -> bool:
        """The Chroma server holds the articles; the store folder is only a cache."""
        return self.store.server_mode

    @property
    def record(self) -> ServerRecord | None:
        """The server's copy of every article (None for a store folder: its catalog is it)."""
        return self.store.record

    @property
    def state(self) -> StoreState:
        """The store's change token and writer lease (index/state.py)."""
        return self.store.state

    @property
    def retriever(self) -> Retriever:
        return self.parts.retriever

    @property
    def reader(self) -> Reader:
        """The trained reader model (assistant/reader_model/), loaded on first use."""
        return self.parts.reader

    @property
    def answerer(self) -> PassageHeuristic:
        """The earlier, hand-set offline answerer (answerer="heuristic"), over passages."""
        return PassageHeuristic(self.parts.answerer, self.parts.retrieve)

    @property
    def reader_answerer(self) -> PassageReader:
        """The trained reader's answerer (answerer="reader", the default), over passages."""
        return PassageReader(self.parts.reader_answerer, self.parts.retrieve)

    @property
    def scorer(self) -> SupportScorer:
        return self.parts.scorer

    @property
    def speller(self) -> SpellingCorrector:
        """Corrects typos in questions against the indexed articles' words (assistant/spelling.py)."""
        return self.parts.speller

    @property
    def generative(self) -> GenerativeAnswerer:
        """The LLM backend (settings.llm="openai"), imported on first use."""
        return self.parts.generative

    @property
    def pipeline(self) -> Pipeline:
        """The answer path's stages (assistant/answering/pipeline.py)."""
        return self.parts.pipeline

    # --- the store ----------------------------------------------------------------------------

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
        return self.store.ingest(paths, prune=prune, progress=progress,
                                 embedding_progress=embedding_progress, feeds=feeds,
                                 fetch_pages=fetch_pages, follow_links=follow_links)

    def check(self, *, repair: bool = False) -> StoreCheck:
        """Compare the catalog with the vectors, and with `repair` mend what can be mended
        (assistant/store.py's Store.check says how)."""
        return self.store.check(repair=repair)

    def discard(self) -> None:
        """Delete this store's collections on the Chroma server (a throwaway store, such as an
        evaluation's). The local cache goes with the store folder."""
        self.store.discard()

    def sources(self) -> list[Source]:
        return self.store.sources()

    def remove(self, article_id: str) -> bool:
        """Remove an article by id (see `sources`). Returns False when no such article."""
        return self.store.remove(article_id)

    def article(self, article_id: str) -> dict[str, Any] | None:
        """An indexed article's clean text and metadata (what citations' offsets refer to)."""
        return self.store.article(article_id)

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

    # --- answering ----------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Load now what the first answer would otherwise wait for: the vector store's client,
        the lexical index, the embedding and reader models, the typo corrector's dictionaries
        and the sentence splitter of the support check (about a second together on 2 cores).
        A server calls it before it takes requests, so its first user waits no longer than the
        next. It answers nothing and changes no article (with a Chroma server it brings the local
        cache up to date, as the first question would); a store that cannot answer yet (empty,
        or its Chroma server down) is logged and left for the first question to report."""
        started = time.perf_counter()
        split_sentences("Warm. Up.")
        if self.settings.answerer == "reader":
            self.reader.read("Warm?", ["Up."])
        try:
            self.retrieve("warm up", 1)
            if self.settings.spelling:
                self.speller.load()
        except AssistantError as exc:
            log.warning("warm-up: %s", exc)
        log.info("warm-up: %.0f ms", (time.perf_counter() - started) * 1000)

    @catalog_guard
    def retrieve(self, question: str, top_k: int | None = None, *, scope: Scope | None = None
                 ) -> list[Passage]:
        """The passages a question retrieves, best first (hybrid, spread across articles);
        only from the articles in `scope` when given."""
        question = check_question(question)
        top_k, scope = _checked_top_k(top_k), _checked_scope(scope)
        self.store.ready()
        retrieve = self.parts.retrieve
        article_ids = retrieve.scope_ids(scope)
        vector = self.embedder.embed([question])[0]
        return retrieve.search(question, vector, top_k or self.settings.top_k, article_ids)

    @catalog_guard
    def ask(self, question: str, *, top_k: int | None = None, scope: Scope | None = None
            ) -> Answer:
        """Answer one question from the indexed articles (or those in `scope`), with cited,
        checked sentences."""
        started = time.perf_counter()
        prepared = self.parts.prepare.question(question)
        top_k, scope = _checked_top_k(top_k), _checked_scope(scope)
        self.store.ready()
        return self.pipeline.answer(self.parts.prepare.spelled(prepared), top_k, scope, started)

    @catalog_guard
    def chat(self, messages: ChatMessages, *, top_k: int | None = None,
             scope: Scope | None = None) -> Answer:
        """Answer the last user message of a conversation ([{"role", "content"}, ...]). A
        follow-up ("and how long did they talk there?") is first rewritten into a standalone
        question for retrieval: by the LLM when one is configured, else deterministically. The
        Answer's `query` holds the rewrite."""
        started = time.perf_counter()
        prepared = self.parts.prepare.messages(messages)
        top_k, scope = _checked_top_k(top_k), _checked_scope(scope)
        self.store.ready()
        return self.pipeline.answer(self.parts.prepare.spelled(prepared), top_k, scope, started)

    def stream(self, question_or_messages: str | ChatMessages, *, top_k: int | None = None,
               scope: Scope | None = None) -> Iterator[str | Answer]:
        """Yield the answer's text as it is produced (str deltas), then the checked Answer as
        the last item. The guard may change the text, so show the deltas while they come and
        then replace them with the final Answer's `answer`. Errors in the question raise before
        the first item; a failing LLM ends the stream with the extractive Answer and a note."""
        started = time.perf_counter()
        prepared: Prepared = self.parts.prepare.question(question_or_messages) \
            if isinstance(question_or_messages, str) \
            else self.parts.prepare.messages(question_or_messages)
        top_k, scope = _checked_top_k(top_k), _checked_scope(scope)
        with catalog_errors(self.store.catalog_path):
            self.store.ready()
            prepared = self.parts.prepare.spelled(prepared)
            outcome = self.pipeline.run(prepared, top_k, scope)
        yield from self.pipeline.stream(outcome, prepared, scope, started)


def _checked_scope(scope: object) -> Scope | None:
    """A question's scope as a Scope (a dict of its fields is taken too), or a one-line
    ScopeError: a dict reached the retrieve stage and failed there with an AttributeError."""
    if scope is None or isinstance(scope, Scope):
        return scope
    if isinstance(scope, dict):
        from pydantic import ValidationError

        try:
            return Scope.model_validate(scope)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            raise ScopeError(f"scope {where}: {error['msg']}") from None
    raise ScopeError(f"scope must be a Scope (or a dict of its fields), not "
                     f"{type(scope).__name__}")


def _checked_top_k(top_k: object) -> int | None:
    """A question's top_k as given (None: the setting's), or a one-line error: the same range as
    the top_k setting. Unchecked, -1 read as a slice and 1000 as everything."""
    field = Settings.model_fields["top_k"]
    low, high = (next(getattr(m, a) for m in field.metadata if hasattr(m, a)) for a in ("ge", "le"))
    if top_k is None:
        return None
    if isinstance(top_k, float) and top_k.is_integer():  # JSON clients may send 6.0
        top_k = int(top_k)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not low <= top_k <= high:
        raise InvalidArgumentError(f"top_k must be a whole number from {low} to {high}, "
                                   f"not {top_k!r}")
    return top_k


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
        raise AssistantError(f"bad setting {name}: "
                             f"{error['msg'].removeprefix('Value error, ')}") from None
