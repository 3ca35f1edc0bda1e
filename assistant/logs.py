"""The one place logging is configured: the CLI calls `configure_logging` once, with `--log-level`
or `ASSISTANT_LOG_LEVEL` (default WARNING, so a plain `ask` prints only its answer).

Every module logs through `logging.getLogger(__name__)`, so the levels of a part can be set by
its package name (`assistant`, `index`, `ui`). A request to the API and an answer or an ingest
each log one INFO line with their timings.

No secret reaches a log line: a filter on the handler replaces every configured secret (the
OpenAI key, the API keys, the Chroma token) and anything shaped like a bearer token or an
`sk-` key with `***`, whichever module or library wrote the line.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_TOKEN_SHAPES = re.compile(r"(?i)(bearer\s+)[^\s\"',]+|\bsk-[A-Za-z0-9_-]{8,}")
_HANDLER_NAME = "article-assistant"


class RedactSecrets(logging.Filter):
    """Replaces secrets in a record's formatted message (arguments included) with ***."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return _TOKEN_SHAPES.sub(lambda m: (m.group(1) or "") + "***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def secrets_of(settings) -> list[str]:  # assistant.settings.Settings
    """The secret values a Settings object holds."""
    found: list[str] = []
    for name in ("openai_api_key", "chroma_token"):
        value = getattr(settings, name, None)
        if value is not None:
            found.append(value.get_secret_value() if hasattr(value, "get_secret_value") else str(value))
    keys = getattr(settings, "api_keys", None)
    if keys is not None:
        raw = keys.get_secret_value() if hasattr(keys, "get_secret_value") else keys
        found.extend(k.strip() for k in (raw.split(",") if isinstance(raw, str) else raw) if k)
    keys_file = getattr(settings, "api_keys_file", None)
    if keys_file is not None:
        try:
            found.extend(line.strip() for line in keys_file.read_text().splitlines() if line.strip())
        except OSError:
            pass  # serve reports an unreadable key file itself
    return found


def configure_logging(level: str | None = None, secrets: Iterable[str] = ()) -> None:
    """Send log lines at `level` and above to stderr, secrets redacted. Called again, it replaces
    its own handler (so tests and a long-lived process can change the level)."""
    name = (level or "WARNING").upper()
    if name not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(RedactSecrets(secrets))
    root.addHandler(handler)
    root.setLevel(getattr(logging, name))
    # Libraries' chatter stays at WARNING unless asked for DEBUG.
    for noisy in ("httpx", "httpcore", "chromadb", "urllib3", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if name == "DEBUG" else logging.WARNING)
