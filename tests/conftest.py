"""Shared fixtures: real stores, a real Chroma server, and the CLI as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import Assistant
from evals.chroma_server import chroma_command, running_chroma_server

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "articles"
USER_ARTICLES = (ROOT.parent / "shared" / "articles").resolve()
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip on a developer machine that lacks a dependency; fail in CI, where all must run."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI requires: {reason}")
    pytest.skip(reason)


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True,
                          text=True, cwd=cwd or ROOT, env={**os.environ, **(env or {})},
                          timeout=timeout)


def ask_json(store: Path, question: str) -> dict:
    result = run_cli("ask", question, "--store", str(store), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("sample-store")
    Assistant(store=store).ingest([SAMPLES])
    return store


@pytest.fixture(scope="session")
def sample_assistant(sample_store: Path) -> Assistant:
    return Assistant(store=sample_store)


@pytest.fixture(scope="session")
def user_articles() -> Path:
    require(USER_ARTICLES.is_dir(), f"the user's articles at {USER_ARTICLES}")
    return USER_ARTICLES


@pytest.fixture(scope="session")
def user_assistant(tmp_path_factory: pytest.TempPathFactory, user_articles: Path) -> Assistant:
    store = tmp_path_factory.mktemp("user-store")
    assistant = Assistant(store=store)
    assistant.ingest([user_articles])
    return assistant


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` on loopback; yields its URL."""
    require(chroma_command().exists(), "the `chroma` command (pip install chromadb)")
    data = tmp_path_factory.mktemp("chroma-server")
    try:
        with running_chroma_server(data / "db", data / "server.log") as (url, _pid):
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc))
