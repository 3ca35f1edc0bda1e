"""The web chat: `build_app(assistant)` returns a Gradio Blocks app; ui.server serves it, with
the OpenAI-compatible API beside it.

It uses only the public `assistant` API, as any other app would. Everything it shows passes
through ui.render, which escapes article text and model output.

    from assistant import Assistant
    from ui.app import build_app, page_options
    build_app(Assistant(store=".assistant")).launch(**page_options())

Each tab lives in its own module (ui.chat_tab, ui.articles_tab, ui.settings_tab: its layout,
its handlers, its events) over what ui.common shares; this module puts them together and adds
the named API endpoints. The names other code imported from here before the split are still
importable from here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# Before gradio is imported: it reads this at import time. The app must never phone home.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr

from assistant import Assistant, AssistantError
from ui import render
from ui.articles_tab import ROWS_JS, ArticleHandlers, ArticlesTab, build_articles_tab, wire_articles
from ui.chat_handlers import ChatHandlers
from ui.chat_js import CITE_JS
from ui.chat_tab import (
    ChatTab,
    build_chat_tab,
    load_feedback_event,
    open_conversation_event,
    reset_outputs_of,
    wire_chat,
)
from ui.common import (
    MAX_QUESTION,
    MAX_UPLOAD,
    N_EXAMPLES,
    REVEAL_SECONDS,
    SESSION_CACHE,
    STREAM_UPDATE_SECONDS,
    UPLOAD_TYPES,
    Assistants,
    Services,
    SessionSettings,
    _plain_history,
    answer_stream,
    build_session_state,
    current_sources,
    error_message,
    ingest_line,
    log,
    safe_name,
)
from ui.settings_tab import SettingsHandlers, build_settings_tab, wire_settings

# The names this module had before its tabs moved out, kept for the code that imports them.
_Assistants = Assistants
_error_message = error_message
_ingest_line = ingest_line
_safe_name = safe_name

__all__ = [
    "CITE_JS", "CSS", "MAX_QUESTION", "MAX_UPLOAD", "MONO", "N_EXAMPLES", "REVEAL_SECONDS",
    "ROWS_JS", "SANS", "SESSION_CACHE", "STREAM_UPDATE_SECONDS", "UPLOAD_TYPES", "Assistants",
    "SessionSettings", "_Assistants", "_error_message", "_ingest_line", "_plain_history",
    "_safe_name", "answer_stream", "api_ask", "api_chat", "api_sources", "build_app", "log",
    "page_options",
]

# System font stacks only: the default theme pulls Google Fonts, which an offline machine
# cannot reach.
SANS = ["Inter", "ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto",
        "Helvetica Neue", "Arial", "sans-serif"]
MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace"]

CSS = (Path(__file__).with_name("style.css")).read_text(encoding="utf-8")


def page_options() -> dict[str, Any]:
    """The look of the app: pass to `launch(**page_options())` or
    `gr.mount_gradio_app(..., **page_options())` (Gradio 6 takes theme and CSS there)."""
    theme = gr.themes.Base(
        primary_hue=gr.themes.colors.indigo, secondary_hue=gr.themes.colors.slate,
        neutral_hue=gr.themes.colors.slate, font=SANS, font_mono=MONO,
        radius_size=gr.themes.sizes.radius_md, spacing_size=gr.themes.sizes.spacing_md,
    ).set(
        body_background_fill="#f6f7fb",
        # Secondary text at 7:1 (slate-600), not the base theme's slate-400 at 2.4:1.
        body_text_color_subdued="#475569",
        body_background_fill_dark="#0f172a",
        block_border_width="1px",
        block_shadow="0 1px 2px rgba(15, 23, 42, 0.04)",
        button_primary_background_fill="*primary_600",
        button_primary_background_fill_hover="*primary_700",
        button_primary_text_color="white",
        button_cancel_background_fill="#fef2f2",
        button_cancel_background_fill_hover="#fee2e2",
        button_cancel_text_color="#b91c1c",
        button_cancel_border_color="#fecaca",
    )
    return {"theme": theme, "css": CSS}


# --- the app -----------------------------------------------------------------------------------------


def build_app(assistant: Assistant) -> gr.Blocks:
    """The chat, articles and settings panels over one Assistant, plus the named API endpoints
    /ask, /chat and /sources (see ui/README.md)."""
    services = Services.over(assistant)
    chat_handlers = ChatHandlers(services)
    article_handlers = ArticleHandlers(services)
    settings_handlers = SettingsHandlers(services.assistants)

    # Components are created, and events added, in the order the app always had: the state
    # first, then the header and the three tabs; Gradio numbers both in that order.
    with gr.Blocks(title="Article Assistant", analytics_enabled=False) as demo:
        state = build_session_state()
        header = gr.HTML(render.header_html([]), elem_id="aa-header")
        with gr.Tabs(elem_id="aa-tabs") as tabs:
            chat_tab = build_chat_tab()
            articles_tab = build_articles_tab()
            settings_tab = build_settings_tab(services.assistants)

        wire_chat(chat_tab, state, chat_handlers, settings_tab.feedback_summary,
                  settings_tab.feedback_export)

        # On page load: the corpus, the conversation this browser had open, its feedback.
        refresh_outputs = refresh_outputs_of(header, articles_tab, chat_tab)
        demo.load(article_handlers.refreshed, outputs=refresh_outputs, api_visibility="private",
                  show_progress="hidden")
        demo.load(open_conversation_event(chat_handlers),
                  inputs=[state.conversation, chat_tab.conv_search],
                  outputs=reset_outputs_of(chat_tab, state), api_visibility="private",
                  show_progress="hidden")
        demo.load(load_feedback_event(chat_handlers),
                  outputs=[settings_tab.feedback_summary, settings_tab.feedback_export],
                  api_visibility="private", show_progress="hidden")

        wire_articles(articles_tab, state, article_handlers, refresh_outputs, chat_tab.scope, tabs)
        wire_settings(demo, settings_tab, state, settings_handlers)
        _add_api(assistant)

    demo.queue(default_concurrency_limit=4)
    return demo


def refresh_outputs_of(header: gr.HTML, articles_tab: ArticlesTab, chat_tab: ChatTab) -> list[Any]:
    """The components `ui.common.refreshed` fills, in its order."""
    return [header, articles_tab.articles, articles_tab.remove_choice,
            *chat_tab.example_buttons, chat_tab.scope]


# --- the API for other apps (see ui/README.md) ---------------------------------------------------------


def api_ask(assistant: Assistant, question: str, top_k: int | None = None) -> dict[str, Any]:
    """Answer one question from the indexed articles; returns the Answer as JSON."""
    try:
        # Passed on as given: the Assistant refuses a top_k that is not 1-50 in one line (a
        # bare int() here turned "x" into a ValueError and a traceback in the log).
        return assistant.ask(question, top_k=top_k if top_k not in (None, "") else None
                             ).model_dump()
    except Exception as exc:
        raise gr.Error(error_message(exc), print_exception=False) from None


def api_chat(assistant: Assistant, messages: list[dict[str, str]]) -> dict[str, Any]:
    """Answer the last user message of a conversation ([{"role", "content"}, ...])."""
    try:
        if not isinstance(messages, list) or not messages:
            raise AssistantError("messages must be a non-empty list of {role, content}")
        turns_in = [m for m in messages if isinstance(m, dict)]
        last = turns_in[-1] if turns_in else {}
        if last.get("role") != "user":
            raise AssistantError("the last message must have role 'user'")
        method = getattr(assistant, "chat", None)
        if callable(method):
            return method(turns_in).model_dump()
        return assistant.ask(str(last.get("content") or "")).model_dump()
    except Exception as exc:
        raise gr.Error(error_message(exc), print_exception=False) from None


def api_sources(assistant: Assistant) -> list[dict[str, Any]]:
    """The indexed articles: article_id, title, source, url, date, chunks."""
    return [s.model_dump() for s in current_sources(assistant)]


def _add_api(assistant: Assistant) -> None:
    """The named endpoints, inside the current gr.Blocks. Gradio describes each from its
    signature and docstring (the API page and gradio_client show them), hence these small
    functions with the public parameters only."""

    def ask(question: str, top_k: int | None = None) -> dict[str, Any]:
        """Answer one question from the indexed articles; returns the Answer as JSON."""
        return api_ask(assistant, question, top_k)

    def chat(messages: list[dict[str, str]]) -> dict[str, Any]:
        """Answer the last user message of a conversation ([{"role", "content"}, ...])."""
        return api_chat(assistant, messages)

    def sources() -> list[dict[str, Any]]:
        """The indexed articles: article_id, title, source, url, date, chunks."""
        return api_sources(assistant)

    gr.api(ask, api_name="ask")
    gr.api(chat, api_name="chat")
    gr.api(sources, api_name="sources")
