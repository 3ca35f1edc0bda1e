"""Compare the catalog with the vectors, and repair what differs.

The catalog (SQLite) decides what is indexed; Chroma holds one vector per section of an article
(index/sections.py). They can drift: an ingest killed between the two writes, a deleted or
damaged chroma/ folder, another process writing to the same collection. A section's vector is
the mean of its chunks' sentences' vectors, which the catalog keeps, so a missing vector is
rebuilt without running the model again.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from index.catalog import Catalog
from index.record import ServerRecord
from index.sections import draft_sections, parse_section_id
from index.sqlite import Problem, failure_message, first_line
from index.store_writer import section_node
from index.vectorstore import ChromaStore, NodeToStore

log = logging.getLogger(__name__)
# Vectors read back per Chroma call when looking for unreadable or wrong-sized ones.
READ_BATCH = 1000


class CatalogDamagedError(Exception):
    """The catalog file cannot be read as a database. The message is one line."""


@dataclass(frozen=True)
class CatalogHealth:
    """What `check` found the catalog file to be. `problem` None: it opens and SQLite's quick
    check passes (or there is no file yet). "damaged" is the only problem `check --repair`
    acts on; the others leave the file alone."""

    problem: Problem | None = None
    message: str = ""  # one line, for the user
    reason: str = ""  # SQLite's own words


@dataclass
class StoreCheck:
    articles: int = 0
    chunks: int = 0
    vectors: int = 0
    missing: list[str] = field(default_factory=list)  # catalog chunks without a vector
    orphaned: list[str] = field(default_factory=list)  # vectors no catalog chunk owns
    unreadable: list[str] = field(default_factory=list)  # listed, but cannot be read back
    wrong_dimension: list[str] = field(default_factory=list)
    orphaned_parts: list[str] = field(default_factory=list)  # server records of no article
    # Articles a server's cache holds whose record the server no longer has (deleted there
    # without the change token moving): --repair drops them from the cache.
    gone_from_server: list[str] = field(default_factory=list)
    # The embedder the store was built with, when it is not the one configured now: its
    # vectors would be compared in the wrong space. Not repairable: re-ingest into a new store.
    other_embedder: str = ""
    # Documents in the lexical index (index/lexical.py) after applying what the catalog marked,
    # when that is not the catalog's chunk count (None: it agrees, or there is none to check).
    lexical_documents: int | None = None
    catalog_damaged: bool = False
    damage: str = ""  # what SQLite said of the damaged catalog
    # The damaged catalog set aside beside this one, for whose sake the orphaned vectors were
    # kept: they may be its articles' (see check_store).
    kept_for: str = ""
    repaired: list[str] = field(default_factory=list)  # what --repair did, one line each

    @property
    def consistent(self) -> bool:
        return not (self.missing or self.orphaned or self.unreadable or self.wrong_dimension
                    or self.orphaned_parts or self.gone_from_server or self.catalog_damaged
                    or self.other_embedder or self.lexical_documents is not None)

    @property
    def left_on_purpose(self) -> bool:
        """Inconsistent only by what --repair keeps on purpose: vectors no catalog owns while a
        damaged catalog set aside may own them (kept_for). Anything else left after a repair
        is a failure, and `check --repair` exits 1 for it."""
        return bool(self.kept_for) and replace(self, orphaned=[]).consistent

    def summary(self) -> str:
        if self.catalog_damaged and not self.repaired:
            return (f"the catalog is damaged ({self.damage or 'SQLite quick_check failed'}); "
                    "run `assistant check --repair`")
        return (f"{self.articles} articles, {self.chunks} chunks, {self.vectors} vectors: "
                f"{len(self.missing)} missing, {len(self.orphaned)} orphaned, "
                f"{len(self.unreadable)} unreadable, {len(self.wrong_dimension)} of the wrong "
                "dimension" + (f", {len(self.orphaned_parts)} orphaned article parts"
                               if self.orphaned_parts else "")
                + (f"; the orphaned vectors are kept while the damaged catalog {self.kept_for} "
                   "is beside the store (they may be its articles'): ingest those articles "
                   f"again, then delete {self.kept_for} so --repair may delete the rest"
                   if self.kept_for and self.orphaned else "")
                + (f"; {len(self.gone_from_server)} cached articles have no record on the "
                   "server (removed there): `assistant check --repair` drops them from the cache"
                   if self.gone_from_server else "")
                + (f"; built with embedder {self.other_embedder!r}, not the configured one"
                   if self.other_embedder else "")
                + (f"; the lexical index holds {self.lexical_documents} chunks"
                   if self.lexical_documents is not None else ""))


def catalog_health(path: Path) -> CatalogHealth:
    """Whether the catalog file opens, and SQLite's quick check of the whole file (reads every
    page: seconds for a large store, so only `check` runs it, not every command).

    A file this process cannot open (permissions, a read-only store, a lock, a full disk) is
    not damaged: SQLite never read it. Only a file that opens and fails the check, or is not a
    database at all, is; only that is worth setting aside."""
    if not path.exists():
        return CatalogHealth()
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            rows = db.execute("PRAGMA quick_check").fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        problem, message = catalog_problem(exc, path)
        return CatalogHealth(problem, message, first_line(exc))
    if rows != [("ok",)]:
        first = str(rows[0][0]) if rows and rows[0] else "no answer"
        reason = f"quick_check: {first[:200]}"
        return CatalogHealth("damaged", damaged_message(path, reason), reason)
    return CatalogHealth()



def damaged_message(path: Path, reason: str) -> str:
    return f"the catalog at {path} is damaged ({reason}); run `assistant check --repair`"


def catalog_problem(exc: sqlite3.Error, path: Path, *others: Path) -> tuple[Problem, str]:
    """The kind of a SQLite failure met while using the catalog at `path` (or the store's
    other SQLite files, `others`), and its one-line message. Only damage suggests
    `check --repair`: setting aside a file that merely could not be opened loses it."""
    problem, message = failure_message(exc, path, "the catalog", *others)
    if problem == "damaged":
        message = damaged_message(path, first_line(exc))
    return problem, message


def set_aside_catalogs(path: Path) -> list[Path]:
    """Damaged catalogs `check --repair` set aside beside this one (catalog.sqlite.damaged-*)."""
    return sorted(p for p in path.parent.glob(f"{path.name}.damaged-*")
                  if not p.name.endswith(("-wal", "-shm")))


def set_damaged_catalog_aside(path: Path) -> Path:
    """Move a damaged catalog (and its WAL files) aside, so a fresh one can be made. Renames
    in the same folder, all or none: a WAL left behind would be read into the fresh catalog,
    and a catalog moved without its WAL would lose what the WAL held. Raises OSError (with
    nothing moved) when the folder takes no renames (a read-only store)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    moved: list[tuple[Path, Path]] = []
    try:
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{path}{suffix}")
            if source.exists():
                os.rename(source, Path(f"{target}{suffix}"))
                moved.append((source, Path(f"{target}{suffix}")))
    except OSError:
        for source, moved_to in reversed(moved):
            os.rename(moved_to, source)
        raise
    return target


def check_store(catalog: Catalog, vectors: ChromaStore, dimension: int, *,
                repair: bool = False, record: ServerRecord | None = None) -> StoreCheck:
    """Compare; with `repair`, delete orphans and rebuild missing, unreadable and wrong-sized
    vectors. With a Chroma server, `catalog` must have just been synced from `record` (the
    caller holds the store's lease): the collection then holds exactly the record's articles,
    and article parts no header owns are orphans too. The server's record decides: a cached
    article it has no header for is reported (`gone_from_server`) and, with `repair`, dropped
    from the cache alone; its vectors are never rebuilt on the server, and those the server
    still holds are orphans, as a fresh cache finds them."""
    result = StoreCheck()
    articles = catalog.articles()
    result.articles = len(articles)
    owned = catalog.all_vector_ids()
    result.chunks = catalog.chunk_count()
    present = set(vectors.all_ids())
    result.vectors = len(present)
    if record is not None:
        headers = record.headers()
        result.gone_from_server = sorted(a.article_id for a in articles
                                         if a.article_id not in headers)
        for article_id in result.gone_from_server:
            owned -= catalog.vector_ids_of(article_id)
        versions = {a.article_id: a.content_hash[:16] for a in articles
                    if a.article_id in headers}
        result.orphaned_parts = sorted(p.part_id for p in record.parts()
                                       if versions.get(p.article_id) != p.version)
    result.missing = sorted(owned - present)
    result.orphaned = sorted(present - owned)
    result.unreadable, result.wrong_dimension = _unreadable(vectors, sorted(owned & present),
                                                            dimension)
    # A store folder's catalog is the only record of what its vectors belong to. While a
    # damaged catalog set aside by --repair lies beside it, a vector the fresh catalog does not
    # own may still be one of that catalog's articles': it is not deleted (re-ingesting those
    # articles writes the same ids over them). With a server, the server's record decides.
    catalog.sync_lexical()
    lexical = catalog.lexical
    if lexical is not None and lexical.count() != result.chunks:
        result.lexical_documents = lexical.count()
    aside = set_aside_catalogs(catalog.path) if record is None else []
    if aside:
        result.kept_for = aside[-1].name
    if repair:
        if result.gone_from_server:
            # The cache follows the server; no request is made to the server on their account.
            for article_id in result.gone_from_server:
                catalog.delete_article(article_id)
            catalog.sync_lexical()
            result.repaired.append(f"dropped {len(result.gone_from_server)} cached articles "
                                   "the server has no record of (from the cache only)")
        if result.orphaned and aside:
            result.repaired.append(f"kept {len(result.orphaned)} orphaned vectors: the damaged "
                                   f"catalog {aside[-1].name} may own them")
        elif result.orphaned:
            vectors.delete(result.orphaned)
            result.repaired.append(f"deleted {len(result.orphaned)} orphaned vectors")
        if result.orphaned_parts and record is not None:
            record.delete_parts(result.orphaned_parts)
            result.repaired.append(f"deleted {len(result.orphaned_parts)} orphaned article parts")
        rebuild = sorted(set(result.missing) | set(result.unreadable) | set(result.wrong_dimension))
        if rebuild:
            stale = sorted(set(result.unreadable) | set(result.wrong_dimension))
            if stale:
                vectors.delete(stale)
            rebuilt = rebuild_vectors(catalog, vectors, rebuild)
            result.repaired.append(f"rebuilt {rebuilt} vectors from the catalog")
        if result.lexical_documents is not None and lexical is not None:
            lexical.rebuild()
            result.repaired.append(f"rebuilt the lexical index from the catalog "
                                   f"({lexical.count()} chunks)")
    return result


def _unreadable(vectors: ChromaStore, ids: list[str], dimension: int
                ) -> tuple[list[str], list[str]]:
    unreadable: list[str] = []
    wrong: list[str] = []
    for begin in range(0, len(ids), READ_BATCH):
        batch = ids[begin:begin + READ_BATCH]
        try:
            found = vectors.embeddings(batch)
        except Exception:  # one bad id fails the batch: read those one by one
            found = {}
            for chunk_id in batch:
                try:
                    found.update(vectors.embeddings([chunk_id]))
                except Exception:
                    log.warning("vector %s cannot be read back", chunk_id)
        for chunk_id in batch:
            vector = found.get(chunk_id)
            if vector is None:
                unreadable.append(chunk_id)
            elif dimension and len(vector) != dimension:
                wrong.append(chunk_id)
    return unreadable, wrong


def rebuild_vectors(catalog: Catalog, vectors: ChromaStore, vector_ids: list[str]) -> int:
    """Write these vectors again from the catalog: each section's chunks and their sentences'
    stored vectors (what ingest wrote). Returns how many were written."""
    nodes: list[NodeToStore] = []
    written = 0
    for vector_id in vector_ids:
        section = parse_section_id(vector_id)
        chunks = catalog.chunks_of_section(section) if section else []
        article = catalog.article(section.article_id) if section else None
        if not chunks or article is None:
            continue
        first = min(c.sent_first for c in chunks)
        rows = catalog.sentence_vectors(article.article_id, first,
                                        max(c.sent_last for c in chunks))
        draft = draft_sections(((c.sent_first, c.sent_last, c.start, c.end) for c in chunks),
                               rows, first)[section.section]
        nodes.append(section_node(article, draft))
        if len(nodes) >= READ_BATCH:
            vectors.add(nodes)
            written += len(nodes)
            nodes = []
    vectors.add(nodes)
    return written + len(nodes)
