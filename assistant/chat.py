"""Chat follow-ups as standalone questions (LlamaIndex's condense-plus-context pattern).

"and how long did they talk there?" retrieves nothing useful on its own: it names neither the
people nor the place. Before retrieval the follow-up is rewritten using the conversation:

- with an LLM configured, the model rewrites it, and the rewrite is used only if it keeps the
  follow-up's own content words (a small model sometimes answers instead of rewriting);
- otherwise, deterministically: the names in the previous (already standalone) question that
  the follow-up lacks are carried over (its content words when it names nothing), e.g.
  "How long did they talk there? (Trump Putin)".

A question that already stands alone is used as it is, at no cost.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from assistant.errors import EmptyQuestionError
from assistant.llm import Message
from assistant.models import ABSTAIN_TEXT, TENTATIVE_LEAD
from assistant.question import check_question, check_text
from assistant.tuning import (
    FOLLOW_UP_CARRIED_TERMS,
    FOLLOW_UP_MAX_CONTENT_WORDS,
    REWRITE_MAX_WORDS,
    REWRITE_MIN_WORDS,
)
from index.text import STOPWORDS, stem, words

ChatMessages = Sequence[Mapping[str, Any] | Message | tuple[str, str]]

_LEAD = re.compile(r"^\s*(?:and|but|so|also|then|or|ok(?:ay)?|what about|how about|"
                   r"what else about)\b[\s,]*", re.IGNORECASE)
_ANAPHORA = {"they", "them", "their", "theirs", "he", "him", "his", "she", "her", "hers", "it",
             "its", "there", "that", "those", "these", "this", "then", "both", "such", "else"}
_QUESTION_WORDS = {"who", "whom", "whose", "what", "which", "when", "where", "why", "how", "did",
                   "does", "do", "is", "are", "was", "were", "many", "much", "long"}


def normalise_messages(messages: ChatMessages) -> list[Message]:
    """Messages as (role, text); the last must be the user's question. Accepts dicts with
    role/content (content may be a list of {"type": "text", "text": ...} parts, as web chat
    widgets send), Message objects, or (role, text) pairs."""
    if isinstance(messages, str) or not isinstance(messages, Sequence) or not messages:
        raise EmptyQuestionError("the conversation is empty")
    out: list[Message] = []
    for number, item in enumerate(messages, start=1):
        if isinstance(item, Message):
            role, content = item.role, item.content
        elif isinstance(item, tuple) and len(item) == 2:
            role, content = item
        elif isinstance(item, Mapping):
            role, content = item.get("role"), item.get("content")
        else:
            raise EmptyQuestionError(f"message {number} is not a {{role, content}} mapping")
        if role not in ("user", "assistant", "system"):
            raise EmptyQuestionError(f"message {number} has role {role!r}, not user or assistant")
        text = _text_of(content)
        if text is None:
            raise EmptyQuestionError(f"message {number} has no text content")
        # Every turn is read (the follow-up rewrite, an LLM's prompt), so each is checked before
        # any work: a user turn is a question, held to the one length limit.
        if role == "user" and text.strip():
            check_question(text, f"message {number}")
        else:
            check_text(text, f"message {number}")
        if role != "system":
            out.append(Message(str(role), text))
    if not out or out[-1].role != "user" or not out[-1].content.strip():
        raise EmptyQuestionError("the conversation does not end with a question from the user")
    return out


def _text_of(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = [p.get("text") for p in content if isinstance(p, Mapping)]
        texts = [p for p in parts if isinstance(p, str)]
        return " ".join(texts) if texts else None
    return None


def is_follow_up(question: str) -> bool:
    lowered = question.lower()
    tokens = set(words(lowered))
    content = [w for w in words(lowered) if w not in STOPWORDS and w not in _QUESTION_WORDS]
    return bool(_LEAD.match(question)) or bool(tokens & _ANAPHORA) or "the two" in lowered \
        or len(content) <= FOLLOW_UP_MAX_CONTENT_WORDS


def strip_lead(follow_up: str) -> str:
    """"and how long did they talk?" -> "How long did they talk?"."""
    body = _LEAD.sub("", follow_up).strip() or follow_up.strip()
    return body[0].upper() + body[1:]


def offline_condense(previous: str, follow_up: str) -> str:
    """The follow-up plus the names of the previous question that it lacks."""
    body = strip_lead(follow_up)
    have = {stem(w) for w in words(body)}
    tokens = [t[:-2] if t.lower().endswith(("'s", "’s")) else t
              for t in re.findall(r"[A-Za-z0-9][A-Za-z0-9'’-]*", previous)]
    candidates = [t for t in tokens if t.lower() not in STOPWORDS
                  and t.lower() not in _QUESTION_WORDS and t.lower() not in _ANAPHORA]
    # Names carry the subject ("Trump", "Port Alder"); the previous question's other words
    # ("open", "meet") would pull retrieval back to the previous answer. Without names, the
    # content words are all there is.
    names = [t for t in candidates if t[0].isupper() or t[0].isdigit()]
    extra: list[str] = []
    for token in names or candidates:
        low = token.lower().replace("’", "'")
        if stem(low) in have or any(stem(low) == stem(e.lower()) for e in extra):
            continue
        extra.append(token)
    extra = extra[:FOLLOW_UP_CARRIED_TERMS]
    return f"{body} ({' '.join(extra)})" if extra else body


def not_answered(reply: str) -> bool:
    """Whether an assistant turn is a decline or a tentative answer, by the words every door
    writes for them (ABSTAIN_TEXT, TENTATIVE_LEAD): a client sends back only the text."""
    text = reply.strip()
    return text == ABSTAIN_TEXT or text.startswith(TENTATIVE_LEAD)


def answered_history(history: Sequence[Message]) -> list[Message]:
    """The conversation without the questions the articles did not answer plainly (and those
    replies): a declined or tentative turn must not lend its words to the next question's
    rewrite ("Where did they take place? (boiling point tungsten)")."""
    out: list[Message] = []
    for i, message in enumerate(history):
        reply = history[i + 1] if message.role == "user" and i + 1 < len(history) else message
        if reply.role != "user" and not_answered(reply.content):
            continue
        out.append(message)
    return out


def standalone_offline(history: Sequence[Message], follow_up: str) -> str:
    """Chain the offline rewrite through the conversation's user turns that were answered, so
    a follow-up of a follow-up still carries the original subject."""
    current = ""
    for message in [*answered_history(history), Message("user", follow_up)]:
        if message.role != "user":
            continue
        text = message.content.strip()
        current = offline_condense(current, text) if current and is_follow_up(text) else text
    return current


def usable_rewrite(rewrite: str, follow_up: str) -> str | None:
    """The model's rewrite, cleaned, if it is one question that keeps the follow-up's content
    words; None otherwise."""
    line = next((x for x in rewrite.strip().splitlines() if x.strip()), "")
    line = re.sub(r"^\s*(standalone question|question|rewritten question)\s*:\s*", "", line,
                  flags=re.IGNORECASE).strip().strip("\"'“”")
    if not REWRITE_MIN_WORDS <= len(words(line)) <= REWRITE_MAX_WORDS:
        return None
    # A rewrite is a question; a statement means the model answered instead.
    if not line.endswith("?") and words(line)[0] not in _QUESTION_WORDS | {"can", "could",
                                                                           "will", "would"}:
        return None
    needed = {stem(w) for w in words(_LEAD.sub("", follow_up))
              if w not in STOPWORDS and w not in _ANAPHORA}
    got = {stem(w) for w in words(line)}
    if needed and len(needed & got) < max(1, (len(needed) + 1) // 2):
        return None
    return line
