"""All configuration in one place: environment variables prefixed ASSISTANT_, or arguments.

OPENAI_API_KEY and OPENAI_BASE_URL are read under their usual names too, so an existing OpenAI
setup works unchanged.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_COLLECTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="ignore",
                                      populate_by_name=True)

    @classmethod
    def from_environment(cls) -> Settings:
        """The settings the environment gives, or an AssistantError of one line naming the first
        bad variable and its value (pydantic's own error runs over some forty lines)."""
        from pydantic import ValidationError

        from assistant.errors import AssistantError

        try:
            return cls()
        except ValidationError as exc:
            error = exc.errors()[0]
            field = "_".join(str(part) for part in error["loc"])
            names = (f"ASSISTANT_{field.upper()}", field.upper(), field)  # aliases: OPENAI_*
            name = next((n for n in names if n in os.environ), names[0])
            message = error["msg"].removeprefix("Value error, ")
            raise AssistantError(f"bad setting {name}={os.environ.get(name, '')!r}: "
                                 f"{message}") from None

    # Where the index lives.
    store: Path = Field(default=Path(".assistant"), description="store directory")
    chroma_url: str | None = Field(default=None, description="http://HOST:PORT of a Chroma server")
    collection: str = "articles"
    chroma_token: SecretStr | None = Field(
        default=None, description="a token the Chroma server requires, sent in chroma_token_header")
    chroma_token_header: str = Field(
        default="Authorization", description="the header carrying chroma_token: 'Authorization' "
        "(sent as 'Bearer TOKEN') or another, such as 'X-Chroma-Token' (sent as is)")
    chroma_tenant: str = Field(default="default_tenant", description="Chroma server tenant")
    chroma_database: str = Field(default="default_database", description="Chroma server database")
    chroma_timeout_s: float = Field(
        default=10.0, gt=0, description="seconds any one request to the Chroma server may go "
        "unanswered before the command or API request fails with a one-line error (503)")
    sync_interval_s: float = Field(
        default=1.0, ge=0, description="how often (at most) a running assistant checks the store "
        "for articles other processes wrote; 0: before every question")
    lease_seconds: float = Field(
        default=60.0, ge=5, description="an ingest's lease on the store lasts this long unless "
        "renewed (it is renewed while the ingest runs); a crashed writer's lease expires")
    lease_wait_s: float = Field(
        default=3600.0, ge=0, description="how long a write waits for another process's ingest "
        "to finish before giving up with an error")

    # Embeddings: the offline model by default, or an OpenAI-compatible endpoint.
    embedding: Literal["local", "openai"] = "local"
    embedding_model: str = "text-embedding-3-small"
    embedding_base_url: str | None = None

    # Ingest.
    max_file_mb: float = Field(default=50, gt=0, description="files larger than this are refused "
                               "with a one-line error (ingest streams what it accepts)")
    ingest_batch_sentences: int = Field(
        default=2048, ge=64, le=65536, description="sentences an ingest embeds and writes to the "
        "store at a time: each write has a fixed cost, so larger batches ingest faster; an "
        "interrupted ingest redoes at most one batch")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="WARNING", description="what the CLI and `serve` log to stderr (assistant/logs.py); "
        "INFO: one line per request, answer and ingest with its timings")

    # Chunking.
    chunk_words: int = Field(default=120, ge=20, le=400)
    chunk_overlap_sentences: int = Field(default=1, ge=0, le=5)

    # Retrieval and answering.
    top_k: int = Field(default=6, ge=1, le=50)
    max_answer_sentences: int = Field(
        default=2, ge=1, le=6, description="sentences an extractive answer quotes (a conflict or a "
        "list question may quote more)")
    answerer: Literal["heuristic", "reader"] = Field(
        default="reader", description="offline answerer: 'reader' (the trained reading-comprehension "
        "model; see the README) or 'heuristic' (the earlier sentence scoring, hand-set on our gold sets)")
    reader_model: Path | None = Field(
        default=None, description="folder of a reader model (reader.onnx, tokenizer.json, "
        "manifest.json, calibration.json); unset: the one shipped in the package")
    spelling: bool = Field(
        default=True, description="correct a question's words that neither the indexed articles nor "
        "English know (typos) to the articles' closest word before retrieval; the answer shows "
        "'Read as: ...'")
    abstain_threshold: float | None = Field(
        default=None, ge=0, le=1,
        description="abstain below this answer confidence; unset: the answerer's own (0.4 in "
        "heuristic_weights.json for the heuristic one; the reader's fitted one, model card)")

    # Generative backend (off by default: the offline extractive answerer needs no key).
    llm: Literal["extractive", "openai"] = "extractive"
    llm_model: str = "gpt-4o-mini"
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "ASSISTANT_OPENAI_API_KEY"))
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "ASSISTANT_OPENAI_BASE_URL"))
    llm_timeout: float = Field(default=30.0, gt=0)
    llm_max_retries: int = Field(default=1, ge=0, le=5)
    llm_temperature: float = 0.0
    llm_max_tokens: int = Field(default=200, ge=16, le=4096, description="reply length limit")
    llm_max_passages: int = Field(default=4, ge=1, le=20,
                                  description="passages put in the prompt (the guard checks all)")

    # The OpenAI-compatible API that `assistant serve` offers under /v1 (ui/openai_api.py).
    api_keys: SecretStr | None = Field(
        default=None, description="bearer tokens the API accepts, comma-separated; with none (and "
        "no api_keys_file) the API is open, which `serve` allows on loopback only")
    api_keys_file: Path | None = Field(default=None, description="a file of API keys, one a line")
    api_rate_per_minute: float = Field(
        default=60, ge=0, description="requests a key (or, without keys, a client address) may "
        "make a minute, as a token bucket; 0: no limit")
    api_burst: int = Field(default=20, ge=1, description="requests allowed at once above the rate")
    api_max_request_bytes: int = Field(default=262_144, ge=1024,
                                       description="larger request bodies are refused (413)")
    api_workers: int | None = Field(
        default=None, ge=1, le=64, description="answers computed at once; unset: the CPU count")
    api_sources_in_text: bool = Field(
        default=True, description="append a 'Sources:' list to the message text, for clients "
        "that ignore the article_assistant field")
    login_attempts_per_minute: float = Field(
        default=10, ge=0, description="sign-in attempts per client address a minute on the web "
        "chat's login (--auth), and wrong API keys per client address a minute on /v1; "
        "0: no limit")
    allowed_hosts: str = Field(
        default="", description="Host header values `serve` answers besides localhost, "
        "127.0.0.1, [::1] and its --host, comma-separated ('*.example.com' matches subdomains, "
        "'*' any); others get 400, so a DNS-rebinding page cannot reach the chat")

    @field_validator("store", mode="before")
    @classmethod
    def _a_store_folder(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            raise ValueError("an empty path; name the store's folder")
        return value

    @field_validator("chroma_url", mode="before")
    @classmethod
    def _no_server_when_empty(cls, value: object) -> object:
        """An empty URL (`--chroma-url ""`, ASSISTANT_CHROMA_URL="") means no server: the store
        folder is the record. Safe, since a server's cache used without its URL is refused
        (assistant/store.py)."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("collection")
    @classmethod
    def _a_collection_name(cls, value: str) -> str:
        """Chroma's rule for a name, checked before anything is written: the catalog's file is
        named after it, so "../../x" would have put it outside the store."""
        if not _COLLECTION.fullmatch(value) or ".." in value:
            raise ValueError("3-63 letters, digits, '.', '_' or '-', starting and ending with a "
                             "letter or digit")
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return value
        raise ValueError("Chroma refuses a name that is an IP address")

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: object) -> object:
        """"debug" as well as "DEBUG", as `--log-level` takes it."""
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("api_keys_file", "reader_model", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        """An empty environment variable means unset, not the current directory."""
        return None if isinstance(value, str) and not value.strip() else value

    def allowed_host_values(self) -> list[str]:
        """allowed_hosts as a list, blanks dropped."""
        return [h.strip() for h in self.allowed_hosts.split(",") if h.strip()]

    def api_key_values(self) -> list[str]:
        """The API keys from api_keys and api_keys_file (blank lines and # comments skipped).
        Raises OSError when the file cannot be read."""
        keys = [k.strip() for k in (self.api_keys.get_secret_value() if self.api_keys else "")
                .split(",")]
        if self.api_keys_file is not None:
            lines = self.api_keys_file.read_text(encoding="utf-8").splitlines()
            keys += [line.strip() for line in lines if not line.lstrip().startswith("#")]
        return [k for k in dict.fromkeys(keys) if k]
