"""The web chat: `build_app(assistant)` returns a Gradio Blocks app; ui.server serves it, with
the OpenAI-compatible API beside it.

It uses only the public `assistant` API, as any other app would. Everything it shows passes
through ui.render, which escapes article text and model output.

    from assistant import Assistant
    from ui.app import build_app, page_options
    build_app(Assistant(store=".assistant")).launch(**page_options())
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Before gradio is imported: it reads this at import time. The app must never phone home.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr
from pydantic import SecretStr

from assistant import Answer, Assistant, AssistantError, EmptyStoreError, Scope, Source
from ui import render
from ui.conversations import Conversations, Feedback

log = logging.getLogger("assistant.ui")

# What `assistant ingest` accepts. Listed here because ui/ sees only the public API; a file of
# another type is still passed to ingest, which reports it in one line.
UPLOAD_TYPES = [".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", ".pdf"]
MAX_UPLOAD = "20mb"
N_EXAMPLES = 3
# Text that arrives in a burst (the offline backend produces its whole answer at once) is
# revealed at one chat update per STREAM_UPDATE_SECONDS, so the reader sees it arrive; the
# pacing never adds more than REVEAL_SECONDS to an answer. A model slower than that is shown
# as fast as it writes.
STREAM_UPDATE_SECONDS = 0.04
REVEAL_SECONDS = 0.8
SESSION_CACHE = 16
# Longer questions are refused with a message (a pasted article is not a question).
MAX_QUESTION = 2000

# Installed by the source viewer when it mounts: a click on any footnote (in the chat, the
# viewer's own navigation or the sources strip) sends its "#cite-TURN-N" target to the server,
# which answers with the viewer's new HTML. Delegated on the document, because chat messages
# are re-rendered as they stream.
CITE_JS = """
if (window.__aaCiteHandler) document.removeEventListener('click', window.__aaCiteHandler, true);
window.__aaCiteHandler = (event) => {
  const target = event.target instanceof Element ? event.target : null;
  const back = target ? target.closest('a.aa-back') : null;
  const column = document.querySelector('#aa-viewer-col');
  if (back) {
    event.preventDefault();
    if (column) column.classList.add('aa-sheet-closed');
    const from = window.__aaLastCite;
    if (from && document.contains(from)) { from.focus(); from.scrollIntoView({block: 'nearest'}); }
    return;
  }
  const link = target ? target.closest('a.aa-cite') : null;
  const href = link ? (link.getAttribute('href') || '') : '';
  if (!href.startsWith('#cite-')) return;
  event.preventDefault();
  if (!link.closest('#source-viewer')) window.__aaLastCite = link;
  if (column) column.classList.remove('aa-sheet-closed');
  trigger('click', {cite: href});
};
document.addEventListener('click', window.__aaCiteHandler, true);
watch('value', () => {
  const viewer = element.querySelector('.aa-viewer-cited');
  if (viewer) viewer.focus({preventScroll: true});
  const mark = element.querySelector('blockquote mark.aa-quote');
  if (mark) mark.scrollIntoView({block: 'nearest'});
});
"""

# Row buttons of the Articles table ("Open", "Delete"): delegated on the table's element,
# because its HTML is replaced whenever the list changes.
ROWS_JS = """
element.addEventListener('click', (event) => {
  const button = event.target instanceof Element ? event.target.closest('button[data-id]') : null;
  if (!button) return;
  const id = button.getAttribute('data-id') || '';
  trigger('click', {open: button.classList.contains('aa-row-open') ? id : '',
                    remove: button.classList.contains('aa-row-delete') ? id : ''});
});
"""

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
            return f"Offline answers (quoted from the articles), top-k {self.top_k}."
        key = "API key set" if self.api_key else "no API key"
        return (f"OpenAI-compatible endpoint {self.base_url or '(default)'}, model {self.model}, "
                f"{key}, top-k {self.top_k}.")


class _Assistants:
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


def _error_message(exc: Exception) -> str:
    if isinstance(exc, EmptyStoreError):
        return "No articles are indexed yet. Add some in the Articles tab, then ask again."
    if isinstance(exc, AssistantError):
        return str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    # Unexpected: the details go to the server log, the reader gets one line.
    log.exception("answering failed")
    return f"Something went wrong while answering ({exc.__class__.__name__}). The server log has details."


# --- the app -----------------------------------------------------------------------------------------


def build_app(assistant: Assistant) -> gr.Blocks:
    """The chat, articles and settings panels over one Assistant, plus the named API endpoints
    /ask, /chat and /sources (see ui/README.md)."""
    assistants = _Assistants(assistant)
    store = Path(assistant.settings.store)
    uploads = store / "uploads"
    exports = store / "exports"
    conversations = Conversations(store / "conversations.sqlite")
    feedback = Feedback(conversations)

    def current_sources() -> list[Source]:
        try:
            return assistant.sources()
        except AssistantError as exc:
            log.warning("cannot list articles: %s", exc)
            return []

    def refreshed() -> tuple[Any, ...]:
        """Header, article table, removal choices and example buttons for the current corpus."""
        sources = current_sources()
        examples = render.example_questions(sources, N_EXAMPLES)
        buttons = [gr.Button(value=examples[i], visible=True) if i < len(examples)
                   else gr.Button(value="", visible=False) for i in range(N_EXAMPLES)]
        choices = [(f"{s.title} ({s.article_id})", s.article_id) for s in sources]
        return (render.header_html(sources), render.articles_html(sources),
                gr.Dropdown(choices=choices, value=[]), *buttons,
                gr.Dropdown(choices=[(s.title, s.article_id) for s in sources]))

    with gr.Blocks(title="Article Assistant", analytics_enabled=False) as demo:
        turns = gr.State([])  # the Answer of each assistant turn (None for a failed turn)
        history = gr.State([])  # plain {"role", "content"} messages for follow-up questions
        session = gr.State(None)  # SessionSettings chosen in the Settings tab
        # The open conversation's id, remembered by the browser across reloads.
        conversation = gr.BrowserState("", storage_key="aa-conversation")
        busy = gr.State(False)  # an answer is streaming in
        rated = gr.State(-1)  # the turn last rated, which a note attaches to
        opened = gr.State("")  # the article open in the Articles tab
        deleting = gr.State("")  # the article whose deletion awaits confirmation
        removed_sources = gr.State([])  # what Undo ingests again
        # The Settings tab's choices, kept by the browser (never the API key).
        saved_settings = gr.BrowserState({}, storage_key="aa-settings")
        pending = gr.State("")  # the question being answered

        header = gr.HTML(render.header_html([]), elem_id="aa-header")
        with gr.Tabs(elem_id="aa-tabs") as tabs:
            with gr.Tab("Chat", id="chat", elem_id="tab-chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1, min_width=220, elem_id="aa-conversations"):
                        new_chat = gr.Button("New conversation", size="sm", variant="secondary",
                                             elem_id="new-chat", elem_classes="aa-new-chat")
                        conv_search = gr.Textbox(label="Search conversations", lines=1,
                                                 max_lines=1, elem_id="conv-search",
                                                 placeholder="words in a title or question")
                        conv_list = gr.Radio(label="Conversations", choices=[], value=None,
                                             elem_id="conv-list", elem_classes="aa-conv-list")
                        with gr.Group(visible=False, elem_id="conv-actions") as conv_actions:
                            conv_title = gr.Textbox(label="Title", lines=1, max_lines=1,
                                                    elem_id="conv-title")
                            with gr.Row():
                                conv_rename = gr.Button("Rename", size="sm", elem_id="conv-rename")
                                conv_delete = gr.Button("Delete", size="sm", variant="stop",
                                                        elem_id="conv-delete")
                            with gr.Row(visible=False, elem_id="conv-confirm") as conv_confirm:
                                conv_delete_yes = gr.Button("Delete for good", size="sm",
                                                            variant="stop",
                                                            elem_id="conv-delete-yes")
                                conv_delete_no = gr.Button("Keep it", size="sm",
                                                           elem_id="conv-delete-no")
                            conv_export = gr.DownloadButton("Export as Markdown", size="sm",
                                                            elem_id="conv-export", value=None)
                    with gr.Column(scale=3, min_width=380):
                        chatbot = gr.Chatbot(
                            elem_id="chat", show_label=False, height="58vh", min_height=420,
                            render_markdown=False, sanitize_html=True, latex_delimiters=[],
                            feedback_options=("Like", "Dislike"), buttons=[],
                            group_consecutive_messages=False,
                            placeholder=("<div class='aa-empty'><h3>Ask about your articles</h3>"
                                         "<p>Answers quote the articles word for word. Click a "
                                         "footnote to see the passage behind each sentence.</p></div>"))
                        scope = gr.Dropdown(
                            label="Ask about", multiselect=True, choices=[], value=[],
                            elem_id="scope", info="all articles when none is chosen")
                        with gr.Row(elem_id="aa-ask-row"):
                            question = gr.Textbox(
                                elem_id="question", label="Your question", show_label=False,
                                scale=8, lines=1, max_lines=4, max_length=MAX_QUESTION,
                                placeholder="Ask a question about the articles…", autofocus=True,
                                submit_btn=False)
                            send = gr.Button("Ask", variant="primary", scale=1, min_width=90,
                                             elem_id="ask")
                            stop = gr.Button("Stop", variant="stop", scale=1, min_width=90,
                                             elem_id="stop", visible=False)
                        counter = gr.HTML(render.counter_html(0, MAX_QUESTION),
                                          elem_id="question-counter")
                        with gr.Row(visible=False, elem_id="feedback-note-row") as note_row:
                            feedback_note = gr.Textbox(
                                label="Add a note to your rating (optional)", lines=1,
                                max_lines=3, max_length=1000, scale=6, elem_id="feedback-note",
                                placeholder="what was wrong, or what the right answer is")
                            feedback_save = gr.Button("Save note", size="sm", scale=1,
                                                      elem_id="feedback-save")
                        feedback_status = gr.HTML("", elem_id="feedback-status")
                        with gr.Row(elem_id="aa-examples"):
                            gr.HTML('<span class="aa-label">Try</span>', elem_classes="aa-examples-label")
                            example_buttons = [
                                gr.Button("", visible=False, size="sm", variant="secondary",
                                          elem_classes="aa-example", elem_id=f"example-{i}")
                                for i in range(N_EXAMPLES)]
                    with gr.Column(scale=2, min_width=320, elem_id="aa-viewer-col"):
                        viewer = gr.HTML(render.viewer_placeholder_html(), elem_id="source-viewer",
                                         js_on_load=CITE_JS)

            with gr.Tab("Articles", id="articles", elem_id="tab-articles"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        with gr.Row(elem_id="aa-articles-tools"):
                            articles_filter = gr.Textbox(
                                label="Filter articles", lines=1, max_lines=1, scale=3,
                                elem_id="articles-filter", placeholder="words in a title or source")
                            articles_sort = gr.Radio(
                                label="Sort by", choices=[("Title", "title"), ("Newest", "newest"),
                                                          ("Oldest", "oldest")],
                                value="title", scale=2, elem_id="articles-sort")
                        articles = gr.HTML(render.articles_html([]), elem_id="articles-table",
                                           js_on_load=ROWS_JS)
                        with gr.Row(visible=False, elem_id="article-delete-confirm") as delete_row:
                            delete_question = gr.HTML("", elem_id="article-delete-question")
                            delete_yes = gr.Button("Delete for good", variant="stop", size="sm",
                                                   elem_id="article-delete-yes", scale=0)
                            delete_no = gr.Button("Keep it", size="sm", elem_id="article-delete-no",
                                                  scale=0)
                        with gr.Row(elem_id="aa-article-status"):
                            article_status = gr.HTML("", elem_id="article-status")
                            undo = gr.Button("Undo", size="sm", visible=False, scale=0,
                                             elem_id="article-undo")
                        article_ask = gr.Button("Ask about this article", size="sm",
                                                variant="primary", visible=False,
                                                elem_id="article-ask")
                        article_view = gr.HTML("", elem_id="article-view")
                    with gr.Column(scale=2, min_width=300):
                        upload = gr.File(label="Add articles", file_count="multiple",
                                         file_types=UPLOAD_TYPES, elem_id="upload", height=170)
                        gr.HTML('<p class="aa-muted aa-small aa-help">.txt, .md, .html, .json or .jsonl. '
                                "Uploading the same file again changes nothing; a changed file "
                                "replaces its earlier version.</p>")
                        upload_status = gr.HTML("", elem_id="upload-status")
                        remove_choice = gr.Dropdown(label="Select articles", multiselect=True,
                                                    choices=[], elem_id="remove-choice")
                        with gr.Row():
                            ask_about = gr.Button("Ask about the selected", size="sm",
                                                  variant="primary", elem_id="ask-about")
                            remove_btn = gr.Button("Remove selected", variant="stop", size="sm",
                                                   elem_id="remove")
                        remove_status = gr.HTML("", elem_id="remove-status")

            with gr.Tab("Settings", id="settings", elem_id="tab-settings"):
                defaults = assistants.defaults()
                with gr.Column(elem_id="aa-settings"):
                    gr.HTML('<p class="aa-muted aa-help">These settings apply to this browser '
                            "session only. An API key stays on the server and is never shown "
                            "again.</p>")
                    backend = gr.Radio(
                        label="Answer with",
                        choices=[("Offline: quote the articles (no network, no key)", "extractive"),
                                 ("An OpenAI-compatible endpoint", "openai")],
                        value=defaults.llm, elem_id="backend")
                    with gr.Group(visible=defaults.llm == "openai") as endpoint_group:
                        base_url = gr.Textbox(label="Base URL", value=defaults.base_url,
                                              placeholder="https://api.openai.com/v1 or http://127.0.0.1:8080/v1",
                                              elem_id="base-url")
                        model = gr.Textbox(label="Model", value=defaults.model, elem_id="model")
                        api_key = gr.Textbox(
                            label="API key", type="password", value="", elem_id="api-key",
                            placeholder=("leave empty to use the server's key"
                                         if assistant.settings.openai_api_key else "sk-…"))
                    top_k = gr.Slider(label="Passages to retrieve (top-k)", minimum=1, maximum=20,
                                      step=1, value=min(defaults.top_k, 20), elem_id="top-k")
                    with gr.Group(elem_id="aa-feedback-export"):
                        feedback_summary = gr.HTML("", elem_id="feedback-summary")
                        feedback_export = gr.DownloadButton(
                            "Export feedback as questions.jsonl", size="sm", value=None,
                            elem_id="feedback-export")
                    with gr.Row(equal_height=False, elem_id="aa-apply-row"):
                        apply = gr.Button("Apply", variant="primary", elem_id="apply-settings",
                                          scale=0, min_width=140)
                        test_connection = gr.Button("Test connection", elem_id="test-connection",
                                                    scale=0, min_width=160)
                        settings_status = gr.HTML(render.status_html("info", [defaults.describe()]),
                                                  elem_id="settings-status")

        # --- chat ---------------------------------------------------------------------------------

        def owner_of(request: gr.Request | None) -> str:
            return (getattr(request, "username", None) or "") if request else ""

        def conversation_choices(owner: str, search: str = "") -> list[tuple[str, str]]:
            return [(render.conversation_label(c.title, c.updated, c.turns), c.id)
                    for c in conversations.list(owner, search)]

        def sidebar(owner: str, conv: str, search: str = "") -> tuple[Any, ...]:
            """The conversation list, the actions of the open one, its title and export."""
            has = conversations.owns(owner, conv)
            export = None
            if has:
                exports.mkdir(parents=True, exist_ok=True)
                export = exports / f"conversation-{conv}.md"
                export.write_text(conversations.to_markdown(owner, conv), encoding="utf-8")
            choices = conversation_choices(owner, search)
            listed = has and any(value == conv for _label, value in choices)
            return (gr.Radio(choices=choices, value=conv if listed else None),
                    gr.Group(visible=has), conversations.title(owner, conv) if has else "",
                    gr.DownloadButton(value=str(export) if export else None),
                    gr.Row(visible=False))

        sidebar_outputs = [conv_list, conv_actions, conv_title, conv_export, conv_confirm]

        def start_turn(text: str, chat: list[dict[str, Any]], is_busy: bool, conv: str,
                       request: gr.Request) -> tuple[Any, ...]:
            """Take the question: clear the box, show it, and turn Ask into Stop. The answer
            streams in the next step, which does not write the box: what is typed meanwhile
            stays."""
            text = (text or "").strip()
            if is_busy:
                raise gr.Error("An answer is still coming in: press Stop to ask now, or wait "
                               "for it. Your question is still in the box.", print_exception=False)
            if not text:
                raise gr.Error("Type a question first.", print_exception=False)
            if len(text) > MAX_QUESTION:
                raise gr.Error(f"Questions are limited to {MAX_QUESTION:,} characters; this one "
                               f"has {len(text):,}.", print_exception=False)
            owner = owner_of(request)
            if not conversations.owns(owner, conv):
                conv = conversations.create(owner, text)
            chat = [*chat, {"role": "user", "content": render.user_html(text)},
                    {"role": "assistant", "content": render.thinking_html()}]
            return ("", text, chat, True, conv, gr.Button(visible=False), gr.Button(visible=True),
                    render.counter_html(0, MAX_QUESTION))

        def stream_turn(text: str, chat: list[dict[str, Any]], answers: list[Answer | None],
                        plain: list[dict[str, str]], chosen: SessionSettings | None, conv: str,
                        chosen_ids: list[str] | None, request: gr.Request
                        ) -> Iterator[tuple[Any, ...]]:
            turn = len(answers)
            final: Answer | None = None
            partial, last, paced = "", 0.0, 0.0
            limited = Scope(article_ids=list(chosen_ids)) if chosen_ids else None
            try:
                for item in answer_stream(assistants.get(chosen), text, plain, limited):
                    if isinstance(item, Answer):
                        final = item
                        continue
                    partial += str(item)
                    wait = STREAM_UPDATE_SECONDS - (time.monotonic() - last)
                    if 0 < wait and paced + wait <= REVEAL_SECONDS:
                        time.sleep(wait)
                        paced += wait
                    if time.monotonic() - last >= STREAM_UPDATE_SECONDS:
                        last = time.monotonic()
                        chat[-1] = {"role": "assistant", "content": render.streaming_html(partial)}
                        yield chat, answers, plain
                if final is None:
                    raise AssistantError("the answer stream ended without an answer")
            except Exception as exc:  # every failure becomes a readable line in the chat
                message = _error_message(exc)
                chat[-1] = {"role": "assistant", "content": render.error_html(message)}
                conversations.add_turn(owner_of(request), conv, text, None, message)
                yield chat, [*answers, None], plain
                return
            chat[-1] = {"role": "assistant", "content": render.answer_html(final, turn)}
            plain = [*plain, {"role": "user", "content": text},
                     {"role": "assistant", "content": final.answer}]
            conversations.add_turn(owner_of(request), conv, text, final)
            yield chat, [*answers, final], plain

        def end_turn(conv: str, search: str, request: gr.Request) -> tuple[Any, ...]:
            return (False, gr.Button(visible=True), gr.Button(visible=False),
                    *sidebar(owner_of(request), conv, search))

        def stop_turn(chat: list[dict[str, Any]], answers: list[Answer | None], text: str,
                      conv: str, search: str, request: gr.Request) -> tuple[Any, ...]:
            """Stop pressed: the stream was cancelled on the server; the turn says so."""
            owner = owner_of(request)
            asked = sum(1 for m in chat if m.get("role") == "user")
            if asked > len(answers):  # still unanswered (else it finished just before Stop)
                chat = [*chat[:-1], {"role": "assistant", "content": render.error_html(
                    "Stopped before the answer was complete.")}]
                answers = [*answers, None]
                conversations.add_turn(owner, conv, text, None, "Stopped")
            return (chat, answers, False, gr.Button(visible=True), gr.Button(visible=False),
                    *sidebar(owner, conv, search))

        streams = []
        for trigger, source in ([(question.submit, question), (send.click, question)]
                                + [(b.click, b) for b in example_buttons]):
            started = trigger(start_turn, inputs=[source, chatbot, busy, conversation],
                              outputs=[question if source is question else gr.State(),
                                       pending, chatbot, busy, conversation, send, stop, counter],
                              api_visibility="private", show_progress="hidden")
            streamed = started.success(
                stream_turn, inputs=[pending, chatbot, turns, history, session, conversation,
                                     scope],
                outputs=[chatbot, turns, history], api_visibility="private", concurrency_limit=4,
                show_progress="hidden")
            streamed.then(end_turn, inputs=[conversation, conv_search],
                          outputs=[busy, send, stop, *sidebar_outputs], api_visibility="private",
                          show_progress="hidden")
            streams.append(streamed)
        # Cancel first, then mark the turn: an update the stream had already sent arrives
        # before the mark, not over it.
        stop.click(None, cancels=streams, api_visibility="private", show_progress="hidden").then(
            stop_turn, inputs=[chatbot, turns, pending, conversation, conv_search],
            outputs=[chatbot, turns, busy, send, stop, *sidebar_outputs],
            api_visibility="private", show_progress="hidden")
        # The character counter, in the browser: no round trip per keystroke.
        question.input(None, inputs=[question], outputs=[counter], api_visibility="private",
                       js=f"(text) => `{render.counter_js_template(MAX_QUESTION)}`")

        def reset(search: str, request: gr.Request) -> tuple[Any, ...]:
            return ([], [], [], render.viewer_placeholder_html(), "",
                    *sidebar(owner_of(request), "", search))

        reset_outputs = [chatbot, turns, history, viewer, conversation, *sidebar_outputs]
        new_chat.click(reset, inputs=[conv_search], outputs=reset_outputs,
                       api_visibility="private", show_progress="hidden")
        # The chat's own clear icon empties the messages; the conversation state must follow.
        chatbot.clear(reset, inputs=[conv_search], outputs=reset_outputs,
                      api_visibility="private", show_progress="hidden")

        def open_conversation(conv: str | None, search: str, request: gr.Request
                              ) -> tuple[Any, ...]:
            """Show a stored conversation: its answers, footnotes working, and its follow-up
            context."""
            owner = owner_of(request)
            conv = conv or ""
            chat: list[dict[str, Any]] = []
            answers: list[Answer | None] = []
            plain: list[dict[str, str]] = []
            for number, turn in enumerate(conversations.turns(owner, conv)):
                chat.append({"role": "user", "content": render.user_html(turn.question)})
                if turn.answer is None:
                    chat.append({"role": "assistant", "content": render.error_html(
                        turn.error or "No answer.")})
                else:
                    chat.append({"role": "assistant",
                                 "content": render.answer_html(turn.answer, number)})
                    plain += [{"role": "user", "content": turn.question},
                              {"role": "assistant", "content": turn.answer.answer}]
                answers.append(turn.answer)
            if not conversations.owns(owner, conv):
                conv = ""
            return (chat, answers, plain, render.viewer_placeholder_html(), conv,
                    *sidebar(owner, conv, search))

        conv_list.input(open_conversation, inputs=[conv_list, conv_search],
                        outputs=reset_outputs, api_visibility="private", show_progress="hidden")
        def search_conversations(search: str, conv: str, request: gr.Request) -> tuple[Any, ...]:
            return sidebar(owner_of(request), conv, search)

        conv_search.change(search_conversations,
                          inputs=[conv_search, conversation], outputs=sidebar_outputs,
                          api_visibility="private", show_progress="hidden",
                          trigger_mode="always_last")

        def rename_conversation(title: str, conv: str, search: str, request: gr.Request
                                ) -> tuple[Any, ...]:
            owner = owner_of(request)
            if (title or "").strip():
                conversations.rename(owner, conv, title)
            return sidebar(owner, conv, search)

        conv_rename.click(rename_conversation, inputs=[conv_title, conversation, conv_search],
                          outputs=sidebar_outputs, api_visibility="private",
                          show_progress="hidden")
        conv_title.submit(rename_conversation, inputs=[conv_title, conversation, conv_search],
                          outputs=sidebar_outputs, api_visibility="private",
                          show_progress="hidden")
        conv_delete.click(lambda: gr.Row(visible=True), outputs=[conv_confirm],
                          api_visibility="private", show_progress="hidden")
        conv_delete_no.click(lambda: gr.Row(visible=False), outputs=[conv_confirm],
                             api_visibility="private", show_progress="hidden")

        def delete_conversation(conv: str, search: str, request: gr.Request) -> tuple[Any, ...]:
            conversations.delete(owner_of(request), conv)
            return reset(search, request)

        conv_delete_yes.click(delete_conversation, inputs=[conversation, conv_search],
                              outputs=reset_outputs, api_visibility="private",
                              show_progress="hidden")

        def feedback_file(owner: str) -> tuple[Any, Any]:
            """The owner's ratings as questions.jsonl, ready for the export button."""
            count = feedback.count(owner)
            if not count:
                return (render.status_html("info", ["No answers rated yet: rate one with the "
                                                    "thumbs under it."]),
                        gr.DownloadButton(value=None, interactive=False))
            exports.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256(owner.encode()).hexdigest()[:12]
            path = exports / f"feedback-{digest}-questions.jsonl"
            path.write_text(feedback.to_questions_jsonl(owner), encoding="utf-8")
            line = (f"{count} rated answer{'s' if count != 1 else ''}, exported as an evaluation "
                    "dataset (run it with `assistant eval --dataset DIR`; items tagged review "
                    "need their answers filled in).")
            return (render.status_html("info", [line]),
                    gr.DownloadButton(value=str(path), interactive=True))

        def rate(conv: str, data: gr.LikeData, request: gr.Request) -> tuple[Any, ...]:
            owner = owner_of(request)
            index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
            turn = int(index) // 2
            liked = data.liked is True or data.liked == "Like"
            if not feedback.rate(owner, conv, turn, liked):
                return (turn, gr.Row(visible=False),
                        render.status_html("warn", ["Only a finished answer can be rated."]),
                        *feedback_file(owner))
            thanks = "Thanks: marked as a good answer." if liked else \
                "Thanks: marked as a poor answer. A note helps turn it into a test."
            return (turn, gr.Row(visible=True), render.status_html("ok", [thanks]),
                    *feedback_file(owner))

        chatbot.like(rate, inputs=[conversation],
                     outputs=[rated, note_row, feedback_status, feedback_summary,
                              feedback_export], api_visibility="private", show_progress="hidden")

        def save_note(note: str, conv: str, turn: int, request: gr.Request) -> tuple[Any, ...]:
            owner = owner_of(request)
            if turn < 0 or not feedback.note(owner, conv, turn, note or ""):
                return (gr.skip(), render.status_html("warn", ["Rate an answer first."]),
                        *feedback_file(owner))
            return ("", render.status_html("ok", ["Note saved with your rating."]),
                    *feedback_file(owner))

        for trigger in (feedback_save.click, feedback_note.submit):
            trigger(save_note, inputs=[feedback_note, conversation, rated],
                    outputs=[feedback_note, feedback_status, feedback_summary, feedback_export],
                    api_visibility="private", show_progress="hidden")

        def show_citation(answers: list[Answer | None], evt: gr.EventData) -> str:
            target = render.parse_cite_href(str(getattr(evt, "cite", "") or ""))
            if target is None:
                return gr.skip()
            turn, n = target
            if turn >= len(answers) or answers[turn] is None:
                return render.viewer_message_html("That answer is no longer in this conversation.")
            answer = answers[turn]
            assert answer is not None
            cited = next((c for c in answer.citations if c.n == n), None)
            try:
                article = assistant.article(cited.article_id) if cited else None
            except AssistantError:
                article = None
            return render.citation_html(answer, n, turn, article)

        viewer.click(show_citation, inputs=[turns], outputs=[viewer], api_visibility="private",
                     show_progress="hidden", concurrency_limit=None)

        # --- articles -------------------------------------------------------------------------------

        refresh_outputs = [header, articles, remove_choice, *example_buttons, scope]
        demo.load(refreshed, outputs=refresh_outputs, api_visibility="private", show_progress="hidden")
        demo.load(open_conversation, inputs=[conversation, conv_search], outputs=reset_outputs,
                  api_visibility="private", show_progress="hidden")

        def load_feedback(request: gr.Request) -> tuple[Any, Any]:
            return feedback_file(owner_of(request))

        demo.load(load_feedback, outputs=[feedback_summary, feedback_export],
                  api_visibility="private", show_progress="hidden")

        def add_files(files: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
            if not files:
                return (gr.skip(), *(gr.skip() for _ in refresh_outputs), gr.skip())
            uploads.mkdir(parents=True, exist_ok=True)
            copies: list[Path] = []
            for temp in files:
                # Named by content and name: the same file uploaded again lands on the same path
                # (and is recognised as unchanged), while another file that happens to share its
                # name (a second "article.txt") is kept beside it instead of replacing it.
                digest = hashlib.sha256(Path(temp).read_bytes()).hexdigest()[:12]
                target = uploads / f"{digest}-{_safe_name(Path(temp).name)}"
                if not target.exists():
                    shutil.copyfile(temp, target)
                copies.append(target)

            def step(done: int, total: int, path: str) -> None:
                progress((done, total), desc=f"Indexing {Path(path).name}", unit="files")

            def embedded(done: int, total: int, path: str) -> None:
                # The files are read first and embedded in batches: without this the bar sat at
                # 100 % of the files while the real work went on.
                progress((done, total), desc=f"Embedding {Path(path).name}", unit="sentences")

            progress((0, len(copies)), desc="Indexing", unit="files")
            try:
                summary = assistant.ingest(copies, progress=step, embedding_progress=embedded)
            except AssistantError as exc:
                status = render.status_html("error", [str(exc).replace(f"{uploads}/", "")])
                return (status, *refreshed(), None)
            except Exception as exc:
                log.exception("upload failed")
                status = render.status_html(
                    "error", [f"Could not index the upload ({exc.__class__.__name__})."])
                return (status, *refreshed(), None)
            lines = [_ingest_line(summary.added, summary.updated, summary.unchanged, summary.chunks)]
            lines += [msg.replace(f"{uploads.resolve()}/", "").replace(f"{uploads}/", "")
                      for msg in summary.failed]
            kind = "error" if summary.failed and not (summary.added + summary.updated + summary.unchanged) \
                else "warn" if summary.failed else "ok"
            return (render.status_html(kind, lines), *refreshed(), None)

        upload.upload(add_files, inputs=[upload], outputs=[upload_status, *refresh_outputs, upload],
                      api_visibility="private", concurrency_limit=1, show_progress="full",
                      show_progress_on=[upload])

        def remove_selected(ids: list[str] | None) -> tuple[Any, ...]:
            if not ids:
                return (render.status_html("info", ["Choose the articles to remove first."]),
                        *refreshed())
            titles = {s.article_id: s.title for s in current_sources()}
            lines, kind = [], "ok"
            for article_id in ids:
                try:
                    removed = assistant.remove(article_id)
                except AssistantError as exc:
                    removed, kind = False, "error"
                    lines.append(f"{article_id}: {exc}")
                    continue
                if removed:
                    lines.append(f"Removed “{titles.get(article_id, article_id)}”.")
                else:
                    kind = "warn"
                    lines.append(f"{article_id}: no such article (already removed?).")
            return (render.status_html(kind, lines), *refreshed())

        remove_btn.click(remove_selected, inputs=[remove_choice],
                         outputs=[remove_status, *refresh_outputs], api_visibility="private",
                         concurrency_limit=1)

        def table(query: str, order: str) -> str:
            sources = current_sources()
            return render.articles_html(render.filter_and_sort(sources, query, order),
                                        total=len(sources))

        for control in (articles_filter.change, articles_sort.change):
            control(table, inputs=[articles_filter, articles_sort], outputs=[articles],
                    api_visibility="private", show_progress="hidden",
                    trigger_mode="always_last")

        def row_action(evt: gr.EventData) -> tuple[Any, ...]:
            """A row's Open (show the article, offer to ask about it) or Delete (ask first)."""
            open_id = str(getattr(evt, "open", "") or "")
            remove_id = str(getattr(evt, "remove", "") or "")
            titles = {s.article_id: s.title for s in current_sources()}
            if remove_id:
                if remove_id not in titles:
                    return (gr.skip(),) * 4 + (
                        render.status_html("warn", ["That article is no longer indexed."]),
                        gr.Row(visible=False), "", "")
                question_html = (f'<p>Delete “{render.esc(titles[remove_id])}” from the index? '
                                 "Undo can bring it back from its file.</p>")
                return (gr.skip(),) * 4 + ("", gr.Row(visible=True), question_html, remove_id)
            try:
                article = assistant.article(open_id) if open_id else None
            except AssistantError:
                article = None
            if article is None:
                return ("", gr.Button(visible=False), "", gr.skip(),
                        render.status_html("warn", ["That article is no longer indexed."]),
                        gr.Row(visible=False), "", "")
            return (render.article_view_html(article), gr.Button(visible=True), open_id,
                    gr.skip(), "", gr.Row(visible=False), "", "")

        articles.click(row_action, outputs=[article_view, article_ask, opened, undo,
                                            article_status, delete_row, delete_question,
                                            deleting],
                       api_visibility="private", show_progress="hidden", concurrency_limit=None)
        delete_no.click(lambda: (gr.Row(visible=False), ""), outputs=[delete_row, deleting],
                        api_visibility="private", show_progress="hidden")

        def delete_confirmed(article_id: str, query: str, order: str) -> tuple[Any, ...]:
            sources = {s.article_id: s for s in current_sources()}
            source = sources.get(article_id)
            try:
                removed = bool(source) and assistant.remove(article_id)
            except AssistantError as exc:
                return (render.status_html("error", [str(exc)]), gr.Button(visible=False), [],
                        gr.Row(visible=False), "", table(query, order), gr.skip(), gr.skip())
            if not removed or source is None:
                return (render.status_html("warn", ["That article was already removed."]),
                        gr.Button(visible=False), [], gr.Row(visible=False), "",
                        table(query, order), gr.skip(), gr.skip())
            restorable = [source.source] if (source.source.startswith(("http://", "https://"))
                                             or Path(source.source).is_file()) else []
            line = f"Removed “{source.title}”."
            return (render.status_html("ok", [line]), gr.Button(visible=bool(restorable)),
                    restorable, gr.Row(visible=False), "", table(query, order), "",
                    gr.Button(visible=False))

        delete_yes.click(delete_confirmed, inputs=[deleting, articles_filter, articles_sort],
                         outputs=[article_status, undo, removed_sources, delete_row, deleting,
                                  articles, article_view, article_ask],
                         api_visibility="private", show_progress="hidden", concurrency_limit=1)

        def undo_removal(paths: list[str], query: str, order: str) -> tuple[Any, ...]:
            if not paths:
                return render.status_html("info", ["Nothing to undo."]), gr.Button(visible=False), \
                    gr.skip(), []
            try:
                summary = assistant.ingest(paths)
            except AssistantError as exc:
                return render.status_html("error", [str(exc)]), gr.Button(visible=False), \
                    gr.skip(), []
            lines = ["Restored." if summary.added + summary.updated + summary.unchanged
                     else "Could not restore it.", *summary.failed]
            return (render.status_html("ok" if not summary.failed else "warn", lines),
                    gr.Button(visible=False), table(query, order), [])

        undo.click(undo_removal, inputs=[removed_sources, articles_filter, articles_sort],
                   outputs=[article_status, undo, articles, removed_sources],
                   api_visibility="private", show_progress="hidden", concurrency_limit=1)

        article_ask.click(lambda article_id: (gr.Dropdown(value=[article_id] if article_id else []),
                                              gr.Tabs(selected="chat")),
                          inputs=[opened], outputs=[scope, tabs], api_visibility="private",
                          show_progress="hidden")

        def ask_about_selected(ids: list[str] | None) -> tuple[Any, ...]:
            if not ids:
                return (render.status_html("info", ["Select the articles to ask about first."]),
                        gr.skip(), gr.skip())
            return "", gr.Dropdown(value=list(ids)), gr.Tabs(selected="chat")

        ask_about.click(ask_about_selected, inputs=[remove_choice],
                        outputs=[remove_status, scope, tabs], api_visibility="private",
                        show_progress="hidden")

        # --- settings -------------------------------------------------------------------------------

        backend.change(lambda choice: gr.Group(visible=choice == "openai"), inputs=[backend],
                       outputs=[endpoint_group], api_visibility="private", show_progress="hidden")

        def chosen_settings(choice: str, url: str, name: str, key: str, k: float,
                            current: SessionSettings | None) -> SessionSettings | str:
            """The settings the form describes, or the one-line reason they are refused."""
            url, name, key = (url or "").strip(), (name or "").strip(), (key or "").strip()
            if choice == "openai":
                if url and not re.match(r"https?://[^\s/]+", url):
                    return "The base URL must start with http:// or https://."
                if not name:
                    return "Name the model to use."
            # An empty key field keeps the key this session already gave; the field itself is
            # always cleared, so the key is never shown again.
            secret = SecretStr(key) if key else (current.api_key if current else None)
            return SessionSettings(llm=choice if choice in ("extractive", "openai") else "extractive",
                                   base_url=url, model=name or defaults.model,
                                   api_key=secret if choice == "openai" else None, top_k=int(k))

        def connection_report(chosen: SessionSettings) -> tuple[str, list[str]]:
            """Ask the endpoint for its models: ("ok", [...]) or ("error", [reason])."""
            try:
                models = assistants.get(chosen).llm_models()
            except AssistantError as exc:
                return "error", [str(exc)]
            where = chosen.base_url or "the default endpoint"
            listed = ", ".join(models[:8]) + (f" and {len(models) - 8} more" if len(models) > 8
                                             else "")
            line = f"Connected to {where}: {len(models)} model{'s' if len(models) != 1 else ''}" \
                   f"{': ' + listed if models else ''}."
            if models and chosen.model not in models:
                return "warn", [line, f"The model {chosen.model!r} is not among them."]
            return "ok", [line]

        def apply_settings(choice: str, url: str, name: str, key: str, k: float,
                           current: SessionSettings | None) -> tuple[Any, ...]:
            chosen = chosen_settings(choice, url, name, key, k, current)
            if isinstance(chosen, str):
                return render.status_html("error", [chosen]), current, "", gr.skip()
            try:
                assistants.get(chosen)  # the core validates the settings here
            except AssistantError as exc:
                return render.status_html("error", [str(exc)]), current, "", gr.skip()
            cleared = gr.Textbox(value="", placeholder=(
                "set for this session; type a new key to replace it" if chosen.api_key else "sk-…"))
            saved = {"llm": chosen.llm, "base_url": chosen.base_url, "model": chosen.model,
                     "top_k": chosen.top_k}
            if chosen.llm == "openai":
                kind, lines = connection_report(chosen)
                if kind != "ok":
                    return (render.status_html("warn", [
                        "Applied. " + chosen.describe(),
                        "But the endpoint does not work yet: " + " ".join(lines),
                        "Until it does, answers quote the articles, with a note."]),
                        chosen, cleared, saved)
                return (render.status_html("ok", ["Applied. " + chosen.describe(), *lines]),
                        chosen, cleared, saved)
            return render.status_html("ok", ["Applied. " + chosen.describe()]), chosen, cleared, saved

        apply.click(apply_settings, inputs=[backend, base_url, model, api_key, top_k, session],
                    outputs=[settings_status, session, api_key, saved_settings],
                    api_visibility="private", show_progress="hidden")

        def test_settings(choice: str, url: str, name: str, key: str, k: float,
                          current: SessionSettings | None) -> str:
            if choice != "openai":
                return render.status_html("info", ["Offline answers need no connection."])
            chosen = chosen_settings(choice, url, name, key, k, current)
            if isinstance(chosen, str):
                return render.status_html("error", [chosen])
            kind, lines = connection_report(chosen)
            return render.status_html(kind, lines)

        test_connection.click(test_settings,
                              inputs=[backend, base_url, model, api_key, top_k, session],
                              outputs=[settings_status], api_visibility="private",
                              show_progress="hidden")

        def restore_settings(saved: dict[str, Any] | None) -> tuple[Any, ...]:
            """The choices this browser applied before (the key is never kept: a session that
            needs one asks for it again)."""
            if not saved or saved.get("llm") not in ("extractive", "openai"):
                return (gr.skip(),) * 7
            chosen = chosen_settings(str(saved["llm"]), str(saved.get("base_url") or ""),
                                     str(saved.get("model") or ""), "",
                                     float(saved.get("top_k") or defaults.top_k), None)
            if isinstance(chosen, str):
                return (gr.skip(),) * 7
            try:
                assistants.get(chosen)
            except AssistantError:
                return (gr.skip(),) * 7
            return (chosen, chosen.llm, chosen.base_url, chosen.model, chosen.top_k,
                    gr.Group(visible=chosen.llm == "openai"),
                    render.status_html("info", ["Restored from this browser: "
                                                + chosen.describe()]))

        demo.load(restore_settings, inputs=[saved_settings],
                  outputs=[session, backend, base_url, model, top_k, endpoint_group,
                           settings_status], api_visibility="private", show_progress="hidden")

        # --- the API for other apps (see ui/README.md) ---------------------------------------------

        def ask(question: str, top_k: int | None = None) -> dict[str, Any]:
            """Answer one question from the indexed articles; returns the Answer as JSON."""
            try:
                return assistant.ask(question, top_k=int(top_k) if top_k else None).model_dump()
            except Exception as exc:
                raise gr.Error(_error_message(exc), print_exception=False) from None

        def chat(messages: list[dict[str, str]]) -> dict[str, Any]:
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
                raise gr.Error(_error_message(exc), print_exception=False) from None

        def sources() -> list[dict[str, Any]]:
            """The indexed articles: article_id, title, source, url, date, chunks."""
            return [s.model_dump() for s in current_sources()]

        gr.api(ask, api_name="ask")
        gr.api(chat, api_name="chat")
        gr.api(sources, api_name="sources")

    demo.queue(default_concurrency_limit=4)
    return demo


def _ingest_line(added: int, updated: int, unchanged: int, chunks: int) -> str:
    def count(n: int, what: str) -> str:
        return f"{n} article{'s' if n != 1 else ''} {what}"

    parts = [count(n, what) for n, what in ((added, "added"), (updated, "updated"),
                                              (unchanged, "unchanged")) if n]
    if not parts:
        return "Nothing was indexed."
    tail = f" ({chunks} passage{'s' if chunks != 1 else ''} indexed)" if chunks else ""
    return ", ".join(parts).capitalize() + tail + "."


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^\w.\- ]+", "_", name).strip(" .")
    return cleaned or "upload.txt"
