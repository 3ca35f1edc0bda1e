"""`python -m benchmarks.lexical` at a tiny size: FTS5, tantivy and bm25s built, searched, scoped
and updated end to end in their own processes. It checks that every engine finds something and
that a scoped search returns only chunks of the scope's articles, never how fast anything is."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from conftest import require

from benchmarks import lexical

ARTICLES, QUERIES = 30, 20


def test_lexical_engines_search_and_scope(tmp_path: Path) -> None:
    require(all(importlib.util.find_spec(m) for m in ("tantivy", "bm25s")),
            "tantivy and bm25s (pip install -e '.[bench]')")
    out = tmp_path / "lexical.json"
    assert lexical.main(["--articles", str(ARTICLES), "--queries", str(QUERIES), "--work",
                         str(tmp_path / "work"), "--write", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["meta"]["articles"] == ARTICLES
    queries = report["meta"]["queries"]
    assert queries > 0
    assert set(report["summary"]) == set(lexical.ENGINES)
    for engine, figures in report["summary"].items():
        assert figures["queries_without_hits"] < queries, engine
        assert figures["scoped_hits"] > 0, engine
        assert figures["scoped_hits_outside_scope"] == 0, engine
        assert figures["index_mb"] > 0 and figures["index_mb_after_update"] > 0, engine
        # The update's 100 new articles are in, its 10 removed ones out, in every engine.
        assert figures["docs_match_catalog_after_update"], engine
        for key in ("build_s", "update_s", "query_p50_ms", "query_p95_ms", "scoped_p95_ms",
                    "query_peak_rss_mb"):
            assert isinstance(figures[key], (int, float)), (engine, key)
    assert report["summary"]["fts5"]["overlap10_id"] == 1.0
