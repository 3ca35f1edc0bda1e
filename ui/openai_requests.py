"""The request bodies the OpenAI-compatible API (ui/openai_api.py) accepts, as pydantic models:
every string in them is checked to be valid Unicode, so a lone surrogate is a 400 that names the
field rather than a 500."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from assistant import InvalidQuestionError, check_text
from assistant import Scope as ArticleScope


def _valid_unicode(value: Any) -> Any:
    """`value` unchanged when every string in it is valid Unicode. A JSON "\\ud800" escape
    decodes to a lone surrogate, which would fail deep in the tokenizer or while the reply is
    encoded (a 500); refused instead as a 400 that names the field."""
    if isinstance(value, str):
        try:
            check_text(value, "the text")
        except InvalidQuestionError as exc:
            raise PydanticCustomError("invalid_unicode", str(exc)) from None
    elif isinstance(value, dict):
        for item in value.values():
            _valid_unicode(item)
    elif isinstance(value, list):
        for item in value:
            _valid_unicode(item)
    return value


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None

    _unicode = field_validator("role", "content", mode="before")(_valid_unicode)


class Options(BaseModel):
    """The request's extra field `article_assistant` (the SDK's `extra_body`)."""

    model_config = ConfigDict(extra="forbid")

    scope: ArticleScope | None = Field(default=None, description="article ids and/or a date range "
                                       "the answer may come from")
    top_k: int | None = Field(default=None, ge=1, le=50, description="passages to retrieve")
    sources_in_text: bool | None = Field(default=None, description="append the Sources list "
                                         "to the message text (default: the server's setting)")

    _unicode = field_validator("scope", mode="before")(_valid_unicode)


class ChatCompletionRequest(BaseModel):
    # OpenAI's other fields (temperature, max_tokens, user, ...) are accepted and ignored: the
    # answer is quoted from the articles, not sampled.
    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage]
    stream: bool = False
    # More than one choice would be the same answer again: refused rather than ignored, so a
    # client that asks for alternatives learns there are none instead of getting one.
    n: int = Field(default=1, description="choices to return: always 1")
    article_assistant: Options | None = None

    @field_validator("n")
    @classmethod
    def _one_choice(cls, value: int) -> int:
        if value != 1:
            raise PydanticCustomError("one_choice", "must be 1: the answer is quoted from the "
                                      "articles, not sampled, so another choice would be the "
                                      "same answer")
        return value

    _unicode = field_validator("model", mode="before")(_valid_unicode)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str
    top_k: int | None = Field(default=None, ge=1, le=50)
    scope: ArticleScope | None = None

    _unicode = field_validator("query", "scope", mode="before")(_valid_unicode)
