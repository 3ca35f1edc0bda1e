"""The Articles tab: the filterable table of indexed articles with each row's Open and Delete
(and Undo), uploads, removing or asking about a selection.

`build_articles_tab()` lays the tab out inside the current gr.Blocks; `ArticleHandlers` holds
what its events do, callable without a browser; `wire_articles(...)` connects the two.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from assistant import AssistantError, Source
from ui import render
from ui.common import (
    REFRESHED_COUNT,
    UPLOAD_TYPES,
    Services,
    SessionState,
    current_sources,
    ingest_line,
    log,
    refreshed,
    safe_name,
)

# Row buttons of the Articles table ("Open", "Delete", or the same in a phone's row menu):
# delegated on the table's element, because its HTML is replaced whenever the list changes.
ROWS_JS = """
element.addEventListener('click', (event) => {
  const button = event.target instanceof Element ? event.target.closest('button[data-id]') : null;
  if (!button) return;
  const id = button.getAttribute('data-id') || '';
  const action = button.getAttribute('data-action') ||
    (button.classList.contains('aa-row-open') ? 'open' : 'delete');
  button.closest('details.aa-row-menu')?.removeAttribute('open');
  trigger('click', {open: action === 'open' ? id : '', remove: action === 'delete' ? id : ''});
});
"""

# Progress reports: (done, total), a description and a unit, as gr.Progress takes them.
ProgressFn = Callable[..., Any]


# --- layout ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArticlesTab:
    """The Articles tab's components that events read or write."""

    articles_filter: gr.Textbox
    articles_sort: gr.Radio
    articles: gr.HTML
    delete_row: gr.Row
    delete_question: gr.HTML
    delete_yes: gr.Button
    delete_no: gr.Button
    article_status: gr.HTML
    undo: gr.Button
    article_ask: gr.Button
    article_view: gr.HTML
    upload: gr.File
    upload_status: gr.HTML
    remove_choice: gr.Dropdown
    ask_about: gr.Button
    remove_btn: gr.Button
    remove_status: gr.HTML
    remove_undo: gr.Button


def build_articles_tab() -> ArticlesTab:
    """The Articles tab, inside the current gr.Tabs."""
    with gr.Tab("Articles", id="articles", elem_id="tab-articles"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                with gr.Row(elem_id="aa-articles-tools"):
                    articles_filter = gr.Textbox(
                        label="Filter articles", lines=1, max_lines=1, scale=3,
                        elem_id="articles-filter", placeholder="Title or source")
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
                gr.HTML(render.upload_hint_html(), elem_id="upload-hint")
                upload_status = gr.HTML("", elem_id="upload-status")
                remove_choice = gr.Dropdown(label="Select articles", multiselect=True,
                                            choices=[], elem_id="remove-choice")
                with gr.Row():
                    ask_about = gr.Button("Ask about the selected", size="sm",
                                          variant="primary", elem_id="ask-about")
                    remove_btn = gr.Button("Remove selected", variant="stop", size="sm",
                                           elem_id="remove")
                with gr.Row(elem_id="aa-remove-status"):
                    remove_status = gr.HTML("", elem_id="remove-status")
                    remove_undo = gr.Button("Undo", size="sm", visible=False, scale=0,
                                            elem_id="remove-undo")
    return ArticlesTab(
        articles_filter=articles_filter, articles_sort=articles_sort, articles=articles,
        delete_row=delete_row, delete_question=delete_question, delete_yes=delete_yes,
        delete_no=delete_no, article_status=article_status, undo=undo, article_ask=article_ask,
        article_view=article_view, upload=upload, upload_status=upload_status,
        remove_choice=remove_choice, ask_about=ask_about, remove_btn=remove_btn,
        remove_status=remove_status, remove_undo=remove_undo)


# --- what the events do ------------------------------------------------------------------------------


class ArticleHandlers:
    """The Articles tab's event handlers over the app's assistant and uploads folder."""

    def __init__(self, services: Services) -> None:
        self.assistant = services.assistant
        self.uploads = services.uploads

    def refreshed(self) -> tuple[Any, ...]:
        """Header, table, selection choices, examples and scope for the current corpus."""
        return refreshed(self.assistant)

    def add_files(self, files: list[str] | None, progress: ProgressFn) -> tuple[Any, ...]:
        """Copy the uploaded files into the uploads folder and ingest them: the status line,
        the refreshed outputs, and None to clear the upload box (skips when nothing came)."""
        uploads = self.uploads
        if not files:
            return (gr.skip(), *(gr.skip() for _ in range(REFRESHED_COUNT)), gr.skip())
        uploads.mkdir(parents=True, exist_ok=True)
        copies: list[Path] = []
        for temp in files:
            # Named by content and name: the same file uploaded again lands on the same path
            # (and is recognised as unchanged), while another file that happens to share its
            # name (a second "article.txt") is kept beside it instead of replacing it.
            digest = hashlib.sha256(Path(temp).read_bytes()).hexdigest()[:12]
            target = uploads / f"{digest}-{safe_name(Path(temp).name)}"
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
            summary = self.assistant.ingest(copies, progress=step, embedding_progress=embedded)
        except AssistantError as exc:
            status = render.status_html("error", [str(exc).replace(f"{uploads}/", "")])
            return (status, *self.refreshed(), None)
        except Exception as exc:
            log.exception("upload failed")
            status = render.status_html(
                "error", [f"Could not index the upload ({exc.__class__.__name__})."])
            return (status, *self.refreshed(), None)
        lines = [ingest_line(summary.added, summary.updated, summary.unchanged, summary.chunks)]
        lines += [msg.replace(f"{uploads.resolve()}/", "").replace(f"{uploads}/", "")
                  for msg in summary.failed]
        kind = "error" if summary.failed and not (summary.added + summary.updated + summary.unchanged) \
            else "warn" if summary.failed else "ok"
        return (render.status_html(kind, lines), *self.refreshed(), None)

    def remove_selected(self, ids: list[str] | None) -> tuple[Any, ...]:
        """Remove the selected articles. Outputs: status, its Undo button, what Undo restores
        (the removed articles' files and web pages), then the refreshed page."""
        if not ids:
            return (render.status_html("info", ["Choose the articles to remove first."]),
                    gr.Button(visible=False), [], *self.refreshed())
        sources = {s.article_id: s for s in current_sources(self.assistant)}
        lines, kind, restorable = [], "ok", []
        for article_id in ids:
            try:
                removed = self.assistant.remove(article_id)
            except AssistantError as exc:
                removed, kind = False, "error"
                lines.append(f"{article_id}: {exc}")
                continue
            source = sources.get(article_id)
            if removed and source is not None:
                lines.append(f"Removed “{source.title}”.")
                restore_from = _restore_from(source)
                if restore_from is None:
                    lines.append(f"Its file {source.file or source.source} is gone: Undo cannot "
                                 "bring it back.")
                elif restore_from not in restorable:  # one file may hold several of them
                    restorable.append(restore_from)
            elif removed:
                lines.append(f"Removed {article_id}.")
            else:
                kind = "warn"
                lines.append(f"{article_id}: no such article (already removed?).")
        return (render.status_html(kind, lines), gr.Button(visible=bool(restorable)),
                restorable, *self.refreshed())

    def undo_remove_selected(self, paths: list[str]) -> tuple[Any, ...]:
        """Ingest the files of the articles "Remove selected" removed. Outputs: status, the
        Undo button, what is left to restore, then the refreshed page."""
        status, _changed = self._restore(paths)
        return (status, gr.Button(visible=False), [], *self.refreshed())

    def table(self, query: str, order: str) -> str:
        """The table's HTML, filtered by `query` and sorted by `order`."""
        sources = current_sources(self.assistant)
        return render.articles_html(render.filter_and_sort(sources, query, order),
                                    total=len(sources))

    def row_action(self, open_id: str, remove_id: str) -> tuple[Any, ...]:
        """A row's Open (show the article, offer to ask about it) or Delete (ask first).
        Outputs: article view, ask button, opened id, undo, status, confirm row, its
        question, the id awaiting deletion."""
        titles = {s.article_id: s.title for s in current_sources(self.assistant)}
        if remove_id:
            if remove_id not in titles:
                return (gr.skip(),) * 4 + (
                    render.status_html("warn", ["That article is no longer indexed."]),
                    gr.Row(visible=False), "", "")
            question_html = (f'<p>Delete “{render.esc(titles[remove_id])}” from the index? '
                             "Undo can bring it back from its file.</p>")
            return (gr.skip(),) * 4 + ("", gr.Row(visible=True), question_html, remove_id)
        try:
            article = self.assistant.article(open_id) if open_id else None
        except AssistantError:
            article = None
        if article is None:
            return ("", gr.Button(visible=False), "", gr.skip(),
                    render.status_html("warn", ["That article is no longer indexed."]),
                    gr.Row(visible=False), "", "")
        return (render.article_view_html(article), gr.Button(visible=True), open_id,
                gr.skip(), "", gr.Row(visible=False), "", "")

    def delete_confirmed(self, article_id: str, query: str, order: str) -> tuple[Any, ...]:
        """Outputs: status, undo button, what undo restores, confirm row, the id awaiting
        deletion, the table, the article view and its ask button."""
        sources = {s.article_id: s for s in current_sources(self.assistant)}
        source = sources.get(article_id)
        try:
            removed = bool(source) and self.assistant.remove(article_id)
        except AssistantError as exc:
            return (render.status_html("error", [str(exc)]), gr.Button(visible=False), [],
                    gr.Row(visible=False), "", self.table(query, order), gr.skip(), gr.skip())
        if not removed or source is None:
            return (render.status_html("warn", ["That article was already removed."]),
                    gr.Button(visible=False), [], gr.Row(visible=False), "",
                    self.table(query, order), gr.skip(), gr.skip())
        restore_from = _restore_from(source)
        restorable = [restore_from] if restore_from is not None else []
        line = f"Removed “{source.title}”."
        return (render.status_html("ok", [line]), gr.Button(visible=bool(restorable)),
                restorable, gr.Row(visible=False), "", self.table(query, order), "",
                gr.Button(visible=False))

    def undo_removal(self, paths: list[str], query: str, order: str) -> tuple[Any, ...]:
        """Ingest the removed article's file again. Outputs: status, undo button, table,
        what is left to restore."""
        status, changed = self._restore(paths)
        return (status, gr.Button(visible=False),
                self.table(query, order) if changed else gr.skip(), [])

    def _restore(self, paths: list[str]) -> tuple[str, bool]:
        """Ingest removed articles' files and pages again: (the status line, whether the store
        was reached, so the table is worth showing again)."""
        if not paths:
            return render.status_html("info", ["Nothing to undo."]), False
        try:
            summary = self.assistant.ingest(paths)
        except AssistantError as exc:
            return render.status_html("error", [str(exc)]), False
        restored = summary.added + summary.updated + summary.unchanged
        if restored >= len(paths):
            first = "Restored." if len(paths) == 1 else f"Restored {len(paths)} articles."
        elif restored:
            first = f"Restored {restored} of {len(paths)} articles."
        else:
            first = "Could not restore it." if len(paths) == 1 else "Could not restore them."
        return render.status_html("ok" if not summary.failed else "warn",
                                  [first, *summary.failed]), True

    @staticmethod
    def ask_about_article(article_id: str) -> tuple[Any, ...]:
        """The opened article as the chat's scope, and the Chat tab shown."""
        return gr.Dropdown(value=[article_id] if article_id else []), gr.Tabs(selected="chat")

    @staticmethod
    def ask_about_selected(ids: list[str] | None) -> tuple[Any, ...]:
        if not ids:
            return (render.status_html("info", ["Select the articles to ask about first."]),
                    gr.skip(), gr.skip())
        return "", gr.Dropdown(value=list(ids)), gr.Tabs(selected="chat")


def _restore_from(source: Source) -> str | None:
    """What Undo ingests to bring a removed article back: the file it was read from while that
    file exists (for an article of a JSON or feed file, the file, not its URL: fetching the
    page failed offline), else its web page; None when neither is left."""
    if source.file and Path(source.file).is_file():
        return source.file
    if source.source.startswith(("http://", "https://")):
        return source.source
    return source.source if Path(source.source).is_file() else None


# --- events ----------------------------------------------------------------------------------------


def wire_articles(articles_tab: ArticlesTab, state: SessionState, handlers: ArticleHandlers,
                  refresh_outputs: list[Any], scope: gr.Dropdown, tabs: gr.Tabs) -> None:
    """Connect the Articles tab's events, inside the current gr.Blocks. Uploads and removals
    refresh `refresh_outputs` (header, examples and the chat's scope too); asking about
    articles sets the chat's scope and switches to `tabs`' Chat tab.

    Gradio calls the small functions below: their annotations (gr.Progress, gr.EventData) are
    how it knows what to inject; each passes its inputs on to `handlers`."""
    a, s, h = articles_tab, state, handlers

    def add_files(files: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        return h.add_files(files, progress)

    a.upload.upload(add_files, inputs=[a.upload],
                    outputs=[a.upload_status, *refresh_outputs, a.upload],
                    api_visibility="private", concurrency_limit=1, show_progress="full",
                    show_progress_on=[a.upload])

    def remove_selected(ids: list[str] | None) -> tuple[Any, ...]:
        return h.remove_selected(ids)

    a.remove_btn.click(remove_selected, inputs=[a.remove_choice],
                       outputs=[a.remove_status, a.remove_undo, s.bulk_removed, *refresh_outputs],
                       api_visibility="private", concurrency_limit=1)

    def undo_remove_selected(paths: list[str]) -> tuple[Any, ...]:
        return h.undo_remove_selected(paths)

    a.remove_undo.click(undo_remove_selected, inputs=[s.bulk_removed],
                        outputs=[a.remove_status, a.remove_undo, s.bulk_removed, *refresh_outputs],
                        api_visibility="private", show_progress="hidden", concurrency_limit=1)

    def table(query: str, order: str) -> str:
        return h.table(query, order)

    for control in (a.articles_filter.change, a.articles_sort.change):
        control(table, inputs=[a.articles_filter, a.articles_sort], outputs=[a.articles],
                api_visibility="private", show_progress="hidden",
                trigger_mode="always_last")

    def row_action(evt: gr.EventData) -> tuple[Any, ...]:
        return h.row_action(str(getattr(evt, "open", "") or ""),
                            str(getattr(evt, "remove", "") or ""))

    a.articles.click(row_action, outputs=[a.article_view, a.article_ask, s.opened, a.undo,
                                          a.article_status, a.delete_row, a.delete_question,
                                          s.deleting],
                     api_visibility="private", show_progress="hidden", concurrency_limit=None)
    a.delete_no.click(lambda: (gr.Row(visible=False), ""), outputs=[a.delete_row, s.deleting],
                      api_visibility="private", show_progress="hidden")

    def delete_confirmed(article_id: str, query: str, order: str) -> tuple[Any, ...]:
        return h.delete_confirmed(article_id, query, order)

    # After a row's delete or its undo, the rest of the page follows the corpus too (the
    # header's count stayed as it was until a reload); the table keeps its filter and order.
    around_the_table = [refresh_outputs[0], *refresh_outputs[2:]]

    def corpus_changed() -> tuple[Any, ...]:
        header, _table, *rest = h.refreshed()
        return (header, *rest)

    a.delete_yes.click(delete_confirmed, inputs=[s.deleting, a.articles_filter, a.articles_sort],
                       outputs=[a.article_status, a.undo, s.removed_sources, a.delete_row,
                                s.deleting, a.articles, a.article_view, a.article_ask],
                       api_visibility="private", show_progress="hidden", concurrency_limit=1
                       ).then(corpus_changed, outputs=around_the_table, api_visibility="private",
                              show_progress="hidden")

    def undo_removal(paths: list[str], query: str, order: str) -> tuple[Any, ...]:
        return h.undo_removal(paths, query, order)

    a.undo.click(undo_removal, inputs=[s.removed_sources, a.articles_filter, a.articles_sort],
                 outputs=[a.article_status, a.undo, a.articles, s.removed_sources],
                 api_visibility="private", show_progress="hidden", concurrency_limit=1
                 ).then(corpus_changed, outputs=around_the_table, api_visibility="private",
                        show_progress="hidden")

    a.article_ask.click(lambda article_id: h.ask_about_article(article_id),
                        inputs=[s.opened], outputs=[scope, tabs],
                        api_visibility="private", show_progress="hidden")

    def ask_about_selected(ids: list[str] | None) -> tuple[Any, ...]:
        return h.ask_about_selected(ids)

    a.ask_about.click(ask_about_selected, inputs=[a.remove_choice],
                      outputs=[a.remove_status, scope, tabs], api_visibility="private",
                      show_progress="hidden")
