"""Sections (index/sections.py): the unit Chroma holds a vector of, and how the dense search
finds a chunk through its section."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant
from index.sections import (
    SECTION_SENTENCES,
    chunk_vectors,
    draft_sections,
    parse_section_id,
    section_id_of_chunk,
)


def test_section_ids_name_the_article_version_and_section() -> None:
    sid = section_id_of_chunk("a-b-c-0123456789-7", SECTION_SENTENCES * 2 + 5)
    assert sid == "a-b-c-0123456789-s2"
    parsed = parse_section_id(sid)
    assert parsed is not None
    assert (parsed.article_id, parsed.prefix, parsed.section) == ("a-b-c", "a-b-c-0123456789", 2)
    assert parsed.vector_id == sid
    assert section_id_of_chunk("a-b-c-0123456789-9", SECTION_SENTENCES * 2) == sid
    assert section_id_of_chunk("a-b-c-0123456789-9", SECTION_SENTENCES * 3) != sid  # section
    assert section_id_of_chunk("a-b-c-9999999999-9", SECTION_SENTENCES * 2) != sid  # version
    # A chunk's own id (a store written before sections) and foreign ids are not sections.
    for other in ("a-b-c-0123456789-7", "c1", "s3", "-s3", "x-s3"):
        assert parse_section_id(other) is None, other


def test_a_section_is_the_mean_of_its_chunks_sentences_an_overlap_counted_twice() -> None:
    rng = np.random.default_rng(0)
    n = SECTION_SENTENCES + 10
    vectors = rng.normal(size=(n, 8)).astype(np.float32)
    # Chunks of 6 sentences sharing one: the one starting at 45 belongs to section 0 though it
    # ends in section 1's sentences.
    chunks = [(b, min(b + 5, n - 1), b * 10, (min(b + 5, n - 1) + 1) * 10)
              for b in range(0, n - 1, 5)]
    drafts = draft_sections(chunks, vectors)
    assert sorted(drafts) == [0, 1]
    first = [c for c in chunks if c[0] < SECTION_SENTENCES]
    expected = sum(vectors[a:b + 1].sum(axis=0) for a, b, _, _ in first)
    assert np.allclose(drafts[0].vector(), expected / np.linalg.norm(expected), atol=1e-6)
    assert (drafts[0].start, drafts[0].end) == (0, first[-1][3])
    # Drafted from a slice that starts later, as the streaming ingest does: the same.
    later = [c for c in chunks if c[0] >= SECTION_SENTENCES]
    offset = later[0][0]
    sliced = draft_sections(later, vectors[offset:], offset)
    assert np.allclose(sliced[1].vector(), drafts[1].vector(), atol=1e-6)
    # A chunk's own vector: the normalised mean of its sentences'.
    [own] = chunk_vectors([(3, 7)], vectors)
    mean = vectors[3:8].mean(axis=0)
    assert np.allclose(own, mean / np.linalg.norm(mean), atol=1e-6)


def test_the_dense_search_finds_a_chunk_deep_in_a_long_article(tmp_path: Path) -> None:
    """A report of many sections among other articles: the chunk that answers is found through
    its section and ranked by its own vector, ahead of the rest of its article."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    lines = [f"Item {i}: the committee reviewed routine paperwork about office supplies and "
             f"parking permits for quarter {i}." for i in range(150)]
    lines[118:123] = [
        "The lighthouse keeper rescued four sailors from a capsized fishing boat.",
        "The sailors clung to the hull of the capsized boat for an hour.",
        "The keeper rowed out to the sailors through the storm.",
        "All four sailors from the boat were brought ashore alive.",
        "The rescued sailors thanked the lighthouse keeper."]
    (folder / "report.txt").write_text("Committee Minutes\n\n" + "\n\n".join(lines),
                                       encoding="utf-8")
    for i in range(30):
        (folder / f"other-{i}.txt").write_text(
            f"Other News {i}\n\nThe bakery on street {i} sold bread and cakes to neighbours. "
            f"It opened a second oven in week {i}.", encoding="utf-8")
    assistant = Assistant(store=tmp_path / "store")
    assert assistant.ingest([folder]).added == 31
    report = next(s for s in assistant.sources() if s.title == "Committee Minutes")
    sections = assistant.catalog.vector_ids_of(report.article_id)
    assert len(sections) == -(-151 // SECTION_SENTENCES)  # title + 150 items
    assert set(assistant.vectors.ids_of_article(report.article_id)) == sections

    question = "Who rescued the sailors from the capsized boat?"
    query = assistant.embedder.embed([question])[0]
    # The section is the mean of 48 sentences, mostly paperwork: 24 nearest sections (what
    # retrieval asks for) leave it out, and its chunk is found by the lexical search ...
    section_scores = dict(assistant.vectors.query(query, 40))
    passages = assistant.retriever.retrieve(question, query, 6)
    top = passages[0]
    assert "lighthouse keeper rescued" in top.chunk.text
    assert top.chunk.sent_first >= SECTION_SENTENCES * 2
    # ... and still gets its dense score: its own vector's cosine, far above its section's.
    section = parse_section_id(section_id_of_chunk(top.chunk.chunk_id, top.chunk.sent_first))
    assert section is not None
    own = section_scores[f"{section.prefix}-s{section.section}"]
    assert top.dense > 0.4 > own
    assert top.dense == pytest.approx(dict(assistant.retriever.dense(
        query, 24, also=[top.chunk.chunk_id]))[top.chunk.chunk_id], abs=1e-5)


def test_a_section_node_holds_no_text_but_says_where_its_text_is(tmp_path: Path) -> None:
    """Chroma's node of a section: a LlamaIndex node without text (the catalog keeps it once),
    whose metadata name the article and whose offsets slice its text."""
    import json

    from conftest import SAMPLES

    assistant = Assistant(store=tmp_path / "store")
    assistant.ingest([SAMPLES / "port-alder-tram-opening.txt"])
    [source] = assistant.sources()
    [section] = assistant.vectors.ids_of_article(source.article_id)
    got = assistant.vectors._collection.get(ids=[section], include=["documents", "metadatas"])
    [document], [metadata] = got["documents"], got["metadatas"]
    assert not document
    assert (metadata["article_id"], metadata["title"]) == (source.article_id, source.title)
    node = json.loads(metadata["_node_content"])
    text = assistant.article(source.article_id)["text"]
    first = min(c.start for c in assistant.catalog.chunks_by_id(
        assistant.catalog.chunk_ids_of(source.article_id)).values())
    assert node["start_char_idx"] == first and node["end_char_idx"] == len(text.rstrip())
