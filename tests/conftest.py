"""Shared fixtures: real stores, a real Chroma server, and the CLI as a subprocess."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import Assistant
from harness.chroma_server import chroma_command, running_chroma_server

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "articles"
USER_ARTICLES = (ROOT.parent / "shared" / "articles").resolve()
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Threads for the llama.cpp server and for training runs started by tests. The suite runs three
# workers on two cores, and a two-thread llama.cpp or torch process spins at its barriers while
# the other thread waits for a core: one thread does the same work for less CPU.
TEST_THREADS = 1


# A test whose body starts a process (the CLI, a server, a worker) is end to end, not in-process:
# it gets the `process` mark, which `make test-fast` leaves out. Read from the test's own source,
# so a new test is marked without anyone remembering to.
_STARTS_A_PROCESS = re.compile(r"\b(run_cli|ask_json|start_server|serve_against|serving|"
                               r"subprocess\.(run|Popen)|Popen|running_chroma_server|"
                               r"running_llama_server)\(")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        function = getattr(item, "function", None)
        if function is None:
            continue
        try:
            source = inspect.getsource(function)
        except (OSError, TypeError):
            continue
        if _STARTS_A_PROCESS.search(source):
            item.add_marker(pytest.mark.process)


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


def reader_model_with_band(folder: Path, plain_from: float) -> Path:
    """A copy of the shipped reader model whose confidence band starts at `plain_from` (the model
    file and its checksum unchanged): -1e6 makes every answer plain, 1e6 every answer tentative,
    so a test of how each state is shown does not depend on one question's confidence."""
    import json
    import shutil

    from assistant.reader import MODEL_DIR

    target = folder / "reader_model"
    shutil.copytree(MODEL_DIR, target)
    calibration = json.loads((target / "calibration.json").read_text())
    calibration["plain_from"] = plain_from
    (target / "calibration.json").write_text(json.dumps(calibration))
    return target


@pytest.fixture(scope="session")
def sure_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped model with a band every answer clears: answers are shown plainly."""
    return reader_model_with_band(tmp_path_factory.mktemp("sure-model"), -1e6)


@pytest.fixture(scope="session")
def unsure_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped model with a band no answer reaches: every answer is tentative."""
    return reader_model_with_band(tmp_path_factory.mktemp("unsure-model"), 1e6)
