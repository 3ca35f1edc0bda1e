"""Sentence vectors in the catalog: int8 with a per-vector scale in a new catalog, float16 kept
in one written before (issue #22's index size); the same on a Chroma server's part records."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

import chromadb
import numpy as np

from index.article import Article
from index.catalog import Catalog
from index.chunking import BIG_ARTICLE_SENTENCES, Chunk
from index.lexical import CatalogRows
from index.record import ServerRecord, _header, _placeholder, sync_catalog
from index.sentence_vectors import encode_int8
from index.text import Span


def _article(catalog: Catalog, article_id: str, vectors: np.ndarray) -> None:
    text = "One. Two. Three."
    article = Article(article_id=article_id, key=article_id, source=article_id, title=article_id,
                      text=text, path=article_id, date="")
    spans = [Span(text[a:b], a, b) for a, b in ((0, 4), (5, 9), (10, 16))]
    catalog.replace_article(article, spans, vectors, [Chunk(0, 0, 16, 0, 2, text)],
                            [f"{article_id}-0"])


def _unit(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, 384)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_a_new_catalog_stores_int8_and_reads_back_within_a_thousandth(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    vectors = _unit(3, 1)
    _article(catalog, "a", vectors)
    assert catalog.vector_format == "int8"
    sizes = [r[0] for r in catalog.read().execute("SELECT length(vector) FROM sentences")]
    assert sizes == [388, 388, 388]
    back = np.stack([s.vector for s in catalog.sentences_of("a", 0, 2)])
    others = _unit(200, 2)
    assert np.abs(back @ others.T - vectors @ others.T).max() < 2e-3
    # The format is the catalog's, so a reopened catalog reads it the same way.
    assert Catalog(tmp_path / "catalog.sqlite").vector_format == "int8"


def test_a_catalog_of_float16_vectors_keeps_them(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    catalog = Catalog(path)
    vectors = _unit(3, 3)
    _article(catalog, "old", vectors)
    catalog.close()
    # As a catalog written before the int8 format: float16 blobs, no format recorded.
    db = sqlite3.connect(path)
    db.execute("DELETE FROM meta WHERE key='sentence_vectors'")
    for i, v in enumerate(vectors.astype(np.float16)):
        db.execute("UPDATE sentences SET vector=? WHERE idx=?", (v.tobytes(), i))
    db.commit()
    db.close()
    reopened = Catalog(path)
    assert reopened.vector_format == "float16"
    _article(reopened, "new", vectors)
    for article_id in ("old", "new"):
        back = np.stack([s.vector for s in reopened.sentences_of(article_id, 0, 2)])
        assert np.allclose(back, vectors, atol=1e-3)
    assert {r[0] for r in reopened.read().execute("SELECT length(vector) FROM sentences")} == {768}


def test_a_chunk_s_text_is_its_slice_of_the_article_also_in_an_older_catalog(tmp_path: Path
                                                                             ) -> None:
    """The catalog keeps an article's text once: a chunk's text is read as its slice of it
    (non-ASCII text included: SQLite's substr counts characters, as Python does). A row of an
    older catalog, which stored the chunk's text, is read as stored."""
    catalog = Catalog(tmp_path / "catalog.sqlite")
    text = "Zürich’s mayor — Ana Núñez — spoke. Crowds cheered. 42 °C at noon."
    article = Article(article_id="z", key="z", source="z", title="z", text=text, path="z",
                      date="")
    bounds = [(0, 35), (36, 51), (52, len(text))]
    spans = [Span(text[a:b], a, b) for a, b in bounds]
    chunks = [Chunk(0, 0, 51, 0, 1, text[0:51]), Chunk(1, 36, len(text), 1, 2, text[36:])]
    catalog.replace_article(article, spans, _unit(3, 5), chunks, ["z-0", "z-1"])
    stored = [r[0] for r in catalog.read().execute("SELECT text FROM chunks ORDER BY idx")]
    assert stored == ["", ""]
    read = catalog.chunks_by_id(["z-0", "z-1"])
    assert (read["z-0"].text, read["z-1"].text) == (text[0:51], text[36:])
    with catalog.write() as db:
        db.execute("UPDATE chunks SET text='as stored' WHERE chunk_id='z-1'")
    assert catalog.chunks_by_id(["z-1"])["z-1"].text == "as stored"
    # The lexical index reads chunks the same way.
    rows = CatalogRows(catalog.read, catalog.write)
    assert sorted(t for _, _, t in rows.chunks_of(["z"])) == sorted(["as stored", text[0:51]])


def _server_record(tmp_path: Path) -> tuple[chromadb.Collection, ServerRecord]:
    """A ServerRecord over a real (embedded) Chroma collection: the same calls a server gets."""
    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"))
    collection = client.create_collection("articles-articles", embedding_function=None)
    return collection, ServerRecord(collection, lambda fn, *a, **k: fn(*a, **k))


def test_the_servers_part_records_hold_int8_vectors_that_sync_to_the_catalogs_own(
        tmp_path: Path) -> None:
    collection, record = _server_record(tmp_path)
    text = "One. Two. Three."
    article = Article(article_id="a", key="a", source="a", title="a", text=text, path="a")
    spans = [Span(text[a:b], a, b) for a, b in ((0, 4), (5, 9), (10, 16))]
    vectors = _unit(3, 4)
    record.write_part(article, 0, 0, spans, vectors, [Chunk(0, 0, 16, 0, 2, text)])
    record.commit(article, 1, 1)
    payload = json.loads(collection.get(ids=["a:" + article.content_hash[:16] + ":0"])
                         ["documents"][0])
    assert payload["format"] == "int8"
    # 388 bytes a vector in base64: not float16's 768.
    assert len(payload["vectors"]) == 4 * 3 * 388 // 3
    catalog = Catalog(tmp_path / "catalog.sqlite")
    assert sync_catalog(record, catalog)[0] == 1
    stored = [r[0] for r in catalog.read().execute("SELECT vector FROM sentences ORDER BY idx")]
    # The catalog synced from the server holds the very bytes a local ingest would have.
    assert stored == encode_int8(vectors)
    # ... and, as a local ingest, the article's text once: a chunk's text is its slice.
    assert [r[0] for r in catalog.read().execute("SELECT text FROM chunks")] == [""]
    assert catalog.chunks_by_id(["a-" + article.content_hash[:10] + "-0"]).popitem()[1].text == text


def test_a_part_record_of_float16_vectors_written_before_is_still_read(tmp_path: Path) -> None:
    collection, record = _server_record(tmp_path)
    text = "One. Two. Three."
    article = Article(article_id="old", key="old", source="old", title="old", text=text,
                      path="old")
    vectors = _unit(3, 5)
    version = article.content_hash[:16]
    # The part as written before the int8 format: float16 vectors, no "format".
    payload = {"first": 0, "spans": [[0, 4], [5, 9], [10, 16]], "dim": 384,
               "vectors": base64.b64encode(vectors.astype(np.float16).tobytes()).decode(),
               "chunks": [[0, 0, 16, 0, 2]]}
    part_id = f"old:{version}:0"
    collection.upsert(ids=[part_id], embeddings=[_placeholder(part_id)],
                      documents=[json.dumps(payload)],
                      metadatas=[{"kind": "part", "article_id": "old", "version": version, "n": 0}])
    collection.upsert(ids=["old"], embeddings=[_placeholder("old")], documents=[text],
                      metadatas=[_header(article, 1, 1)])
    catalog = Catalog(tmp_path / "catalog.sqlite")
    assert sync_catalog(record, catalog)[0] == 1
    back = np.stack([s.vector for s in catalog.sentences_of("old", 0, 2)])
    assert np.abs(np.sum(back * vectors, axis=1) - 1).max() < 2e-3


def test_a_big_article_synced_from_the_server_keeps_its_chunks_text(tmp_path: Path) -> None:
    # More sentences than BIG_ARTICLE_SENTENCES, in parts of 2,048 as ingest writes them: the
    # last part alone holds one sentence, so only the count from the slices' offsets tells.
    _collection, record = _server_record(tmp_path)
    n = BIG_ARTICLE_SENTENCES + 1
    text = " ".join(f"S{i}." for i in range(n))
    spans, at = [], 0
    for i in range(n):
        piece = f"S{i}."
        spans.append(Span(piece, at, at + len(piece)))
        at += len(piece) + 1
    article = Article(article_id="big", key="big", source="big", title="big", text=text,
                      path="big")
    vectors = _unit(n, 6)
    chunks = [Chunk(i, spans[i].start, spans[i].end, i, i, spans[i].text) for i in range(n)]
    parts = range(0, n, 2048)
    for number, begin in enumerate(parts):
        record.write_part(article, number, begin, spans[begin:begin + 2048],
                          vectors[begin:begin + 2048],
                          [c for c in chunks if begin <= c.last_sentence < begin + 2048])
    record.commit(article, n, len(parts))
    catalog = Catalog(tmp_path / "catalog.sqlite")
    assert sync_catalog(record, catalog)[0] == 1
    kept = catalog.read().execute("SELECT count(*) FROM chunks WHERE text != ''").fetchone()[0]
    assert kept == n
