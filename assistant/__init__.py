"""Article Assistant: answers questions about news articles with cited, checked sentences."""

from assistant.core import Assistant
from assistant.errors import (
    AssistantError,
    EmptyQuestionError,
    EmptyStoreError,
    InvalidArgumentError,
    InvalidQuestionError,
    ScopeError,
)
from assistant.models import (
    ABSTAIN_TEXT,
    TENTATIVE_LEAD,
    Answer,
    Citation,
    Conflict,
    IngestSummary,
    RetrievedPassage,
    Scope,
    SentenceSupport,
    Source,
)
from assistant.question import MAX_QUESTION_CHARS, check_question, check_text
from assistant.settings import Settings

__all__ = [
    "ABSTAIN_TEXT", "MAX_QUESTION_CHARS", "TENTATIVE_LEAD", "Answer", "Assistant", "AssistantError",
    "Citation", "Conflict", "EmptyQuestionError", "EmptyStoreError", "IngestSummary", "InvalidArgumentError",
    "InvalidQuestionError",
    "RetrievedPassage", "Scope", "ScopeError", "SentenceSupport", "Settings", "Source",
    "check_question", "check_text",
]
