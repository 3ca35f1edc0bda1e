"""Sections: the unit Chroma holds a vector of.

The reader reads chunks of about 120 words, but a vector in Chroma per chunk made our index
twice LlamaIndex's at 100,000 articles (issue #22): each is an HNSW node in memory, a row of
metadata, a copy of its text in Chroma's full-text index. So Chroma holds one vector per
*section*: the chunks of an article that start within the same run of SECTION_SENTENCES
sentences (about LlamaIndex's 1,024-token chunk at ~20 tokens a sentence; a news article is
one section). The dense search finds sections; the chunks inside them are then ranked by their
own vectors, rebuilt from the catalog's sentence vectors (assistant/retrieval.py), so a chunk
scores as it did when it had a vector of its own.

A section's vector is the normalised mean over its chunks' sentences (a sentence two chunks
share counts twice), so ingest, the streaming ingest of a big file and `check --repair` each
compute it from what they hold: the chunks and their sentences' vectors.

Ids: a chunk is `<article id>-<content hash[:10]>-<index>`; its section is
`<article id>-<content hash[:10]>-s<section>`, so the vector of an older version of an article
never shares an id with the current one's, and the catalog's chunk rows say which sections exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from index.embedding import normalise

# Sentences a section's chunks may start within. See the module docstring.
SECTION_SENTENCES = 48


def chunk_prefix(article_id: str, content_hash: str) -> str:
    """What every chunk and section id of this version of the article starts with."""
    return f"{article_id}-{content_hash[:10]}"


def chunk_id(article_id: str, content_hash: str, index: int) -> str:
    return f"{chunk_prefix(article_id, content_hash)}-{index}"


def section_of(first_sentence: int) -> int:
    return first_sentence // SECTION_SENTENCES


def section_id(prefix: str, section: int) -> str:
    return f"{prefix}-s{section}"


def section_id_of_chunk(chunk_id: str, first_sentence: int) -> str:
    """The id of the section (the Chroma vector) a chunk belongs to."""
    return section_id(chunk_id.rsplit("-", 1)[0], section_of(first_sentence))


@dataclass(frozen=True)
class SectionId:
    prefix: str  # the chunk ids' prefix
    article_id: str
    section: int

    @property
    def vector_id(self) -> str:
        return section_id(self.prefix, self.section)

    @property
    def first_sentence(self) -> int:
        """Where its chunks may start (inclusive) ..."""
        return self.section * SECTION_SENTENCES

    @property
    def last_start(self) -> int:
        """... and the last sentence one of them may start at."""
        return self.first_sentence + SECTION_SENTENCES - 1


def parse_section_id(vector_id: str) -> SectionId | None:
    """The parts of a section id; None for anything else (a foreign or older kind of id)."""
    prefix, _, tail = vector_id.rpartition("-")
    article_id, _, version = prefix.rpartition("-")
    if not (article_id and version and tail.startswith("s") and tail[1:].isdigit()):
        return None
    return SectionId(prefix, article_id, int(tail[1:]))


def section_ids(chunks: Iterable[tuple[str, int]]) -> set[str]:
    """The sections of chunks given as (chunk id, first sentence)."""
    return {section_id_of_chunk(cid, first) for cid, first in chunks}


@dataclass
class SectionDraft:
    """A section being summed up from its chunks, in order."""

    section: int
    start: int  # character offsets of its text in the article: its chunks' span
    end: int
    total: np.ndarray  # sum of its chunks' sentences' vectors (float32)

    def add(self, start: int, end: int, sentence_vectors: np.ndarray) -> None:
        self.start = min(self.start, start)
        self.end = max(self.end, end)
        self.total += sentence_vectors.astype(np.float32).sum(axis=0)

    def vector(self) -> np.ndarray:
        return normalise(self.total[None, :])[0]


def draft_sections(chunks: Iterable[tuple[int, int, int, int]], sentence_vectors: np.ndarray,
                   offset: int = 0) -> dict[int, SectionDraft]:
    """Sections of chunks given as (first sentence, last sentence, start, end), summed from
    `sentence_vectors`, whose row 0 is sentence `offset`."""
    drafts: dict[int, SectionDraft] = {}
    for first, last, start, end in chunks:
        rows = sentence_vectors[first - offset:last - offset + 1]
        number = section_of(first)
        draft = drafts.get(number)
        if draft is None:
            draft = drafts[number] = SectionDraft(number, start, end,
                                                  np.zeros(rows.shape[1], dtype=np.float32))
        draft.add(start, end, rows)
    return drafts


def chunk_vectors(chunks: Iterable[tuple[int, int]], sentence_vectors: np.ndarray,
                  offset: int = 0) -> np.ndarray:
    """Each chunk's own vector, given as (first sentence, last sentence): the normalised mean of
    its sentences' vectors (`sentence_vectors` row 0 is sentence `offset`). What a chunk's
    vector in Chroma was before sections, so it ranks a section's chunks as it did."""
    bounds = np.array([(first - offset, last - offset + 1) for first, last in chunks],
                      dtype=np.int64).reshape(-1, 2)
    if not len(bounds):
        return np.zeros((0, sentence_vectors.shape[-1]), dtype=np.float32)
    # Every chunk's rows laid end to end, then summed run by run in one call: the dense search
    # ranks about a hundred chunks a question.
    lengths = bounds[:, 1] - bounds[:, 0]
    starts = np.cumsum(lengths) - lengths
    rows = np.repeat(bounds[:, 0] - starts, lengths) + np.arange(int(lengths.sum()))
    sums = np.add.reduceat(np.asarray(sentence_vectors, dtype=np.float32)[rows], starts, axis=0)
    return normalise(sums / lengths[:, None])
