"""The command line: `python -m assistant ingest|ask|sources|remove|check|chat`, plus the commands
that the packages above this one register under the "assistant.commands" entry points
(pyproject.toml): `eval` (evals/command.py) and `serve` (ui/command.py). They build on the
helpers here (fail, open_assistant, llm_overrides and the shared options); this module imports
none of them.

Errors print one line to stderr, `error: ...`, and exit 1 when nothing could be done.
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import threading
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click

from assistant.core import Assistant
from assistant.errors import AssistantError
from assistant.logs import LEVELS, configure_logging, secrets_of
from assistant.models import Answer
from assistant.settings import Settings
from assistant.store import catalog_errors
from index.text import printable_path


def fail(message: str) -> None:
    """Print `error: MESSAGE` (one line) to stderr and exit 1."""
    click.echo(f"error: {printable_path(message)}", err=True)
    sys.exit(1)


def open_assistant(ctx: click.Context, store: str | None, chroma_url: str | None,
                   **overrides: Any) -> Assistant:
    """The Assistant over the command's --store/--chroma-url (else the group's); a setting or
    store that cannot be opened fails in one line. An empty --chroma-url means no server, over
    ASSISTANT_CHROMA_URL too, as an empty variable does."""
    obj = ctx.ensure_object(dict)
    try:
        return Assistant(store=store or obj.get("store"),
                         chroma_url=chroma_url if chroma_url is not None else obj.get("chroma_url"),
                         **overrides)
    except AssistantError as exc:
        fail(str(exc))
        raise  # unreachable: fail exits


def llm_overrides(llm: str | None, llm_url: str | None, llm_model: str | None) -> dict[str, Any]:
    """Settings from --llm/--llm-url/--llm-model. The API key is deliberately not an option
    (command lines show up in `ps` and shell history): it comes from OPENAI_API_KEY."""
    overrides: dict[str, Any] = {}
    if llm_url:
        if not llm_url.startswith(("http://", "https://")):
            fail(f"--llm-url must be an http:// or https:// URL, not {llm_url!r}")
        overrides["openai_base_url"] = llm_url
        overrides["llm"] = "openai"
    if llm:
        overrides["llm"] = llm
    if llm_model:
        overrides["llm_model"] = llm_model
        overrides.setdefault("llm", "openai")
    return overrides


store_option = click.option("--store", type=click.Path(file_okay=False),
                            help="Store directory (default: $ASSISTANT_STORE or .assistant).")
chroma_option = click.option("--chroma-url", help="Use a Chroma server, e.g. http://127.0.0.1:8000 "
                             "(empty: none, over $ASSISTANT_CHROMA_URL).")


def llm_options(command: Any) -> Any:
    command = click.option(
        "--llm-model", metavar="NAME",
        help="Model name for the LLM backend (default: $ASSISTANT_LLM_MODEL or gpt-4o-mini).")(command)
    command = click.option(
        "--llm-url", metavar="URL",
        help="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1 (implies --llm openai; "
             "default: $OPENAI_BASE_URL). The key comes from $OPENAI_API_KEY only.")(command)
    return click.option(
        "--llm", type=click.Choice(["extractive", "openai"]),
        help="Answer backend: extractive (offline, the default) or openai (an OpenAI or "
             "OpenAI-compatible server; every sentence checked by the grounding guard). "
             "Default: $ASSISTANT_LLM.")(command)


# The entry-point group of the commands that packages above this one add (see the docstring).
COMMANDS_ENTRY_POINTS = "assistant.commands"


class _Commands(click.Group):
    """The command group: its own commands, and those registered under COMMANDS_ENTRY_POINTS,
    each imported only when it is run or listed (`ask` imports neither evals nor ui)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        added = {entry.name for entry in entry_points(group=COMMANDS_ENTRY_POINTS)}
        return sorted({*super().list_commands(ctx), *added})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            for entry in entry_points(group=COMMANDS_ENTRY_POINTS, name=cmd_name):
                command = entry.load()
                self.add_command(command, cmd_name)
                break
        return command


@click.group(cls=_Commands)
@click.version_option(package_name="article-assistant")
@store_option
@chroma_option
@click.option("--log-level", type=click.Choice(LEVELS, case_sensitive=False), default=None,
              help="Log to stderr at this level (default: ASSISTANT_LOG_LEVEL, else WARNING); INFO "
                   "logs one line per answer, request and ingest with its timings.")
@click.pass_context
def main(ctx: click.Context, store: str | None, chroma_url: str | None, log_level: str | None) -> None:
    """Answer questions about news articles with cited, checked passages."""
    ctx.ensure_object(dict).update(store=store, chroma_url=chroma_url)
    try:
        settings = Settings()
    except Exception as exc:  # a bad ASSISTANT_* value: each command reports it as it builds its own
        logging.getLogger(__name__).debug("settings not read for logging: %s", exc)
        configure_logging(log_level)
        return
    configure_logging(log_level or settings.log_level, secrets_of(settings))


@main.command()
@click.argument("paths", nargs=-1)
@store_option
@chroma_option
@click.option("--feed", "feeds", multiple=True, metavar="URL_OR_FILE",
              help="An RSS or Atom feed: every entry becomes an article; run again to add only "
                   "new entries. Repeatable.")
@click.option("--fetch-pages", is_flag=True,
              help="For feed entries that carry only a summary, fetch the whole page.")
@click.option("--follow-links", is_flag=True,
              help="Follow symbolic links that lead out of an ingested folder.")
@click.option("--prune", is_flag=True, help="Drop indexed articles whose files are gone.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def ingest(ctx: click.Context, paths: tuple[str, ...], store: str | None, chroma_url: str | None,
           feeds: tuple[str, ...], fetch_pages: bool, follow_links: bool, prune: bool,
           as_json: bool) -> None:
    """Index files and folders (.txt .md .html .json .jsonl .pdf), web pages by URL
    (https://...) and RSS/Atom feeds (--feed)."""
    if not paths and not feeds:
        fail("nothing to ingest: give files, folders or URLs, or --feed URL")
    assistant = open_assistant(ctx, store, chroma_url)
    bars: dict[str, Any] = {}

    def progress(done: int, total: int, path: str) -> None:
        if total < 20:
            return
        if "files" not in bars:
            from tqdm import tqdm
            bars["files"] = tqdm(total=total, unit="file", file=sys.stderr, desc="ingest")
        bars["files"].update(1)

    def embedding_progress(done: int, total: int, name: str) -> None:
        # A second bar for a flush big enough to take a while (one big file, or many records).
        if total < 5000:
            return
        from tqdm import tqdm

        bar = bars.get("sentences")
        if bar is None or bar.total != total or bar.n > done:
            if bar is not None:
                bar.close()
            bar = bars["sentences"] = tqdm(total=total, unit="sentence", file=sys.stderr,
                                           desc=printable_path(Path(name).name)[:40], leave=False)
        bar.update(done - bar.n)

    error = None
    try:
        report = assistant.ingest(list(paths), prune=prune, progress=progress,
                                  embedding_progress=embedding_progress, feeds=list(feeds),
                                  fetch_pages=fetch_pages, follow_links=follow_links)
    except AssistantError as exc:
        error = str(exc)
    finally:
        # Closed before the error is printed: an open bar left its line unfinished, and the
        # error was written after it, not on a line of its own.
        for bar in bars.values():
            bar.close()
    if error is not None:
        fail(error)
        return
    for message in report.failed:
        click.echo(f"error: {printable_path(message)}", err=True)
    if as_json:
        click.echo(report.model_dump_json())
    else:
        if report.repaired:
            click.echo(f"rebuilt {report.repaired} vectors the store had lost (from the catalog)")
        click.echo(f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
                   f"removed {report.removed}, failed {len(report.failed)} "
                   f"({report.chunks} chunks, {report.tokens} tokens, "
                   f"{report.tokens_per_second:.0f} tokens/s)")
    nothing_done = report.added + report.updated + report.unchanged + report.removed == 0
    if report.failed and nothing_done:
        sys.exit(1)


# C0 and C1 control characters (escape sequences start with ESC, or CSI in C1), except the
# newline and tab that text legitimately holds.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    """Article text (and anything derived from it) made safe for a terminal: an article must
    not be able to move the cursor, recolour or retitle the terminal, or hide text."""
    return _CONTROL.sub("", text)


def _print_backend_notes(answer: Answer) -> None:
    """What the LLM backend, the guard and the chat rewrite did, on stderr: a fallback to the
    extractive answer should not pass unnoticed."""
    for note in answer.notes:
        if note.startswith(("llm:", "guard:", "chat:")):
            click.echo(f"({_printable(note)})", err=True)


def _print_answer(answer: Answer) -> None:
    """The three states in words: a plain answer leads with its short answer, a tentative one
    says it is not sure (and gives no bold short answer), a decline says the articles don't."""
    if answer.query and answer.query != answer.question:
        click.echo(_printable(f"Read as: {answer.query}"))
        click.echo("")
    if answer.status == "answered" and answer.short_answer and not answer.conflicts:
        click.echo(f"Answer: {_printable(answer.short_answer)}  (confidence {answer.confidence:.0%})")
        click.echo("")
    click.echo(_printable(answer.answer))
    if answer.status == "declined" and answer.declined_because:
        click.echo(_printable(f"({answer.declined_because})"))
    if answer.status == "tentative":
        click.echo(f"(confidence {answer.confidence:.0%}: below the band where answers were right "
                   "at least 80 % of the time)")
    if answer.citations:
        click.echo("")
    for c in answer.citations:
        where = printable_path(c.url or c.source)
        page = f"p. {c.page}, " if c.page else ""
        click.echo(_printable(f"[{c.n}] {c.title} ({where}, {page}chars {c.start}-{c.end})"))
        click.echo(_printable(f"    “{c.text}”"))


@main.command()
@click.argument("question", required=False)
@store_option
@chroma_option
@click.option("--json", "as_json", is_flag=True, help="Print the Answer as one JSON object.")
@click.option("--batch", type=click.Path(dir_okay=False),
              help='Answer {"id", "question"} lines of a JSONL file, one JSON line each.')
@click.option("--top-k", type=int, help="How many passages to retrieve.")
@llm_options
@click.pass_context
def ask(ctx: click.Context, question: str | None, store: str | None, chroma_url: str | None,
        as_json: bool, batch: str | None, top_k: int | None, llm: str | None,
        llm_url: str | None, llm_model: str | None) -> None:
    """Answer QUESTION from the indexed articles."""
    assistant = open_assistant(ctx, store, chroma_url, **llm_overrides(llm, llm_url, llm_model))
    if batch and question is not None:
        fail("give a question or --batch FILE.jsonl, not both")
    if batch:
        _ask_batch(assistant, Path(batch), top_k)
        return
    if question is None:
        fail("no question given; use `ask \"QUESTION\"` or `ask --batch FILE.jsonl`")
        return
    try:
        answer = assistant.ask(question, top_k=top_k)
    except AssistantError as exc:
        if as_json:  # a pipe into a JSON reader gets JSON, as a batch's failed lines do
            click.echo(json.dumps({"error": str(exc).splitlines()[0] if str(exc) else
                                   exc.__class__.__name__}))
        fail(str(exc))
        return
    if as_json:
        click.echo(answer.model_dump_json())
    else:
        _print_answer(answer)
        _print_backend_notes(answer)


def _ask_batch(assistant: Assistant, path: Path, top_k: int | None) -> None:
    if not path.exists():
        fail(f"{path}: no such file")
    try:
        # Decoded a line at a time: one line that is not UTF-8 is that line's error, not the
        # batch's.
        lines = path.read_bytes().removeprefix(b"\xef\xbb\xbf").splitlines()
    except OSError as exc:
        fail(f"{path}: cannot read ({exc.strerror or exc.__class__.__name__})")
        return
    answered = failed = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        item_id: Any = None
        try:
            item = json.loads(raw.decode("utf-8"))
            if not isinstance(item, dict):
                raise ValueError("line is not a JSON object")
            item_id = item.get("id", number)
            answer = assistant.ask(str(item.get("question") or ""), top_k=top_k)
            click.echo(json.dumps({"id": item_id, **answer.model_dump()}, ensure_ascii=False))
            answered += 1
        except json.JSONDecodeError as exc:
            message = f"{path}:{number}: malformed JSON ({exc.msg})"
        except UnicodeDecodeError:
            message = f"{path}:{number}: not UTF-8 text"
        except (AssistantError, ValueError) as exc:
            message = f"{path}:{number}: {exc}"
        else:
            continue
        failed += 1
        click.echo(f"error: {printable_path(message)}", err=True)
        click.echo(json.dumps({"id": item_id, "line": number, "error": message}))
    if failed and not answered:
        sys.exit(1)


@main.command()
@store_option
@chroma_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def sources(ctx: click.Context, store: str | None, chroma_url: str | None, as_json: bool) -> None:
    """List the indexed articles."""
    try:
        items = open_assistant(ctx, store, chroma_url).sources()
    except AssistantError as exc:
        fail(str(exc))
        return
    if as_json:
        click.echo(json.dumps([s.model_dump() for s in items], ensure_ascii=False))
        return
    if not items:
        click.echo("no articles indexed")
    for s in items:
        click.echo(_printable(f"{s.article_id}  {s.chunks:3d} chunks  {s.date or '-':10.10}  "
                              f"{s.title}  ({printable_path(s.source)})"))


@main.command()
@click.argument("article_ids", nargs=-1, required=True)
@store_option
@chroma_option
@click.pass_context
def remove(ctx: click.Context, article_ids: tuple[str, ...], store: str | None,
           chroma_url: str | None) -> None:
    """Remove articles by id (see `sources`)."""
    assistant = open_assistant(ctx, store, chroma_url)
    missing = 0
    for article_id in article_ids:
        try:
            removed = assistant.remove(article_id)
        except AssistantError as exc:
            fail(str(exc))
            return
        # An id is printed as a path is: a newline or an escape sequence in it stays one line.
        if removed:
            click.echo(f"removed {printable_path(article_id)}")
        else:
            missing += 1
            click.echo(f"error: no indexed article with id {printable_path(article_id)}",
                       err=True)
    if missing == len(article_ids):
        sys.exit(1)


@main.command()
@store_option
@chroma_option
@click.option("--repair", is_flag=True,
              help="Delete orphaned vectors, rebuild missing ones from the catalog, and set a "
                   "damaged catalog aside.")
@click.pass_context
def check(ctx: click.Context, store: str | None, chroma_url: str | None, repair: bool) -> None:
    """Compare the catalog with the vectors; exit 1 when they differ (and --repair was not
    given or could not fix it)."""
    assistant = open_assistant(ctx, store, chroma_url)
    try:
        result = assistant.check(repair=repair)
    except AssistantError as exc:
        fail(str(exc))
        return
    for line in result.repaired:
        click.echo(f"repair: {printable_path(line)}")
    if result.repaired:
        # What the store holds now: the first check's figures are from before the repair, and
        # "9 missing" printed after "rebuilt 9 vectors" read as a repair that failed.
        click.echo(f"check before repair: {printable_path(result.summary())}")
        try:
            result = assistant.check()
        except AssistantError as exc:
            fail(str(exc))
            return
    click.echo(f"check: {printable_path(result.summary())}")
    # After a repair, only what it keeps on purpose may be left: a repair that left a problem
    # behind (or made one) and exited 0 read as a store made whole.
    if not result.consistent and not (repair and result.left_on_purpose):
        sys.exit(1)


@main.command()
@store_option
@chroma_option
@llm_options
@click.pass_context
def chat(ctx: click.Context, store: str | None, chroma_url: str | None, llm: str | None,
         llm_url: str | None, llm_model: str | None) -> None:
    """A terminal chat: type questions, get cited answers. Ctrl-D to leave."""
    assistant = open_assistant(ctx, store, chroma_url, **llm_overrides(llm, llm_url, llm_model))
    history: list[dict[str, str]] = []
    try:
        # A store that cannot answer is said once, not after every line typed.
        with catalog_errors(assistant.store.catalog_path):
            assistant.store.ready()
    except AssistantError as exc:
        fail(printable_path(str(exc)))
    # The models load while the first question is typed (the Assistant is thread-safe).
    threading.Thread(target=assistant.warm_up, name="warm-up", daemon=True).start()
    click.echo("Ask about the indexed articles (Ctrl-D to quit).")
    if isinstance(sys.stdin, io.TextIOWrapper):
        # Bytes that are not UTF-8 reach the question check as lone surrogates, which refuses
        # them in one line; a strict locale would raise mid-read instead, losing what follows.
        sys.stdin.reconfigure(errors="surrogateescape")
    while True:
        try:
            question = input("\n? ")
        except (EOFError, KeyboardInterrupt):
            click.echo("")
            return
        if not question.strip():
            continue
        try:
            # The whole conversation goes in, so a follow-up ("and how long?") is understood.
            answer = assistant.chat([*history, {"role": "user", "content": question}])
        except AssistantError as exc:
            click.echo(f"error: {printable_path(str(exc))}", err=True)
            continue
        _print_answer(answer)
        _print_backend_notes(answer)
        history += [{"role": "user", "content": question},
                    {"role": "assistant", "content": answer.answer}]
        del history[:-12]  # the last six exchanges are context enough
