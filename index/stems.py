"""Porter stems as SQLite's FTS5 tokenizer gives them."""

from __future__ import annotations

import sqlite3
import threading


class PorterStems:
    """Maps words to the stems SQLite's FTS5 porter tokenizer gives them: the answer path
    matches question and sentence words by these stems."""

    def __init__(self) -> None:
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute("CREATE VIRTUAL TABLE w USING fts5(text, tokenize='porter unicode61')")
        self._db.execute("CREATE VIRTUAL TABLE wv USING fts5vocab(w, 'instance')")
        self._lock = threading.Lock()
        self._cache: dict[str, str] = {}

    def stems(self, words: list[str]) -> dict[str, str]:
        missing = [w for w in dict.fromkeys(words) if w not in self._cache]
        if missing:
            with self._lock:
                self._db.execute("DELETE FROM w")
                self._db.executemany("INSERT INTO w(rowid, text) VALUES (?, ?)",
                                     list(enumerate(missing)))
                for term, doc in self._db.execute("SELECT term, doc FROM wv"):
                    self._cache[missing[doc]] = term
                for w in missing:
                    self._cache.setdefault(w, w)
        return {w: self._cache[w] for w in words}
