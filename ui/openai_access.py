"""Who may call the OpenAI-compatible API (ui/openai_api.py) and how much: errors in OpenAI's
shape (`APIError`, `error_response`), API keys matched in constant time (`APIKeys`), per-key
token buckets (`TokenBucket`, which the chat's sign-in limit uses too) and the request body
limit (`BodyLimit`)."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class APIError(Exception):
    """An error answered in OpenAI's shape: {"error": {"message", "type", "param", "code"}}."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.code = status, message, kind, code
        self.param, self.headers = param, headers

    def response(self) -> JSONResponse:
        return error_response(self.status, self.message, self.kind, self.code, self.param,
                              self.headers)


def error_response(status: int, message: str, kind: str = "invalid_request_error",
                   code: str | None = None, param: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    # An error may echo what the caller sent (an unknown key, an article id): text that is not
    # valid Unicode is escaped, so the error can always be sent instead of becoming a 500.
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


class TokenBucket:
    """Per-key token buckets: `rate_per_minute` requests a minute, up to `burst` at once."""

    def __init__(self, rate_per_minute: float, burst: int) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _tokens(self, key: str, now: float) -> float:
        """`key`'s tokens now (call with the lock held)."""
        tokens, last = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - last) * self.rate)

    def take(self, key: str) -> float:
        """Take one token for `key`: 0.0 when allowed, else the seconds until one is free."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens = self._tokens(key, now)
            if len(self._buckets) >= self.MAX_KEYS:
                self._forget_full(now)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def wait(self, key: str) -> float:
        """The seconds until `key` has a token, taking none: 0.0 when it has one."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            tokens = self._tokens(key, time.monotonic())
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    # A bucket that has refilled is the same as no bucket: forgetting those bounds the table
    # (one entry per address that ever called) without letting anyone skip a wait.
    MAX_KEYS = 10_000

    def _forget_full(self, now: float) -> None:
        for key in [k for k in self._buckets if self._tokens(k, now) >= self.burst]:
            del self._buckets[key]


class APIKeys:
    """The bearer tokens the API accepts. A request is matched against every key in constant
    time; logs name a key only by its number, never by its text."""

    def __init__(self, keys: list[str]) -> None:
        self._digests = [hashlib.sha256(k.encode()).digest() for k in keys]

    @property
    def required(self) -> bool:
        return bool(self._digests)

    def identify(self, authorization: str | None) -> str | None:
        """'key-N' for a valid 'Bearer KEY' header, None otherwise."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        digest = hashlib.sha256(token.strip().encode()).digest()
        found = None
        for number, known in enumerate(self._digests, start=1):
            if hmac.compare_digest(digest, known) and found is None:
                found = f"key-{number}"
        return found


class BodyLimit:
    """Refuses request bodies over `limit` bytes with 413, whether or not they declare a
    Content-Length. The body is read here, counted as it arrives, and handed on whole: a
    chunked body caught over the limit while a route was reading it came out as that route's
    400 ("error parsing the body") instead of 413. Bodies are small (the limit), so holding one
    costs nothing."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        parts: list[bytes] = []
        seen, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left: nobody to answer
                return
            part = message.get("body", b"")
            seen += len(part)
            if seen > self.limit:
                await self._refuse(scope, receive, send)
                return
            parts.append(part)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(parts), "more_body": False}
            return await receive()  # after the body: the disconnect a stream listens for

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, f"the request is larger than {self.limit} bytes "
                                  "(api_max_request_bytes)", code="request_too_large")
        await response(scope, receive, send)
