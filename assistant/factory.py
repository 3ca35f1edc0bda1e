"""The parts of an Assistant, each built once from Settings on first use (constructing an
Assistant is free): the embedder, the store, the answer path's stages and their answerers, the
support scorer, the spelling corrector and, with an LLM configured, the generative composer.
Each backend is chosen here, in one place.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from assistant.answering.check import SupportCheck
from assistant.answering.pipeline import Pipeline
from assistant.answering.prepare import Prepare
from assistant.answering.read import Answerer, Read
from assistant.answering.retrieve import Retrieve
from assistant.errors import AssistantError
from assistant.extractive import ExtractiveAnswerer, fitted_weights
from assistant.grounding import SupportScorer
from assistant.reader import MODEL_DIR, Reader, ReaderError
from assistant.reading import ReaderAnswerer
from assistant.retrieval import Candidate, Passage, Retriever
from assistant.selection import Reading, Selection
from assistant.settings import Settings
from assistant.spelling import SpellingCorrector
from assistant.store import Store
from index.embedding import Embedder, EmbeddingError, LocalMiniLM, OpenAIEmbedder

if TYPE_CHECKING:
    from assistant.generative import GenerativeAnswerer

T = TypeVar("T")


def make_embedder(settings: Settings) -> Embedder:
    s = settings
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


class Parts:
    """Everything an Assistant is wired from, built lazily (double-checked under one lock)."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None,
                 reader: Reader | None = None) -> None:
        self.settings = settings
        self._built: dict[str, Any] = {}
        if embedder is not None:
            self._built["embedder"] = embedder
        if reader is not None:  # shared, like the embedder, by UI setting variants
            self._built["reader"] = reader
        self._lock = threading.RLock()
        self.store = Store(settings, lambda: self.embedder, on_reset=self._catalog_reset)

    def _once(self, name: str, build: Callable[[], T]) -> T:
        part = self._built.get(name)
        if part is None:
            with self._lock:
                part = self._built.get(name)
                if part is None:
                    part = self._built[name] = build()
        return part

    def _catalog_reset(self) -> None:
        """A damaged catalog was set aside: the parts built on it are built again."""
        with self._lock:
            for name in ("retriever", "retrieve", "answerer", "reader_answerer", "read",
                         "pipeline", "speller"):
                self._built.pop(name, None)

    # --- models and backends ------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        return self._once("embedder", lambda: make_embedder(self.settings))

    @property
    def reader(self) -> Reader:
        """The trained reader model (assistant/reader_model/), loaded on first use."""
        def load() -> Reader:
            try:
                return Reader(self.settings.reader_model or MODEL_DIR)
            except ReaderError as exc:
                raise AssistantError(str(exc)) from None
        return self._once("reader", load)

    @property
    def scorer(self) -> SupportScorer:
        return self._once("scorer", lambda: SupportScorer(self.embedder))

    @property
    def speller(self) -> SpellingCorrector:
        return self._once("speller", lambda: SpellingCorrector(self.store.catalog))

    @property
    def generative(self) -> GenerativeAnswerer:
        """The LLM backend (settings.llm="openai"). Imported on first use: the offline path
        never loads the openai SDK."""
        def build() -> GenerativeAnswerer:
            from assistant.generative import GenerativeAnswerer

            return GenerativeAnswerer(self.settings, self.scorer)
        return self._once("generative", build)

    # --- the answer path ----------------------------------------------------------------------

    @property
    def retriever(self) -> Retriever:
        return self._once("retriever", lambda: Retriever(self.store.catalog, self.store.vectors))

    @property
    def retrieve(self) -> Retrieve:
        return self._once("retrieve", lambda: Retrieve(self.store.catalog, self.retriever,
                                                       self.embedder, self.settings.top_k))

    @property
    def answerer(self) -> ExtractiveAnswerer:
        """The earlier, hand-set offline answerer (answerer="heuristic")."""
        threshold = self.settings.abstain_threshold
        return self._once("answerer", lambda: ExtractiveAnswerer(
            max_sentences=self.settings.max_answer_sentences,
            # Unset: the threshold that goes with the weights (heuristic_weights.json).
            abstain_threshold=fitted_weights()["abstain_threshold"] if threshold is None
            else threshold,
            embedder=self.embedder, stems=self.retriever.stems))

    @property
    def reader_answerer(self) -> ReaderAnswerer:
        """The trained reader's answerer (answerer="reader", the default)."""
        return self._once("reader_answerer", lambda: ReaderAnswerer(
            self.reader, max_sentences=self.settings.max_answer_sentences,
            abstain_below=self.settings.abstain_threshold))

    @property
    def read(self) -> Read:
        def build() -> Read:
            chosen: Answerer = self.reader_answerer if self.settings.answerer == "reader" \
                else self.answerer
            return Read(chosen)
        return self._once("read", build)

    @property
    def pipeline(self) -> Pipeline:
        offline = self.settings.llm == "extractive"
        return self._once("pipeline", lambda: Pipeline(
            self.retrieve, lambda: self.read, lambda: SupportCheck(self.scorer),
            None if offline else (lambda: self.generative),
            calibrated=self.settings.answerer == "reader",
            probe=self.settings.answerer == "reader"))

    @property
    def prepare(self) -> Prepare:
        offline = self.settings.llm == "extractive"
        return self._once("prepare", lambda: Prepare(
            self.settings.spelling, lambda: self.speller,
            None if offline else (lambda: self.generative)))


class PassageReader:
    """The reader answerer for callers that hold retrieved passages (training, tests): the
    evidence is loaded for them, as the retrieve stage would."""

    def __init__(self, answerer: ReaderAnswerer, retrieve: Retrieve) -> None:
        self.answerer = answerer
        self.retrieve = retrieve

    def readings(self, question: str, passages: list[Passage]) -> list[Reading]:
        return self.answerer.readings(question, passages, self.retrieve.load(passages))

    def select(self, question: str, passages: list[Passage],
               extra: list[Passage] | None = None) -> Selection:
        return self.answerer.select(question, self.retrieve.load(passages, extra))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.answerer, name)


class PassageHeuristic:
    """The heuristic answerer for callers that hold retrieved passages and the question's
    vector (training, tests); its conflict probe is run as the pipeline runs it."""

    def __init__(self, answerer: ExtractiveAnswerer, retrieve: Retrieve) -> None:
        self.answerer = answerer
        self.retrieve = retrieve

    def score(self, question: str, vector: np.ndarray, passages: list[Passage]
              ) -> tuple[list[Candidate], dict[str, float]]:
        evidence = self.retrieve.load(passages, questions=(question,))
        return self.answerer.score(question, vector, passages, evidence)

    def select(self, question: str, vector: np.ndarray, passages: list[Passage],
               article_ids: Any = None) -> Selection:
        evidence = self.retrieve.load(passages, query=question, vector=vector,
                                      scope=None if article_ids is None else frozenset(article_ids),
                                      questions=(question,))
        selection = self.answerer.select(question, evidence)
        probe = self.answerer.probe_for(selection)
        if probe is not None:
            selection = self.answerer.other_side(question, selection,
                                                 self.retrieve.probe(probe, evidence))
        return selection

    def __getattr__(self, name: str) -> Any:
        return getattr(self.answerer, name)
