"""The Chat tab: the conversations sidebar, the chat with its question box, ratings and
example questions, and the source viewer.

`build_chat_tab()` lays the tab out inside the current gr.Blocks; `ChatHandlers` holds what its
events do, as plain methods that take the user (owner) instead of a gr.Request, so a test can
call them without a browser; `wire_chat(...)` connects the two.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from assistant import Answer, AssistantError, InvalidQuestionError, Scope, check_question
from ui import render
from ui.common import (
    MAX_QUESTION,
    N_EXAMPLES,
    REVEAL_SECONDS,
    STREAM_UPDATE_SECONDS,
    Services,
    SessionSettings,
    SessionState,
    answer_stream,
    current_sources,
    error_message,
    owner_of,
)

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
  const copy = target ? target.closest('a.aa-copy') : null;
  if (copy) {
    event.preventDefault();
    const text = copy.parentElement?.querySelector('.aa-copy-text')?.textContent || '';
    navigator.clipboard.writeText(text).then(() => {
      copy.textContent = 'Copied';
      setTimeout(() => { copy.textContent = 'Copy with sources'; }, 2000);
    });
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


# Installed beside CITE_JS. The chat scrolls to the end of the newest message, so an answer
# taller than the chat would show only its end and hide where its certainty is said (the
# decline's callout, the "Not sure" title, the short answer): a finished answer is shown from
# its start instead. A new question scrolls back to the end, so the chat follows what streams in.
TURN_START_JS = """
if (window.__aaTurnObserver) window.__aaTurnObserver.disconnect();
(function install(tries) {
  const chat = document.querySelector('#chat');
  if (!chat) {  // not mounted yet
    if (tries > 0) setTimeout(() => install(tries - 1), 250);
    return;
  }
  const scroller = (el) => {
    for (let node = el.parentElement; node && node !== document.body; node = node.parentElement) {
      const overflow = getComputedStyle(node).overflowY;
      if ((overflow === 'auto' || overflow === 'scroll') && node.scrollHeight > node.clientHeight + 1)
        return node;
    }
    return null;
  };
  const count = (selector) => chat.querySelectorAll(selector).length;
  let asked = count('[data-testid="user"]'), finals = count('.aa-final');
  const showStart = (onlyAtEnd) => {
    const last = [...chat.querySelectorAll('.aa-final')].pop();
    const box = last && scroller(last);
    if (!box) return;
    if (onlyAtEnd && box.scrollHeight - box.scrollTop - box.clientHeight > 4) return;
    const message = last.closest('.message') || last;
    const gap = message.getBoundingClientRect().top - box.getBoundingClientRect().top;
    if (gap < 0) box.scrollTop += gap - 8;
  };
  window.__aaTurnObserver = new MutationObserver(() => {
    const nowAsked = count('[data-testid="user"]'), nowFinals = count('.aa-final');
    if (nowAsked > asked) {
      const box = scroller([...chat.querySelectorAll('[data-testid="user"]')].pop());
      if (box) box.scrollTop = box.scrollHeight;
    }
    if (nowFinals > finals) {
      // After the chat's own scroll to the end, which comes 300 ms after it renders; the second
      // look only if that scroll came later still.
      setTimeout(() => showStart(false), 450);
      setTimeout(() => showStart(true), 900);
    }
    asked = nowAsked;
    finals = nowFinals;
  });
  window.__aaTurnObserver.observe(chat, {subtree: true, childList: true});
})(40);
"""


# Installed beside CITE_JS: what opens and closes without a round trip. The header's
# Conversations button opens the conversations drawer (a phone's; on a desktop they are a
# sidebar and the button is hidden), which its close button, Escape, a click beside it, a
# chosen conversation or New conversation close again, focus going back to the header's
# button. The scope chip opens the scope panel above the question bar, the open conversation's
# menu button its Rename, Export and Delete, and an article row's menu (a <details>) closes
# when another opens. Each state is a data-open attribute on the drawer or on the panel's
# holder, which the style sheet reads and Gradio's re-renders leave alone.
LAYOUT_JS = """
if (window.__aaLayout) {
  document.removeEventListener('click', window.__aaLayout.click, true);
  document.removeEventListener('keydown', window.__aaLayout.key, true);
  document.removeEventListener('change', window.__aaLayout.change, true);
  document.removeEventListener('focusin', window.__aaLayout.focus, true);
}
window.__aaLayout = (() => {
  const $ = (selector) => document.querySelector(selector);
  const expanded = (selector, open) =>
    document.querySelectorAll(selector).forEach((b) => b.setAttribute('aria-expanded', String(open)));
  const drawer = () => $('#aa-conversations');
  // Open, and a drawer: the header's button is shown (a phone's width).
  const drawerOpen = () => !!drawer()?.hasAttribute('data-open') &&
    !!$('#aa-drawer-open')?.getClientRects().length;
  const openDrawer = () => {
    const tab = $('#tab-chat-button');
    if (tab && tab.getAttribute('aria-selected') !== 'true') tab.click();
    drawer()?.setAttribute('data-open', '');
    expanded('#aa-drawer-open', true);
    setTimeout(() => $('#aa-conversations .aa-drawer-close')?.focus(), 60);
  };
  const closeDrawer = (refocus) => {
    if (!drawerOpen()) return;
    drawer().removeAttribute('data-open');
    expanded('#aa-drawer-open', false);
    if (refocus) $('#aa-drawer-open')?.focus();
  };
  // A panel (scope, conversation menu) shown while its holder has data-open.
  const panels = [['#aa-ask-bar', '#scope-chip', '#scope-panel', '#scope input'],
                  ['#conv-actions', '#conv-menu', '#conv-menu-panel',
                   '#conv-title input, #conv-title textarea']];
  const setPanel = ([holder, button, , first], open, refocus) => {
    const box = $(holder);
    if (!box || box.hasAttribute('data-open') === open) return false;
    if (open) box.setAttribute('data-open', ''); else box.removeAttribute('data-open');
    expanded(button, open);
    if (open) setTimeout(() => $(first)?.focus(), 60);
    else if (refocus) $(button)?.focus();
    return true;
  };
  const click = (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    if (target.closest('#aa-drawer-open')) {
      event.preventDefault();
      if (drawerOpen()) closeDrawer(true); else openDrawer();
      return;
    }
    if (target.closest('.aa-drawer-close')) { closeDrawer(true); return; }
    if (drawerOpen() && !target.closest('#aa-conversations')) {
      // A click on the dimmed page beside the drawer only closes it.
      event.preventDefault();
      event.stopPropagation();
      closeDrawer(true);
      return;
    }
    if (drawerOpen() && target.closest('#new-chat')) setTimeout(() => closeDrawer(true), 0);
    for (const panel of panels) {
      if (target.closest(panel[1])) setPanel(panel, !$(panel[0])?.hasAttribute('data-open'));
      else if (!target.closest(panel[2])) setPanel(panel, false);
    }
    document.querySelectorAll('details.aa-row-menu[open]').forEach((menu) => {
      if (!menu.contains(target)) menu.open = false;
    });
  };
  const key = (event) => {
    if (event.key !== 'Escape') return;
    const menu = event.target instanceof Element ? event.target.closest('details.aa-row-menu[open]') : null;
    if (menu) { menu.open = false; menu.querySelector('summary')?.focus(); return; }
    for (const panel of panels) {
      const inside = event.target instanceof Element && event.target.closest(panel[0]);
      if (inside && setPanel(panel, false, true)) return;
    }
    if (drawerOpen()) closeDrawer(true);
  };
  const change = (event) => {
    // A conversation chosen in the drawer opens in the chat behind it.
    if (event.target instanceof Element && event.target.closest('#conv-list')) closeDrawer(true);
  };
  // The toggles say whether their panel is open, from when they are first reached (the
  // conversation menu is only rendered once a conversation is open).
  const label = () => {
    for (const [holder, button, panel] of panels) {
      const toggle = $(button);
      if (!toggle || toggle.hasAttribute('aria-controls')) continue;
      toggle.setAttribute('aria-controls', panel.slice(1));
      toggle.setAttribute('aria-expanded', String(!!$(holder)?.hasAttribute('data-open')));
    }
  };
  const focus = () => label();
  document.addEventListener('click', click, true);
  document.addEventListener('keydown', key, true);
  document.addEventListener('change', change, true);
  document.addEventListener('focusin', focus, true);
  setTimeout(label, 500);
  return {click, key, change, focus};
})();
"""


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


# --- what the events do ------------------------------------------------------------------------------


def follows_on(answer: Answer) -> bool:
    """Whether a turn is context for the next question: only a plain answer. A declined or
    tentative turn's words would steer the follow-up's rewrite towards what the articles did
    not answer ("Where did they take place? (boiling point tungsten)")."""
    return render.answer_status(answer) == "answered"


class ChatHandlers:
    """The Chat tab's event handlers over the app's services. `owner` is the logged-in user
    ("" without login), whose conversations and ratings are the only ones touched."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.conversations = services.conversations
        self.feedback = services.feedback

    def conversation_choices(self, owner: str, search: str = "") -> list[tuple[str, str]]:
        return [(render.conversation_label(c.title, c.updated, c.turns), c.id)
                for c in self.conversations.list(owner, search)]

    def sidebar(self, owner: str, conv: str, search: str = "") -> tuple[Any, ...]:
        """The conversation list, the actions of the open one, its title and export."""
        has = self.conversations.owns(owner, conv)
        export = None
        if has:
            self.services.exports.mkdir(parents=True, exist_ok=True)
            export = self.services.exports / f"conversation-{conv}.md"
            export.write_text(self.conversations.to_markdown(owner, conv), encoding="utf-8")
        choices = self.conversation_choices(owner, search)
        listed = has and any(value == conv for _label, value in choices)
        return (gr.Radio(choices=choices, value=conv if listed else None),
                gr.Group(visible=has), self.conversations.title(owner, conv) if has else "",
                gr.DownloadButton(value=str(export) if export else None),
                gr.Row(visible=False))

    def start_turn(self, owner: str, text: str, chat: list[dict[str, Any]], is_busy: bool,
                   conv: str) -> tuple[Any, ...]:
        """Take the question: clear the box, show it, and turn Ask into Stop. The answer
        streams in the next step, which does not write the box: what is typed meanwhile
        stays. Raises gr.Error (shown as a toast) for a question it refuses."""
        text = (text or "").strip()
        if is_busy:
            raise gr.Error("An answer is still coming in: press Stop to ask now, or wait "
                           "for it. Your question is still in the box.", print_exception=False)
        if not text:
            raise gr.Error("Type a question first.", print_exception=False)
        try:
            # The limit and the Unicode check every door shares: refused here before the
            # question is stored in a conversation (SQLite cannot store a lone surrogate).
            text = check_question(text)
        except InvalidQuestionError as exc:
            message = str(exc)
            raise gr.Error(f"{message[:1].upper()}{message[1:]}.", print_exception=False) from None
        if not self.conversations.owns(owner, conv):
            conv = self.conversations.create(owner, text)
        chat = [*chat, {"role": "user", "content": render.user_html(text)},
                {"role": "assistant", "content": render.thinking_html()}]
        return ("", text, chat, True, conv, gr.Button(visible=False), gr.Button(visible=True),
                render.counter_html(0, MAX_QUESTION))

    def stream_turn(self, owner: str, text: str, chat: list[dict[str, Any]],
                    answers: list[Answer | None], plain: list[dict[str, str]],
                    chosen: SessionSettings | None, conv: str, chosen_ids: list[str] | None
                    ) -> Iterator[tuple[Any, ...]]:
        """(chat, answers, plain) as the answer streams in; the last one holds the finished
        answer (or the error line), which is also stored in the conversation."""
        turn = len(answers)
        final: Answer | None = None
        partial, last, paced = "", 0.0, 0.0
        limited = Scope(article_ids=list(chosen_ids)) if chosen_ids else None
        try:
            for item in answer_stream(self.services.assistants.get(chosen), text, plain, limited):
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
            message = error_message(exc)
            chat[-1] = {"role": "assistant", "content": render.error_html(message)}
            self.conversations.add_turn(owner, conv, text, None, message)
            yield chat, [*answers, None], plain
            return
        chat[-1] = {"role": "assistant", "content": render.answer_html(final, turn)}
        if follows_on(final):
            plain = [*plain, {"role": "user", "content": text},
                     {"role": "assistant", "content": final.answer}]
        self.conversations.add_turn(owner, conv, text, final)
        yield chat, [*answers, final], plain

    def end_turn(self, owner: str, conv: str, search: str) -> tuple[Any, ...]:
        return (False, gr.Button(visible=True), gr.Button(visible=False),
                *self.sidebar(owner, conv, search))

    def stop_turn(self, owner: str, chat: list[dict[str, Any]], answers: list[Answer | None],
                  text: str, conv: str, search: str) -> tuple[Any, ...]:
        """Stop pressed: the stream was cancelled on the server; the turn says so."""
        asked = sum(1 for m in chat if m.get("role") == "user")
        if asked > len(answers):  # still unanswered (else it finished just before Stop)
            chat = [*chat[:-1], {"role": "assistant", "content": render.error_html(
                "Stopped before the answer was complete.")}]
            answers = [*answers, None]
            self.conversations.add_turn(owner, conv, text, None, "Stopped")
        return (chat, answers, False, gr.Button(visible=True), gr.Button(visible=False),
                *self.sidebar(owner, conv, search))

    def reset(self, owner: str, search: str) -> tuple[Any, ...]:
        """An empty chat with no conversation open."""
        return ([], [], [], render.viewer_placeholder_html(), "",
                *self.sidebar(owner, "", search))

    def open_conversation(self, owner: str, conv: str | None, search: str) -> tuple[Any, ...]:
        """Show a stored conversation: its answers, footnotes working, and its follow-up
        context."""
        conv = conv or ""
        chat: list[dict[str, Any]] = []
        answers: list[Answer | None] = []
        plain: list[dict[str, str]] = []
        for number, turn in enumerate(self.conversations.turns(owner, conv)):
            chat.append({"role": "user", "content": render.user_html(turn.question)})
            if turn.answer is None:
                chat.append({"role": "assistant", "content": render.error_html(
                    turn.error or "No answer.")})
            else:
                chat.append({"role": "assistant",
                             "content": render.answer_html(turn.answer, number)})
                if follows_on(turn.answer):
                    plain += [{"role": "user", "content": turn.question},
                              {"role": "assistant", "content": turn.answer.answer}]
            answers.append(turn.answer)
        if not self.conversations.owns(owner, conv):
            conv = ""
        return (chat, answers, plain, render.viewer_placeholder_html(), conv,
                *self.sidebar(owner, conv, search))

    def rename_conversation(self, owner: str, title: str, conv: str, search: str
                            ) -> tuple[Any, ...]:
        if (title or "").strip():
            self.conversations.rename(owner, conv, title)
        return self.sidebar(owner, conv, search)

    def delete_conversation(self, owner: str, conv: str, search: str) -> tuple[Any, ...]:
        self.conversations.delete(owner, conv)
        return self.reset(owner, search)

    def feedback_file(self, owner: str) -> tuple[Any, Any]:
        """The owner's ratings as questions.jsonl, ready for the export button."""
        count = self.feedback.count(owner)
        if not count:
            return (render.status_html("info", ["No answers rated yet: rate one with the "
                                                "thumbs under it."]),
                    gr.DownloadButton(value=None, interactive=False))
        exports = self.services.exports
        exports.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(owner.encode()).hexdigest()[:12]
        path = exports / f"feedback-{digest}-questions.jsonl"
        path.write_text(self.feedback.to_questions_jsonl(owner), encoding="utf-8")
        line = (f"{count} rated answer{'s' if count != 1 else ''}, exported as an evaluation "
                "dataset (run it with `assistant eval --dataset DIR`; items tagged review "
                "need their answers filled in).")
        return (render.status_html("info", [line]),
                gr.DownloadButton(value=str(path), interactive=True))

    def rate(self, owner: str, conv: str, index: Any, liked: Any) -> tuple[Any, ...]:
        """A thumb on the chat message at `index` (gr.LikeData's index and liked)."""
        index = index[0] if isinstance(index, (list, tuple)) else index
        turn = int(index) // 2
        liked = liked is True or liked == "Like"
        if not self.feedback.rate(owner, conv, turn, liked):
            return (turn, gr.Row(visible=False),
                    render.status_html("warn", ["Only a finished answer can be rated."]),
                    *self.feedback_file(owner))
        thanks = "Thanks: marked as a good answer." if liked else \
            "Thanks: marked as a poor answer. A note helps turn it into a test."
        return (turn, gr.Row(visible=True), render.status_html("ok", [thanks]),
                *self.feedback_file(owner))

    def save_note(self, owner: str, note: str, conv: str, turn: int) -> tuple[Any, ...]:
        if turn < 0 or not self.feedback.note(owner, conv, turn, note or ""):
            return (gr.skip(), render.status_html("warn", ["Rate an answer first."]),
                    *self.feedback_file(owner))
        return ("", render.status_html("ok", ["Note saved with your rating."]),
                *self.feedback_file(owner))

    def scope_label(self, ids: list[str] | None) -> Any:
        """The scope chip's label for the chosen articles ("All articles" for none)."""
        titles = {s.article_id: s.title for s in current_sources(self.services.assistant)}
        return gr.Button(value=render.scope_chip_label([titles.get(i, i) for i in ids or []]))

    def show_citation(self, answers: list[Answer | None], cite: str) -> Any:
        """The viewer's HTML for a footnote's "#cite-TURN-N" target (gr.skip() for another
        click on the viewer)."""
        target = render.parse_cite_href(cite)
        if target is None:
            return gr.skip()
        turn, n = target
        if turn >= len(answers) or answers[turn] is None:
            return render.viewer_message_html("That answer is no longer in this conversation.")
        answer = answers[turn]
        assert answer is not None
        cited = next((c for c in answer.citations if c.n == n), None)
        try:
            article = self.services.assistant.article(cited.article_id) if cited else None
        except AssistantError:
            article = None
        return render.citation_html(answer, n, turn, article)


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
            outputs=[c.chatbot, s.turns, s.history], api_visibility="private", concurrency_limit=4,
            show_progress="hidden")
        streamed.then(end_turn, inputs=[s.conversation, c.conv_search],
                      outputs=[s.busy, c.send, c.stop, *sidebar_outputs], api_visibility="private",
                      show_progress="hidden")
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
    # The character counter, in the browser: no round trip per keystroke.
    c.question.input(None, inputs=[c.question], outputs=[c.counter], api_visibility="private",
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
