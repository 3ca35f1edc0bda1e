"""What the Chat tab's events do: `ChatHandlers`, plain methods that take the user (owner)
instead of a gr.Request, so a test can call them without a browser (ui/chat_tab.py connects them
to the tab's components).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import gradio as gr

from assistant import Answer, AssistantError, InvalidQuestionError, Scope, check_question
from ui import render
from ui.common import (
    MAX_QUESTION,
    REVEAL_SECONDS,
    STREAM_UPDATE_SECONDS,
    Services,
    SessionSettings,
    answer_stream,
    current_sources,
    error_message,
)


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
        """(chat, answers, plain, busy, Ask, Stop) as the answer streams in; the last one holds
        the finished answer (or the error line), which is also stored in the conversation, and
        ends the turn in the same update: Ask is back and a question may be sent the moment
        the answer shows. (Ending it in the next event left a moment in which Enter was refused
        as "an answer is still coming in".)"""
        streaming = (gr.skip(), gr.skip(), gr.skip())
        ended = (False, gr.Button(visible=True), gr.Button(visible=False))
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
                    yield chat, answers, plain, *streaming
            if final is None:
                raise AssistantError("the answer stream ended without an answer")
        except Exception as exc:  # every failure becomes a readable line in the chat
            message = error_message(exc)
            chat[-1] = {"role": "assistant", "content": render.error_html(message)}
            self.conversations.add_turn(owner, conv, text, None, message)
            yield chat, [*answers, None], plain, *ended
            return
        chat[-1] = {"role": "assistant", "content": render.answer_html(final, turn)}
        if follows_on(final):
            plain = [*plain, {"role": "user", "content": text},
                     {"role": "assistant", "content": final.answer}]
        self.conversations.add_turn(owner, conv, text, final)
        yield chat, [*answers, final], plain, *ended

    def end_turn(self, owner: str, conv: str, search: str) -> tuple[Any, ...]:
        """After a turn: the sidebar (the conversation listed, its title and export). The turn
        itself ended with the stream's last update, so a question sent since is not touched."""
        return self.sidebar(owner, conv, search)

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
