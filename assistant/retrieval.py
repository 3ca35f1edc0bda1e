"""Hybrid retrieval: dense similarity (sections from Chroma, their chunks ranked by the
catalog's vectors) plus BM25 from the catalog's lexical index, fused by reciprocal rank, then
spread across articles so one article cannot crowd out another."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np

from assistant.tuning import (
    DIVERSITY_DISCOUNT,
    DIVERSITY_SPARED_CHUNKS,
    RETRIEVE_MIN_POOL,
    RETRIEVE_POOL_PER_PASSAGE,
    RRF_K,
)
from index.catalog import ArticleRecord, Catalog, ChunkRecord, SentenceRecord
from index.sections import SectionId, chunk_vectors, parse_section_id
from index.stems import PorterStems
from index.text import STOPWORDS, words
from index.vectorstore import ChromaStore


@dataclass
class Passage:
    """A retrieved chunk with the scores that put it there."""

    chunk: ChunkRecord
    article: ArticleRecord
    dense: float
    lexical: float
    fused: float
    rank: int = 0


@dataclass
class Candidate:
    """A sentence of a retrieved passage, the unit an extractive answer quotes."""

    passage: Passage
    sentence: SentenceRecord
    text: str
    dense: float = 0.0
    lexical: float = 0.0
    offers_type: float = 0.0
    score: float = 0.0


def question_terms(question: str) -> list[str]:
    """The question's words that are not stop words, each once, in order."""
    return list(dict.fromkeys(w for w in words(question) if w not in STOPWORDS))


class Retriever:
    def __init__(self, catalog: Catalog, vectors: ChromaStore) -> None:
        self.catalog = catalog
        self.vectors = vectors
        self.stems = PorterStems()

    def question_terms(self, question: str) -> list[str]:
        return question_terms(question)

    def idf(self, terms: list[str]) -> tuple[dict[str, float], dict[str, str], dict[str, int]]:
        """IDF of each term over chunks (BM25's form), keyed by porter stem; also the stems
        and the document frequencies."""
        stems = self.stems.stems(terms)
        df = self.stem_frequencies(stems)
        n = max(self.catalog.lexical_chunk_count(), 1)
        weights = {s: math.log(1 + (n - df.get(s, 0) + 0.5) / (df.get(s, 0) + 0.5))
                   for s in set(stems.values())}
        return weights, stems, df

    def stem_frequencies(self, stems: dict[str, str]) -> dict[str, int]:
        """How many chunks hold each porter stem of `stems` (word -> stem), from the lexical
        index's counts of the words (its own stemmer may split what porter joins: the most
        frequent word speaks for its stem)."""
        by_word = self.catalog.document_frequencies(list(stems))
        df: dict[str, int] = {}
        for word, stem in stems.items():
            df[stem] = max(df.get(stem, 0), by_word.get(word, 0))
        return df

    def retrieve(self, question: str, query_vector: np.ndarray, top_k: int,
                 article_ids: Collection[str] | None = None) -> list[Passage]:
        """The best `top_k` passages; only from `article_ids` when given (a question's scope:
        both searches are filtered, so a small scope is not starved by the rest of the corpus)."""
        pool = max(top_k * RETRIEVE_POOL_PER_PASSAGE, RETRIEVE_MIN_POOL)
        lexical_hits = self.catalog.lexical_search(self.question_terms(question), pool, article_ids)
        dense_hits = self.dense(query_vector, pool, article_ids, [cid for cid, _ in lexical_hits])
        fused: dict[str, float] = defaultdict(float)
        dense_score = dict(dense_hits)
        lexical_score = dict(lexical_hits)
        for rank, (cid, _) in enumerate(dense_hits):
            fused[cid] += 1.0 / (RRF_K + rank + 1)
        for rank, (cid, _) in enumerate(lexical_hits):
            fused[cid] += 1.0 / (RRF_K + rank + 1)
        # The catalog decides what is visible: vectors of an interrupted ingest are ignored.
        chunks = self.catalog.chunks_by_id(fused)
        articles: dict[str, ArticleRecord | None] = {}
        ordered = sorted((cid for cid in fused if cid in chunks), key=lambda c: -fused[c])
        seen_per_article: dict[str, int] = defaultdict(int)
        passages = []
        for cid in ordered:
            chunk = chunks[cid]
            if chunk.article_id not in articles:
                articles[chunk.article_id] = self.catalog.article(chunk.article_id)
            article = articles[chunk.article_id]
            if article is None:
                continue
            # Each chunk of an article after its second counts for less: different articles get
            # a say before one article's third-best chunk does. The second is spared because
            # the RRF scores of a small corpus lie close together, and discounting it pushed the
            # chunk that says how long the talks lasted below other articles' weak matches
            # (the README's own example; hand-set, measured on the dev sets in `make eval`).
            diversity = DIVERSITY_DISCOUNT ** max(
                0, seen_per_article[chunk.article_id] - DIVERSITY_SPARED_CHUNKS)
            seen_per_article[chunk.article_id] += 1
            passages.append(Passage(chunk, article, dense_score.get(cid, 0.0),
                                    lexical_score.get(cid, 0.0), fused[cid] * diversity))
        passages.sort(key=lambda p: -p.fused)
        passages = passages[:top_k]
        for rank, passage in enumerate(passages):
            passage.rank = rank
        return passages

    def dense(self, query_vector: np.ndarray, pool: int,
              article_ids: Collection[str] | None = None,
              also: Collection[str] = ()) -> list[tuple[str, float]]:
        """The `pool` chunks nearest the question, as (chunk id, cosine similarity), best first.

        Chroma holds a vector per section (index/sections.py): the nearest `pool` sections are
        found there, and their chunks ranked by their own vectors, the mean of their sentences'
        vectors from the catalog. The chunks in `also` (the lexical search's) are scored the
        same way: a section's vector is diluted by its other sentences, so a chunk that matches
        well in a long section that does not is still ranked by its own vector. A chunk's
        vector in a store written before sections is its own, and is taken as it is."""
        query = np.asarray(query_vector, dtype=np.float32)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        scores: dict[str, float] = {}
        sections: list[SectionId] = []
        for vector_id, similarity in self.vectors.query(query_vector, pool, article_ids):
            section = parse_section_id(vector_id)
            if section is None:
                scores[vector_id] = similarity
            else:
                sections.append(section)
        # Two catalog queries whatever the pool: the sections' chunks (none for an older
        # version of an article: the catalog decides), then all their sentences' vectors.
        chunks = [c for found in self.catalog.chunks_of_sections(sections).values()
                  for c in found]
        held = {c.chunk_id for c in chunks}
        chunks += self.catalog.chunks_by_id(c for c in also if c not in held and c not in scores
                                            ).values()
        row_of, matrix = self.catalog.sentence_vectors_of(
            [(c.article_id, c.sent_first, c.sent_last) for c in chunks])
        members = [[row_of[(c.article_id, i)] for i in range(c.sent_first, c.sent_last + 1)
                    if (c.article_id, i) in row_of] for c in chunks]
        scored = [(c, rows) for c, rows in zip(chunks, members, strict=True) if rows]
        if scored:
            own = chunk_vectors(_spans(len(rows) for _, rows in scored),
                                matrix[[r for _, rows in scored for r in rows]])
            for (chunk, _), similarity in zip(scored, own @ query, strict=True):
                scores[chunk.chunk_id] = float(similarity)
        return sorted(scores.items(), key=lambda hit: -hit[1])[:pool]

    def passages_for_chunks(self, chunk_ids: list[str], rank: int,
                            article_ids: Collection[str] | None = None) -> list[Passage]:
        """Passages for chunks found by a follow-up search, all placed at one rank; only those
        of `article_ids` when given."""
        chunks = self.catalog.chunks_by_id(chunk_ids)
        out = []
        for cid in chunk_ids:
            chunk = chunks.get(cid)
            if chunk and article_ids is not None and chunk.article_id not in article_ids:
                continue
            article = self.catalog.article(chunk.article_id) if chunk else None
            if chunk and article:
                out.append(Passage(chunk, article, 0.0, 0.0, 0.0, rank))
        return out


def _spans(lengths: Iterable[int]) -> list[tuple[int, int]]:
    """(first, last) rows of consecutive runs of these lengths."""
    out, start = [], 0
    for n in lengths:
        out.append((start, start + n - 1))
        start += n
    return out
