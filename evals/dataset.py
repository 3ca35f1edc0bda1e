"""Evaluation datasets: a folder with questions.jsonl and (usually) articles/.

Each line of questions.jsonl is one JSON object:

    {"id": "q1", "question": "...", "answers": ["..."], "evidence": ["..."], "tags": ["..."]}

`answers` lists acceptable short answers (any one counts); an empty list means the articles do
not answer the question, and the assistant should abstain. `evidence` lists verbatim snippets of
the articles that support the answer. The articles may live elsewhere (`articles=`), so a
dataset over copyrighted articles need not contain them.

Four more keys are ignored here: `values` (conflict sets: each source's spellings of its value)
and `answer_would_be` (noise sets: the answer the off-topic snippets would give), read by
benchmarks/reader.py, and `note` and `answer_given`, which the web chat's feedback export adds.
Any other key is an error: a misspelt `answer` or `evidance` would otherwise silently turn the
question unanswerable or unlocatable.
"""

from __future__ import annotations

import codecs
import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeGuard

# The keys a question line may hold. `values` and `answer_would_be` are the shared RGB sets'
# (benchmarks/reader.py reads them); `note` and `answer_given` are what the web chat's feedback
# export adds (ui/conversations.py), so an exported dataset runs as it is.
QUESTION_KEYS = ("id", "question", "answers", "evidence", "tags", "values", "answer_would_be",
                 "note", "answer_given")
# A snippet this short, or without a letter or digit, is found in many places or nowhere: it
# would make retrieval "relevant" at random. The shortest in our sets has 20 characters.
MIN_EVIDENCE_CHARS = 8
# Bad lines listed before giving up: enough to fix a file in one go, few enough to read.
MAX_LISTED_PROBLEMS = 20


class DatasetError(Exception):
    """The dataset folder or some of its lines are malformed: `problems` holds one line each."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


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

    @property
    def questions_file(self) -> Path:
        return self.path / "questions.jsonl"


def check_name(name: str) -> str:
    """The dataset name, which names report files (NAME.json, ...) and keys the baseline and
    thresholds: a path separator or '..' would write reports outside --report."""
    if not name.strip():
        raise DatasetError("the dataset name is empty: give --name NAME")
    if "/" in name or "\\" in name or name in (".", "..") or not name.isprintable():
        raise DatasetError(f"bad dataset name {name!r}: it names report files, so no '/', '\\', "
                           "'..' or control characters")
    return name


def load_dataset(path: str | Path, articles: str | Path | None = None,
                 name: str | None = None) -> Dataset:
    """Read DIR/questions.jsonl; articles default to DIR/articles. Every bad line is reported
    (up to MAX_LISTED_PROBLEMS), not only the first."""
    root = Path(path)
    questions_file = root / "questions.jsonl"
    if not questions_file.is_file():
        raise DatasetError(f"{root}: no questions.jsonl")
    article_dir = Path(articles) if articles is not None else root / "articles"
    if not article_dir.exists():
        hint = "" if articles is not None else "; pass --articles DIR"
        raise DatasetError(f"{article_dir}: no such articles folder{hint}")
    dataset_name = check_name(root.resolve().name if name is None else name)
    try:
        raw = questions_file.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{questions_file}: cannot read ({exc.__class__.__name__})") from None
    questions: list[Question] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, line in _lines(questions_file, raw, problems):
        where = f"{questions_file}:{number}"
        try:
            question = _parse_line(line, where)
        except DatasetError as exc:
            problems.extend(exc.problems)
            continue
        if question.id in seen:
            problems.append(f"{where}: duplicate id {question.id!r} (first on line {seen[question.id]})")
            continue
        seen[question.id] = number
        questions.append(question)
    if problems:
        listed = problems[:MAX_LISTED_PROBLEMS]
        if len(problems) > len(listed):
            listed.append(f"{questions_file}: and {len(problems) - len(listed)} more bad lines")
        raise DatasetError(listed)
    if not questions:
        raise DatasetError(f"{questions_file}: no questions")
    return Dataset(dataset_name, root, article_dir, questions)


def _lines(questions_file: Path, raw: bytes, problems: list[str]) -> list[tuple[int, str]]:
    """(line number, text) of each non-blank line. A UTF-8 byte order mark at the start is
    accepted (editors on Windows write one); bytes that are not UTF-8 are reported with their
    line and their byte offset in the file."""
    offset = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    lines: list[tuple[int, str]] = []
    for number, chunk in enumerate(raw[offset:].split(b"\n"), start=1):
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(f"{questions_file}:{number}: not UTF-8 (byte 0x{chunk[exc.start]:02x} at "
                            f"byte offset {offset + exc.start} of the file)")
            text = ""
        if text.strip():
            lines.append((number, text))
        offset += len(chunk) + 1
    return lines


def _parse_line(line: str, where: str) -> Question:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{where}: malformed JSON ({exc.msg})") from None
    if not isinstance(item, dict):
        raise DatasetError(f"{where}: line is not a JSON object")
    return _question(item, where)


def _unknown_key_message(key: str) -> str:
    close = difflib.get_close_matches(key, QUESTION_KEYS, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(QUESTION_KEYS)}"
    return f"unknown key {key!r} ({hint})"


def _is_string_list(value: object) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _question(item: dict[str, object], where: str) -> Question:
    unknown = [key for key in item if key not in QUESTION_KEYS]
    if unknown:
        raise DatasetError(f"{where}: " + "; ".join(_unknown_key_message(k) for k in unknown))
    qid, text = item.get("id"), item.get("question")
    if not isinstance(qid, (str, int)) or isinstance(qid, bool):
        raise DatasetError(f"{where}: missing or bad 'id'")
    if not str(qid).strip():
        raise DatasetError(f"{where}: blank 'id'")
    if not isinstance(text, str) or not text.strip():
        raise DatasetError(f"{where}: missing or empty 'question'")
    lists: dict[str, list[str]] = {}
    for key in ("answers", "evidence", "tags", "answer_would_be"):
        value = item.get(key, [])
        if not _is_string_list(value):
            raise DatasetError(f"{where}: '{key}' must be a list of strings")
        lists[key] = value
    values = item.get("values", [])
    if not isinstance(values, list) or not all(_is_string_list(v) for v in values):
        raise DatasetError(f"{where}: 'values' must be a list of lists of strings")
    for n, answer in enumerate(lists["answers"], start=1):
        if not answer.strip():
            raise DatasetError(f"{where}: answer {n} in 'answers' is empty (an unanswerable "
                               "question has \"answers\": [])")
    for n, snippet in enumerate(lists["evidence"], start=1):
        if len(snippet.strip()) < MIN_EVIDENCE_CHARS or not any(c.isalnum() for c in snippet):
            raise DatasetError(f"{where}: evidence snippet {n} ({snippet!r}) cannot be located "
                               f"reliably: give at least {MIN_EVIDENCE_CHARS} characters of the "
                               "article's text, with letters or digits")
    return Question(str(qid), text.strip(), lists["answers"], lists["evidence"], lists["tags"])
