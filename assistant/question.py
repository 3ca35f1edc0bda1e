"""What every door takes as a question (the CLI, batch files, the web chat, the Gradio API and
the OpenAI-compatible API all come through `Assistant`, which checks here before any work).

A question is limited to MAX_QUESTION_CHARS characters: a pasted article is not a question, and
an unbounded one costs seconds of CPU and gigabytes of memory in tokenising and retrieval (a
3 MB question took 31-39 s and 1.4 GB). Text must be valid Unicode: a lone surrogate (from a
JSON "\\ud800" escape, or from undecodable bytes on a command line) cannot be encoded as UTF-8,
so it would fail later, deep in the tokenizer or while writing the answer, as an internal error.
"""

from __future__ import annotations

import re

from assistant.errors import EmptyQuestionError, InvalidQuestionError

MAX_QUESTION_CHARS = 2000

# Python strings hold surrogate code points only when something produced invalid Unicode: a
# well-formed pair in JSON ("\ud83d\ude00") is decoded to the one character it stands for.
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_text(text: str, what: str = "the question") -> str:
    """`text` unchanged when it is valid Unicode; InvalidQuestionError (one line, naming `what`
    and where, never echoing the text) when it holds a lone surrogate."""
    bad = _SURROGATE.search(text)
    if bad is not None:
        raise InvalidQuestionError(
            f"{what} is not valid Unicode: it holds a lone surrogate (U+{ord(bad.group()):04X}) "
            f"at character {bad.start()}")
    return text


def check_question(question: object, what: str = "the question") -> str:
    """The question stripped, or InvalidQuestionError: empty (EmptyQuestionError), over
    MAX_QUESTION_CHARS, or not valid Unicode. The length is checked first, so an oversized
    question costs no more than its strip."""
    if not isinstance(question, str) or not question.strip():
        raise EmptyQuestionError(f"{what} is empty")
    question = question.strip()
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidQuestionError(f"{what} is too long: questions are limited to "
                                   f"{MAX_QUESTION_CHARS:,} characters; this one has "
                                   f"{len(question):,}")
    return check_text(question, what)
