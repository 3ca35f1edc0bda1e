"""What the web chat's tabs share: limits, the per-session settings and the Assistants built
for them, the services every handler is given, the session's state components, and small
helpers. It imports no tab module (and never ui.app), so every tab can import it."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Before gradio is imported: it reads this at import time. The app must never phone home.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr
from pydantic import SecretStr

from assistant import (
    MAX_QUESTION_CHARS,
    Answer,
    Assistant,
    AssistantError,
    EmptyStoreError,
    Scope,
    Source,
)
from index.loaders import SUPPORTED_SUFFIXES
from ui import render
from ui.conversations import Conversations, Feedback

log = logging.getLogger(__name__)

# What `assistant ingest` accepts: the loaders' own list (the upload box offers these; the hint
# under it names them, ui.render.file_types_text). A file of another type is still passed to
# ingest, which reports it in one line.
UPLOAD_TYPES = list(SUPPORTED_SUFFIXES)
MAX_UPLOAD = "20mb"
N_EXAMPLES = 3
# How many outputs `refreshed` fills: header, table, selection choices, the examples, scope.
REFRESHED_COUNT = 4 + N_EXAMPLES
# Text that arrives in a burst (the offline backend produces its whole answer at once) is
# revealed at one chat update per STREAM_UPDATE_SECONDS, so the reader sees it arrive; the
# pacing never adds more than REVEAL_SECONDS to an answer. A model slower than that is shown
# as fast as it writes.
STREAM_UPDATE_SECONDS = 0.04
REVEAL_SECONDS = 0.8
SESSION_CACHE = 16
# Longer questions are refused with a message (a pasted article is not a question): the one
# limit every door shares, from assistant/question.py.
MAX_QUESTION = MAX_QUESTION_CHARS


# --- per-session backend settings ----------------------------------------------------------------


@dataclass(frozen=True)
class SessionSettings:
    """What the Settings tab chose for one browser session. The key stays on the server."""

    llm: str
    base_url: str
    model: str
    api_key: SecretStr | None
    top_k: int

    def describe(self) -> str:
        if self.llm != "openai":
            return f"Offline answers (quoted from the articles), {self.top_k} passages to read."
        key = "API key set" if self.api_key else "no API key"
        return (f"OpenAI-compatible endpoint {self.base_url or '(default)'}, model {self.model}, "
                f"{key}, {self.top_k} passages to read.")


class Assistants:
    """Assistants for the settings sessions chose, sharing the base one's store and embedder
    (so a new backend costs no model load). Cached by settings, keys by digest only."""

    def __init__(self, base: Assistant) -> None:
        self.base = base
        self._cache: OrderedDict[tuple[str, ...], Assistant] = OrderedDict()
        self._lock = threading.Lock()

    def defaults(self) -> SessionSettings:
        s = self.base.settings
        return SessionSettings(llm=s.llm, base_url=s.openai_base_url or "", model=s.llm_model,
                               api_key=None, top_k=s.top_k)

    def get(self, chosen: SessionSettings | None) -> Assistant:
        """The Assistant for these settings; raises AssistantError for settings it rejects."""
        if chosen is None or chosen == self.defaults():
            return self.base
        secret = chosen.api_key.get_secret_value() if chosen.api_key else ""
        key = (chosen.llm, chosen.base_url, chosen.model, str(chosen.top_k),
               hashlib.sha256(secret.encode()).hexdigest())
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            update: dict[str, Any] = {"llm": chosen.llm, "top_k": chosen.top_k}
            if chosen.llm == "openai":
                update.update(llm_model=chosen.model, openai_base_url=chosen.base_url or None)
                if chosen.api_key:
                    update["openai_api_key"] = chosen.api_key
            # Variants share the loaded models; the reader only when it is the one answering.
            reader = self.base.reader if self.base.settings.answerer == "reader" else None
            assistant = Assistant(settings=self.base.settings, embedder=self.base.embedder,
                                  reader=reader, **update)
            self._cache[key] = assistant
            while len(self._cache) > SESSION_CACHE:
                self._cache.popitem(last=False)
            return assistant


@dataclass(frozen=True)
class Services:
    """What the handlers work on: one per app, built by ui.app.build_app from the Assistant,
    and handed to each tab's handlers (a test builds its own over a temporary store)."""

    assistant: Assistant
    assistants: Assistants
    conversations: Conversations
    feedback: Feedback
    uploads: Path  # uploaded files are copied here before they are ingested
    exports: Path  # conversation and feedback downloads are written here

    @classmethod
    def over(cls, assistant: Assistant) -> Services:
        """The app's services: everything lives beside the assistant's store."""
        store = Path(assistant.settings.store)
        conversations = Conversations(store / "conversations.sqlite")
        return cls(assistant=assistant, assistants=Assistants(assistant),
                   conversations=conversations, feedback=Feedback(conversations),
                   uploads=store / "uploads", exports=store / "exports")


@dataclass(frozen=True)
class SessionState:
    """The per-browser-session state components, read and written across the tabs."""

    turns: gr.State  # the Answer of each assistant turn (None for a failed turn)
    history: gr.State  # plain {"role", "content"} messages for follow-up questions
    session: gr.State  # SessionSettings chosen in the Settings tab
    conversation: gr.BrowserState  # the open conversation's id, kept across reloads
    busy: gr.State  # an answer is streaming in
    rated: gr.State  # the turn last rated, which a note attaches to
    opened: gr.State  # the article open in the Articles tab
    deleting: gr.State  # the article whose deletion awaits confirmation
    removed_sources: gr.State  # what Undo ingests again
    saved_settings: gr.BrowserState  # the Settings tab's choices (never the API key)
    pending: gr.State  # the question being answered
    bulk_removed: gr.State  # what the Undo of "Remove selected" ingests again


def build_session_state() -> SessionState:
    """Create the state components inside the current gr.Blocks (before the tabs, in this
    order, as the app always has)."""
    return SessionState(
        turns=gr.State([]),
        history=gr.State([]),
        session=gr.State(None),
        conversation=gr.BrowserState("", storage_key="aa-conversation"),
        busy=gr.State(False),
        rated=gr.State(-1),
        opened=gr.State(""),
        deleting=gr.State(""),
        removed_sources=gr.State([]),
        saved_settings=gr.BrowserState({}, storage_key="aa-settings"),
        pending=gr.State(""),
        bulk_removed=gr.State([]),
    )


# --- answering -------------------------------------------------------------------------------------


def _plain_history(history: list[dict[str, str]], question: str) -> list[dict[str, str]]:
    return [*history, {"role": "user", "content": question}]


def answer_stream(assistant: Assistant, question: str,
                  history: list[dict[str, str]], scope: Scope | None = None
                  ) -> Iterator[str | Answer]:
    """Text deltas, then the final Answer. Uses the assistant's own streaming and multi-turn
    chat where it has them (follow-ups are rewritten there); otherwise asks and yields the
    finished answer a few words at a time."""
    messages = _plain_history(history, question)
    stream = getattr(assistant, "stream", None)
    if callable(stream):
        yield from stream(messages if history else question, scope=scope)
        return
    chat = getattr(assistant, "chat", None)
    answer = chat(messages) if history and callable(chat) else assistant.ask(question)
    if not answer.abstained:
        yield from re.findall(r"\S+(?:\s+\S+){0,3}\s*", answer.answer)
    yield answer


def error_message(exc: Exception) -> str:
    """One line for the reader about a failed answer."""
    if isinstance(exc, EmptyStoreError):
        return "No articles are indexed yet. Add some in the Articles tab, then ask again."
    if isinstance(exc, AssistantError):
        return str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    # Unexpected: the details go to the server log, the reader gets one line.
    log.exception("answering failed")
    return f"Something went wrong while answering ({exc.__class__.__name__}). The server log has details."


# --- small helpers -----------------------------------------------------------------------------------


def owner_of(request: gr.Request | None) -> str:
    """Whose conversations and ratings these are: the logged-in user, or "" without login."""
    return (getattr(request, "username", None) or "") if request else ""


def current_sources(assistant: Assistant) -> list[Source]:
    """The indexed articles; an empty list (and a log line) when the store cannot list them."""
    try:
        return assistant.sources()
    except AssistantError as exc:
        log.warning("cannot list articles: %s", exc)
        return []


_EXAMPLES: dict[tuple[int, frozenset[str]], list[str]] = {}
_EXAMPLES_LOCK = threading.Lock()


def example_questions(assistant: Assistant, sources: list[Source]) -> list[str]:
    """Questions made from the articles' own sentences and checked by answering them
    (ui/examples.py), then, if fewer than N_EXAMPLES pass, the headline-based ones. Computed
    once per corpus: each check is a real answer (~40 ms)."""
    key = (id(assistant), frozenset(s.article_id for s in sources))
    with _EXAMPLES_LOCK:
        cached = _EXAMPLES.get(key)
    if cached is not None:
        return cached
    from ui.examples import checked_examples

    try:
        made = checked_examples(assistant, sources, N_EXAMPLES)
    except Exception:  # examples are a courtesy: never fail the page over them
        log.exception("could not make example questions")
        made = []
    examples = made + [q for q in render.example_questions(sources, N_EXAMPLES) if q not in made]
    with _EXAMPLES_LOCK:
        if len(_EXAMPLES) > 64:
            _EXAMPLES.clear()
        _EXAMPLES[key] = examples[:N_EXAMPLES]
    return examples[:N_EXAMPLES]


def refreshed(assistant: Assistant) -> tuple[Any, ...]:
    """Header, article table, removal choices, example buttons and the chat's scope choices
    for the current corpus (the outputs of ui.app's refresh list, in that order)."""
    sources = current_sources(assistant)
    examples = example_questions(assistant, sources)
    buttons = [gr.Button(value=examples[i], visible=True) if i < len(examples)
               else gr.Button(value="", visible=False) for i in range(N_EXAMPLES)]
    choices = [(f"{s.title} ({s.article_id})", s.article_id) for s in sources]
    return (render.header_html(sources), render.articles_html(sources),
            gr.Dropdown(choices=choices, value=[]), *buttons,
            gr.Dropdown(choices=[(s.title, s.article_id) for s in sources]))


def ingest_line(added: int, updated: int, unchanged: int, chunks: int) -> str:
    """The one-line summary of an upload."""
    def count(n: int, what: str) -> str:
        return f"{n} article{'s' if n != 1 else ''} {what}"

    parts = [count(n, what) for n, what in ((added, "added"), (updated, "updated"),
                                              (unchanged, "unchanged")) if n]
    if not parts:
        return "Nothing was indexed."
    tail = f" ({chunks} passage{'s' if chunks != 1 else ''} indexed)" if chunks else ""
    return ", ".join(parts).capitalize() + tail + "."


def safe_name(name: str) -> str:
    """An uploaded file's name, safe to use as a file name in the uploads folder."""
    cleaned = re.sub(r"[^\w.\- ]+", "_", name).strip(" .")
    return cleaned or "upload.txt"
