"""The lexical index beside the catalog (index/lexical.py): incremental updates, scope filters,
rebuilds from the catalog, and what a process killed between the catalog's commit and the
index's leaves behind. Real tantivy and real SQLite; no model (the catalog takes any vectors)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from index.article import Article
from index.catalog import Catalog
from index.chunking import Chunk
from index.lexical import CatalogRows

ROOT = Path(__file__).resolve().parent.parent
NO_VECTORS = np.zeros((0, 384), dtype=np.float32)


def write(catalog: Catalog, article_id: str, *paragraphs: str) -> list[str]:
    """An article of one chunk per paragraph; returns its chunk ids."""
    text = "\n\n".join(paragraphs)
    article = Article(article_id=article_id, key=article_id, source=article_id, title=article_id,
                      text=text, path=article_id, date="2026-01-01")
    chunks, start = [], 0
    for i, paragraph in enumerate(paragraphs):
        chunks.append(Chunk(i, start, start + len(paragraph), i, i, paragraph))
        start += len(paragraph) + 2
    ids = [f"{article_id}-{article.content_hash[:10]}-{i}" for i in range(len(chunks))]
    catalog.replace_article(article, [], NO_VECTORS, chunks, ids)
    return ids


def found(catalog: Catalog, *terms: str, scope: set[str] | None = None) -> set[str]:
    return {cid.split("-")[0] for cid, _ in catalog.lexical_search(list(terms), 20, scope)}


def test_writes_replacements_and_removals_reach_search(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    assert not catalog.has_articles()
    write(catalog, "harbour", "The harbour ferry resumed sailing on Monday.",
          "Fishermen welcomed the decision.")
    assert catalog.has_articles()
    write(catalog, "council", "The council voted on the tram extension.")
    assert found(catalog, "ferry") == {"harbour"}
    assert found(catalog, "sailed") == {"harbour"}  # stems: sailing / sailed
    assert found(catalog, "tram", "ferry") == {"harbour", "council"}
    assert catalog.lexical.count() == catalog.chunk_count() == 3

    write(catalog, "harbour", "The harbour bridge reopened after repairs.")  # same id, new text
    assert found(catalog, "ferry") == set()
    assert found(catalog, "bridge") == {"harbour"}
    catalog.delete_article("council")
    assert found(catalog, "tram") == set()
    assert catalog.lexical.count() == catalog.chunk_count() == catalog.lexical_chunk_count() == 1
    assert catalog.read().execute("SELECT count(*) FROM lexical_pending").fetchone()[0] == 0


def test_scope_requirements_and_frequencies(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    write(catalog, "a1", "Storm warnings closed the airport for four hours.")
    write(catalog, "a2", "The storm flooded the valley road.")
    write(catalog, "a3", "A quiet week at the airport.")
    assert found(catalog, "storm", "airport") == {"a1", "a2", "a3"}
    assert found(catalog, "storm", "airport", scope={"a2", "a3"}) == {"a2", "a3"}
    assert found(catalog, "storm", scope={"a3"}) == set()
    assert catalog.lexical_search(["storm"], 10, set()) == []
    # Scores order hits: the chunk holding both terms first.
    assert catalog.lexical_search(["storm", "airport"], 10)[0][0].startswith("a1")
    with_hours = catalog.lexical_search_with("hours", ["storm", "airport"], 10)
    assert [cid.split("-")[0] for cid, _ in with_hours] == ["a1"]
    assert catalog.document_frequencies(["storm", "airport", "valley", "zeppelin"]) == {
        "storm": 2, "airport": 2, "valley": 1, "zeppelin": 0}


def test_a_missing_or_foreign_index_is_rebuilt_from_the_catalog(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    write(catalog, "mill", "The old mill was sold at auction.")
    catalog.sync_lexical()
    folder = catalog.lexical_path
    assert folder.is_dir()
    catalog.close()

    shutil.rmtree(folder)
    reopened = Catalog(tmp_path / "catalog.sqlite")
    assert found(reopened, "auction") == {"mill"}

    # Another catalog's index copied over this one's is not trusted.
    other = Catalog(tmp_path / "other" / "catalog.sqlite")
    write(other, "zoo", "The zoo welcomed twin pandas.")
    other.sync_lexical()
    shutil.rmtree(folder)
    shutil.copytree(other.lexical_path, folder)
    third = Catalog(tmp_path / "catalog.sqlite")
    assert found(third, "pandas") == set()
    assert found(third, "auction") == {"mill"}


def test_marks_written_since_a_sync_read_them_stay(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    rows = CatalogRows(catalog.read, catalog.write)
    write(catalog, "x", "First text.")
    marked = rows.pending()
    write(catalog, "x", "Second text.")  # written again after the sync read its mark
    rows.unmark(marked)
    assert [a for a, _ in rows.pending()] == ["x"]


def _run(code: str, store: Path) -> None:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), str(store)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


PRELUDE = """
    import os, sys
    from pathlib import Path
    from index.catalog import Catalog
    from tests.test_lexical import write
    catalog = Catalog(Path(sys.argv[1]) / "catalog.sqlite")
"""


def test_a_process_killed_after_the_catalog_commit_loses_nothing(tmp_path: Path) -> None:
    # Killed before it applied the article to the lexical index at all.
    _run(PRELUDE + """
    write(catalog, "quarry", "The quarry expansion was approved.")
    os._exit(0)
    """, tmp_path)
    catalog = Catalog(tmp_path / "catalog.sqlite")
    assert found(catalog, "quarry") == {"quarry"}

    # Killed after the index committed but before the catalog's marks were cleared: the next
    # process applies the article again, and it is there once.
    _run(PRELUDE + """
    write(catalog, "orchard", "The orchard harvest was late.", "Apples were small this year.")
    catalog.lexical.rows.unmark = lambda marked: os._exit(0)
    catalog.sync_lexical()
    os._exit(1)
    """, tmp_path)
    catalog = Catalog(tmp_path / "catalog.sqlite")
    assert catalog.read().execute("SELECT count(*) FROM lexical_pending").fetchone()[0] == 1
    assert found(catalog, "harvest") == {"orchard"}
    assert catalog.lexical.count() == catalog.chunk_count() == 3
    assert len(catalog.lexical_search(["apples"], 10)) == 1


def test_a_catalog_written_before_tantivy_loses_its_fts5_table(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "catalog.sqlite"
    catalog = Catalog(path)
    write(catalog, "pier", "The pier reopened to walkers.")
    catalog.close()
    db = sqlite3.connect(path)
    db.execute("CREATE VIRTUAL TABLE chunk_fts USING fts5(text, tokenize='porter unicode61')")
    db.execute("DELETE FROM meta WHERE key='catalog_id'")
    db.commit()
    db.close()
    upgraded = Catalog(path)
    assert upgraded.read().execute(
        "SELECT count(*) FROM sqlite_master WHERE name='chunk_fts'").fetchone()[0] == 0
    assert found(upgraded, "walkers") == {"pier"}


def test_a_store_it_cannot_write_is_searched_as_it_is(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    write(catalog, "dam", "The dam inspection found cracks.")
    assert found(catalog, "cracks") == {"dam"}
    write(catalog, "weir", "The weir was repaired.")  # marked, not yet applied
    catalog.close()
    # A folder where the lock file should be: this process cannot apply the mark (as in a
    # read-only store), and still searches what the index holds.
    lock = catalog.lexical_path.with_name(catalog.lexical_path.name + ".lock")
    lock.unlink()
    lock.mkdir()
    reader = Catalog(tmp_path / "catalog.sqlite")
    assert found(reader, "cracks") == {"dam"}
    assert found(reader, "repaired") == set()
    lock.rmdir()
    assert found(Catalog(tmp_path / "catalog.sqlite"), "repaired") == {"weir"}
