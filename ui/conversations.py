"""The web chat's conversations, kept in `conversations.sqlite` beside the catalog, so they last
across reloads and restarts. Each belongs to an owner: the signed-in user with `--auth`, else
everyone who can open the chat (the store's single user).

A turn keeps the question and the whole Answer (its JSON), so a reopened conversation shows the
same answers with working footnotes, and an export carries the citations.
"""

from __future__ import annotations

import html
import json
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from assistant import Answer
from index.sqlite import SQLiteFile

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL,
    created REAL NOT NULL, updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_owner ON conversations(owner, updated);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY, owner TEXT NOT NULL, conversation_id TEXT NOT NULL,
    turn INTEGER NOT NULL, question TEXT NOT NULL, answer_json TEXT NOT NULL,
    rating INTEGER NOT NULL, note TEXT NOT NULL DEFAULT '', at REAL NOT NULL,
    UNIQUE (owner, conversation_id, turn)
);
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


class Conversations(SQLiteFile):
    def __init__(self, path: Path) -> None:
        super().__init__(path, SCHEMA)

    def create(self, owner: str, first_question: str) -> str:
        conversation_id = uuid.uuid4().hex[:16]
        now = time.time()
        with self.write() as db:
            db.execute("INSERT INTO conversations VALUES (?,?,?,?,?)",
                       (conversation_id, owner, _title(first_question), now, now))
        return conversation_id

    def owns(self, owner: str, conversation_id: str | None) -> bool:
        if not conversation_id:
            return False
        return self.read().execute("SELECT 1 FROM conversations WHERE id=? AND owner=?",
                                  (conversation_id, owner)).fetchone() is not None

    def add_turn(self, owner: str, conversation_id: str, question: str, answer: Answer | None,
                 error: str = "") -> None:
        with self.write() as db:
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
        rows = self.read().execute(
            "SELECT c.id, c.title, c.updated, (SELECT count(*) FROM turns t "
            "WHERE t.conversation_id=c.id) FROM conversations c WHERE c.owner=? AND "
            "(lower(c.title) LIKE ? OR EXISTS (SELECT 1 FROM turns t WHERE "
            "t.conversation_id=c.id AND lower(t.question) LIKE ?)) ORDER BY c.updated DESC",
            (owner, pattern, pattern)).fetchall()
        return [ConversationInfo(*row) for row in rows]

    def title(self, owner: str, conversation_id: str) -> str:
        row = self.read().execute("SELECT title FROM conversations WHERE id=? AND owner=?",
                                 (conversation_id, owner)).fetchone()
        return row[0] if row else ""

    def turns(self, owner: str, conversation_id: str) -> list[Turn]:
        if not self.owns(owner, conversation_id):
            return []
        rows = self.read().execute(
            "SELECT question, answer_json, error FROM turns WHERE conversation_id=? ORDER BY idx",
            (conversation_id,)).fetchall()
        return [Turn(q, Answer.model_validate_json(a) if a else None, e or "") for q, a, e in rows]

    def rename(self, owner: str, conversation_id: str, title: str) -> bool:
        with self.write() as db:
            return db.execute("UPDATE conversations SET title=? WHERE id=? AND owner=?",
                              (_title(title), conversation_id, owner)).rowcount == 1

    def delete(self, owner: str, conversation_id: str) -> bool:
        with self.write() as db:
            gone = db.execute("DELETE FROM conversations WHERE id=? AND owner=?",
                              (conversation_id, owner)).rowcount == 1
            if gone:
                db.execute("DELETE FROM turns WHERE conversation_id=?", (conversation_id,))
            return gone

    def to_markdown(self, owner: str, conversation_id: str) -> str:
        """The conversation as Markdown: each question, its answer, and the quoted sources.
        Questions, answers, quotes and titles are text, not markup (`_text`): a question or an
        article holding `<img onerror=...>` or `[x](javascript:...)` must not become HTML or a
        link in whatever viewer opens the file."""
        lines = [f"# {_text(self.title(owner, conversation_id) or 'Conversation')}", ""]
        for turn in self.turns(owner, conversation_id):
            lines += [f"**Q:** {_text(turn.question)}", ""]
            if turn.answer is None:
                lines += [f"*{_text(turn.error or 'No answer.')}*", ""]
                continue
            lines += [_text(turn.answer.answer), ""]
            for citation in turn.answer.citations:
                where = citation.url or citation.source
                page = f", p. {citation.page}" if citation.page else ""
                lines.append(f"> [{citation.n}] “{_text(citation.text)}” — {_text(citation.title)} "
                             f"({_text(where)}{page}, characters {citation.start}-{citation.end})")
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"


def _text(value: str) -> str:
    """Text for Markdown: HTML's special characters as entities, and the brackets and the
    characters that start emphasis, code or a heading escaped, so it shows as written."""
    escaped = html.escape(value, quote=False)
    return re.sub(r"([\\`*_\[\]#|])", r"\\\1", escaped)


class Feedback:
    """Thumbs up or down on an answer, with an optional note, kept with the question and the
    whole Answer (its citations and retrieved passages), and exported as an evaluation dataset
    in our questions.jsonl format (evals/dataset.py)."""

    def __init__(self, conversations: Conversations) -> None:
        self.store = conversations

    def rate(self, owner: str, conversation_id: str, turn: int, liked: bool) -> bool:
        """Record (or change) the rating of one answer; False when that turn has no answer."""
        turns = self.store.turns(owner, conversation_id)
        if not 0 <= turn < len(turns) or turns[turn].answer is None:
            return False
        answer = turns[turn].answer
        assert answer is not None
        with self.store.write() as db:
            db.execute(
                "INSERT INTO feedback(owner, conversation_id, turn, question, answer_json, rating, "
                "at) VALUES (?,?,?,?,?,?,?) ON CONFLICT(owner, conversation_id, turn) DO UPDATE "
                "SET rating=excluded.rating, at=excluded.at",
                (owner, conversation_id, turn, turns[turn].question, answer.model_dump_json(),
                 1 if liked else -1, time.time()))
        return True

    def note(self, owner: str, conversation_id: str, turn: int, note: str) -> bool:
        with self.store.write() as db:
            return db.execute("UPDATE feedback SET note=? WHERE owner=? AND conversation_id=? "
                              "AND turn=?", (note.strip(), owner, conversation_id, turn)
                              ).rowcount == 1

    def count(self, owner: str) -> int:
        return self.store.read().execute("SELECT count(*) FROM feedback WHERE owner=?",
                                        (owner,)).fetchone()[0]

    def to_questions_jsonl(self, owner: str) -> str:
        """One line per rated answer. A liked answer becomes a regression test: its short answer
        (or its first quote) is the expected answer and its quotes the evidence; a liked
        abstention expects an abstention. A disliked one is tagged `review`, with the note: as
        exported it asks the assistant to decline, so fill in `answers` (and `evidence`) where
        the articles do answer it."""
        rows = self.store.read().execute(
            "SELECT id, question, answer_json, rating, note FROM feedback WHERE owner=? "
            "ORDER BY id", (owner,)).fetchall()
        lines = []
        for row_id, question, answer_json, rating, note in rows:
            answer = Answer.model_validate_json(answer_json)
            tags = ["feedback", "liked" if rating > 0 else "disliked"]
            answers: list[str] = []
            evidence: list[str] = []
            if rating > 0 and not answer.abstained:
                quotes = [c.text for c in answer.citations]
                answers = [answer.short_answer] if answer.short_answer else quotes[:1]
                evidence = quotes
                tags.append("answerable")
            elif rating > 0:
                tags.append("unanswerable")
            else:
                tags.append("review")
            item: dict[str, object] = {"id": f"feedback-{row_id}", "question": question,
                                       "answers": answers, "evidence": evidence, "tags": tags}
            if note:
                item["note"] = note
            if rating < 0:
                item["answer_given"] = answer.answer
            lines.append(json.dumps(item, ensure_ascii=False))
        return "\n".join(lines) + ("\n" if lines else "")


def _title(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= TITLE_CHARS else flat[:TITLE_CHARS - 1].rstrip() + "…"
