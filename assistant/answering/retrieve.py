"""Stage 1, retrieve: the question's passages, with everything the later stages read from them.

The only stage that touches the index. It resolves a scope to article ids, embeds the query,
runs the hybrid search (assistant/retrieval.py) and loads, once, what reading needs: each
passage's sentences (with their stored vectors), the articles' texts and the IDF of the
question's words. That is the `Evidence` handed to the read stage, which never queries the
index itself.

It also runs the conflict probe searches a Selection asks for (`Probe`, in assistant/
selection.py): passages of other articles found by searching with the answer's own sentence
(the reader), or chunks that hold the answer's unit word beside the question's words (the
heuristic answerer). They come back as Evidence too.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from assistant.errors import AssistantError, ScopeError
from assistant.models import Answer, Scope
from assistant.retrieval import Candidate, Passage, Retriever
from assistant.selection import Probe
from assistant.tuning import CONFLICT_PROBE_PASSAGES, SENTENCE_PROBE_SEARCH_FACTOR, UNIT_PROBE_HITS
from index.catalog import Catalog, SentenceRecord
from index.embedding import Embedder
from index.text import STOPWORDS, words
from index.vectorstore import VectorStoreError

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class TermStats:
    """Document frequencies (over chunks) of the question's words, by FTS5 porter stem."""

    stems: dict[str, str]  # word -> stem
    df: dict[str, int]  # stem -> chunks that hold it
    chunks: int

    def idf(self, terms: list[str]) -> tuple[dict[str, float], dict[str, str], dict[str, int]]:
        """IDF of each term (BM25's form) keyed by stem, the terms' stems and their document
        frequencies: what Retriever.idf returns, without asking the index again."""
        stems = {t: self.stems[t] for t in terms}
        unique = set(stems.values())
        df = {s: self.df[s] for s in unique if s in self.df}
        n = max(self.chunks, 1)
        weights = {s: math.log(1 + (n - df.get(s, 0) + 0.5) / (df.get(s, 0) + 0.5)) for s in unique}
        return weights, stems, df


@dataclass
class Evidence:
    """Retrieved passages and all that reading them needs, loaded once."""

    query: str
    vector: np.ndarray | None
    passages: list[Passage]
    extra: list[Passage] = field(default_factory=list)  # read only once there is an answer
    scope: frozenset[str] | None = None
    sentences: dict[str, list[SentenceRecord]] = field(default_factory=dict)  # by chunk id
    texts: dict[str, str] = field(default_factory=dict)  # by article id
    terms: TermStats = field(default_factory=lambda: TermStats({}, {}, 0))

    def vector_for(self, question: str) -> np.ndarray | None:
        return self.vector if question == self.query else None

    def candidates(self, passages: list[Passage]) -> list[Candidate]:
        """The sentences of the passages, each once (chunks overlap), as new Candidates: an
        answerer may score them without touching another's."""
        out: list[Candidate] = []
        seen: set[tuple[str, int]] = set()
        for passage in passages:
            text = self.texts.get(passage.chunk.article_id, "")
            for sentence in self.sentences.get(passage.chunk.chunk_id, []):
                key = (sentence.article_id, sentence.idx)
                if key in seen:
                    continue
                seen.add(key)
                out.append(Candidate(passage, sentence, text[sentence.start:sentence.end]))
        return out

    def text_of(self, article_id: str) -> str:
        return self.texts.get(article_id, "")

    def with_passages(self, passages: list[Passage]) -> Evidence:
        """The same evidence, reading `passages` first (a follow-up's passages about its subject)."""
        return Evidence(self.query, self.vector, passages, self.extra, self.scope,
                        self.sentences, self.texts, self.terms)


class Retrieve:
    def __init__(self, catalog: Catalog, retriever: Retriever, embedder: Embedder,
                 top_k: int) -> None:
        self.catalog = catalog
        self.retriever = retriever
        self.embedder = embedder
        self.top_k = top_k

    def scope_ids(self, scope: Scope | None) -> frozenset[str] | None:
        """The article ids a scope allows (None: no limit). A scope that names an unknown
        article, or that no indexed article falls in, is an error rather than an abstention:
        the caller asked for something that cannot be searched."""
        if scope is None or scope.is_everything():
            return None
        for label, value in (("date_from", scope.date_from), ("date_to", scope.date_to)):
            if value is not None and not (_ISO_DATE.fullmatch(value) and _real_date(value)):
                raise ScopeError(f"scope {label} must be a date like 2025-06-14, not {value!r}")
        if scope.date_from and scope.date_to and scope.date_from > scope.date_to:
            raise ScopeError(f"scope date_from {scope.date_from} is after date_to {scope.date_to}")
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

    def search(self, query: str, vector: np.ndarray, k: int,
               article_ids: Collection[str] | None) -> list[Passage]:
        try:
            return self.retriever.retrieve(query, vector, k, article_ids)
        except VectorStoreError as exc:
            raise AssistantError(str(exc)) from None

    def __call__(self, query: str, top_k: int | None, scope: Scope | None, *, probe: int = 0,
                 also: tuple[str, ...] = (), timings: dict[str, float] | None = None) -> Evidence:
        """Evidence for `query`: its top_k passages and `probe` more (read only once there is an
        answer); IDF for the words of `query` and of the questions in `also`."""
        timings = {} if timings is None else timings
        article_ids = self.scope_ids(scope)
        t0 = time.perf_counter()
        vector = self.embedder.embed([query])[0]
        timings["embed"] = _ms(t0)
        t0 = time.perf_counter()
        k = top_k or self.top_k
        pool = self.search(query, vector, k + probe, article_ids)
        evidence = self.load(pool[:k], pool[k:], query, vector, article_ids, (query, *also))
        timings["retrieve"] = _ms(t0)
        return evidence

    def load(self, passages: list[Passage], extra: list[Passage] | None = None, query: str = "",
             vector: np.ndarray | None = None, scope: frozenset[str] | None = None,
             questions: tuple[str, ...] = ()) -> Evidence:
        """Evidence for passages found elsewhere: their sentences, texts and the questions' IDF."""
        extra = list(extra or [])
        evidence = Evidence(query, vector, passages, extra, scope)
        self._fill(evidence, passages + extra)
        terms = list(dict.fromkeys(t for q in questions for t in self.retriever.question_terms(q)))
        stems = self.retriever.stems.stems(terms)
        df = self.retriever.stem_frequencies(stems)
        evidence.terms = TermStats(stems, df, self.catalog.lexical_chunk_count() if terms else 0)
        return evidence

    def _fill(self, evidence: Evidence, passages: list[Passage]) -> None:
        for passage in passages:
            chunk = passage.chunk
            if chunk.article_id not in evidence.texts:
                evidence.texts[chunk.article_id] = self.catalog.article_text(chunk.article_id) or ""
            if chunk.chunk_id not in evidence.sentences:
                evidence.sentences[chunk.chunk_id] = self.catalog.sentences_of(
                    chunk.article_id, chunk.sent_first, chunk.sent_last)

    def probe(self, probe: Probe, evidence: Evidence) -> Evidence:
        """The passages a Selection's probe finds that were not read yet, as Evidence sharing
        the question's term statistics."""
        if probe.sentence:
            vector = probe.vector if probe.vector is not None \
                else self.embedder.embed([probe.sentence])[0]
            wanted = SENTENCE_PROBE_SEARCH_FACTOR * CONFLICT_PROBE_PASSAGES
            found = self.search(probe.sentence, vector, wanted, evidence.scope)
            seen = {p.chunk.chunk_id for p in evidence.passages + evidence.extra}
            passages = [p for p in found if p.article.article_id != probe.best_article
                        and p.chunk.chunk_id not in seen][:CONFLICT_PROBE_PASSAGES]
        else:
            seen = {p.chunk.chunk_id for p in evidence.passages}
            chunk_ids: list[str] = []
            for word in probe.unit_words:
                hits = self.catalog.lexical_search_with(word, list(probe.terms), UNIT_PROBE_HITS)
                chunk_ids.extend(cid for cid, _ in hits if cid not in seen and cid not in chunk_ids)
            passages = self.retriever.passages_for_chunks(
                chunk_ids, rank=probe.rank, article_ids=evidence.scope) if chunk_ids else []
        found_evidence = Evidence(evidence.query, evidence.vector, passages, [], evidence.scope,
                                  dict(evidence.sentences), dict(evidence.texts), evidence.terms)
        self._fill(found_evidence, passages)
        return found_evidence


    def pages(self, answer: Answer) -> Answer:
        """Name the page each quote of a paginated source (a PDF) starts on."""
        for citation in answer.citations:
            citation.page = self.catalog.page_at(citation.article_id, citation.start)
        return answer


def _real_date(value: str) -> bool:
    """Whether a YYYY-MM-DD string is a day of the calendar (not 2025-02-30 or 0000-01-01)."""
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def about_the_subject(passages: list[Passage], query: str, focus: str) -> list[Passage]:
    """For a follow-up, the passages that mention the subject the rewrite carried over ("how
    long is it? (Riverside Line)"): the bare follow-up alone would match any article that
    says how long something is. All passages when none mentions it."""
    focus_words = set(words(focus))
    carried = [w for w in words(query) if w not in focus_words and w not in STOPWORDS]
    if not carried:
        return passages
    about = [p for p in passages if any(w in set(words(p.chunk.text)) for w in carried)]
    return about or passages


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
