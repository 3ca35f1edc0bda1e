"""The web chat's tabs, one handler at a time, without a browser or a server: each tab's
handlers are called with a real Assistant over the sample articles and real conversation and
feedback stores in a temporary folder."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from conftest import SAMPLES

from assistant import ABSTAIN_TEXT, TENTATIVE_LEAD, Answer, Assistant
from ui import render
from ui.articles_tab import ArticleHandlers
from ui.chat_handlers import ChatHandlers, follows_on
from ui.common import MAX_QUESTION, REFRESHED_COUNT, Services, SessionSettings
from ui.settings_tab import SettingsHandlers

# A scope update (gr.Dropdown(value=...)) is built here without its choices, as the app sends
# it; Gradio warns about that only outside a running app.
pytestmark = pytest.mark.filterwarnings("ignore:The value passed into gr.Dropdown:UserWarning")

QUESTION = "How long is the Riverside Line?"


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Services:
    """An app's services over its own store (the tests delete and restore articles), with the
    sample articles copied beside it so that Undo can ingest them again."""
    root = tmp_path_factory.mktemp("ui-parts")
    articles = root / "articles"
    shutil.copytree(SAMPLES, articles)
    assistant = Assistant(store=root / "store")
    assistant.ingest([articles])
    return Services.over(assistant)


def _file_text(button: gr.DownloadButton) -> str:
    """The text of the file a download button offers (Gradio holds it as FileData)."""
    value = button.value
    return Path(value["path"] if isinstance(value, dict) else value).read_text(encoding="utf-8")


def _ask(chat: ChatHandlers, owner: str, question: str, conv: str = "") -> tuple[str, Answer]:
    """One turn as the Chat tab runs it: start, then stream to the end. Returns the
    conversation id and the answer."""
    _box, text, messages, busy, conv, *_rest = chat.start_turn(owner, question, [], False, conv)
    assert busy and text == question and conv
    *_streamed, (messages, answers, plain, busy, ask, stop) = list(
        chat.stream_turn(owner, text, messages, [], [], None, conv, None))
    # The last update ends the turn: Ask is back with the answer, in the same update.
    assert busy is False and ask.visible is True and stop.visible is False
    answer = answers[-1]
    assert isinstance(answer, Answer), messages[-1]
    # Only a plain answer is context for the next question (see follows_on); whether this one
    # is plain or tentative moves with the reader's confidence, which sits near the band's edge.
    if follows_on(answer):
        assert plain[-1] == {"role": "assistant", "content": answer.answer}
    else:
        assert plain == []
    return conv, answer


def test_start_turn_refuses_what_is_not_a_question(services: Services) -> None:
    chat = ChatHandlers(services)
    for text, busy, reason in (("   ", False, "Type a question first"),
                               ("x" * (MAX_QUESTION + 1), False, "limited to"),
                               (QUESTION, True, "still coming in")):
        with pytest.raises(gr.Error, match=reason):
            chat.start_turn("refused", text, [], busy, "")
    # Nothing refused was stored as a conversation.
    assert services.conversations.list("refused") == []


def test_a_turn_is_stored_and_reopened_with_its_footnotes(services: Services) -> None:
    chat = ChatHandlers(services)
    conv, answer = _ask(chat, "alice", QUESTION)
    assert not answer.abstained and answer.citations

    messages, answers, plain, _viewer, opened, radio, actions, title, export, confirm = \
        chat.open_conversation("alice", conv, "")
    assert opened == conv
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert answers[0] == answer
    assert plain == ([{"role": "user", "content": QUESTION},
                      {"role": "assistant", "content": answer.answer}] if follows_on(answer)
                     else [])
    assert radio.value == conv and [value for _label, value in radio.choices] == [conv]
    assert actions.visible and title and not confirm.visible
    assert QUESTION in _file_text(export)

    # A footnote opens its passage in the viewer; a click elsewhere on the viewer changes nothing.
    first = answer.citations[0]
    viewer = chat.show_citation(answers, f"#cite-0-{first.n}")
    assert isinstance(viewer, str) and "aa-viewer-cited" in viewer
    assert chat.show_citation(answers, "") == gr.skip()
    assert "no longer in this conversation" in chat.show_citation([], f"#cite-0-{first.n}")

    # Another user sees neither the conversation nor its turns.
    messages, _answers, _plain, _viewer, opened, radio, actions, *_ = \
        chat.open_conversation("mallory", conv, "")
    assert messages == [] and opened == "" and radio.choices == [] and not actions.visible


def test_rename_search_and_delete_a_conversation(services: Services) -> None:
    chat = ChatHandlers(services)
    conv, _answer = _ask(chat, "bob", QUESTION)
    radio, _actions, title, *_ = chat.rename_conversation("bob", "Tram notes", conv, "")
    assert title == "Tram notes"
    assert [value for _label, value in radio.choices] == [conv]
    # A blank title keeps the old one.
    assert chat.rename_conversation("bob", "   ", conv, "")[2] == "Tram notes"
    assert chat.sidebar("bob", conv, "tram")[0].choices
    assert chat.sidebar("bob", conv, "no such words anywhere")[0].choices == []

    messages, answers, plain, _viewer, opened, radio, actions, *_ = \
        chat.delete_conversation("bob", conv, "")
    assert (messages, answers, plain, opened) == ([], [], [], "")
    assert radio.choices == [] and not actions.visible
    assert not services.conversations.owns("bob", conv)


def test_stop_marks_an_unanswered_turn_only(services: Services) -> None:
    chat = ChatHandlers(services)
    _box, text, messages, _busy, conv, *_ = chat.start_turn("carol", QUESTION, [], False, "")
    stopped, answers, busy, ask, stop, *_sidebar = chat.stop_turn("carol", messages, [], text,
                                                                  conv, "")
    assert answers == [None] and busy is False and ask.visible and not stop.visible
    assert "Stopped before the answer was complete" in stopped[-1]["content"]
    assert services.conversations.turns("carol", conv)[0].error == "Stopped"
    # Pressed just after the answer arrived: the answer stays as it was.
    finished = [*messages[:-1], {"role": "assistant", "content": "done"}]
    assert chat.stop_turn("carol", finished, [None], text, conv, "")[0] == finished


def test_rating_a_turn_and_its_note_export_questions(services: Services) -> None:
    chat = ChatHandlers(services)
    summary, button = chat.feedback_file("dave")
    assert "No answers rated yet" in summary and button.value is None
    conv, _answer = _ask(chat, "dave", QUESTION)

    # The chat's index of the answer message ([turn, 1] or the flat 1) is turn 0.
    turn, note_row, status, summary, button = chat.rate("dave", conv, [1, 1], "Dislike")
    assert turn == 0 and note_row.visible and "poor answer" in status
    assert "1 rated answer" in summary
    cleared, status, _summary, button = chat.save_note("dave", "It is 14.2 km.", conv, turn)
    assert cleared == "" and "Note saved" in status
    exported = [json.loads(line) for line in _file_text(button).splitlines()]
    assert [item["question"] for item in exported] == [QUESTION]
    assert "14.2 km" in json.dumps(exported)

    assert "Rate an answer first" in chat.save_note("dave", "note", conv, -1)[1]
    assert "Only a finished answer" in chat.rate("dave", conv, 7, "Like")[2]


def _row(articles: ArticleHandlers, **event: str) -> tuple[Any, ...]:
    return articles.row_action(event.get("open", ""), event.get("remove", ""))


def test_article_rows_open_delete_and_undo(services: Services) -> None:
    articles = ArticleHandlers(services)
    source = next(s for s in services.assistant.sources() if "Riverside" in s.title)

    view, ask, opened, _undo, status, confirm, _question, deleting = _row(articles, open=source.article_id)
    assert "Riverside" in view and ask.visible and opened == source.article_id
    assert status == "" and not confirm.visible and deleting == ""
    scope, tabs = articles.ask_about_article(opened)
    assert scope.value == [source.article_id] and tabs.selected == "chat"

    *_skipped, status, confirm, question, deleting = _row(articles, remove=source.article_id)
    assert confirm.visible and "Delete “" in question and deleting == source.article_id

    status, undo, restorable, confirm, deleting, table, view, ask = \
        articles.delete_confirmed(source.article_id, "", "title")
    assert "Removed" in status and undo.visible and restorable == [source.source]
    assert not confirm.visible and deleting == "" and view == "" and not ask.visible
    assert source.article_id not in {s.article_id for s in services.assistant.sources()}
    assert "Riverside" not in table
    # The row now names an article that is gone: both actions say so.
    assert "no longer indexed" in _row(articles, open=source.article_id)[4]
    assert "no longer indexed" in _row(articles, remove=source.article_id)[4]
    assert "already removed" in articles.delete_confirmed(source.article_id, "", "title")[0]

    status, undo, table, left = articles.undo_removal(restorable, "", "title")
    assert "Restored" in status and not undo.visible and left == [] and "Riverside" in table
    assert "Nothing to undo" in articles.undo_removal([], "", "title")[0]


def test_remove_selected_and_its_undo(services: Services) -> None:
    """"Remove selected" offers an Undo that ingests every removed article's file again."""
    articles = ArticleHandlers(services)
    total = len(services.assistant.sources())
    chosen = [s for s in services.assistant.sources() if Path(s.source).is_file()][:2]
    assert len(chosen) == 2
    status, undo, restorable, header, table, *_ = articles.remove_selected(
        [s.article_id for s in chosen])
    assert status.count("Removed") == 2 and undo.visible
    assert sorted(restorable) == sorted(s.source for s in chosen)
    left = {s.article_id for s in services.assistant.sources()}
    assert not left & {s.article_id for s in chosen}
    assert all(s.title not in table for s in chosen) and f"{total - 2} articles" in header

    status, undo, left_to_restore, header, table, *_ = articles.undo_remove_selected(restorable)
    assert "Restored 2 articles." in status and not undo.visible and left_to_restore == []
    assert {s.article_id for s in chosen} <= {s.article_id for s in services.assistant.sources()}
    assert all(render.esc(s.title) in table for s in chosen) and f"{total} articles" in header

    status, undo, restorable, *_ = articles.remove_selected([])
    assert "Choose the articles" in status and not undo.visible and restorable == []


def test_articles_filter_selection_and_upload(services: Services, tmp_path: Path) -> None:
    articles = ArticleHandlers(services)
    assert "Riverside" in articles.table("tram", "newest")
    assert "Riverside" not in articles.table("heatwave", "title")
    assert "Select the articles" in articles.ask_about_selected([])[0]
    assert articles.ask_about_selected(["a", "b"])[1].value == ["a", "b"]

    note = tmp_path / "harbour note?.txt"
    note.write_text("Harbour Notice\n\nThe harbour ferry to Gull Island resumes on Monday, "
                    "after two weeks of repairs to its landing stage.\n", encoding="utf-8")
    reports: list[tuple[Any, ...]] = []
    outputs = articles.add_files([str(note)], lambda *args, **kw: reports.append(args))
    assert len(outputs) == 2 + REFRESHED_COUNT and outputs[-1] is None
    assert "1 article added" in outputs[0]
    assert reports and reports[0] == ((0, 1),)
    # Copied under a safe name, keyed by content.
    assert [p.name.split("-", 1)[1] for p in services.uploads.iterdir()] == ["harbour note_.txt"]
    # The same file again changes nothing; no file leaves everything as it is.
    assert "1 article unchanged" in articles.add_files([str(note)], lambda *a, **k: None)[0]
    assert articles.add_files([], lambda *a, **k: None) == (gr.skip(),) * (2 + REFRESHED_COUNT)


def test_settings_are_validated_and_restored(services: Services) -> None:
    settings = SettingsHandlers(services.assistants)
    defaults = services.assistants.defaults()
    assert settings.chosen_settings("openai", "ftp://x", "m", "", 5, None) == \
        "The base URL must start with http:// or https://."
    assert settings.chosen_settings("openai", "http://127.0.0.1:9/v1", " ", "", 5, None) == \
        "Name the model to use."

    chosen = settings.chosen_settings("openai", " http://127.0.0.1:9/v1 ", "m", " sk-1 ", 5.0, None)
    assert isinstance(chosen, SessionSettings)
    assert (chosen.base_url, chosen.model, chosen.top_k) == ("http://127.0.0.1:9/v1", "m", 5)
    assert chosen.api_key is not None and chosen.api_key.get_secret_value() == "sk-1"
    # An empty key field keeps the session's key; offline answers carry none.
    kept = settings.chosen_settings("openai", "http://127.0.0.1:9/v1", "m", "", 5, chosen)
    assert isinstance(kept, SessionSettings) and kept.api_key == chosen.api_key
    offline = settings.chosen_settings("nonsense", "", "", "sk-2", 3, chosen)
    assert offline == SessionSettings(llm="extractive", base_url="", model=defaults.model,
                                      api_key=None, top_k=3)

    status, session, key_box, saved = settings.apply_settings("extractive", "", "", "", 3, None)
    assert "Applied" in status and session == offline and key_box.value == ""
    assert saved == {"llm": "extractive", "base_url": "", "model": defaults.model, "top_k": 3}
    assert "Offline answers need no connection" in settings.test_settings(
        "extractive", "", "", "", 3, None)
    status, session, *_ = settings.apply_settings("openai", "ftp://x", "m", "", 3, offline)
    assert "must start with http" in status and session == offline

    restored = settings.restore_settings(saved)
    assert restored[0] == offline and restored[1] == "extractive" and not restored[5].visible
    for junk in (None, {}, {"llm": "other"}):
        assert settings.restore_settings(junk) == (gr.skip(),) * 7


# --- a chat you can trust at a glance (issue #23): the render functions alone ------------------------

ARTICLE = ("Trump and Putin met in Alaska on Friday. The talks took place at Joint Base "
           "Elmendorf-Richardson and lasted nearly four hours.")
QUOTE = "The talks took place at Joint Base Elmendorf-Richardson and lasted nearly four hours."


def _citation(text: str = QUOTE) -> dict[str, Any]:
    start = ARTICLE.index(QUOTE)
    return {"n": 1, "article_id": "a1", "title": "Summit report", "source": "a.txt", "text": text,
            "start": start, "end": start + len(QUOTE), "score": 1.24, "passage": ARTICLE,
            "passage_start": 0, "passage_end": len(ARTICLE)}


def _passage(rank: int, used: bool, dense: float, reader: float | None, why: str
             ) -> dict[str, Any]:
    return {"rank": rank, "article_id": "a1", "title": f"Passage <{rank}>", "start": 0, "end": 10,
            "text": "Some text.", "dense": dense, "lexical": 1.5, "fused": 0.032,
            "reader": reader, "used": used, "why": why}


def _trust_answer(status: str, **fields: Any) -> Answer:
    declined = status == "declined"
    base: dict[str, Any] = {
        "question": "Where did they meet?", "status": status, "abstained": declined,
        "answer": ABSTAIN_TEXT if declined else f"{QUOTE} [1]",
        "citations": [] if declined else [_citation()],
        "short_answer": "" if declined else "Joint Base Elmendorf-Richardson",
        "confidence": 0.62, "confidence_calibrated": True, "timings_ms": {"total": 120.0},
        "passages": [_passage(1, not declined, 0.6, 0.62, "quoted in the answer as [1]"),
                     _passage(2, False, 0.5, 0.4, "not quoted: the quoted sentences answered "
                              "the question better"),
                     _passage(3, False, 0.45, 0.02, "not quoted: the quoted sentences answered "
                              "the question better"),
                     _passage(4, False, 0.08, 0.01, "not quoted: found by meaning alone")]}
    return Answer.model_validate({**base, **fields})


def test_a_plain_a_tentative_and_a_declined_answer_each_look_their_part() -> None:
    plain = render.answer_html(_trust_answer("answered"), 0)
    assert 'class="aa-answer aa-final aa-answered"' in plain and "aa-tentative" not in plain
    assert '<strong class="aa-short-text">Joint Base Elmendorf-Richardson</strong>' in plain

    text = f"{TENTATIVE_LEAD} “{QUOTE}” [1]"
    tentative = render.answer_html(_trust_answer("tentative", answer=text), 2)
    assert 'class="aa-answer aa-final aa-tentative"' in tentative
    assert '<div class="aa-tentative-title">Not sure</div>' in tentative
    assert "may not answer this question" in tentative
    assert "aa-short" not in tentative, "no bold short answer when unsure"
    # The closest quote, with its footnote pill, read on from the card's "Not sure" title.
    assert f"<p>The closest passage says “{QUOTE}” " in tentative
    assert 'href="#cite-2-1"' in tentative
    shown, copied = tentative.split('<span class="aa-copy-text">')
    assert TENTATIVE_LEAD not in shown and copied.startswith(TENTATIVE_LEAD), \
        "said once on screen; the copied text keeps its own words"

    declined = render.answer_html(_trust_answer("declined"), 1)
    assert 'aa-final aa-declined' in declined and render.esc(ABSTAIN_TEXT) in declined
    # The callout first; the closest passages after it, folded.
    assert declined.index("aa-abstain") < declined.index("aa-passages")
    assert '<details class="aa-passages"><summary>Closest passages (4)</summary>' in declined
    assert "<details class=\"aa-passages\" open" not in declined
    assert "supports an answer strongly enough" in declined
    # A decline whose reason is known says it instead of the general advice (escaped: it may
    # quote the question's words).
    why = "The passages found come from articles that do not mention <2021>."
    explained = render.answer_html(_trust_answer("declined", declined_because=why), 1)
    assert render.esc(why) in explained and "supports an answer strongly enough" not in explained
    # A stored Answer from before `status` existed is read from `abstained`.
    old = _trust_answer("answered", abstained=True, answer=ABSTAIN_TEXT, citations=[])
    assert render.answer_status(old) == "declined"


def test_retrieved_passages_say_why_in_words_and_keep_the_numbers_behind_details() -> None:
    answer = _trust_answer("answered")
    verdicts = [render.passage_verdict(p, answer)[1] for p in answer.passages]
    assert verdicts == ["Quoted", "Not needed", "Says something else", "About something else"]
    html = render.answer_html(answer, 0)
    words, details = html.split('<details class="aa-scores">')
    assert "dense" not in words and "0.032" not in words, "no numbers outside Details"
    assert "Quoted in the answer as [1]." in words and "Says something else" in words
    assert "<summary>Details: the scores</summary>" in details
    assert '<th scope="row">1</th><td>0.60</td><td>1.50</td><td>0.032</td><td>0.62</td>' in details
    assert "Passage &lt;2&gt;" in words, "titles are escaped"
    # Under a decline no passage is "not needed": none answered.
    declined = _trust_answer("declined")
    assert [render.passage_verdict(p, declined)[1] for p in declined.passages] == \
        ["Says something else", "Says something else", "Says something else",
         "About something else"]


def test_the_viewer_shows_a_match_score_only_for_a_quote_that_is_not_exact() -> None:
    exact = render.citation_html(_trust_answer("answered"), 1, 0, {"text": ARTICLE})
    assert "match score" not in exact and "Quoted word for word" in exact
    # Without the article (no longer indexed), the passage is what it is checked against.
    assert "match score" not in render.citation_html(_trust_answer("answered"), 1, 0, None)
    loose = _trust_answer("answered", citations=[_citation(QUOTE.replace("nearly", "almost"))])
    assert "match score 1.24" in render.citation_html(loose, 1, 0, {"text": ARTICLE})


def test_the_footer_says_offline_answer_or_the_models_name() -> None:
    offline = render.answer_html(_trust_answer("answered"), 0)
    assert '<div class="aa-meta">offline answer · confidence 62% · 120 ms</div>' in offline
    generated = _trust_answer("answered", backend="openai",
                              guard={"model": "smollm2-<360m>", "generated": "x",
                                     "outcome": "generated"})
    assert '<div class="aa-meta">smollm2-&lt;360m&gt; · confidence' in \
        render.answer_html(generated, 0)


def test_a_declined_turn_is_no_context_for_the_next_question(services: Services) -> None:
    chat = ChatHandlers(services)
    _box, text, messages, _busy, conv, *_ = chat.start_turn(
        "erin", "What is the boiling point of tungsten?", [], False, "")
    *_streamed, (messages, answers, plain, *_ended) = list(
        chat.stream_turn("erin", text, messages, [], [], None, conv, None))
    assert answers[-1] is not None and answers[-1].status == "declined", messages[-1]
    assert plain == [], "a declined turn is left out of the follow-up history"
    # Reopened, the conversation's history leaves it out too.
    assert chat.open_conversation("erin", conv, "")[2] == []
    assert not follows_on(_trust_answer("tentative")) and follows_on(_trust_answer("answered"))


def test_a_markdown_export_shows_html_and_links_as_text(sample_assistant: Assistant,
                                                        tmp_path: Path) -> None:
    # The export copied a question's `<img onerror=...>` and `<svg onload=...>` into the file
    # as they were, to run in any Markdown viewer that lets HTML through.
    from ui.conversations import Conversations

    conversations = Conversations(tmp_path / "conversations.sqlite")
    question = "<img src=x onerror=alert(13)> [x](javascript:alert(1)) How many stops?"
    answer = sample_assistant.ask("How many stops does the Riverside Line have?")
    conversation = conversations.create("", question)
    conversations.add_turn("", conversation, question, answer)
    exported = conversations.to_markdown("", conversation)
    assert "<img" not in exported and not re.search(r"(?<!\\)\]\(javascript", exported), exported
    assert "&lt;img src=x onerror=alert(13)&gt;" in exported
    assert "\\[x\\](javascript:alert(1))" in exported
    assert "22 stops" in exported and "> [1] “" in exported


def test_copy_with_sources_keeps_the_doubt_of_a_tentative_conflict(
        user_assistant: Assistant) -> None:
    # The card of a tentative conflict says "Not sure"; its copy began "The sources disagree:".
    from ui.render.answer import answer_as_text

    answer = user_assistant.ask("How long did the talks last?")
    assert answer.conflicts
    copied = answer_as_text(answer)
    if answer.status == "tentative":
        assert copied.startswith("Not sure: The sources disagree:"), copied[:80]
    else:
        assert copied.startswith("The sources disagree:"), copied[:80]
    assert "\nSources:\n[1] “" in copied


def test_undo_brings_back_an_article_of_a_json_file_from_the_file(services: Services) -> None:
    """An article read from a JSON feed file has its URL as its source: Undo fetched that page,
    which failed offline ("Could not restore it"). It ingests the file it was read from."""
    articles = ArticleHandlers(services)
    record = next(s for s in services.assistant.sources() if s.file.endswith(".jsonl"))
    assert record.source.startswith("https://") and record.source != record.file
    _status, undo, restorable, *_ = articles.remove_selected([record.article_id])
    assert undo.visible and restorable == [record.file]
    status, *_ = articles.undo_remove_selected(restorable)
    assert "Restored." in status, status
    assert record.article_id in {s.article_id for s in services.assistant.sources()}
    # A row's Delete restores from the same place.
    _status, undo, restorable, *_ = articles.delete_confirmed(record.article_id, "", "title")
    assert undo.visible and restorable == [record.file]
    assert "Restored." in articles.undo_removal(restorable, "", "title")[0]
    assert record.article_id in {s.article_id for s in services.assistant.sources()}
