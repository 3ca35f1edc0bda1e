"""Sentence vectors in the catalog: int8 with a per-vector scale in a new catalog, float16 kept
in one written before (issue #22's index size)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from index.article import Article
from index.catalog import Catalog
from index.chunking import Chunk
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
