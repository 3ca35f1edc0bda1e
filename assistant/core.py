"""Assistant: the public entry point. It wires the index to retrieval, answering and checking.

An Assistant holds no global state: two of them over different stores can live in one process,
and one of them can answer from several threads at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError, EmptyQuestionError, EmptyStoreError, StoreMismatchError
from assistant.extractive import ExtractiveAnswerer, Selection
from assistant.grounding import SupportScorer
from assistant.models import (
    Answer,
    Citation,
    Conflict,
    ConflictSide,
    IngestSummary,
    SentenceSupport,
    Source,
)
from assistant.retrieval import Candidate, Passage, Retriever
from assistant.settings import Settings
from index.catalog import Catalog
from index.embedding import Embedder, EmbeddingError, LocalMiniLM, OpenAIEmbedder
from index.pipeline import Indexer, IngestReport
from index.vectorstore import ChromaStore, VectorStoreError

ABSTAIN_TEXT = "The articles don't say."


class Assistant:
    """Question answering over a folder of news articles, with cited, checked sentences.

    >>> assistant = Assistant(store=".assistant")          # doctest: +SKIP
    >>> assistant.ingest(["samples/articles"])              # doctest: +SKIP
    >>> answer = assistant.ask("When did the tram open?")   # doctest: +SKIP
    >>> answer.answer, answer.citations[0].text             # doctest: +SKIP
    """

    def __init__(self, store: str | Path | None = None, *, chroma_url: str | None = None,
                 settings: Settings | None = None, embedder: Embedder | None = None,
                 **overrides: Any) -> None:
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
        self._scorer: SupportScorer | None = None

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
                    name = "catalog.sqlite" if self.settings.collection == "articles" \
                        else f"catalog-{self.settings.collection}.sqlite"
                    self._catalog = Catalog(Path(self.settings.store) / name)
        return self._catalog

    @property
    def vectors(self) -> ChromaStore:
        if self._vectors is None:
            with self._lock:
                if self._vectors is None:
                    try:
                        self._vectors = ChromaStore(
                            path=Path(self.settings.store) / "chroma",
                            url=self.settings.chroma_url, collection=self.settings.collection)
                    except VectorStoreError as exc:
                        raise AssistantError(str(exc)) from None
        return self._vectors

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            self._retriever = Retriever(self.catalog, self.vectors)
        return self._retriever

    @property
    def answerer(self) -> ExtractiveAnswerer:
        if self._answerer is None:
            self._answerer = ExtractiveAnswerer(
                self.retriever, max_sentences=self.settings.max_answer_sentences,
                abstain_threshold=self.settings.abstain_threshold)
        return self._answerer

    @property
    def scorer(self) -> SupportScorer:
        if self._scorer is None:
            self._scorer = SupportScorer(self.embedder)
        return self._scorer

    def _check_embedder(self) -> None:
        recorded = self.catalog.get_meta("embedder")
        name = self.embedder.name
        if recorded is None:
            self.catalog.set_meta("embedder", name)
        elif recorded != name:
            raise StoreMismatchError(
                f"store {self.settings.store} was built with embedder {recorded!r}, not {name!r}; "
                "use the same embedding settings or a new --store")

    # --- indexing -----------------------------------------------------------------------------

    def ingest(self, paths: list[str | Path] | str | Path, *, prune: bool = False,
               progress: Callable[[int, int, str], None] | None = None) -> IngestSummary:
        """Index files and folders. Unchanged articles are skipped, changed ones replaced."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        self._check_embedder()
        indexer = Indexer(self.catalog, self.vectors, self.embedder, self.settings.chunk_words,
                          self.settings.chunk_overlap_sentences)
        try:
            report: IngestReport = indexer.ingest(list(paths), prune=prune, progress=progress)
        except (VectorStoreError, EmbeddingError) as exc:
            raise AssistantError(str(exc)) from None
        return IngestSummary(
            added=report.added, updated=report.updated, unchanged=report.unchanged,
            removed=report.removed, failed=report.failed, chunks=report.chunks,
            tokens=report.tokens, seconds=round(report.seconds, 3),
            tokens_per_second=round(report.tokens_per_second, 1))

    def sources(self) -> list[Source]:
        return [Source(article_id=a.article_id, title=a.title, source=a.source, url=a.url,
                       date=a.date, chunks=a.n_chunks) for a in self.catalog.articles()]

    def remove(self, article_id: str) -> bool:
        """Remove an article by id (see `sources`). Returns False when no such article."""
        indexer = Indexer(self.catalog, self.vectors, self.embedder)
        return indexer.remove(article_id)

    def article(self, article_id: str) -> dict[str, Any] | None:
        """An indexed article's clean text and metadata (what citations' offsets refer to)."""
        record = self.catalog.article(article_id)
        if record is None:
            return None
        return {"article_id": record.article_id, "title": record.title, "source": record.source,
                "url": record.url, "date": record.date, "text": self.catalog.article_text(article_id)}

    # --- answering ----------------------------------------------------------------------------

    def retrieve(self, question: str, top_k: int | None = None) -> list[Passage]:
        """The passages a question retrieves, best first (hybrid, spread across articles)."""
        question = self._validate(question)
        vector = self.embedder.embed([question])[0]
        return self.retriever.retrieve(question, vector, top_k or self.settings.top_k)

    def ask(self, question: str, *, top_k: int | None = None) -> Answer:
        """Answer one question from the indexed articles, with cited, checked sentences."""
        started = time.perf_counter()
        question = self._validate(question)
        if self.catalog.count_articles() == 0:
            raise EmptyStoreError(
                f"the store {self.settings.store} is empty; run `assistant ingest PATH` first")
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        vector = self.embedder.embed([question])[0]
        timings["embed"] = _ms(t0)
        t0 = time.perf_counter()
        try:
            passages = self.retriever.retrieve(question, vector, top_k or self.settings.top_k)
        except VectorStoreError as exc:
            raise AssistantError(str(exc)) from None
        timings["retrieve"] = _ms(t0)
        t0 = time.perf_counter()
        selection = self.answerer.select(question, vector, passages)
        answer = self._extractive_answer(question, selection)
        timings["answer"] = _ms(t0)
        timings["total"] = _ms(started)
        answer.timings_ms = timings
        return answer

    @staticmethod
    def _validate(question: str) -> str:
        if not isinstance(question, str) or not question.strip():
            raise EmptyQuestionError("the question is empty")
        return question.strip()

    def _extractive_answer(self, question: str, selection: Selection) -> Answer:
        if selection.abstain:
            return Answer(question=question, answer=ABSTAIN_TEXT, abstained=True,
                          confidence=round(selection.confidence, 4),
                          notes=[f"abstained: {selection.reason}"])
        citations: list[Citation] = []
        sentences: list[SentenceSupport] = []
        parts: list[str] = []
        for cand in selection.sentences:
            n = len(citations) + 1
            citations.append(citation_for(n, cand))
            sentences.append(SentenceSupport(text=cand.text, citations=[n], support=1.0,
                                             note="verbatim quote"))
            parts.append(f"{cand.text} [{n}]")
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
                      citations=citations, sentences=sentences, conflicts=conflicts,
                      confidence=round(selection.confidence, 4))


def citation_for(n: int, cand: Candidate, score: float | None = None) -> Citation:
    article = cand.passage.article
    chunk = cand.passage.chunk
    return Citation(
        n=n, article_id=article.article_id, title=article.title, source=article.source,
        url=article.url, date=article.date, text=cand.text, start=cand.sentence.start,
        end=cand.sentence.end, score=round(cand.score if score is None else score, 4),
        passage=chunk.text, passage_start=chunk.start, passage_end=chunk.end)


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


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
