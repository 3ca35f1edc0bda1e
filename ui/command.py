"""`python -m assistant serve`: the web chat and the OpenAI-compatible API.

Registered on the command line (assistant/cli.py) through the "assistant.commands" entry points
in pyproject.toml. Gradio and uvicorn are imported when the command runs, not when the CLI loads.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click

from assistant.cli import chroma_option, fail, llm_options, llm_overrides, open_assistant, store_option
from assistant.errors import AssistantError
from index.sqlite import failure_message


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command("serve")
@store_option
@chroma_option
@llm_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything but loopback requires --auth, and API keys unless "
                   "--no-api.")
@click.option("--port", type=click.IntRange(1, 65535), default=7860, show_default=True)
@click.option("--auth", envvar="ASSISTANT_AUTH", metavar="USER:PASSWORD",
              help="Require this login (or set $ASSISTANT_AUTH, which keeps it out of `ps`).")
@click.option("--no-api", is_flag=True,
              help="Serve the web chat only, without the OpenAI-compatible API under /v1.")
@click.pass_context
def serve_command(ctx: click.Context, store: str | None, chroma_url: str | None, llm: str | None,
                  llm_url: str | None, llm_model: str | None, host: str, port: int,
                  auth: str | None, no_api: bool) -> None:
    """Serve the web chat (default http://127.0.0.1:7860) and the OpenAI-compatible API under
    /v1 (keys: $ASSISTANT_API_KEYS or $ASSISTANT_API_KEYS_FILE)."""
    credentials: tuple[str, str] | None = None
    if auth:
        user, sep, password = auth.partition(":")
        if not (sep and user and password):
            fail("--auth must be USER:PASSWORD, both non-empty")
        credentials = (user, password)
    if not _is_loopback(host) and credentials is None:
        fail(f"binding {host} exposes the chat beyond this machine; "
             "add --auth USER:PASSWORD (or set ASSISTANT_AUTH)")
    assistant = open_assistant(ctx, store, chroma_url, **llm_overrides(llm, llm_url, llm_model))
    if not no_api:
        try:
            keys = assistant.settings.api_key_values()
        except OSError as exc:
            fail(f"cannot read the API keys file {assistant.settings.api_keys_file}: "
                 f"{exc.strerror or exc}")
            return
        # The API must not be an open side door: wherever the chat needs a login (or could be
        # reached from another machine), the API needs a key.
        if not keys and not _is_loopback(host):
            fail(f"binding {host} exposes the API beyond this machine; set ASSISTANT_API_KEYS "
                 "(or ASSISTANT_API_KEYS_FILE), or pass --no-api")
        if not keys and credentials is not None:
            fail("--auth protects the chat but the API would be open; set ASSISTANT_API_KEYS "
                 "(or ASSISTANT_API_KEYS_FILE), or pass --no-api")
    # Only requests whose Host names this server are answered (ui/server.py); a wildcard
    # address is no name a client uses, so without the names every remote request gets 400.
    if host.strip("[]") in ("0.0.0.0", "::") and not assistant.settings.allowed_host_values():
        fail(f"binding {host} serves every address of this machine; set ASSISTANT_ALLOWED_HOSTS "
             "to the names clients use (comma-separated, '*' for any)")
    try:
        # Imported here: gradio and uvicorn are heavy, and the other commands do not need them.
        from ui.server import serve as serve_app
    except ImportError as exc:
        fail(f"the web chat is not available ({exc})")
        return
    try:
        serve_app(assistant, host=host, port=port, auth=credentials, api=not no_api)
    except sqlite3.Error as exc:  # the chat's own SQLite files beside the store (read-only?)
        fail(failure_message(exc, Path(assistant.settings.store), "the store")[1])
    except OSError as exc:
        fail(f"cannot serve on {host}:{port}: {exc.strerror or exc}")
    except AssistantError as exc:
        fail(str(exc))
