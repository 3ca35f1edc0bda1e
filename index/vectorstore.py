"""The vector store: Chroma, embedded (PersistentClient) or a Chroma server (HttpClient).

Writes go through LlamaIndex's ChromaVectorStore, so the collection holds standard LlamaIndex
nodes that other LlamaIndex code can read: a node a section of an article (index/sections.py),
its metadata the article's id, title, source, url and date, and the section's character offsets
in the article's text. The nodes hold no text: Chroma would keep it twice (as the document and
in its full-text index), four copies of every article with the catalog's, for nothing the answer
path reads (issue #22); the text is the catalog's (`Assistant.article`). Reads call Chroma
directly: importing LlamaIndex costs about a second, and a cold `assistant ask` must answer in
under three.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from index.sqlite import disk_full

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0

class VectorStoreError(Exception):
    """Chroma could not be reached or used. The message is one line."""


@dataclass
class NodeToStore:
    """One vector to write: a section of an article (index/sections.py), as a LlamaIndex node."""

    node_id: str
    article_id: str
    start: int
    end: int
    vector: np.ndarray
    metadata: dict[str, Any]


# The companion collections `<name>-<suffix>` beside a collection's vectors (index/record.py,
# assistant/store.py).
COMPANION_SUFFIXES = ("articles", "state")


class ChromaStore:
    def __init__(self, path: Path | None = None, url: str | None = None,
                 collection: str = "articles", *, token: str | None = None,
                 token_header: str = "Authorization", tenant: str = "default_tenant",
                 database: str = "default_database",
                 timeout: float = DEFAULT_TIMEOUT_S) -> None:
        if len(collection) < 3:
            raise VectorStoreError(f"collection name {collection!r} is too short (3+ characters)")
        self.location = url or str(path)
        self.url = url
        self.path = path
        self.name = collection
        # Seconds any one request to a Chroma server may go unanswered (an embedded store
        # has no requests to bound).
        self.timeout = timeout
        self._max_batch: int | None = None
        self._options = dict(token=token, token_header=token_header, tenant=tenant,
                             database=database)
        self._open()

    def _where(self) -> str:
        return f"Chroma server at {self.url}" if self.url else f"Chroma store at {self.path}"

    def _unavailable(self, exc: BaseException) -> VectorStoreError:
        if _timed_out(exc):
            # httpx says only "timed out", and chromadb's constructor turns that into a
            # ValueError, even "Could not connect to tenant ...": name the server and the limit.
            return VectorStoreError(f"{self._where()} did not answer within {self.timeout:g} s "
                                    "(ASSISTANT_CHROMA_TIMEOUT_S)")
        reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        if disk_full(exc):  # Chroma words it as any database error: say what it is
            return VectorStoreError(f"{self._where()} cannot be written: the disk is full "
                                    f"({reason}); free some space and run the command again")
        return VectorStoreError(f"{self._where()} is unavailable: {reason}")

    def call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one Chroma request; any failure (a server gone away, a refused request) is a
        one-line VectorStoreError instead of chromadb's or httpx's own exception."""
        try:
            return method(*args, **kwargs)
        except VectorStoreError:
            raise
        except Exception as exc:
            raise self._unavailable(exc) from None

    def _open(self) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        url, path, options = self.url, self.path, self._options
        headers: dict[str, str] = {}
        try:
            if url:
                parsed = urlparse(url if "://" in url else f"http://{url}")
                # Checked here because chromadb would report "could not connect" for any
                # malformed URL, which sends the user looking for a server problem.
                if (parsed.scheme not in ("http", "https") or not parsed.hostname
                        or any(c.isspace() for c in url)):
                    raise VectorStoreError(f"bad Chroma URL {url!r}; expected http://HOST:PORT")
                if parsed.path.strip("/") or parsed.query or parsed.fragment:
                    # chromadb's client speaks to HOST:PORT/api/v2 only: a Chroma behind a
                    # proxy's path prefix would be looked for at the wrong place, silently.
                    raise VectorStoreError(f"bad Chroma URL {url!r}: a path or query is not "
                                           "supported; expected http://HOST:PORT")
                if options["token"]:
                    header = options["token_header"]
                    headers[header] = (f"Bearer {options['token']}"
                                       if header.lower() == "authorization" else options["token"])
                # What chromadb.HttpClient does, with our client class in place of its own.
                chroma_settings.chroma_api_impl = "chromadb.api.fastapi.FastAPI"
                chroma_settings.chroma_server_host = parsed.hostname
                chroma_settings.chroma_server_http_port = parsed.port or (
                    443 if parsed.scheme == "https" else 8000)
                chroma_settings.chroma_server_ssl_enabled = parsed.scheme == "https"
                chroma_settings.chroma_server_headers = headers
                self._client = _bounded_http_client()(
                    timeout=self.timeout, settings=chroma_settings, tenant=options["tenant"],
                    database=options["database"])
                self._client.heartbeat()
            else:
                assert path is not None
                path.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
            self._refuse_a_companion()
            # No embedding function: we always pass our own vectors, and Chroma's default one
            # would try to download a model.
            self._collection = self._client.get_or_create_collection(
                name=self.name, embedding_function=None, metadata={"hnsw:space": "cosine"}
            )
        except VectorStoreError:
            raise
        except Exception as exc:  # chromadb raises many types; the user needs one line
            if url and not str(exc):
                raise VectorStoreError(self._refusal(headers)) from None
            raise self._unavailable(exc) from None

    def _refuse_a_companion(self) -> None:
        """A name such as "twin-articles" is the companion collection of the collection "twin"
        (its article records, `side_collection`). Opened as vectors, its records looked like
        orphaned vectors: `check --repair` deleted them, and an ingest wrote over them, so
        another deployment on the server lost its articles. Refused while "twin" exists."""
        for suffix in COMPANION_SUFFIXES:
            owner = self.name.removesuffix(f"-{suffix}")
            if owner == self.name or len(owner) < 3:
                continue
            try:
                self._client.get_collection(owner)
            except Exception:  # no such collection: the name is free to use
                continue
            raise VectorStoreError(
                f"the collection {self.name!r} on {self.location} holds the {suffix} records of "
                f"the collection {owner!r}; choose another ASSISTANT_COLLECTION")

    def _refusal(self, headers: dict[str, str]) -> str:
        """chromadb reports a refused request (401, 403, an unknown tenant) with no message;
        ask the server ourselves what it says."""
        import httpx

        base = (self.url or "").rstrip("/")
        try:
            reply = httpx.get(f"{base}/api/v2/auth/identity", headers=headers,
                              timeout=self.timeout)
        except httpx.HTTPError as exc:
            return str(self._unavailable(exc))
        if reply.status_code in (401, 403):
            hint = "wrong ASSISTANT_CHROMA_TOKEN" if headers else "set ASSISTANT_CHROMA_TOKEN"
            return (f"{self._where()} refused the request (HTTP {reply.status_code}): "
                    f"{hint} (sent in ASSISTANT_CHROMA_TOKEN_HEADER)")
        return (f"{self._where()} refused the request (HTTP {reply.status_code}); check "
                "ASSISTANT_CHROMA_TENANT and ASSISTANT_CHROMA_DATABASE")

    def reopen(self) -> None:
        """An embedded client keeps the vector index it loaded: vectors another process wrote
        since are not found (Chroma's "Error finding id"), and writing over them would lose
        theirs. Drop the cached client and load the folder afresh."""
        if self.url:
            return
        from chromadb.api.shared_system_client import SharedSystemClient

        # Not stopped: a question running in another thread may still be using it; it is freed
        # when the last reference goes.
        SharedSystemClient._identifier_to_system.pop(str(self.path), None)
        self._open()

    def side_collection(self, suffix: str) -> Any:
        """A companion collection (`<name>-<suffix>`) for records that are not chunk vectors."""
        return self.call(self._client.get_or_create_collection, name=f"{self.name}-{suffix}",
                         embedding_function=None)

    def drop(self) -> None:
        """Delete this collection and its companions (a throwaway evaluation store)."""
        for name in (self.name, *(f"{self.name}-{suffix}" for suffix in COMPANION_SUFFIXES)):
            try:
                self._client.delete_collection(name)
            except Exception as exc:  # not there: nothing to drop
                log.debug("dropping %s: %s", name, exc)

    def add(self, nodes: list[NodeToStore]) -> None:
        if not nodes:
            return
        from llama_index.vector_stores.chroma import ChromaVectorStore

        store = ChromaVectorStore(chroma_collection=self._collection)
        # Chroma refuses a write over its max batch size (5,461 on 1.5), and a whole big
        # file's nodes as Python lists would hold gigabytes: write a batch at a time.
        batch = max(1, min(self.max_batch_size, 4096))
        for begin in range(0, len(nodes), batch):
            self._add_batch(store, nodes[begin:begin + batch])

    @property
    def max_batch_size(self) -> int:
        if self._max_batch is None:
            try:
                self._max_batch = int(self._client.get_max_batch_size())
            except Exception as exc:
                if _timed_out(exc):  # a stalled server: the write would stall too
                    raise self._unavailable(exc) from None
                self._max_batch = 5461  # an older server without the call: Chroma's old limit
        return self._max_batch

    def _add_batch(self, store: Any, nodes: list[NodeToStore]) -> None:
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

        text_nodes = []
        for node in nodes:
            text_node = TextNode(
                id_=node.node_id, text="", embedding=node.vector.tolist(),
                start_char_idx=node.start, end_char_idx=node.end,
                metadata={"article_id": node.article_id, **node.metadata},
            )
            text_node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(
                node_id=node.article_id
            )
            text_nodes.append(text_node)
        try:
            store.add(text_nodes)
        except Exception as exc:
            raise self._unavailable(exc) from None

    def delete(self, ids: Collection[str]) -> None:
        ids = sorted(ids)
        for begin in range(0, len(ids), 1000):
            self.call(self._collection.delete, ids=ids[begin:begin + 1000])

    def delete_article(self, article_id: str) -> None:
        """Drop every vector of an article, including orphans of an interrupted ingest."""
        self.call(self._collection.delete, where={"document_id": article_id})

    def ids_of_article(self, article_id: str) -> list[str]:
        return list(self.call(self._collection.get, where={"document_id": article_id},
                              include=[])["ids"])

    def ids_of_articles(self, article_ids: list[str]) -> list[str]:
        """Vector ids of many articles in one round trip per 500 articles."""
        ids: list[str] = []
        for begin in range(0, len(article_ids), 500):
            batch = article_ids[begin:begin + 500]
            where = {"document_id": {"$in": batch}} if len(batch) > 1 else {"document_id": batch[0]}
            ids.extend(self.call(self._collection.get, where=where, include=[])["ids"])
        return ids

    def query(self, vector: np.ndarray, k: int, article_ids: Collection[str] | None = None
              ) -> list[tuple[str, float]]:
        """Nearest vectors (sections, index/sections.py) as (id, cosine similarity), best
        first; only those of `article_ids` when given."""
        # No count() first: Chroma 1.x returns fewer results when asked for more than it holds,
        # and the extra round trip cost 3-7 ms a query at 10,000 articles.
        where: dict[str, Any] | None = None
        if article_ids is not None:
            ids = sorted(article_ids)
            where = {"document_id": {"$in": ids}} if len(ids) > 1 else {"document_id": ids[0]}
        try:
            result = self._collection.query(
                query_embeddings=[vector.tolist()], n_results=k, include=["distances"], where=where
            )
        except Exception as exc:
            raise self._unavailable(exc) from None
        return [(cid, 1.0 - float(d)) for cid, d in zip(result["ids"][0], result["distances"][0],
                                                        strict=True)]

    def count(self) -> int:
        return int(self.call(self._collection.count))

    def embeddings(self, ids: list[str]) -> dict[str, list[float]]:
        """The stored vectors of these ids (those Chroma can read back)."""
        got = self.call(self._collection.get, ids=ids, include=["embeddings"])
        return {cid: list(vector) for cid, vector in zip(got["ids"], got["embeddings"], strict=True)}

    def all_ids(self, page: int = 5000) -> list[str]:
        ids: list[str] = []
        while True:
            batch = self.call(self._collection.get, include=[], limit=page,
                              offset=len(ids))["ids"]
            ids.extend(batch)
            if len(batch) < page:
                return ids


def _timed_out(exc: BaseException | None) -> bool:
    """Whether a request went unanswered past the timeout, also when chromadb re-raised it as
    another exception (it keeps the original as the context)."""
    import httpx  # here, like chromadb (which loads it anyway): `assistant --help` stays quick

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, httpx.TimeoutException):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


@functools.cache
def _bounded_http_client() -> type:
    """chromadb's HTTP client class, with a time limit on every request.

    chromadb (1.5) builds each client's httpx session with `timeout=None` and has no setting
    for one, so a server that accepts connections but never answers (stopped, overloaded, a
    half-open link) holds the caller, and a worker of the API's answer pool, forever. And its
    constructor already sends requests (the identity check through the client's session, the
    tenant and database checks through a second, admin client's). So httpx's own timeout is set
    on each session the moment the constructor stores the object that holds it, before any of
    those requests. A class, not a wrapper: Chroma's Collection objects take the client's
    server object, and with it the bounded session.
    """
    import httpx
    from chromadb.api.client import Client

    class BoundedHttpClient(Client):
        def __init__(self, *, timeout: float, **kwargs: Any) -> None:
            self._timeout = httpx.Timeout(timeout)
            super().__init__(**kwargs)

        def _bound(self, server: Any) -> Any:
            session = getattr(server, "_session", None)
            if isinstance(session, httpx.Client):
                session.timeout = self._timeout
            else:  # a chromadb that builds its sessions otherwise: say so rather than hang mutely
                log.warning("cannot set a timeout on chromadb's %s; requests to the Chroma "
                            "server are not bounded", type(server).__name__)
            return server

        # Client.__init__ assigns these two; AttributeError until then, as chromadb expects.
        @property  # type: ignore[override]
        def _server(self) -> Any:
            return self._bounded_server

        @_server.setter
        def _server(self, server: Any) -> None:
            self._bounded_server = self._bound(server)

        @property  # type: ignore[override]
        def _admin_client(self) -> Any:
            return self._bounded_admin

        @_admin_client.setter
        def _admin_client(self, admin: Any) -> None:
            self._bound(admin._server)
            self._bounded_admin = admin

    return BoundedHttpClient
