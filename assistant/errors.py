"""Errors the public API raises. Every message is one line that names the problem."""


class AssistantError(Exception):
    """Base class: catch this to handle any problem the assistant reports."""


class InvalidQuestionError(AssistantError, ValueError):
    """A question refused before any work: empty, longer than MAX_QUESTION_CHARS, or not valid
    Unicode (assistant/question.py)."""


class EmptyQuestionError(InvalidQuestionError):
    pass


class InvalidArgumentError(AssistantError, ValueError):
    """An argument out of its range, e.g. a top_k that is not a whole number from 1 to 50."""


class EmptyStoreError(AssistantError):
    pass


class StoreMismatchError(AssistantError):
    pass


class ScopeError(AssistantError, ValueError):
    """A scope (article ids, date range) that names no indexed article, or is malformed."""


class CatalogDamagedError(AssistantError):
    """The store's catalog file cannot be read; `assistant check --repair` sets it aside."""


class StoreUnavailableError(AssistantError):
    """The store's files cannot be opened or written: permissions, a read-only store, a lock
    held by another process, a full disk. Nothing is damaged, and `check --repair` refuses."""
