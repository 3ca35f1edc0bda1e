"""The generative backend: chat completions from OpenAI or any OpenAI-compatible server
(Azure's OpenAI-compatible endpoint, vLLM, Ollama, llama.cpp, LM Studio).

It uses the openai SDK directly rather than llama-index's OpenAILike: the SDK imports in about
0.6 s against about 2.8 s, and its typed errors map one-to-one onto the failures we report.
Either way the import happens on the first call, never for the default offline backend.

Every failure becomes an LLMError with one line that names the problem. The messages are our
own, never the server's body or the SDK's text: an OpenAI 401 body echoes part of the key.
Retries are ours too (the SDK's would wait out a server's Retry-After of up to a minute), and
all of them together stay within the configured timeout.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from assistant.errors import AssistantError
from assistant.settings import Settings

if TYPE_CHECKING:
    import openai

# A local server ignores the key, but the SDK refuses to start without one.
PLACEHOLDER_KEY = "no-key-needed"
MAX_BACKOFF_S = 2.0
# A small model that starts echoing the prompt's markup goes on for hundreds of tokens; the
# guard would discard it all anyway, so generation stops there.
STOP_SEQUENCES = ("<passage", "</passage>", "\nPassages:", "\nQuestion:")


class LLMError(AssistantError):
    """A generative call failed. `kind` is one of: config, unreachable, timeout, auth,
    rate_limit, not_found, server, malformed."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


def display_url(url: str | None) -> str:
    """The server's address without credentials or query (for messages)."""
    if not url:
        return "api.openai.com"
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", "")) or url


class ChatClient:
    """Chat completions over HTTP, with bounded time and one-line errors."""

    def __init__(self, settings: Settings) -> None:
        self.model = settings.llm_model
        self.base_url = settings.openai_base_url
        self._key = settings.openai_api_key  # SecretStr: its repr never shows the value
        self.timeout = settings.llm_timeout
        self.max_retries = settings.llm_max_retries
        self.temperature = settings.llm_temperature
        self.max_tokens = settings.llm_max_tokens
        self._client: openai.OpenAI | None = None

    @property
    def where(self) -> str:
        return display_url(self.base_url)

    def _sdk(self) -> openai.OpenAI:
        if self._client is None:
            key = self._key.get_secret_value() if self._key is not None else None
            if not key:
                if self.base_url is None:
                    raise LLMError("config", "no API key: set OPENAI_API_KEY, or OPENAI_BASE_URL "
                                   "for a local OpenAI-compatible server")
                key = PLACEHOLDER_KEY
            import httpx
            import openai

            self._client = openai.OpenAI(
                api_key=key, base_url=self.base_url, max_retries=0,
                timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 5.0)))
        return self._client

    def _request(self, messages: Sequence[Message], stream: bool, timeout: float) -> Any:
        return self._sdk().chat.completions.create(
            model=self.model, messages=[{"role": m.role, "content": m.content} for m in messages],
            temperature=self.temperature, max_tokens=self.max_tokens, stream=stream,
            stop=list(STOP_SEQUENCES), timeout=timeout)

    def _with_retries(self, messages: Sequence[Message], stream: bool) -> Any:
        deadline = time.monotonic() + self.timeout
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LLMError("timeout", f"the LLM server at {self.where} did not answer "
                               f"within {self.timeout:g} s")
            try:
                return self._request(messages, stream, remaining)
            except Exception as exc:  # translated below, never re-raised raw
                error = self._translate(exc)
                retryable = error.kind in ("unreachable", "rate_limit", "server")
                backoff = min(MAX_BACKOFF_S, 0.25 * 2 ** attempt, _retry_after(exc))
                if not retryable or attempt >= self.max_retries \
                        or time.monotonic() + backoff >= deadline:
                    if error.kind == "rate_limit":
                        error = LLMError("rate_limit", f"{error} after {attempt + 1} attempt(s)")
                    raise error from None
                attempt += 1
                time.sleep(backoff)

    def models(self) -> list[str]:
        """The model ids the server lists (GET /models): a cheap check that the endpoint, the
        key and the network work, before any question is asked."""
        try:
            listed = self._sdk().models.list()
            return sorted(str(m.id) for m in listed)
        except Exception as exc:
            raise self._translate(exc) from None

    def complete(self, messages: Sequence[Message]) -> str:
        """The whole reply text."""
        response = self._with_retries(messages, stream=False)
        try:
            content = response.choices[0].message.content
        except (AttributeError, IndexError, TypeError, KeyError):
            raise LLMError("malformed", f"the LLM server at {self.where} sent a malformed reply "
                           "(no choices)") from None
        if not isinstance(content, str):
            raise LLMError("malformed", f"the LLM server at {self.where} sent a malformed reply "
                           "(no message text)")
        return content

    def stream(self, messages: Sequence[Message]) -> Iterator[str]:
        """The reply as text deltas, as the server sends them. The whole stream is bounded by
        the timeout as well as each read: a server that trickles tokens forever is cut off."""
        started = time.monotonic()
        chunks = self._with_retries(messages, stream=True)
        received = False
        try:
            for chunk in chunks:
                if time.monotonic() - started > 2 * self.timeout:
                    raise LLMError("timeout", f"the LLM server at {self.where} was still "
                                   f"streaming after {2 * self.timeout:g} s")
                choices = getattr(chunk, "choices", None)
                if choices is None:
                    raise LLMError("malformed", f"the LLM server at {self.where} sent a "
                                   "malformed stream chunk")
                if not choices:
                    continue  # usage-only chunks
                delta = getattr(choices[0], "delta", None)
                text = getattr(delta, "content", None) if delta is not None else None
                if text:
                    received = True
                    yield text
        except LLMError:
            raise
        except Exception as exc:  # translated, never re-raised raw
            raise self._translate(exc) from None
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if not received:
            raise LLMError("malformed", f"the LLM server at {self.where} streamed no text")

    def _translate(self, exc: Exception) -> LLMError:
        import openai

        where = self.where
        if isinstance(exc, LLMError):
            return exc
        if isinstance(exc, openai.APITimeoutError):
            return LLMError("timeout", f"the LLM server at {where} did not answer within "
                            f"{self.timeout:g} s")
        if isinstance(exc, openai.APIConnectionError):
            return LLMError("unreachable", f"cannot reach the LLM server at {where}")
        if isinstance(exc, openai.AuthenticationError):
            return LLMError("auth", f"the LLM server at {where} rejected the API key (HTTP 401); "
                            "check OPENAI_API_KEY")
        if isinstance(exc, openai.PermissionDeniedError):
            return LLMError("auth", f"the LLM server at {where} refused access (HTTP 403)")
        if isinstance(exc, openai.RateLimitError):
            return LLMError("rate_limit", f"the LLM server at {where} is rate-limiting "
                            "requests (HTTP 429)")
        if isinstance(exc, openai.NotFoundError):
            return LLMError("not_found", f"the LLM server at {where} has no model "
                            f"{self.model!r} or no chat endpoint (HTTP 404)")
        if isinstance(exc, openai.APIStatusError):
            kind = "server" if exc.status_code >= 500 else "malformed"
            return LLMError(kind, f"the LLM server at {where} failed (HTTP {exc.status_code})")
        if isinstance(exc, openai.OpenAIError | ValueError | KeyError | AttributeError | TypeError):
            return LLMError("malformed", f"the LLM server at {where} sent a malformed reply "
                            f"({exc.__class__.__name__})")
        return LLMError("server", f"the LLM call to {where} failed ({exc.__class__.__name__})")


def _retry_after(exc: Exception) -> float:
    """The server's Retry-After in seconds, when it sent one; else no limit."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    try:
        return float(value) if value is not None else float("inf")
    except ValueError:
        return float("inf")
