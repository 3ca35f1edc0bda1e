"""The OpenAI-compatible HTTP API: `/v1/chat/completions`, `/v1/models` and `/v1/search`.

Any OpenAI client or chat front end (the `openai` SDK, Open WebUI, LibreChat) can ask the
assistant questions. The answer text carries the [n] markers; everything else an Answer holds
(citations, conflicts, abstention, the short answer, per-sentence support) travels in an extra
top-level field, `article_assistant`, and, for clients that ignore extra fields, as a "Sources:"
list appended to the message (`api_sources_in_text`).

    from fastapi import FastAPI
    from assistant import Assistant
    from ui.openai_api import build_api
    app = FastAPI()
    app.mount("/v1", build_api(Assistant(store=".assistant")))

It uses only the public `assistant` API. Answers are computed in a thread pool sized to the CPU
count (the embedding and reader models run in onnxruntime, which releases the GIL), so requests
are answered side by side rather than one at a time.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from assistant import (
    Answer,
    Assistant,
    AssistantError,
    EmptyStoreError,
    InvalidQuestionError,
    ScopeError,
)
from ui.openai_access import APIError, APIKeys, BodyLimit, TokenBucket, error_response
from ui.openai_requests import ChatCompletionRequest, Options, SearchRequest

log = logging.getLogger(__name__)

MODEL_OFFLINE = "article-assistant"
MODEL_LLM = "article-assistant-llm"
# When the models were "created", for /v1/models: the package's first release.
CREATED = 1764547200
# A streamed answer is sent a few words a chunk, as a model would write it.
WORDS_PER_CHUNK = 4


# --- answers in OpenAI's shapes -----------------------------------------------------------------


def _model_object(name: str) -> dict[str, Any]:
    """A model as /v1/models lists it and /v1/models/{id} returns it."""
    return {"id": name, "object": "model", "created": CREATED, "owned_by": "article-assistant"}


def sources_text(answer: Answer) -> str:
    """The compact Sources list appended to the message for clients that show only the text."""
    if not answer.citations:
        return ""
    lines = ["", "", "Sources:"]
    for c in answer.citations:
        where = f"{c.title}" + (f", {c.date}" if c.date else "") + (f", {c.url}" if c.url else "")
        lines.append(f"[{c.n}] {where}: \u201c{c.text}\u201d")
    return "\n".join(lines)


def _text_pieces(text: str) -> list[str]:
    """`text` in chunks of a few words that concatenate back to exactly `text`."""
    return re.findall(rf"\S+(?:\s+\S+){{0,{WORDS_PER_CHUNK - 1}}}\s*|\s+", text)


def _messages(request: ChatCompletionRequest) -> list[dict[str, Any]]:
    """OpenAI messages as the Assistant's chat takes them. A 'developer' message is OpenAI's
    new name for 'system'; both are set aside by the Assistant, which answers from the articles
    whatever a prompt asks. A client with tools replays its tool calls (an assistant turn with
    `tool_calls` and no text) and their results ('tool' or 'function' turns): the assistant
    calls no tools, so they are left out rather than refused (a 400 broke the conversation)."""
    out = []
    for m in request.messages:
        extra = m.model_extra or {}
        if m.role in ("tool", "function"):
            continue
        if m.role == "assistant" and not m.content and (extra.get("tool_calls")
                                                         or extra.get("function_call")):
            continue
        role = "system" if m.role == "developer" else m.role
        out.append({"role": role, "content": m.content})
    return out


def _without_locations(message: str, settings: Any) -> str:
    """`message` with the store's folder and the Chroma server's address left out: a caller of
    the API learns what went wrong, not where the server keeps its data."""
    places = {str(settings.store), str(Path(settings.store).resolve())}
    if settings.chroma_url:
        places.add(str(settings.chroma_url).rstrip("/"))
    for place in sorted((p for p in places if p and p != "."), key=len, reverse=True):
        # "the catalog at PATH is damaged" -> "the catalog is damaged"
        message = re.sub(rf"\s(?:at|on|in) {re.escape(place)}\b/?", "", message)
        message = message.replace(place, "the server's store")
    return message


# --- the app ----------------------------------------------------------------------------------------


class Admission:
    """Every /v1 request is admitted here, before its body is read or parsed: the key (401;
    429 for an address that sent too many wrong ones) and the rate limit (429). A caller
    without a key learns nothing from how its body would have been parsed, and costs no
    parsing. The schema (/v1/openapi.json) is behind the key too, like every route."""

    def __init__(self, app: ASGIApp, state: OpenAIAPI) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            request.state.caller = self.state.admit(request)
        except APIError as exc:
            await exc.response()(scope, receive, send)
            return
        await self.app(scope, receive, send)



class OpenAIAPI:
    """The state behind the routes: the assistants per model, the worker pool, keys, limits."""

    def __init__(self, assistant: Assistant) -> None:
        settings = assistant.settings
        self.base = assistant
        self.keys = APIKeys(settings.api_key_values())
        self.limits = TokenBucket(settings.api_rate_per_minute, settings.api_burst)
        # Wrong keys, per client address (the chat's sign-in limit): a key cannot be guessed at
        # network speed, as it could when only valid keys were counted.
        attempts = settings.login_attempts_per_minute
        self.failures = TokenBucket(attempts, burst=max(1, int(attempts)))
        self.workers = settings.api_workers or os.cpu_count() or 2
        self.pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="api-answer")
        self.sources_in_text = settings.api_sources_in_text
        self.max_request_bytes = settings.api_max_request_bytes
        self._assistants: dict[str, Assistant] = {}
        self._lock = threading.Lock()

    def models(self) -> list[str]:
        names = [MODEL_OFFLINE]
        if self.base.settings.llm != "extractive":
            names.append(MODEL_LLM)
        return names

    def assistant_for(self, model: str) -> Assistant:
        if model not in (MODEL_OFFLINE, MODEL_LLM):
            raise APIError(404, f"the model {model!r} does not exist; this server has "
                           f"{', '.join(map(repr, self.models()))}", code="model_not_found",
                           param="model")
        wants_llm = model == MODEL_LLM
        has_llm = self.base.settings.llm != "extractive"
        if wants_llm and not has_llm:
            raise APIError(404, f"{MODEL_LLM!r} needs an LLM: start `assistant serve` with "
                           "--llm-url URL (or ASSISTANT_LLM=openai)", code="model_not_found",
                           param="model")
        if wants_llm == has_llm:
            return self.base
        with self._lock:
            if model not in self._assistants:
                # The offline variant of an LLM-configured server shares its loaded models.
                reader = self.base.reader if self.base.settings.answerer == "reader" else None
                self._assistants[model] = Assistant(settings=self.base.settings,
                                                    embedder=self.base.embedder, reader=reader,
                                                    llm="extractive")
            return self._assistants[model]

    def caller(self, request: Request) -> str:
        """Who is calling, for the rate limit: the key's number, else the client address.
        Raises APIError 401 when keys are required and the request has no valid one, and 429
        while its address is over the limit of wrong keys."""
        address = request.client.host if request.client else "unknown"
        if self.keys.required:
            # Checked before the key, and for every key: were a right key let through while
            # wrong ones are refused, a guesser would still tell them apart at full speed.
            blocked = self.failures.wait(address)
            if blocked > 0:
                retry = max(1, int(blocked + 0.999))
                raise APIError(429, f"too many requests with a wrong API key from this address; "
                               f"retry in {retry} s", kind="rate_limit_error",
                               code="rate_limit_exceeded", headers={"Retry-After": str(retry)})
            key = self.keys.identify(request.headers.get("authorization"))
            if key is None:
                self.failures.take(address)
                raise APIError(401, "a valid API key is required: send 'Authorization: Bearer "
                               "KEY' with a key from ASSISTANT_API_KEYS",
                               code="invalid_api_key")
            return key
        return address

    def admit(self, request: Request) -> str:
        caller = self.caller(request)
        wait = self.limits.take(caller)
        if wait > 0:
            retry = max(1, int(wait + 0.999))
            raise APIError(429, f"rate limit reached ({self.limits.rate * 60:g} requests a "
                           f"minute); retry in {retry} s", kind="rate_limit_error",
                           code="rate_limit_exceeded", headers={"Retry-After": str(retry)})
        return caller

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, functools.partial(fn, *args, **kwargs))


def build_api(assistant: Assistant) -> FastAPI:
    """The /v1 app (mount it at "/v1"). Its settings come from `assistant.settings`."""
    state = OpenAIAPI(assistant)

    # No docs pages: FastAPI's load their scripts from a CDN, and the page must load nothing
    # from outside. The schema stays at /v1/openapi.json, behind the key like every route.
    api = FastAPI(title="Article Assistant API", version="1", docs_url=None, redoc_url=None,
                  description="OpenAI-compatible chat completions with citations.")
    api.state.openai = state
    api.add_middleware(BodyLimit, limit=state.max_request_bytes)
    # Added after BodyLimit, so it runs first: a caller is admitted before its body is read.
    api.add_middleware(Admission, state=state)

    @api.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        return exc.response()

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        if first.get("type") == "json_invalid":
            # Its location is a character offset in the body, not a field: param names none.
            offset = next((p for p in first.get("loc", ()) if isinstance(p, int)), None)
            error = (first.get("ctx") or {}).get("error") or first.get("msg", "invalid")
            return error_response(400, "invalid request: the body is not valid JSON ("
                                  f"{error}{f' at character {offset}' if offset is not None else ''})")
        kind = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if kind != "application/json" and (not first.get("loc") or first["loc"] == ("body",)
                                           or first.get("type") == "model_attributes_type"):
            # FastAPI reads a body as JSON only under that type; curl's default form type
            # gave "Input should be a valid dictionary" for a valid object.
            return error_response(400, "invalid request: send a JSON object with "
                                  f"Content-Type: application/json (not {kind or 'none'})")
        if tuple(first.get("loc", ())) == ("body",):
            return error_response(400, "invalid request: the body is empty; send a JSON object"
                                  if first.get("type") == "missing"
                                  else "invalid request: the body must be a JSON object")
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return error_response(400, f"invalid request: {where + ': ' if where else ''}"
                              f"{first.get('msg', 'invalid')}", param=where or None)

    @api.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail),
                              code="not_found" if exc.status_code == 404 else None)

    @api.exception_handler(AssistantError)
    async def _assistant_error(request: Request, exc: AssistantError) -> JSONResponse:
        message = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        if isinstance(exc, EmptyStoreError):
            # The full message names the store's folder or Chroma URL and the CLI command: for
            # the server's log, not for a caller.
            log.warning("%s %s: %s", request.method, request.url.path, message)
            return error_response(503, "no articles are indexed on this server yet; its "
                                  "operator must ingest some first", "server_error",
                                  code="empty_store")
        if isinstance(exc, ValueError):  # the question, conversation or scope is at fault
            asked = "query" if request.url.path.rstrip("/").endswith("/search") else "messages"
            return error_response(400, message, param=asked
                                  if isinstance(exc, InvalidQuestionError)
                                  else "scope" if isinstance(exc, ScopeError) else None)
        log.warning("%s %s: %s", request.method, request.url.path, message)
        return error_response(503, _without_locations(message, assistant.settings),
                              "server_error")

    @api.middleware("http")
    async def _log(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        """One line a call: who (by key number, never the key), status, time."""
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except RuntimeError:
            # A client that hung up while sending its body leaves the app nothing to answer;
            # Starlette then raises "No response returned." That is the client's doing, one
            # line, not a traceback in the server's log.
            if not await request.is_disconnected():
                raise
            log.info("%s %s by %s: the client went away before its request was read",
                     request.method, request.url.path, getattr(request.state, "caller", "-"))
            return Response(status_code=400)
        log.info("%s %s by %s: %d in %.0f ms", request.method, request.url.path,
                 getattr(request.state, "caller", "-"), response.status_code,
                 (time.perf_counter() - started) * 1000)
        return response

    @api.get("/models")
    async def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [
            _model_object(name) for name in state.models()]}

    @api.get("/models/{model}")
    async def get_model(model: str) -> dict[str, Any]:
        """One model, as OpenAI's SDK retrieves it (`client.models.retrieve(name)`)."""
        if model not in state.models():
            raise APIError(404, f"the model {model!r} does not exist; this server has "
                           f"{', '.join(map(repr, state.models()))}", code="model_not_found")
        return _model_object(model)

    @api.post("/chat/completions", response_model=None)
    async def chat_completions(body: ChatCompletionRequest
                               ) -> JSONResponse | StreamingResponse:
        target = state.assistant_for(body.model)
        if not body.messages:
            raise APIError(400, "messages is empty: send at least one user message",
                           param="messages")
        options = body.article_assistant or Options()
        answer: Answer = await state.run(target.chat, _messages(body), top_k=options.top_k,
                                         scope=options.scope)
        with_sources = state.sources_in_text if options.sources_in_text is None \
            else options.sources_in_text
        text = answer.answer + (sources_text(answer) if with_sources else "")
        ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        extra = answer.model_dump(mode="json")
        if not body.stream:
            return JSONResponse({
                "id": ident, "object": "chat.completion", "created": created, "model": body.model,
                "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                             "message": {"role": "assistant", "content": text, "refusal": None}}],
                "usage": None, "system_fingerprint": None, "article_assistant": extra})
        return StreamingResponse(_stream(ident, created, body.model, text, extra),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @api.post("/search")
    async def search(body: SearchRequest) -> dict[str, Any]:
        passages = await state.run(assistant.retrieve, body.query, body.top_k, scope=body.scope)
        return {"object": "list", "query": body.query, "data": [
            {"object": "search.result", "rank": p.rank + 1, "article_id": p.article.article_id,
             "title": p.article.title, "source": p.article.source, "url": p.article.url,
             "date": p.article.date, "text": p.chunk.text, "start": p.chunk.start,
             "end": p.chunk.end,
             "scores": {"dense": round(p.dense, 4), "lexical": round(p.lexical, 4),
                        "fused": round(p.fused, 6)}}
            for p in passages]}

    return api


async def _stream(ident: str, created: int, model: str, text: str, extra: dict[str, Any]
                  ) -> AsyncIterator[str]:
    """Server-sent events in OpenAI's chunk format. Only checked text is streamed (with an LLM,
    the guard has already rewritten or removed what the sources do not support), so the chunks
    concatenate to the final message; the Answer's fields arrive with the last chunk."""
    import json

    def event(delta: dict[str, Any], finish: Literal["stop"] | None = None,
              **fields: Any) -> str:
        chunk = {"id": ident, "object": "chat.completion.chunk", "created": created,
                 "model": model, "system_fingerprint": None,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                              "logprobs": None}], **fields}
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    for piece in _text_pieces(text):
        yield event({"content": piece})
    yield event({}, "stop", article_assistant=extra)
    yield "data: [DONE]\n\n"
