"""What `assistant serve` runs: one FastAPI app, served by uvicorn, holding the web chat at "/"
and the OpenAI-compatible API at "/v1" (ui/openai_api.py), both over one Assistant.

    from assistant import Assistant
    from ui.server import build_server
    assistant = Assistant(store=".assistant")
    assistant.warm_up()                 # as `serve` does: the first request does not load models
    app = build_server(assistant)       # any ASGI server can run it
"""

from __future__ import annotations

import errno
import socket

from fastapi import FastAPI
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant import Assistant, AssistantError
from ui.openai_access import TokenBucket, error_response
from ui.openai_api import build_api


class LoginLimit:
    """Rate-limits the web chat's sign-in (POST /login) per client address, so a password cannot
    be guessed at network speed: over the limit, 429 with Retry-After."""

    def __init__(self, app: ASGIApp, attempts_per_minute: float) -> None:
        self.app = app
        self.bucket = TokenBucket(attempts_per_minute, burst=max(1, int(attempts_per_minute)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" \
                and scope["path"].rstrip("/").endswith("/login"):
            client = scope.get("client") or ("unknown", 0)
            wait = self.bucket.take(client[0])
            if wait > 0:
                retry = max(1, int(wait + 0.999))
                response = error_response(429, f"too many sign-in attempts; retry in {retry} s",
                                          "rate_limit_error", code="rate_limit_exceeded",
                                          headers={"Retry-After": str(retry)})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class TrustedHosts:
    """Starlette's TrustedHostMiddleware (only requests naming this server in their Host header
    are answered), with the API's error shape under /v1: an OpenAI client refused for its Host
    header gets {"error": {...}} JSON, as for every other refusal, not a plain-text line."""

    def __init__(self, app: ASGIApp, allowed_hosts: list[str]) -> None:
        self.app = app
        self.check = TrustedHostMiddleware(app, allowed_hosts=allowed_hosts)
        self.hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (scope["path"] == "/v1"
                                           or scope["path"].startswith("/v1/")):
            await self.check(scope, receive, send)
            return
        admitted = False

        async def admit(inner: Scope, inner_receive: Receive, inner_send: Send) -> None:
            nonlocal admitted
            admitted = True
            await self.app(inner, inner_receive, inner_send)

        async def refuse_as_json(message: Message) -> None:
            # Starlette's refusal: replaced by the API's JSON error, its own body dropped.
            if message["type"] == "http.response.start":
                response = error_response(400, "invalid Host header: this server does not "
                                          "answer for that name (its operator can add it to "
                                          "ASSISTANT_ALLOWED_HOSTS)", code="invalid_host")
                await response(scope, receive, send)

        checked = TrustedHostMiddleware(admit, allowed_hosts=self.hosts)
        await checked(scope, receive, lambda message: send(message) if admitted
                      else refuse_as_json(message))


def allowed_hosts(host: str, extra: list[str]) -> list[str]:
    """The Host header values served: the loopback names, the bound `host` and `extra`."""
    bare = host.strip("[]").lower()
    return list(dict.fromkeys(["localhost", "127.0.0.1", "[::1]",
                               f"[{bare}]" if ":" in bare else bare, *extra]))


def build_server(assistant: Assistant, auth: tuple[str, str] | None = None, *,
                 api: bool = True, host: str = "127.0.0.1") -> FastAPI:
    """The chat at "/" (behind `auth` when given) and, unless `api` is False, the API at /v1.
    Only requests naming this server in their Host header are answered (`allowed_hosts`, with
    the names in `assistant.settings.allowed_hosts`); others get 400."""
    import gradio as gr

    from ui.app import MAX_UPLOAD, build_app, page_options

    hosts = allowed_hosts(host, assistant.settings.allowed_host_values())
    try:
        # Starlette checks the patterns when the middleware is built, at the first request;
        # checked here, a bad one is one line at start-up instead of a 500 on every request.
        TrustedHostMiddleware(app=None, allowed_hosts=hosts)  # type: ignore[arg-type]
    except AssertionError as exc:
        raise AssistantError(f"ASSISTANT_ALLOWED_HOSTS: {exc}") from None
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    if auth is not None:
        app.add_middleware(LoginLimit,
                           attempts_per_minute=assistant.settings.login_attempts_per_minute)
    # Added last, so it runs first, for the chat and the API alike: a page on another name
    # that resolves to this machine (DNS rebinding) would otherwise reach a loopback chat that
    # has no login (Starlette's TrustedHostMiddleware; 400 "Invalid host header", as JSON
    # under /v1).
    app.add_middleware(TrustedHosts, allowed_hosts=hosts)
    if api:
        app.mount("/v1", build_api(assistant))
    return gr.mount_gradio_app(
        app, build_app(assistant), path="/", auth=auth, show_error=False, ssr_mode=False,
        footer_links=["api"], max_file_size=MAX_UPLOAD,
        auth_message="Article Assistant: sign in with the user and password it was started with.",
        **page_options())


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a taken port is one clear error, not a log line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise OSError(exc.errno, f"port {port} on {host} is in use; choose another with "
                          "--port") from None
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(assistant: Assistant, host: str = "127.0.0.1", port: int = 7860,
          auth: tuple[str, str] | None = None, *, api: bool = True) -> None:
    """Serve the chat (and the API) until interrupted. The caller checks that a public host has
    auth and API keys."""
    import uvicorn

    sock = bind(host, port)
    app = build_server(assistant, auth, api=api, host=host)
    # Loaded before the address is printed: the first request would otherwise wait a second.
    assistant.warm_up()
    # Gradio keeps its event stream open; without a short grace period shutdown waits ~15 s.
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2,
                                           # 100 clients may connect at once (the load test)
                                           backlog=2048))
    shown = f"[{host}]" if ":" in host else host
    where = f"http://{shown}:{port}"
    settings = assistant.settings
    store = (f"Chroma server {settings.chroma_url}, collection {settings.collection!r}, cache "
             f"{settings.store}" if settings.chroma_url else f"store {settings.store}")
    print(f"Article Assistant on {where} ({store})"
          + (f"; OpenAI-compatible API at {where}/v1" if api else "") + "; Ctrl-C to stop.",
          flush=True)
    server.run(sockets=[sock])
