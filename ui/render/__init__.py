"""HTML for the web chat, built from escaped text only.

Article text, titles, URLs and model output are data, never markup: every value that reaches the
page passes through `esc` (or `safe_url`) here, and the only tags in the output are the ones these
functions write themselves. The chat and the source viewer render these strings as HTML, so this
package is the one place that decides what the browser interprets.

The rest of the app uses it as one namespace (`from ui import render`; `render.answer_html(...)`);
its modules are `markup` (escaping, footnote links), `answer` (a chat turn), `viewer` (the source
viewer), `articles` (the Articles tab) and `page` (header, scope chip, status callouts, example
questions, the counter, conversation labels).
"""

from ui.render.answer import (
    OTHER_SUBJECT_BELOW,
    PASSAGE_PREVIEW_CHARS,
    READER_FOUND_FROM,
    STRONG_EVIDENCE,
    TENTATIVE_EXPLAINED,
    answer_as_text,
    answer_html,
    answer_status,
    error_html,
    passage_verdict,
    streaming_html,
    thinking_html,
    user_html,
)
from ui.render.articles import (
    article_view_html,
    articles_html,
    corpus_summary,
    file_types_text,
    filter_and_sort,
    human_date,
    upload_hint_html,
)
from ui.render.markup import cite_href, esc, parse_cite_href, safe_url
from ui.render.page import (
    EXAMPLE_TOPIC_WORDS,
    conversation_label,
    counter_html,
    counter_js_template,
    drawer_head_html,
    example_questions,
    header_html,
    scope_chip_label,
    status_html,
)
from ui.render.viewer import citation_html, viewer_message_html, viewer_placeholder_html

__all__ = [
    "EXAMPLE_TOPIC_WORDS", "OTHER_SUBJECT_BELOW", "PASSAGE_PREVIEW_CHARS", "READER_FOUND_FROM",
    "STRONG_EVIDENCE", "TENTATIVE_EXPLAINED", "answer_as_text", "answer_html", "answer_status",
    "article_view_html", "articles_html", "citation_html", "cite_href", "conversation_label",
    "corpus_summary", "counter_html", "counter_js_template", "drawer_head_html", "error_html", "esc",
    "example_questions", "file_types_text", "filter_and_sort", "header_html", "human_date",
    "parse_cite_href", "passage_verdict", "safe_url", "scope_chip_label", "status_html",
    "streaming_html", "thinking_html", "upload_hint_html", "user_html", "viewer_message_html",
    "viewer_placeholder_html",
]
