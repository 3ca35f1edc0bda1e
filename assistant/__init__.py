"""Article Assistant: answers questions about news articles with cited, checked sentences."""

from assistant.core import ABSTAIN_TEXT, Assistant
from assistant.errors import AssistantError, EmptyQuestionError, EmptyStoreError, ScopeError
from assistant.models import (
    Answer,
    Citation,
    Conflict,
    IngestSummary,
    RetrievedPassage,
    Scope,
    SentenceSupport,
    Source,
)
from assistant.settings import Settings

__all__ = [
    "ABSTAIN_TEXT", "Answer", "Assistant", "AssistantError", "Citation", "Conflict",
    "EmptyQuestionError", "EmptyStoreError", "IngestSummary", "RetrievedPassage", "Scope",
    "ScopeError",
    "SentenceSupport", "Settings", "Source",
]
