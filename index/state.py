"""What processes sharing one store tell each other: a change token and a writer's lease.

Two backends, one contract:
- `LocalState`: a store folder (embedded Chroma). Both records live in `state.sqlite` there,
  whose transactions are atomic across processes.
- `ServerState`: a Chroma server. Both records live in a small `<collection>-state` collection
  on the server, so app processes on different machines see the same ones. Chroma has no
  transactions, but an `add` of an id that exists is ignored and a `delete` can carry a
  metadata condition: together they make the compare-and-set a lease needs.

The change token is a random string replaced after every committed write. A reader that saw
token T and now sees another one re-reads what changed (see `Assistant._refresh`). The lease is
one record with an owner and an expiry: an ingest (or remove, or repair) holds it while it
writes, renewing it from a background thread, so two writers are serialised; a crashed writer's
lease simply expires. Expiry compares wall clocks, so machines sharing a server must keep their
clocks within a few seconds (NTP), far less than the lease's length.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from index.sqlite import SQLiteFile

log = logging.getLogger(__name__)

_TOKEN_ID = "changes"
_LEASE_ID = "ingest-lease"
_INFO_ID = "store-info"
# The state collection's records carry no meaningful vector, but Chroma requires one.
_PLACEHOLDER = [1.0, 0.0]


class LeaseTimeout(Exception):
    """Another process held the store's lease for longer than we were willing to wait."""


class StoreState(Protocol):
    def token(self) -> str: ...

    def bump(self) -> str: ...

    def try_take(self, owner: str, holder: str, expires: float) -> tuple[bool, str, float]:
        """Take the lease if it is free or expired. Returns (taken, holder, expires) of the
        lease as it now stands."""
        ...

    def renew(self, owner: str, expires: float) -> bool: ...

    def release(self, owner: str) -> None: ...

    def evict(self, holder: str) -> None:
        """Drop the lease of `holder`, a process known to be dead."""
        ...


def holder_name() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()}"


def holder_is_dead(holder: str) -> bool:
    """Whether the lease's holder is a process on this machine that no longer runs (killed
    before it could release the lease). Another machine's process is never judged: its lease
    expires instead."""
    pid, _, host = holder.removeprefix("pid ").partition(" on ")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


class LocalState:
    """The token and the lease as rows of a small SQLite file in the store folder
    (`state.sqlite`), whose transactions are atomic across processes. Not the catalog's file:
    a big article is written to the catalog in one long transaction, which must not hold up the
    lease's renewal."""

    def __init__(self, path: Path) -> None:
        self.file = SQLiteFile(path, (
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, "
            "holder TEXT NOT NULL, expires REAL NOT NULL);"))

    def token(self) -> str:
        row = self.file.read().execute("SELECT value FROM meta WHERE key=?", (_TOKEN_ID,)).fetchone()
        return row[0] if row else ""

    def bump(self) -> str:
        token = uuid.uuid4().hex
        with self.file.write() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (_TOKEN_ID, token))
        return token

    def try_take(self, owner: str, holder: str, expires: float) -> tuple[bool, str, float]:
        with self.file.write() as db:
            row = db.execute("SELECT owner, holder, expires FROM leases WHERE name=?",
                             (_LEASE_ID,)).fetchone()
            if row is None or row[0] == owner or row[2] < time.time():
                db.execute("INSERT OR REPLACE INTO leases VALUES (?,?,?,?)",
                           (_LEASE_ID, owner, holder, expires))
                return True, holder, expires
            return False, row[1], row[2]

    def renew(self, owner: str, expires: float) -> bool:
        with self.file.write() as db:
            return db.execute("UPDATE leases SET expires=? WHERE name=? AND owner=?",
                              (expires, _LEASE_ID, owner)).rowcount == 1

    def release(self, owner: str) -> None:
        with self.file.write() as db:
            db.execute("DELETE FROM leases WHERE name=? AND owner=?", (_LEASE_ID, owner))

    def evict(self, holder: str) -> None:
        with self.file.write() as db:
            db.execute("DELETE FROM leases WHERE name=? AND holder=?", (_LEASE_ID, holder))


class ServerState:
    """The token and the lease as records of a collection on the Chroma server. `call` wraps
    each request so a server that goes away is one line (ChromaStore.call)."""

    def __init__(self, collection: Any, call: Callable[..., Any]) -> None:
        self.collection = collection
        self.call = call

    def token(self) -> str:
        got = self.call(self.collection.get, ids=[_TOKEN_ID], include=["metadatas"])
        return str(got["metadatas"][0].get("token", "")) if got["ids"] else ""

    def bump(self) -> str:
        token = uuid.uuid4().hex
        self.call(self.collection.upsert, ids=[_TOKEN_ID], embeddings=[_PLACEHOLDER],
                  metadatas=[{"token": token, "at": time.time()}])
        return token

    def info(self) -> dict[str, str]:
        """Store-wide settings (the embedder's name) every process must agree on."""
        got = self.call(self.collection.get, ids=[_INFO_ID], include=["metadatas"])
        return {k: str(v) for k, v in got["metadatas"][0].items()} if got["ids"] else {}

    def set_info(self, key: str, value: str) -> None:
        info = {**self.info(), key: value}
        self.call(self.collection.upsert, ids=[_INFO_ID], embeddings=[_PLACEHOLDER],
                  metadatas=[info])

    def _lease(self) -> dict[str, Any] | None:
        got = self.call(self.collection.get, ids=[_LEASE_ID], include=["metadatas"])
        return dict(got["metadatas"][0]) if got["ids"] else None

    def try_take(self, owner: str, holder: str, expires: float) -> tuple[bool, str, float]:
        # `add` of an existing id is ignored: of two processes adding at once, one record wins,
        # and each reads back whose it is.
        self.call(self.collection.add, ids=[_LEASE_ID], embeddings=[_PLACEHOLDER],
                  metadatas=[{"owner": owner, "holder": holder, "expires": expires}])
        lease = self._lease()
        if lease is None:  # released between our add and our read: try again
            return False, "", 0.0
        if lease["owner"] == owner:
            return True, holder, float(lease["expires"])
        if float(lease["expires"]) < time.time():
            # Expired: delete it only if it is still that owner's, so two processes that both
            # saw it expire cannot delete each other's fresh lease.
            self.call(self.collection.delete, ids=[_LEASE_ID], where={"owner": lease["owner"]})
            return False, "", 0.0
        return False, str(lease.get("holder", "")), float(lease["expires"])

    def renew(self, owner: str, expires: float) -> bool:
        lease = self._lease()
        if lease is None or lease["owner"] != owner:
            return False
        self.call(self.collection.update, ids=[_LEASE_ID],
                  metadatas=[{"owner": owner, "holder": lease.get("holder", ""),
                              "expires": expires}])
        return True

    def release(self, owner: str) -> None:
        self.call(self.collection.delete, ids=[_LEASE_ID], where={"owner": owner})

    def evict(self, holder: str) -> None:
        self.call(self.collection.delete, ids=[_LEASE_ID], where={"holder": holder})


# The leases this process holds now (their owner ids), and the lock under which one is taken
# and recorded, so a thread never mistakes another's newly taken lease for a stale one.
_HELD_HERE: set[str] = set()
_TAKING = threading.Lock()


@contextmanager
def lease(state: StoreState, *, seconds: float = 60.0, wait: float = 3600.0,
          on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the store's writer lease for the body of the `with`; wait up to `wait` seconds for
    another holder. The lease is renewed every third of `seconds` while held."""
    owner = uuid.uuid4().hex
    holder = holder_name()
    deadline = time.monotonic() + wait
    told = False
    while True:
        with _TAKING:
            taken, other, until = state.try_take(owner, holder, time.time() + seconds)
            if taken:
                _HELD_HERE.add(owner)
            # Our own process's lease while we hold none: one whose release failed (the server
            # went away at the end of a write). Waiting for it to expire would stall this
            # process's next write for up to a lease's length.
            left_by_us = not taken and other == holder and not _HELD_HERE
        if taken:
            break
        if left_by_us:
            log.info("dropping a store lease this process left behind (its release failed)")
            state.evict(holder)
            continue
        if other and holder_is_dead(other):
            log.info("taking over the store lease of %s, which is no longer running", other)
            state.evict(other)
            continue
        if time.monotonic() > deadline:
            raise LeaseTimeout(f"another ingest ({other or 'a process'}) is writing to this store; "
                               f"gave up waiting after {wait:.0f} s")
        if other and not told:
            message = (f"waiting for another ingest ({other}) to finish writing to this store "
                       f"(its lease runs to {time.strftime('%H:%M:%S', time.localtime(until))} "
                       "unless renewed)")
            # At WARNING, shown by default: a writer that waits silently, for up to an hour,
            # looks hung.
            log.warning(message)
            if on_wait:
                on_wait(message)
            told = True
        time.sleep(0.2 if not other else 0.5)
    stop = threading.Event()

    def keep_alive() -> None:
        while not stop.wait(seconds / 3):
            try:
                if not state.renew(owner, time.time() + seconds):
                    log.warning("the store lease was lost (expired and taken by another process)")
                    return
            except Exception as exc:  # a server blip: the next renewal may succeed
                log.warning("could not renew the store lease: %s", str(exc).splitlines()[0])

    renewer = threading.Thread(target=keep_alive, name="store-lease", daemon=True)
    renewer.start()
    write_failed = False
    try:
        yield
    except BaseException:
        write_failed = True
        raise
    finally:
        stop.set()
        renewer.join(timeout=5)
        try:
            state.release(owner)
        except Exception as exc:  # it expires by itself, or this process's next write drops it
            # After a write that failed (a server gone in the middle), its own error says what
            # happened: a second line about the lease made the CLI's one-line error two.
            log.log(logging.INFO if write_failed else logging.WARNING,
                    "could not release the store lease: %s", str(exc).splitlines()[0])
        finally:
            with _TAKING:
                _HELD_HERE.discard(owner)
