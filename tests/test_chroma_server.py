"""The same ingest and ask flow against a real `chroma run` server (--chroma-url)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from conftest import SAMPLES, run_cli

from harness.llm_server import free_port

pytestmark = pytest.mark.server

QUESTIONS = [
    "How many stops does the Riverside Line have?",
    "Which company built the trams for the Riverside Line?",
    "Who is the incident commander for the Sawmill Fire?",
    "What was the final score of the Coastal Cup final?",
    "Who painted the Mona Lisa?",
]


def batch_answers(store: Path, batch: Path, *extra: str, env: dict[str, str] | None = None
                  ) -> list[dict]:
    result = run_cli("ask", "--batch", str(batch), "--store", str(store), "--json", *extra, env=env)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    for row in rows:
        row.pop("timings_ms")
    return rows


def test_server_mode_answers_like_embedded_mode(chroma_server: str, tmp_path: Path) -> None:
    # A collection of its own: the server is shared by the whole test session.
    env = {"ASSISTANT_COLLECTION": f"test-{uuid.uuid4().hex[:12]}"}
    server_store, embedded_store = tmp_path / "server", tmp_path / "embedded"
    url = ["--chroma-url", chroma_server]

    result = run_cli("ingest", str(SAMPLES), "--store", str(server_store), "--json", *url, env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["added"], report["failed"]) == (7, [])
    # The vectors live on the server, not in the store directory.
    assert not (server_store / "chroma").exists()
    again = json.loads(run_cli("ingest", str(SAMPLES), "--store", str(server_store), "--json", *url,
                               env=env).stdout)
    assert (again["added"], again["unchanged"], again["tokens"]) == (0, 7, 0)
    assert run_cli("ingest", str(SAMPLES), "--store", str(embedded_store)).returncode == 0

    batch = tmp_path / "questions.jsonl"
    batch.write_text("\n".join(json.dumps({"id": i, "question": q}) for i, q in enumerate(QUESTIONS)),
                     encoding="utf-8")
    served = batch_answers(server_store, batch, *url, env=env)
    embedded = batch_answers(embedded_store, batch)
    assert len(served) == len(QUESTIONS)
    assert any(not row["abstained"] for row in served)
    assert served == embedded

    sources = json.loads(run_cli("sources", "--store", str(server_store), "--json", *url, env=env).stdout)
    article_id = sources[0]["article_id"]
    removed = run_cli("remove", article_id, "--store", str(server_store), *url, env=env)
    assert removed.returncode == 0, removed.stderr
    left = json.loads(run_cli("sources", "--store", str(server_store), "--json", *url, env=env).stdout)
    assert article_id not in {s["article_id"] for s in left} and len(left) == 6

    # A server that is gone: one line, exit 1, for a store that otherwise works.
    dead = f"http://127.0.0.1:{free_port()}"
    for args in (("ask", QUESTIONS[0]), ("ingest", str(SAMPLES))):
        result = run_cli(*args, "--store", str(server_store), "--chroma-url", dead, env=env)
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1
        assert result.stderr.startswith(f"error: Chroma server at {dead} is unavailable")


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}", "not a url", "http://127.0.0.1:99999"])
def test_unreachable_or_bad_server_url_is_one_line_exit_1(tmp_path: Path, url: str) -> None:
    url = url.format(port=free_port())
    result = run_cli("ingest", str(SAMPLES), "--store", str(tmp_path), "--chroma-url", url)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "Chroma" in result.stderr and "Traceback" not in result.stderr
    if " " in url:
        assert result.stderr.startswith("error: bad Chroma URL")


def test_a_companion_collections_name_is_refused_and_its_records_are_kept(chroma_server: str,
                                                                           tmp_path: Path) -> None:
    """"twin-articles" holds the article records of the collection "twin". Opened as a
    collection of its own, `check --repair` deleted them as orphaned vectors (outside probe):
    another deployment lost its articles. The name is refused while "twin" exists."""
    twin = {"ASSISTANT_COLLECTION": f"twin{uuid.uuid4().hex[:6]}"}
    url = ("--chroma-url", chroma_server)
    assert run_cli("ingest", str(SAMPLES), "--store", str(tmp_path / "a"), *url,
                   env=twin).returncode == 0
    before = run_cli("sources", "--store", str(tmp_path / "fresh-1"), *url, env=twin).stdout
    assert before.strip()
    for suffix in ("articles", "state"):
        clash = {"ASSISTANT_COLLECTION": f"{twin['ASSISTANT_COLLECTION']}-{suffix}"}
        for args in (("check", "--repair"), ("ingest", str(SAMPLES)), ("sources",)):
            result = run_cli(*args, "--store", str(tmp_path / f"b-{suffix}"), *url, env=clash)
            assert result.returncode == 1, (args, result.stdout, result.stderr)
            assert result.stderr.count("\n") == 1 and "records of the collection" in result.stderr
    # The deployment's articles are all still on the server.
    after = run_cli("sources", "--store", str(tmp_path / "fresh-2"), *url, env=twin).stdout
    assert after == before


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/api", "http://127.0.0.1:{port}?x=1"])
def test_a_url_with_a_path_or_query_is_refused(chroma_server: str, tmp_path: Path, url: str) -> None:
    """chromadb would silently drop it: a proxy's path prefix would send requests elsewhere."""
    port = chroma_server.rsplit(":", 1)[1].rstrip("/")
    result = run_cli("sources", "--store", str(tmp_path), "--chroma-url", url.format(port=port))
    assert result.returncode == 1 and result.stderr.startswith("error: bad Chroma URL")
    assert "path or query" in result.stderr and result.stderr.count("\n") == 1
