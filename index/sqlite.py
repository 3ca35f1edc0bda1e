"""One SQLite file shared by threads (a connection each) and by processes (WAL journal; writes
in BEGIN IMMEDIATE transactions, so a writer waits for another instead of failing midway)."""

from __future__ import annotations

import errno
import os
import re
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

# What went wrong with a SQLite file, as far as what the user should do next differs:
# "damaged" is the only one that setting the file aside (`check --repair`) can help.
Problem = Literal["damaged", "full", "locked", "unavailable"]

# Free space below which a failure to open or write a SQLite file is taken for a full disk.
OUT_OF_SPACE_BYTES = 1 << 20

# SQLite's primary result codes (https://sqlite.org/rescode.html) that tell these apart.
_DAMAGED_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_FULL_CODES = {13}  # SQLITE_FULL
_LOCKED_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED


class SQLiteFile:
    def __init__(self, path: Path, schema: str) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        # executescript manages its own transaction; the schema must be idempotent.
        self.read().executescript(schema)

    def read(self) -> sqlite3.Connection:
        """This thread's connection (autocommit: each statement is its own transaction)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        db = self.read()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        else:
            db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def problem_of(exc: sqlite3.Error) -> Problem:
    """What kind of failure a SQLite error is. Only a file SQLite opened and found corrupt, or
    found not to be a database, is damaged: "unable to open database file" is a permission, a
    read-only store or a missing folder, and setting such a file aside would lose a healthy one."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        primary = code & 0xFF  # extended codes carry the primary one in their low byte
        if primary in _DAMAGED_CODES:
            return "damaged"
        if primary in _FULL_CODES:
            return "full"
        if primary in _LOCKED_CODES:
            return "locked"
        return "unavailable"
    # Errors raised without a code (older Pythons, some wrappers): go by SQLite's words.
    message = str(exc).lower()
    if "malformed" in message or "not a database" in message:
        return "damaged"
    if "disk is full" in message:
        return "full"
    if "locked" in message or "busy" in message:
        return "locked"
    return "unavailable"


def access_problem(path: Path) -> str:
    """Why this process cannot use a SQLite file (or a folder of them), in the operating
    system's words ("it cannot be read: permission denied"; empty when nothing is found): the
    file cannot be read or written (owner, mode, `chattr +i`, a read-only mount), or its
    folder takes no new files (SQLite's -wal and -shm files). Nothing is changed: the file is
    opened for writing without truncating (and without blocking: it may be a FIFO) and closed
    again."""
    if path.is_dir():
        return "" if os.access(path, os.W_OK) else "it is not writable"
    if path.exists():
        for mode, what in ((os.O_RDONLY, "read"), (os.O_WRONLY, "written")):
            try:
                os.close(os.open(path, mode | os.O_NONBLOCK))
            except OSError as exc:
                return f"it cannot be {what}: {_strerror(exc)}"
    folder = path.parent
    if folder.is_dir() and not os.access(folder, os.W_OK):
        return f"its folder {folder} is not writable"
    return ""


def failure_message(exc: sqlite3.Error, path: Path, what: str, *others: Path
                    ) -> tuple[Problem, str]:
    """The kind of a SQLite failure met while using `what` at `path` (or other SQLite files
    beside it, `others`, which the error may have come from), and a one-line message that
    says which kind it is and what to do."""
    problem = problem_of(exc)
    reason = first_line(exc)
    folder = path if path.is_dir() else path.parent
    if problem == "unavailable" and _out_of_space(folder):
        # SQLite reports a -shm file it could not size on a full disk as "disk I/O error"
        # (SQLITE_IOERR_SHMSIZE), not SQLITE_FULL.
        problem = "full"
    if problem == "damaged":
        return problem, f"{what} at {path} is damaged ({reason})"
    if problem == "full":
        return problem, (f"cannot write to {folder}: the disk is full ({reason}); free some "
                         "space and run the command again")
    if problem == "locked":
        return problem, (f"{what} at {path} is locked by another process ({reason}); run the "
                         "command again when it has finished")
    found = next((why if file == path else f"{file.name}: {why}"
                  for file in (path, *others) if (why := access_problem(file))), "")
    return problem, (f"cannot open {what} at {path} ({reason}" + (f"; {found}" if found else "")
                     + "); check the owner, permissions and read-only flags of the store")


# How a full disk reads in errors that lost their errno on the way: SQLite's "database or disk
# is full" (code 13, also inside Chroma's own "(code: 13)"), the OS's ENOSPC as Rust's Chroma
# writes it ("No space left on device (os error 28)").
_DISK_FULL = re.compile(r"disk is full|no space left on device|os error 28|\(code: 13\)",
                        re.IGNORECASE)


def disk_full(exc: BaseException | None) -> bool:
    """Whether a failure, or one it came from, is a full disk (ENOSPC, SQLITE_FULL)."""
    for _ in range(10):  # a chain of causes, bounded
        if exc is None:
            return False
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        if isinstance(exc, sqlite3.Error) and problem_of(exc) == "full":
            return True
        if _DISK_FULL.search(str(exc)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _out_of_space(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < OUT_OF_SPACE_BYTES
    except OSError:
        return False


def first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__


def _strerror(exc: OSError) -> str:
    if exc.errno == errno.EPERM:  # what `chattr +i` gives even to root
        return "operation not permitted (immutable or read-only)"
    return (exc.strerror or str(exc)).lower()
