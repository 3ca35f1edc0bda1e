"""The catalog's lexical side: the BM25 index beside the catalog (index/lexical.py, a tantivy
folder rebuilt from the catalog's rows) and the searches the answer path makes through it.

`Catalog` takes these methods from `CatalogLexicalSearch`; they are kept apart because the
catalog's rows and the index that mirrors them change for different reasons.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Collection
from pathlib import Path

from index.lexical import CatalogRows, LexicalIndex

log = logging.getLogger(__name__)


class CatalogLexicalSearch:
    """Mixed into `Catalog` (index/catalog.py), whose SQLite file and meta table it uses."""

    path: Path
    _lexical: LexicalIndex | None
    _lexical_failed: bool
    _sync_warned: bool

    # Provided by Catalog and its SQLiteFile base.
    read: Callable[[], sqlite3.Connection]
    write: Callable[[], object]
    get_meta: Callable[[str], str | None]
    chunk_count: Callable[[], int]

    @property
    def lexical_path(self) -> Path:
        """catalog.sqlite -> catalog.lexical/, catalog-news.sqlite -> catalog-news.lexical/"""
        return self.path.with_name(self.path.stem + ".lexical")

    @property
    def lexical(self) -> LexicalIndex | None:
        """The lexical index, or None where it cannot be opened or built (logged once): the
        answer path then searches by meaning alone."""
        if self._lexical is None and not self._lexical_failed:
            catalog_id = self.get_meta("catalog_id")
            if catalog_id is None:
                self._lexical_failed = True
                log.warning("catalog %s has no id (a read-only store written by an older "
                            "version): lexical search is off", self.path)
                return None
            self._lexical = LexicalIndex(self.lexical_path, catalog_id,
                                         CatalogRows(self.read, self.write))
        return self._lexical

    def sync_lexical(self) -> int:
        """Apply what the catalog marked to the lexical index (at the end of an ingest run,
        after a sync from the server, before a search that finds marks)."""
        lexical = self.lexical
        if lexical is None:
            return 0
        try:
            return lexical.sync()
        except (OSError, ValueError, sqlite3.OperationalError) as exc:
            # A store this process cannot write (read-only, full): search what the index holds.
            if not self._sync_warned:
                self._sync_warned = True
                log.warning("lexical index %s cannot apply the catalog's latest writes (%s): "
                            "searching what it holds", self.lexical_path, exc)
            return 0

    def _lexical_down(self, exc: BaseException) -> None:
        log.warning("lexical index %s unavailable (%s): searching by meaning alone",
                    self.lexical_path, exc)
        self._lexical, self._lexical_failed = None, True

    def _lexical_ready(self) -> LexicalIndex | None:
        """The lexical index with every marked article applied (when this process can)."""
        if self.read().execute("SELECT 1 FROM lexical_pending LIMIT 1").fetchone():
            self.sync_lexical()
        return self.lexical

    def _chunk_ids_of_rows(self, hits: list[tuple[int, float]]) -> list[tuple[str, float]]:
        if not hits:
            return []
        marks = ",".join("?" * len(hits))
        found = dict(self.read().execute(
            f"SELECT rowid, chunk_id FROM chunks WHERE rowid IN ({marks})", [r for r, _ in hits]))
        # A hit the catalog no longer holds (a write not applied yet) is dropped.
        return [(found[rowid], score) for rowid, score in hits if rowid in found]

    def lexical_search(self, terms: list[str], limit: int,
                       article_ids: Collection[str] | None = None) -> list[tuple[str, float]]:
        """BM25 over chunks (only those of `article_ids` when given). Returns (chunk_id, score)
        best first; higher is better."""
        return self._lexical_hits(terms, lambda lexical: lexical.search(terms, limit, article_ids))

    def _lexical_hits(self, terms: list[str],
                      search: Callable[[LexicalIndex], list[tuple[int, float]]]
                      ) -> list[tuple[str, float]]:
        lexical = self._lexical_ready()
        if lexical is None or not terms:
            return []
        try:
            hits = search(lexical)
        except (OSError, ValueError) as exc:
            self._lexical_down(exc)
            return []
        return self._chunk_ids_of_rows(hits)

    def lexical_search_with(self, required: str, terms: list[str], limit: int
                            ) -> list[tuple[str, float]]:
        """BM25 over chunks that contain `required` and at least one of `terms`."""
        return self._lexical_hits(
            terms, lambda lexical: lexical.search_with(required, terms, limit))

    def lexical_chunk_count(self) -> int:
        """The chunks the lexical index holds, the denominator of its document frequencies:
        kept by the index, where counting the chunks table scans it. The table's count without
        a lexical index."""
        lexical = self._lexical_ready()
        if lexical is not None:
            try:
                return lexical.count()
            except (OSError, ValueError) as exc:
                self._lexical_down(exc)
        return self.chunk_count()

    def document_frequencies(self, words: list[str]) -> dict[str, int]:
        """How many chunks hold each word (as the lexical index stems it); empty without the
        lexical index."""
        lexical = self._lexical_ready()
        if lexical is None or not words:
            return {}
        try:
            return lexical.document_frequencies(words)
        except (OSError, ValueError) as exc:
            self._lexical_down(exc)
            return {}
