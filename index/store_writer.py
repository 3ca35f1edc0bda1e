"""How prepared articles reach the stores (index/pipeline.py decides what to ingest and
prepares it): every sentence embedded once, a slice at a time; Chroma holds a vector a section
(index/sections.py), the mean of its chunks' sentences'; the vectors written to Chroma before
the catalog switches to them, and with a Chroma server the article's record written before
either commits; an article too big to hold is streamed slice by slice inside one catalog
transaction. `IngestReport` counts what was done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from index.article import Article
from index.catalog import ArticleRecord, Catalog
from index.chunking import BIG_ARTICLE_SENTENCES, Chunk
from index.embedding import Embedder, embed_distinct_counted
from index.record import PartDraft, ServerRecord
from index.sections import (
    SectionDraft,
    chunk_id,
    chunk_prefix,
    draft_sections,
    section_id,
    section_of,
)
from index.state import StoreState
from index.text import Span
from index.vectorstore import ChromaStore, NodeToStore

ProgressCallback = Callable[[int, int, str], None]


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
class Prepared:
    article: Article
    sentences: list[Span]
    chunks: list[Chunk]
    is_update: bool
    # Articles this one replaces: those at the same key (a file or feed entry whose text
    # changed gets a new id, since ids come from content).
    replaces: list[str] = field(default_factory=list)

class OffsetSentences:
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


class OffsetChunks:
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


class StoreWriter:
    """The write of prepared articles to the catalog, the vectors and, with a Chroma server, the
    server's record. `Indexer` (index/pipeline.py) is one, and sets the attributes below."""

    # Sentences embedded per model call: bounds the tokenizer's and the model's working memory
    # whatever the size of one article (a 50 MB text file holds ~400,000 sentences).
    embed_slice = 2048
    # An article with more sentences than this is written slice by slice (_flush_streaming).
    stream_sentences = BIG_ARTICLE_SENTENCES

    catalog: Catalog
    vectors: ChromaStore
    embedder: Embedder
    record: ServerRecord | None
    state: StoreState | None
    _embedding_progress: ProgressCallback | None

    def _changed(self) -> None:
        if self.state is not None:
            self.state.bump()

    def _embed(self, texts: list[str], report: IngestReport, name: str) -> np.ndarray:
        """float16 vectors of `texts`, embedded a slice at a time (see embed_slice)."""
        out = np.zeros((len(texts), getattr(self.embedder, "dimension", 0) or 1), dtype=np.float16)
        for begin in range(0, len(texts), self.embed_slice):
            batch = texts[begin:begin + self.embed_slice]
            vectors, tokens = embed_distinct_counted(self.embedder, batch)
            if out.shape[1] != vectors.shape[1]:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float16)
            out[begin:begin + len(batch)] = vectors
            report.tokens += tokens
            if self._embedding_progress:
                self._embedding_progress(begin + len(batch), len(texts), name)
        return out

    def _flush(self, pending: list[Prepared], report: IngestReport) -> None:
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
        staged: list[tuple[Prepared, np.ndarray, list[str]]] = []
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
        live = {vid for aid in article_ids for vid in self.catalog.vector_ids_of(aid)}
        self.vectors.delete([i for i in self.vectors.ids_of_articles(article_ids) if i not in live])
        self.vectors.add(nodes)
        # The catalog still switches article by article (new vectors first, then the catalog,
        # then the old vectors), so an ingest killed here leaves every article whole.
        if self.record is not None:
            self._write_records(staged)
        stale: set[str] = set()
        written = {node.node_id for node in nodes}
        for item, sentence_vectors, chunk_ids in staged:
            old = self.catalog.replace_article(item.article, item.sentences, sentence_vectors,
                                               item.chunks, chunk_ids)
            stale |= old - written
            report.chunks += len(item.chunks)
            report.articles.append(item.article.article_id)
            if item.is_update:
                report.updated += 1
            else:
                report.added += 1
        self.vectors.delete(stale)
        self._changed()

    def _write_records(self, staged: list[tuple[Prepared, np.ndarray, list[str]]]) -> None:
        """The flush's articles on the server: every part (a slice of embed_slice sentences
        each, with the chunks that end in it), then every header (the server's commit), then
        the articles each replaces. Three kinds of round trip per flush, not per article: at
        ~25 ms a call they were most of an ingest's time through a server."""
        assert self.record is not None
        drafts: list[PartDraft] = []
        headers: list[tuple[Article, int, int]] = []
        step = self.embed_slice
        for item, sentence_vectors, _chunk_ids in staged:
            n_parts = max(1, -(-len(item.sentences) // step))
            for number in range(n_parts):
                begin = number * step
                drafts.append(PartDraft(
                    item.article, number, begin, item.sentences[begin:begin + step],
                    sentence_vectors[begin:begin + step],
                    [c for c in item.chunks if begin <= c.last_sentence < begin + step]))
            headers.append((item.article, len(item.chunks), n_parts))
        self.record.write_parts(drafts)
        self.record.commit_many(headers)
        for item, _vectors, _ids in staged:
            for replaced in item.replaces:
                self.record.delete(replaced)

    def _flush_streaming(self, item: Prepared, report: IngestReport) -> None:
        """One big article, a slice of sentences at a time, inside one catalog transaction:
        embed the slice, write its sentence rows, then the chunks it completes and their
        vectors. Memory holds one slice's vectors (plus the few sentences a chunk carries over
        from the slice before), not the article's. Vectors reach Chroma before the catalog
        commits, as in _flush: an ingest killed midway leaves orphans, never a hole."""
        article = item.article
        name = article.path or article.source
        live = self.catalog.vector_ids_of(article.article_id)
        self.vectors.delete([i for i in self.vectors.ids_of_article(article.article_id)
                             if i not in live])
        chunk_ids = [chunk_id(article.article_id, article.content_hash, c.index)
                     for c in item.chunks]
        written: set[str] = set()
        # Sections whose chunks are not all written yet: a section is done once a chunk of a
        # later one is ready, or at the end.
        open_sections: dict[int, SectionDraft] = {}
        total = len(item.sentences)
        with self.catalog.replacing_article(article, len(item.chunks)) as writer:
            held = np.zeros((0, 0), dtype=np.float16)  # vectors of sentences held_from...
            held_from = 0
            next_chunk = 0
            for begin in range(0, total, self.embed_slice):
                batch = item.sentences[begin:begin + self.embed_slice]
                texts = [sentence.text for sentence in batch]
                vectors, tokens = embed_distinct_counted(self.embedder, texts)
                vectors = vectors.astype(np.float16)
                report.tokens += tokens
                writer.sentences(begin, batch, vectors)
                held = vectors if held.size == 0 else np.concatenate([held, vectors])
                done = begin + len(batch)
                ready: list[Chunk] = []
                while next_chunk < len(item.chunks) and item.chunks[next_chunk].last_sentence < done:
                    ready.append(item.chunks[next_chunk])
                    next_chunk += 1
                if ready:
                    for number, draft in draft_sections(
                            ((c.first_sentence, c.last_sentence, c.start, c.end) for c in ready),
                            held, held_from).items():
                        if number in open_sections:
                            open_sections[number].add(draft.start, draft.end,
                                                      draft.total[None, :])
                        else:
                            open_sections[number] = draft
                    last = section_of(ready[-1].first_sentence)
                    # The slice that readies the last chunk writes every section left.
                    finished = next_chunk >= len(item.chunks)
                    nodes = [section_node(article, open_sections.pop(number))
                             for number in sorted(open_sections) if finished or number < last]
                    self.vectors.add(nodes)
                    written.update(node.node_id for node in nodes)
                    writer.chunks(ready, [chunk_ids[c.index] for c in ready])
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
        self.vectors.delete(writer.old_vector_ids - written)
        self._changed()
        report.chunks += len(item.chunks)
        report.articles.append(article.article_id)
        if item.is_update:
            report.updated += 1
        else:
            report.added += 1

    def _nodes(self, item: Prepared, sentence_vectors: np.ndarray
               ) -> tuple[list[str], list[NodeToStore]]:
        """The article's chunk ids, and its sections as the nodes Chroma holds: every sentence
        is embedded once, and a section's vector is the mean of its chunks' sentences' vectors
        (index/sections.py)."""
        article = item.article
        chunk_ids = [chunk_id(article.article_id, article.content_hash, c.index)
                     for c in item.chunks]
        drafts = draft_sections(((c.first_sentence, c.last_sentence, c.start, c.end)
                                 for c in item.chunks), sentence_vectors)
        return chunk_ids, [section_node(article, draft) for draft in drafts.values()]


def section_node(article: Article | ArticleRecord, draft: SectionDraft) -> NodeToStore:
    """The node Chroma holds for a section of this version of the article (index/sections.py):
    what ingest writes, and what `check --repair` writes again from the catalog."""
    return NodeToStore(section_id(chunk_prefix(article.article_id, article.content_hash),
                                  draft.section),
                       article.article_id, draft.start, draft.end, draft.vector(),
                       {"title": article.title, "source": article.source, "url": article.url,
                        "date": article.date})
