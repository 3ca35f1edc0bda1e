"""The web chat's conversations, kept in `conversations.sqlite` beside the catalog, so they last
across reloads and restarts. Each belongs to an owner: the signed-in user with `--auth`, else
everyone who can open the chat (the store's single user).

A turn keeps the question and the whole Answer (its JSON), so a reopened conversation shows the
same answers with working footnotes, and an export carries the citations.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from assistant import Answer

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL,
    created REAL NOT NULL, updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_owner ON conversations(owner, updated);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL, idx INTEGER NOT NULL, question TEXT NOT NULL,
    answer_json TEXT, error TEXT, at REAL NOT NULL, PRIMARY KEY (conversation_id, idx)
) WITHOUT ROWID;
"""
TITLE_CHARS = 60


@dataclass(frozen=True)
class ConversationInfo:
    id: str
    title: str
    updated: float
    turns: int


@dataclass(frozen=True)
class Turn:
    question: str
    answer: Answer | None  # None: the turn failed or was stopped (see error)
    error: str


class Conversations:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._db().executescript(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            self._local.db = db
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        else:
            db.execute("COMMIT")

    def create(self, owner: str, first_question: str) -> str:
        conversation_id = uuid.uuid4().hex[:16]
        now = time.time()
        with self._write() as db:
            db.execute("INSERT INTO conversations VALUES (?,?,?,?,?)",
                       (conversation_id, owner, _title(first_question), now, now))
        return conversation_id

    def owns(self, owner: str, conversation_id: str | None) -> bool:
        if not conversation_id:
            return False
        return self._db().execute("SELECT 1 FROM conversations WHERE id=? AND owner=?",
                                  (conversation_id, owner)).fetchone() is not None

    def add_turn(self, owner: str, conversation_id: str, question: str, answer: Answer | None,
                 error: str = "") -> None:
        with self._write() as db:
            if db.execute("SELECT 1 FROM conversations WHERE id=? AND owner=?",
                          (conversation_id, owner)).fetchone() is None:
                return  # deleted meanwhile (another tab): nothing to add to
            idx = db.execute("SELECT count(*) FROM turns WHERE conversation_id=?",
                             (conversation_id,)).fetchone()[0]
            now = time.time()
            db.execute("INSERT INTO turns VALUES (?,?,?,?,?,?)",
                       (conversation_id, idx, question,
                        answer.model_dump_json() if answer is not None else None, error, now))
            db.execute("UPDATE conversations SET updated=? WHERE id=?", (now, conversation_id))

    def list(self, owner: str, search: str = "") -> list[ConversationInfo]:
        """The owner's conversations, latest first; with `search`, those whose title or a
        question holds it (case-insensitive)."""
        pattern = f"%{search.strip().lower()}%"
        rows = self._db().execute(
            "SELECT c.id, c.title, c.updated, (SELECT count(*) FROM turns t "
            "WHERE t.conversation_id=c.id) FROM conversations c WHERE c.owner=? AND "
            "(lower(c.title) LIKE ? OR EXISTS (SELECT 1 FROM turns t WHERE "
            "t.conversation_id=c.id AND lower(t.question) LIKE ?)) ORDER BY c.updated DESC",
            (owner, pattern, pattern)).fetchall()
        return [ConversationInfo(*row) for row in rows]

    def title(self, owner: str, conversation_id: str) -> str:
        row = self._db().execute("SELECT title FROM conversations WHERE id=? AND owner=?",
                                 (conversation_id, owner)).fetchone()
        return row[0] if row else ""

    def turns(self, owner: str, conversation_id: str) -> list[Turn]:
        if not self.owns(owner, conversation_id):
            return []
        rows = self._db().execute(
            "SELECT question, answer_json, error FROM turns WHERE conversation_id=? ORDER BY idx",
            (conversation_id,)).fetchall()
        return [Turn(q, Answer.model_validate_json(a) if a else None, e or "") for q, a, e in rows]

    def rename(self, owner: str, conversation_id: str, title: str) -> bool:
        with self._write() as db:
            return db.execute("UPDATE conversations SET title=? WHERE id=? AND owner=?",
                              (_title(title), conversation_id, owner)).rowcount == 1

    def delete(self, owner: str, conversation_id: str) -> bool:
        with self._write() as db:
            gone = db.execute("DELETE FROM conversations WHERE id=? AND owner=?",
                              (conversation_id, owner)).rowcount == 1
            if gone:
                db.execute("DELETE FROM turns WHERE conversation_id=?", (conversation_id,))
            return gone

    def to_markdown(self, owner: str, conversation_id: str) -> str:
        """The conversation as Markdown: each question, its answer, and the quoted sources."""
        lines = [f"# {self.title(owner, conversation_id) or 'Conversation'}", ""]
        for turn in self.turns(owner, conversation_id):
            lines += [f"**Q:** {turn.question}", ""]
            if turn.answer is None:
                lines += [f"*{turn.error or 'No answer.'}*", ""]
                continue
            lines += [turn.answer.answer, ""]
            for citation in turn.answer.citations:
                where = citation.url or citation.source
                page = f", p. {citation.page}" if citation.page else ""
                lines.append(f"> [{citation.n}] “{citation.text}” — {citation.title} "
                             f"({where}{page}, characters {citation.start}-{citation.end})")
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"


def _title(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= TITLE_CHARS else flat[:TITLE_CHARS - 1].rstrip() + "…"
