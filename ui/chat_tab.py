"""The Chat tab: the conversations sidebar, the chat with its question box, ratings and
example questions, and the source viewer.

`build_chat_tab()` lays the tab out inside the current gr.Blocks; `ChatHandlers`
(ui/chat_handlers.py) holds what its events do, as plain methods that take the user (owner)
instead of a gr.Request, so a test can call them without a browser; `wire_chat(...)` connects the
two. The scripts the tab installs in the page are in ui/chat_js.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from assistant import Answer
from ui import render
from ui.chat_handlers import ChatHandlers
from ui.chat_js import CITE_JS, LAYOUT_JS, TURN_START_JS
from ui.common import (
    MAX_QUESTION,
    N_EXAMPLES,
    SessionSettings,
    SessionState,
    owner_of,
)

# --- layout ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatTab:
    """The Chat tab's components that events read or write."""

    new_chat: gr.Button
    conv_search: gr.Textbox
    conv_list: gr.Radio
    conv_actions: gr.Group
    conv_title: gr.Textbox
    conv_rename: gr.Button
    conv_delete: gr.Button
    conv_confirm: gr.Row
    conv_delete_yes: gr.Button
    conv_delete_no: gr.Button
    conv_export: gr.DownloadButton
    chatbot: gr.Chatbot
    scope: gr.Dropdown
    scope_chip: gr.Button
    question: gr.Textbox
    send: gr.Button
    stop: gr.Button
    counter: gr.HTML
    note_row: gr.Row
    feedback_note: gr.Textbox
    feedback_save: gr.Button
    feedback_status: gr.HTML
    example_buttons: list[gr.Button]
    viewer: gr.HTML

    @property
    def sidebar_outputs(self) -> list[Any]:
        """What ChatHandlers.sidebar returns, in its order."""
        return [self.conv_list, self.conv_actions, self.conv_title, self.conv_export,
                self.conv_confirm]


def build_chat_tab() -> ChatTab:
    """The Chat tab, inside the current gr.Tabs. Chat first: the conversations are a sidebar
    on a desktop and a drawer on a phone (opened from the header's button, LAYOUT_JS); the chat
    box holds the empty state with its *Try* questions; the question bar has the scope as a
    chip beside the box (its choices in a panel the chip opens) and is pinned to the bottom of
    a phone's screen; the open conversation's Rename, Export and Delete wait in a menu over the
    chat's top right corner."""
    with gr.Tab("Chat", id="chat", elem_id="tab-chat"):
        with gr.Row(equal_height=False, elem_id="aa-chat-row"):
            with gr.Column(scale=1, min_width=220, elem_id="aa-conversations"):
                gr.HTML(render.drawer_head_html(), elem_classes="aa-drawer-head-block")
                new_chat = gr.Button("New conversation", size="sm", variant="secondary",
                                     elem_id="new-chat", elem_classes="aa-new-chat")
                conv_search = gr.Textbox(label="Search conversations", lines=1,
                                         max_lines=1, elem_id="conv-search",
                                         placeholder="Title or question")
                conv_list = gr.Radio(label="Conversations", choices=[], value=None,
                                     elem_id="conv-list", elem_classes="aa-conv-list")
            with gr.Column(scale=3, min_width=380, elem_id="aa-chat-col"):
                with gr.Group(visible=False, elem_id="conv-actions") as conv_actions:
                    # On the open conversation: in the chat box's corner, opened and closed in
                    # the browser (LAYOUT_JS).
                    gr.Button("⋯ Conversation", size="sm", elem_id="conv-menu",
                              elem_classes="aa-menu-button")
                    with gr.Column(elem_id="conv-menu-panel", elem_classes="aa-menu-panel"):
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
                with gr.Column(elem_id="aa-chat-box"):
                    chatbot = gr.Chatbot(
                        elem_id="chat", show_label=False, height="58vh", min_height=420,
                        render_markdown=False, sanitize_html=True, latex_delimiters=[],
                        feedback_options=("Like", "Dislike"), buttons=[],
                        group_consecutive_messages=False,
                        placeholder=("<div class='aa-empty'><h3>Ask about your articles</h3>"
                                     "<p>Answers quote the articles word for word. Click a "
                                     "footnote to see the passage behind each sentence.</p>"
                                     "</div>"))
                    # Under the empty state, inside the chat's box; hidden once it has turns.
                    with gr.Row(elem_id="aa-examples"):
                        gr.HTML('<span class="aa-label">Try</span>',
                                elem_classes="aa-examples-label")
                        example_buttons = [
                            gr.Button("", visible=False, size="sm", variant="secondary",
                                      elem_classes="aa-example", elem_id=f"example-{i}")
                            for i in range(N_EXAMPLES)]
                with gr.Column(elem_id="aa-ask-bar"):
                    with gr.Column(elem_id="scope-panel", elem_classes="aa-menu-panel"):
                        scope = gr.Dropdown(
                            label="Ask about", multiselect=True, choices=[], value=[],
                            elem_id="scope", info="all articles when none is chosen")
                    with gr.Row(elem_id="aa-ask-row"):
                        scope_chip = gr.Button(render.scope_chip_label([]), size="sm",
                                               scale=0, min_width=0, elem_id="scope-chip",
                                               elem_classes="aa-chip-button")
                        question = gr.Textbox(
                            elem_id="question", label="Your question", show_label=False,
                            scale=8, lines=1, max_lines=4, max_length=MAX_QUESTION,
                            placeholder="Ask a question…", autofocus=True,
                            submit_btn=False)
                        send = gr.Button("Ask", variant="primary", scale=0, min_width=64,
                                         elem_id="ask")
                        stop = gr.Button("Stop", variant="stop", scale=0, min_width=64,
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
            with gr.Column(scale=2, min_width=320, elem_id="aa-viewer-col"):
                viewer = gr.HTML(render.viewer_placeholder_html(), elem_id="source-viewer",
                                 js_on_load=CITE_JS + TURN_START_JS + LAYOUT_JS)
    return ChatTab(
        new_chat=new_chat, conv_search=conv_search, conv_list=conv_list,
        conv_actions=conv_actions, conv_title=conv_title, conv_rename=conv_rename,
        conv_delete=conv_delete, conv_confirm=conv_confirm, conv_delete_yes=conv_delete_yes,
        conv_delete_no=conv_delete_no, conv_export=conv_export, chatbot=chatbot, scope=scope,
        scope_chip=scope_chip,
        question=question, send=send, stop=stop, counter=counter, note_row=note_row,
        feedback_note=feedback_note, feedback_save=feedback_save,
        feedback_status=feedback_status, example_buttons=example_buttons, viewer=viewer)


# --- events ----------------------------------------------------------------------------------------


def wire_chat(chat_tab: ChatTab, state: SessionState, handlers: ChatHandlers,
              feedback_summary: gr.HTML, feedback_export: gr.DownloadButton) -> None:
    """Connect the Chat tab's events, inside the current gr.Blocks. A rating also updates the
    feedback summary and export, which live in the Settings tab.

    Gradio calls the small functions below: their annotations (gr.Request, gr.LikeData,
    gr.EventData) are how it knows what to inject, and their names and generator-ness are
    what the app always had; each passes its inputs on to `handlers`."""
    c, s, h = chat_tab, state, handlers

    def start_turn(text: str, chat: list[dict[str, Any]], is_busy: bool, conv: str,
                   request: gr.Request) -> tuple[Any, ...]:
        return h.start_turn(owner_of(request), text, chat, is_busy, conv)

    def stream_turn(text: str, chat: list[dict[str, Any]], answers: list[Answer | None],
                    plain: list[dict[str, str]], chosen: SessionSettings | None, conv: str,
                    chosen_ids: list[str] | None, request: gr.Request
                    ) -> Iterator[tuple[Any, ...]]:
        # A generator itself, so that Gradio streams it and Stop can cancel it.
        yield from h.stream_turn(owner_of(request), text, chat, answers, plain, chosen, conv,
                                 chosen_ids)

    def end_turn(conv: str, search: str, request: gr.Request) -> tuple[Any, ...]:
        return h.end_turn(owner_of(request), conv, search)

    def stop_turn(chat: list[dict[str, Any]], answers: list[Answer | None], text: str,
                  conv: str, search: str, request: gr.Request) -> tuple[Any, ...]:
        return h.stop_turn(owner_of(request), chat, answers, text, conv, search)

    sidebar_outputs = c.sidebar_outputs
    streams = []
    for trigger, source in ([(c.question.submit, c.question), (c.send.click, c.question)]
                            + [(b.click, b) for b in c.example_buttons]):
        started = trigger(start_turn, inputs=[source, c.chatbot, s.busy, s.conversation],
                          outputs=[c.question if source is c.question else gr.State(),
                                   s.pending, c.chatbot, s.busy, s.conversation, c.send, c.stop,
                                   c.counter],
                          api_visibility="private", show_progress="hidden")
        streamed = started.success(
            stream_turn, inputs=[s.pending, c.chatbot, s.turns, s.history, s.session,
                                 s.conversation, c.scope],
            outputs=[c.chatbot, s.turns, s.history, s.busy, c.send, c.stop],
            api_visibility="private", concurrency_limit=4, show_progress="hidden")
        streamed.then(end_turn, inputs=[s.conversation, c.conv_search],
                      outputs=sidebar_outputs, api_visibility="private", show_progress="hidden")
        streams.append(streamed)
    # Cancel first, then mark the turn: an update the stream had already sent arrives
    # before the mark, not over it.
    c.stop.click(None, cancels=streams, api_visibility="private", show_progress="hidden").then(
        stop_turn, inputs=[c.chatbot, s.turns, s.pending, s.conversation, c.conv_search],
        outputs=[c.chatbot, s.turns, s.busy, c.send, c.stop, *sidebar_outputs],
        api_visibility="private", show_progress="hidden")
    # The chip beside the question says what it is limited to, however the scope was set.
    c.scope.change(h.scope_label, inputs=[c.scope], outputs=[c.scope_chip],
                   api_visibility="private", show_progress="hidden", trigger_mode="always_last")
    # The character counter, in the browser: no round trip per keystroke. On `change`, not
    # `input`: Gradio fired `input` for typed characters only, so a counter at "6 / 2,000" stayed
    # there while the box was emptied with Backspace.
    c.question.change(None, inputs=[c.question], outputs=[c.counter], api_visibility="private",
                      js=f"(text) => `{render.counter_js_template(MAX_QUESTION)}`")

    def reset(search: str, request: gr.Request) -> tuple[Any, ...]:
        return h.reset(owner_of(request), search)

    reset_outputs = reset_outputs_of(c, s)
    c.new_chat.click(reset, inputs=[c.conv_search], outputs=reset_outputs,
                     api_visibility="private", show_progress="hidden")
    # The chat's own clear icon empties the messages; the conversation state must follow.
    c.chatbot.clear(reset, inputs=[c.conv_search], outputs=reset_outputs,
                    api_visibility="private", show_progress="hidden")

    c.conv_list.input(open_conversation_event(h), inputs=[c.conv_list, c.conv_search],
                      outputs=reset_outputs, api_visibility="private", show_progress="hidden")

    def search_conversations(search: str, conv: str, request: gr.Request) -> tuple[Any, ...]:
        return h.sidebar(owner_of(request), conv, search)

    c.conv_search.change(search_conversations,
                         inputs=[c.conv_search, s.conversation], outputs=sidebar_outputs,
                         api_visibility="private", show_progress="hidden",
                         trigger_mode="always_last")

    def rename_conversation(title: str, conv: str, search: str, request: gr.Request
                            ) -> tuple[Any, ...]:
        return h.rename_conversation(owner_of(request), title, conv, search)

    c.conv_rename.click(rename_conversation, inputs=[c.conv_title, s.conversation, c.conv_search],
                        outputs=sidebar_outputs, api_visibility="private",
                        show_progress="hidden")
    c.conv_title.submit(rename_conversation, inputs=[c.conv_title, s.conversation, c.conv_search],
                        outputs=sidebar_outputs, api_visibility="private",
                        show_progress="hidden")
    c.conv_delete.click(lambda: gr.Row(visible=True), outputs=[c.conv_confirm],
                        api_visibility="private", show_progress="hidden")
    c.conv_delete_no.click(lambda: gr.Row(visible=False), outputs=[c.conv_confirm],
                           api_visibility="private", show_progress="hidden")

    def delete_conversation(conv: str, search: str, request: gr.Request) -> tuple[Any, ...]:
        return h.delete_conversation(owner_of(request), conv, search)

    c.conv_delete_yes.click(delete_conversation, inputs=[s.conversation, c.conv_search],
                            outputs=reset_outputs, api_visibility="private",
                            show_progress="hidden")

    def rate(conv: str, data: gr.LikeData, request: gr.Request) -> tuple[Any, ...]:
        return h.rate(owner_of(request), conv, data.index, data.liked)

    c.chatbot.like(rate, inputs=[s.conversation],
                   outputs=[s.rated, c.note_row, c.feedback_status, feedback_summary,
                            feedback_export], api_visibility="private", show_progress="hidden")

    def save_note(note: str, conv: str, turn: int, request: gr.Request) -> tuple[Any, ...]:
        return h.save_note(owner_of(request), note, conv, turn)

    for trigger in (c.feedback_save.click, c.feedback_note.submit):
        trigger(save_note, inputs=[c.feedback_note, s.conversation, s.rated],
                outputs=[c.feedback_note, c.feedback_status, feedback_summary, feedback_export],
                api_visibility="private", show_progress="hidden")

    def show_citation(answers: list[Answer | None], evt: gr.EventData) -> str:
        return h.show_citation(answers, str(getattr(evt, "cite", "") or ""))

    c.viewer.click(show_citation, inputs=[s.turns], outputs=[c.viewer], api_visibility="private",
                   show_progress="hidden", concurrency_limit=None)


def reset_outputs_of(chat_tab: ChatTab, state: SessionState) -> list[Any]:
    """What ChatHandlers.reset and open_conversation return, in their order."""
    return [chat_tab.chatbot, state.turns, state.history, chat_tab.viewer, state.conversation,
            *chat_tab.sidebar_outputs]


def open_conversation_event(handlers: ChatHandlers) -> Callable[..., tuple[Any, ...]]:
    """The function Gradio calls to open a conversation: from the list, and on page load
    (the one the browser remembers)."""

    def open_conversation(conv: str | None, search: str, request: gr.Request
                          ) -> tuple[Any, ...]:
        return handlers.open_conversation(owner_of(request), conv, search)

    return open_conversation


def load_feedback_event(handlers: ChatHandlers) -> Callable[..., tuple[Any, Any]]:
    """The function Gradio calls on page load for the user's feedback summary and export."""

    def load_feedback(request: gr.Request) -> tuple[Any, Any]:
        return handlers.feedback_file(owner_of(request))

    return load_feedback
