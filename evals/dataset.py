"""Evaluation datasets: a folder with questions.jsonl and (usually) articles/.

Each line of questions.jsonl is one JSON object:

    {"id": "q1", "question": "...", "answers": ["..."], "evidence": ["..."], "tags": ["..."]}

`answers` lists acceptable short answers (any one counts); an empty list means the articles do
not answer the question, and the assistant should abstain. `evidence` lists verbatim snippets of
the articles that support the answer. The articles may live elsewhere (`articles=`), so a
dataset over copyrighted articles need not contain them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


class DatasetError(Exception):
    """The dataset folder or one of its lines is malformed. The message is one line."""


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: list[str]
    evidence: list[str]
    tags: list[str] = field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return bool(self.answers)

    @property
    def conflict(self) -> bool:
        return "conflict" in self.tags


@dataclass(frozen=True)
class Dataset:
    name: str
    path: Path
    articles: Path
    questions: list[Question]


def load_dataset(path: str | Path, articles: str | Path | None = None,
                 name: str | None = None) -> Dataset:
    """Read DIR/questions.jsonl; articles default to DIR/articles."""
    root = Path(path)
    questions_file = root / "questions.jsonl"
    if not questions_file.is_file():
        raise DatasetError(f"{root}: no questions.jsonl")
    article_dir = Path(articles) if articles is not None else root / "articles"
    if not article_dir.exists():
        hint = "" if articles is not None else "; pass --articles DIR"
        raise DatasetError(f"{article_dir}: no such articles folder{hint}")
    try:
        lines = questions_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{questions_file}: cannot read ({exc.__class__.__name__})") from None
    questions: list[Question] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{questions_file}:{number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}: malformed JSON ({exc.msg})") from None
        if not isinstance(item, dict):
            raise DatasetError(f"{where}: line is not a JSON object")
        question = _question(item, where)
        if question.id in seen:
            raise DatasetError(f"{where}: duplicate id {question.id!r}")
        seen.add(question.id)
        questions.append(question)
    if not questions:
        raise DatasetError(f"{questions_file}: no questions")
    return Dataset(name or root.resolve().name, root, article_dir, questions)


def _question(item: dict[str, object], where: str) -> Question:
    qid, text = item.get("id"), item.get("question")
    if not isinstance(qid, (str, int)) or isinstance(qid, bool):
        raise DatasetError(f"{where}: missing or bad 'id'")
    if not isinstance(text, str) or not text.strip():
        raise DatasetError(f"{where}: missing or empty 'question'")
    lists: dict[str, list[str]] = {}
    for key in ("answers", "evidence", "tags"):
        value = item.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DatasetError(f"{where}: '{key}' must be a list of strings")
        lists[key] = value
    return Question(str(qid), text.strip(), lists["answers"], lists["evidence"], lists["tags"])
