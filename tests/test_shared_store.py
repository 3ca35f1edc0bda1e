"""One store shared by many processes: a real `chroma run` on loopback, real CLI processes, a
real proxy that cuts the server off mid-operation (tests/http_proxy.py)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings
from conftest import ROOT, SAMPLES, run_cli
from http_proxy import CuttableProxy

from assistant import Assistant, AssistantError
from index.state import LeaseTimeout, LocalState, ServerState, holder_name, lease
from index.vectorstore import ChromaStore

QUESTIONS = [json.loads(line)["question"] for line in
             (ROOT / "evals" / "datasets" / "sample" / "questions.jsonl").read_text().splitlines()
             if line.strip()][:10]

HEATWAVE = """Kestrel Bay Opens Cooling Centres

Kestrel Bay opened four cooling centres on Tuesday as temperatures reached 39 degrees.
The largest centre, in the Marlow Street library, can hold 250 people.
City nurse Adaeze Obi said the centres will stay open until Sunday evening.
"""


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def collection_env(**extra: str) -> dict[str, str]:
    # A collection of its own per test: the server is shared by the whole test session.
    return {"ASSISTANT_COLLECTION": f"test-{uuid.uuid4().hex[:12]}", **extra}


def comparable(answer) -> tuple:
    return (answer.answer, answer.abstained, [(c.article_id, c.start, c.end)
                                              for c in answer.citations])


def town_articles(folder: Path, first: int, count: int, boilerplate: bool = True) -> None:
    """Articles of three chunks each: at 900 chunks a process, two unserialised writers to one
    embedded store lost about 100 vectors (measured with the lease switched off). With
    `boilerplate`, each article's first sentence is its own and the other fifteen are the same in
    every town: the embedder embeds a repeated text once, so the vectors written stay 900 a
    process while the model's work is a fifteenth of it. Without it every sentence is the town's
    own (an ingest that must take a while, to be killed midway)."""
    folder.mkdir(parents=True)
    for i in range(first, first + count):
        town = "" if boilerplate else f" in Town {i}"
        body = " ".join([f"In Town {i}, the plan costs {i * 37} pounds and covers Field{i}."] + [
            f"Item {k} of the plan{town} covers {k + 2} streets and costs {k * 13} pounds, the "
            f"office said." for k in range(1, 16)])
        (folder / f"town-{i}.txt").write_text(f"Budget vote in Town {i}\n\n{body}\n",
                                              encoding="utf-8")


@pytest.mark.server
def test_two_stores_on_one_server_see_each_other_and_keep_each_others_articles(
        chroma_server: str, tmp_path: Path) -> None:
    env = collection_env()
    folder_a, folder_b = tmp_path / "corpus-a", tmp_path / "corpus-b"
    shutil.copytree(SAMPLES, folder_a)
    folder_b.mkdir()
    (folder_b / "heatwave.txt").write_text(HEATWAVE, encoding="utf-8")

    # B is a running process (the Assistant a `serve` holds) that has answered before A writes.
    b = Assistant(store=tmp_path / "store-b", chroma_url=chroma_server,
                  collection=env["ASSISTANT_COLLECTION"])
    b.ingest([folder_b])
    assert not b.ask("How many people can the Marlow Street centre hold?").abstained

    ingest_a = run_cli("ingest", str(folder_a), "--store", str(tmp_path / "store-a"),
                       "--chroma-url", chroma_server, env=env)
    assert ingest_a.returncode == 0, ingest_a.stderr
    written = time.monotonic()
    while True:  # no restart: B notices the change token and syncs from the server
        answer = b.ask("How many stops does the Riverside Line have?")
        if not answer.abstained or time.monotonic() - written > 5:
            break
        time.sleep(0.2)
    assert not answer.abstained and "22" in answer.answer
    assert time.monotonic() - written <= 5

    # Both stores hold the same 8 articles and give the same answers.
    a = Assistant(store=tmp_path / "store-a", chroma_url=chroma_server,
                  collection=env["ASSISTANT_COLLECTION"])
    assert {s.article_id for s in a.sources()} == {s.article_id for s in b.sources()}
    assert len(a.sources()) == 8
    assert len(QUESTIONS) == 10
    assert [comparable(a.ask(q)) for q in QUESTIONS] == [comparable(b.ask(q)) for q in QUESTIONS]

    # B prunes its own folder (its article gone from it) and removes nothing of A's.
    ids_of_a = {s.article_id for s in a.sources() if s.title != "Kestrel Bay Opens Cooling Centres"}
    assert len(ids_of_a) == 7
    (folder_b / "heatwave.txt").unlink()
    (folder_b / "note.txt").write_text("Ferry times\n\nThe ferry now leaves at 7:15 each day.\n",
                                       encoding="utf-8")
    pruned = run_cli("ingest", str(folder_b), "--prune", "--store", str(tmp_path / "store-b"),
                     "--chroma-url", chroma_server, "--json", env=env)
    assert pruned.returncode == 0, pruned.stderr
    assert (json.loads(pruned.stdout)["removed"], json.loads(pruned.stdout)["added"]) == (1, 1)
    note = next(s for s in b.sources() if s.title == "Ferry times")
    assert run_cli("remove", note.article_id, "--store", str(tmp_path / "store-b"),
                   "--chroma-url", chroma_server, env=env).returncode == 0
    time.sleep(a.settings.sync_interval_s)
    assert {s.article_id for s in a.sources()} == ids_of_a
    assert a.check().consistent

    # The local catalog is a cache: deleted (A's process has ended), it is rebuilt from the
    # server.
    a.catalog.close()
    del a
    for cache in (tmp_path / "store-a").glob("catalog-*"):  # the lexical index a folder
        shutil.rmtree(cache) if cache.is_dir() else cache.unlink()
    fresh = Assistant(store=tmp_path / "store-a", chroma_url=chroma_server,
                      collection=env["ASSISTANT_COLLECTION"])
    assert {s.article_id for s in fresh.sources()} == ids_of_a
    assert comparable(fresh.ask(QUESTIONS[0])) == comparable(b.ask(QUESTIONS[0]))
    assert fresh.retrieve(QUESTIONS[0])[0].dense > 0.3


@pytest.mark.server
def test_a_running_serve_answers_what_another_process_ingests(chroma_server: str,
                                                               tmp_path: Path) -> None:
    import httpx
    from test_openai_api import KEY, start_server, stop_server

    env = collection_env()
    url = ["--chroma-url", chroma_server]
    assert run_cli("ingest", str(SAMPLES), "--store", str(tmp_path / "writer"), *url,
                   env=env).returncode == 0
    process, base = start_server(tmp_path / "serve", tmp_path / "serve.log", *url, env=env)
    try:
        def top_passage() -> str:
            reply = httpx.post(f"{base}/v1/search", headers={"Authorization": f"Bearer {KEY}"},
                               json={"query": "How many people can the Marlow Street centre "
                                              "hold?", "top_k": 1}, timeout=30)
            assert reply.status_code == 200, reply.text
            return reply.json()["data"][0]["text"]

        assert "250 people" not in top_passage()
        (tmp_path / "new").mkdir()
        (tmp_path / "new" / "heatwave.txt").write_text(HEATWAVE, encoding="utf-8")
        assert run_cli("ingest", str(tmp_path / "new"), "--store", str(tmp_path / "writer"),
                       *url, env=env).returncode == 0
        written = time.monotonic()
        while "250 people" not in (text := top_passage()) and time.monotonic() - written < 5:
            time.sleep(0.2)
        assert "250 people" in text
    finally:
        stop_server(process, tmp_path / "serve.log")


@pytest.mark.server
def test_a_killed_server_mid_ingest_is_one_line_and_repaired_after_restart(
        tmp_path: Path) -> None:
    import signal

    from harness.chroma_server import running_chroma_server

    # 120 articles of their own sentences, written 512 sentences at a time: about four batches,
    # so the kill (after the first batch's articles are on the server) lands with most of them
    # still to go.
    town_articles(tmp_path / "towns", 0, 120, boilerplate=False)
    # A generous Chroma timeout: the restarted server replays its log while the suite's other
    # workers load the cores, and once took over the default 10 s to answer the re-ingest. The
    # kill itself is a refused connection, found at once whatever the timeout.
    env = collection_env(ASSISTANT_LEASE_SECONDS="5", ASSISTANT_CHROMA_TIMEOUT_S="60",
                         ASSISTANT_INGEST_BATCH_SENTENCES="512")
    with running_chroma_server(tmp_path / "db", tmp_path / "chroma.log") as (url, pid):
        ingest = subprocess.Popen(
            [sys.executable, "-m", "assistant", "ingest", str(tmp_path / "towns"), "--store",
             str(tmp_path / "store"), "--chroma-url", url], cwd=ROOT, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env})
        deadline = time.monotonic() + 120
        client = chromadb.HttpClient(host="127.0.0.1", port=port_of(url),
                                     settings=ChromaSettings(anonymized_telemetry=False))
        while time.monotonic() < deadline:  # kill it once some articles are committed
            try:
                records = client.get_collection(f"{env['ASSISTANT_COLLECTION']}-articles")
                if len(records.get(where={"kind": "article"}, include=[])["ids"]) > 20:
                    break
            except Exception:
                pass
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)
        _out, err = ingest.communicate(timeout=300)
    assert ingest.returncode == 1
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert lines and lines[-1].startswith(f"error: Chroma server at {url} is unavailable"), err
    assert "Traceback" not in err

    with running_chroma_server(tmp_path / "db", tmp_path / "chroma.log") as (url, _pid):
        args = ["--store", str(tmp_path / "store"), "--chroma-url", url]
        repair = run_cli("check", "--repair", *args, env=env)
        assert repair.returncode in (0, 1), repair.stderr
        check = run_cli("check", *args, env=env)
        assert check.returncode == 0, check.stdout + check.stderr
        again = run_cli("ingest", str(tmp_path / "towns"), *args, "--json", env=env)
        assert again.returncode == 0, again.stderr
        report = json.loads(again.stdout)
        assert report["added"] + report["unchanged"] == 120 and report["added"] < 120
        assert run_cli("check", *args, env=env).returncode == 0


@pytest.mark.parametrize("backend", ["embedded", pytest.param("server", marks=pytest.mark.server)])
def test_two_processes_ingesting_at_once_lose_no_vector(backend: str, tmp_path: Path,
                                                        request: pytest.FixtureRequest) -> None:
    town_articles(tmp_path / "first", 0, 300)
    town_articles(tmp_path / "second", 300, 300)
    env = collection_env()
    args = ["--store", str(tmp_path / "store")]
    if backend == "server":
        args += ["--chroma-url", request.getfixturevalue("chroma_server")]
    writers = [subprocess.Popen([sys.executable, "-m", "assistant", "ingest", str(tmp_path / name),
                                 *args, "--json"], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env={**os.environ, **env})
               for name in ("first", "second")]
    outputs = [w.communicate(timeout=900) for w in writers]
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
        assert json.loads(out)["added"] == 300
    check = run_cli("check", *args, env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.startswith("check: 600 articles,"), check.stdout
    assert "0 missing, 0 orphaned, 0 unreadable" in check.stdout


def test_a_running_assistant_on_a_store_folder_sees_another_process_ingest(tmp_path: Path
                                                                         ) -> None:
    store = tmp_path / "store"
    shutil.copytree(SAMPLES, tmp_path / "first")
    reader = Assistant(store=store)
    reader.ingest([tmp_path / "first"])
    before = reader.retrieve("How many people can the Marlow Street centre hold?")
    assert all("250 people" not in p.chunk.text for p in before)
    (tmp_path / "second").mkdir()
    (tmp_path / "second" / "heatwave.txt").write_text(HEATWAVE, encoding="utf-8")
    assert run_cli("ingest", str(tmp_path / "second"), "--store", str(store)).returncode == 0
    written = time.monotonic()
    while True:
        passages = reader.retrieve("How many people can the Marlow Street centre hold?")
        if "250 people" in passages[0].chunk.text or time.monotonic() - written > 5:
            break
        time.sleep(0.2)
    # Found by the dense search too: the embedded client reloaded the vectors written elsewhere.
    assert "250 people" in passages[0].chunk.text and passages[0].dense > 0.3
    answer = reader.ask("How many people can the Marlow Street centre hold?")
    assert "250 people" in " ".join(c.text for c in answer.citations)
    assert reader.check().consistent


def test_the_same_articles_from_two_paths_are_stored_once_and_a_moved_folder_is_kept(
        tmp_path: Path) -> None:
    store = ["--store", str(tmp_path / "store"), "--json"]
    shutil.copytree(SAMPLES, tmp_path / "one")
    shutil.copytree(SAMPLES, tmp_path / "two")
    first = json.loads(run_cli("ingest", str(tmp_path / "one"), *store).stdout)
    second = json.loads(run_cli("ingest", str(tmp_path / "two"), *store).stdout)
    assert (first["added"], second["added"], second["unchanged"]) == (7, 0, 7)
    assert len(json.loads(run_cli("sources", *store).stdout)) == 7

    # Moving the folder changes no id, and pruning the new place keeps them.
    shutil.rmtree(tmp_path / "two")
    (tmp_path / "one").rename(tmp_path / "moved")
    moved = json.loads(run_cli("ingest", str(tmp_path / "moved"), "--prune", *store).stdout)
    assert (moved["added"], moved["unchanged"], moved["removed"]) == (0, 7, 0)
    sources = json.loads(run_cli("sources", *store).stdout)
    assert len(sources) == 7 and not any(str(tmp_path / "one") in s["source"] for s in sources)
    # Pruning the old place (now empty) drops nothing: the articles are known at the new one.
    (tmp_path / "one").mkdir()
    gone = json.loads(run_cli("ingest", str(tmp_path / "moved"), str(tmp_path / "one"),
                              "--prune", *store).stdout)
    assert gone["removed"] == 0


@pytest.mark.server
def test_a_server_that_dies_mid_remove_or_mid_ingest_leaves_a_store_check_repairs(
        chroma_server: str, tmp_path: Path) -> None:
    collection = f"test-{uuid.uuid4().hex[:12]}"
    settings = {"collection": collection, "lease_seconds": 5}
    direct = Assistant(store=tmp_path / "direct", chroma_url=chroma_server, **settings)
    direct.ingest([SAMPLES])
    ids = sorted(s.article_id for s in direct.sources())

    with CuttableProxy(port_of(chroma_server)) as proxy:
        # How many requests one whole removal makes, to cut it at every stage.
        counted = Assistant(store=tmp_path / "count", chroma_url=proxy.url, **settings)
        counted.sources()
        before = proxy.requests
        assert counted.remove(ids[0])
        whole = proxy.requests - before
        assert whole >= 4
        direct.ingest([SAMPLES])  # put it back

        outcomes = set()
        for cut in range(0, whole, max(1, whole // 6)):
            via = Assistant(store=tmp_path / f"via-{cut}", chroma_url=proxy.url, **settings)
            via.sources()
            proxy.cut(cut)
            try:
                via.remove(ids[1])
                outcomes.add("removed")
            except AssistantError as exc:
                assert "\n" not in str(exc) and "is unavailable" in str(exc), str(exc)
                outcomes.add("failed")
            proxy.heal()
            repaired = Assistant(store=tmp_path / "direct", chroma_url=chroma_server, **settings)
            repaired.check(repair=True)
            result = repaired.check()
            assert result.consistent, result.summary()
            # The article is whole or gone, never half there.
            if ids[1] in {s.article_id for s in repaired.sources()}:
                assert repaired.retrieve(QUESTIONS[0])
            else:
                direct.ingest([SAMPLES])
        assert "failed" in outcomes

        # The CLI's error for a server that dies in the middle is one line.
        proxy.cut(whole // 2 + 3)
        cli = run_cli("remove", ids[2], "--store", str(tmp_path / "cli"), "--chroma-url",
                      proxy.url, env={"ASSISTANT_COLLECTION": collection})
        proxy.heal()
        assert cli.returncode == 1 and cli.stderr.count("\n") == 1, cli.stderr
        assert cli.stderr.startswith(f"error: Chroma server at {proxy.url} is unavailable")

        # Ingest cut off at several points into a fresh collection.
        before = proxy.requests
        Assistant(store=tmp_path / "count-ingest", chroma_url=proxy.url,
                  collection=f"test-{uuid.uuid4().hex[:12]}").ingest([SAMPLES])
        whole = proxy.requests - before
        failures = 0
        for cut in (whole // 5, whole // 3, whole // 2, whole * 3 // 4):
            fresh = {"collection": f"test-{uuid.uuid4().hex[:12]}", "lease_seconds": 5}
            via = Assistant(store=tmp_path / f"ingest-{cut}", chroma_url=proxy.url, **fresh)
            proxy.cut(cut)
            try:
                via.ingest([SAMPLES])
            except AssistantError as exc:
                assert "\n" not in str(exc) and "is unavailable" in str(exc), str(exc)
                failures += 1
            proxy.heal()
            repaired = Assistant(store=tmp_path / f"repair-{cut}", chroma_url=chroma_server,
                                 **fresh)
            repaired.check(repair=True)
            assert repaired.check().consistent, repaired.check().summary()
            repaired.ingest([SAMPLES])
            assert len(repaired.sources()) == 7 and repaired.check().consistent
        assert failures >= 3


def delete_on_the_server(url: str, collection: str, article_ids: list[str], *,
                         vectors: bool = False) -> None:
    """What another program (or a removal cut off before it replaced the change token) does:
    delete articles' records on the server, the token left as it was."""
    client = chromadb.HttpClient(host="127.0.0.1", port=port_of(url),
                                 settings=ChromaSettings(anonymized_telemetry=False))
    records = client.get_collection(f"{collection}-articles")
    records.delete(ids=article_ids)
    records.delete(where={"article_id": {"$in": article_ids}})
    if vectors:
        client.get_collection(collection).delete(where={"document_id": {"$in": article_ids}})


def listed(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return sorted(s["article_id"] for s in json.loads(result.stdout))


@pytest.mark.server
def test_records_deleted_on_the_server_leave_every_cache_and_check_reports_them(
        chroma_server: str, tmp_path: Path) -> None:
    """Records deleted on the server without the change token moving stayed in every cache: a
    cache's `check` said all was well (exit 0) and it answered from articles the server no
    longer had, while a fresh cache found their vectors orphaned; with their vectors gone too,
    `check --repair` wrote them back to the server for articles it had no record of, and left
    them orphaned (outside probe)."""
    env = collection_env()
    cache = {name: ["--store", str(tmp_path / name), "--chroma-url", chroma_server]
             for name in ("a", "b", "c", "fresh")}
    assert run_cli("ingest", str(SAMPLES), *cache["a"], env=env).returncode == 0
    ids = listed(run_cli("sources", "--json", *cache["a"], env=env))
    for name in ("b", "c"):
        assert listed(run_cli("sources", "--json", *cache[name], env=env)) == ids
    gone = ids[:2]
    delete_on_the_server(chroma_server, env["ASSISTANT_COLLECTION"], gone)

    checked = run_cli("check", *cache["b"], env=env)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "; 2 cached articles have no record on the server (removed there): `assistant check " \
           "--repair` drops them from the cache" in checked.stdout, checked.stdout
    # A cache follows at its next sync, as it does a removal made through the assistant.
    assert listed(run_cli("sources", "--json", *cache["a"], env=env)) == ids[2:]
    # An ingest into a stale cache writes them to the server again, not "unchanged".
    again = run_cli("ingest", str(SAMPLES), "--json", *cache["c"], env=env)
    assert again.returncode == 0, again.stderr
    assert (json.loads(again.stdout)["added"], json.loads(again.stdout)["unchanged"]) == (2, 5)
    assert run_cli("check", *cache["b"], env=env).returncode == 0

    # Their vectors deleted too: --repair drops them from the cache, writes nothing back.
    delete_on_the_server(chroma_server, env["ASSISTANT_COLLECTION"], gone, vectors=True)
    repaired = run_cli("check", "--repair", *cache["b"], env=env)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    lines = repaired.stdout.splitlines()
    assert lines[0] == ("repair: dropped 2 cached articles the server has no record of (from "
                        "the cache only)"), lines
    assert "rebuilt" not in repaired.stdout, repaired.stdout
    assert lines[-1].startswith("check: 5 articles,") and "0 missing, 0 orphaned" in lines[-1]
    assert listed(run_cli("sources", "--json", *cache["b"], env=env)) == ids[2:]
    fresh = run_cli("check", *cache["fresh"], env=env)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert fresh.stdout.startswith("check: 5 articles,") and " 0 orphaned" in fresh.stdout


def folder_state(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*")}


@pytest.mark.server
def test_a_cache_is_refused_without_its_server_and_a_store_of_its_own_with_one(
        chroma_server: str, tmp_path: Path) -> None:
    """A server's cache used without the URL became a store of its own: answers from keyword
    search alone, an ingest that copied the server's vectors into it, and a `check --repair`
    with the URL that wrote a vector to the server for an article it had no record of. A store
    of its own used with a URL was emptied by the first sync (outside probe). Each is refused
    in one line, and the folder is left as it was."""
    env = collection_env()
    collection = env["ASSISTANT_COLLECTION"]
    cache, own, news = tmp_path / "cache", tmp_path / "own", tmp_path / "news"
    news.mkdir()
    (news / "heatwave.txt").write_text(HEATWAVE, encoding="utf-8")
    assert run_cli("ingest", str(SAMPLES), "--store", str(cache), "--chroma-url", chroma_server,
                   env=env).returncode == 0
    before = folder_state(cache)
    runs = [run_cli("ask", QUESTIONS[0], "--store", str(cache), env=env),
            run_cli("ingest", str(news), "--store", str(cache), "--chroma-url", "", env=env),
            run_cli("check", "--repair", "--store", str(cache),
                    env={**env, "ASSISTANT_CHROMA_URL": ""})]
    for result in runs:
        assert result.returncode == 1 and result.stdout == "", result.stdout + result.stderr
        assert result.stderr == (
            f"error: the store {cache} caches the Chroma server {chroma_server} (collection "
            f"'{collection}'); pass --chroma-url {chroma_server} (or ASSISTANT_CHROMA_URL) to "
            "use it, or choose another --store for a store of its own\n")
    assert folder_state(cache) == before
    checked = run_cli("check", "--store", str(cache), "--chroma-url", chroma_server, env=env)
    assert checked.returncode == 0 and checked.stdout.startswith("check: 7 articles,")

    assert run_cli("ingest", str(news), "--store", str(own), env=env).returncode == 0
    before = folder_state(own)
    refused = run_cli("sources", "--store", str(own), "--chroma-url", chroma_server, env=env)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
    assert refused.stderr.startswith(f"error: the store {own} holds articles of its own (its "
                                     "catalog is their only record)"), refused.stderr
    assert folder_state(own) == before
    # An empty --chroma-url is no server, over ASSISTANT_CHROMA_URL as well.
    titles = run_cli("sources", "--json", "--store", str(own), "--chroma-url", "",
                     env={**env, "ASSISTANT_CHROMA_URL": chroma_server})
    assert titles.returncode == 0, titles.stderr
    assert [s["title"] for s in json.loads(titles.stdout)] == ["Kestrel Bay Opens Cooling Centres"]


@pytest.mark.server
def test_token_header_tenant_and_database(chroma_server: str, tmp_path: Path) -> None:
    env = collection_env()
    with CuttableProxy(port_of(chroma_server), require_header=("X-Chroma-Token", "s3cret")) as proxy:
        refused = run_cli("sources", "--store", str(tmp_path / "s"), "--chroma-url", proxy.url,
                          env=env)
        assert refused.returncode == 1 and refused.stderr.count("\n") == 1
        assert "refused the request (HTTP 401)" in refused.stderr
        token = {**env, "ASSISTANT_CHROMA_TOKEN": "s3cret",
                 "ASSISTANT_CHROMA_TOKEN_HEADER": "X-Chroma-Token"}
        ingested = run_cli("ingest", str(SAMPLES), "--store", str(tmp_path / "s"),
                           "--chroma-url", proxy.url, env=token)
        assert ingested.returncode == 0, ingested.stderr

    # Another database on the same server is another world.
    admin = chromadb.AdminClient(ChromaSettings(
        chroma_api_impl="chromadb.api.fastapi.FastAPI", chroma_server_host="127.0.0.1",
        chroma_server_http_port=port_of(chroma_server), anonymized_telemetry=False))
    database = f"db{uuid.uuid4().hex[:8]}"
    admin.create_database(database)
    other = {**env, "ASSISTANT_CHROMA_DATABASE": database}
    empty = run_cli("sources", "--store", str(tmp_path / "o"), "--chroma-url", chroma_server,
                    "--json", env=other)
    assert empty.returncode == 0 and json.loads(empty.stdout) == []
    missing = run_cli("sources", "--store", str(tmp_path / "m"), "--chroma-url", chroma_server,
                      env={**env, "ASSISTANT_CHROMA_DATABASE": "no-such-database"})
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1, missing.stderr


@pytest.mark.server
def test_eval_on_a_server_works_in_a_throwaway_collection(chroma_server: str,
                                                         tmp_path: Path) -> None:
    client = chromadb.HttpClient(host="127.0.0.1", port=port_of(chroma_server),
                                 settings=ChromaSettings(anonymized_telemetry=False))
    before = {c.name for c in client.list_collections()}
    result = run_cli("--chroma-url", chroma_server, "eval", "--dataset",
                     str(ROOT / "evals" / "datasets" / "sample"), "--no-independent",
                     "--thresholds", "none", timeout=600)
    assert result.returncode in (0, 1), result.stderr  # 1: a gate; the point is the store
    assert "error:" not in result.stderr
    after = {c.name for c in client.list_collections()}
    assert after == before


def _lease_serialises(make_state) -> None:
    first, second = make_state(), make_state()
    taken, _, _ = first.try_take("a", "holder a", time.time() + 30)
    assert taken
    taken, holder, _ = second.try_take("b", "holder b", time.time() + 30)
    assert not taken and holder == "holder a"
    assert not second.renew("b", time.time() + 30)
    second.release("b")  # not its lease: nothing happens
    assert not second.try_take("b", "holder b", time.time() + 30)[0]
    first.release("a")
    assert second.try_take("b", "holder b", time.time() + 0.5)[0]
    time.sleep(0.6)  # b's lease expires: a takes it over (for a server: on its second try)
    assert first.try_take("a", "holder a", time.time() + 30)[0] or \
        first.try_take("a", "holder a", time.time() + 30)[0]
    first.release("a")

    spans: list[tuple[float, float]] = []

    def write(state) -> None:
        with lease(state, seconds=5, wait=30):
            begun = time.monotonic()
            time.sleep(0.3)
            spans.append((begun, time.monotonic()))

    threads = [threading.Thread(target=write, args=(make_state(),)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spans.sort()
    assert len(spans) == 3
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(2)), spans


def test_lease_in_a_store_folder(tmp_path: Path) -> None:
    _lease_serialises(lambda: LocalState(tmp_path / "state.sqlite"))


def test_a_lease_left_by_a_killed_process_is_taken_over_at_once(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from index.state import LocalState, lease\n"
        f"with lease(LocalState(Path({str(tmp_path / 'state.sqlite')!r})), seconds=600):\n"
        "    print('held', flush=True); time.sleep(600)")], cwd=ROOT, stdout=subprocess.PIPE,
        text=True)
    assert holder.stdout.readline().strip() == "held"
    state = LocalState(tmp_path / "state.sqlite")
    assert not state.try_take("me", "me", time.time() + 5)[0]
    holder.kill()
    holder.wait()
    started = time.monotonic()
    with lease(state, seconds=5, wait=30):
        assert time.monotonic() - started < 5  # not the 600 s the dead holder asked for


def test_a_lease_this_process_left_behind_is_dropped_unless_a_thread_here_holds_one(
        tmp_path: Path) -> None:
    state = LocalState(tmp_path / "state.sqlite")
    # What a write whose release failed (the server gone at its end) leaves: this process's lease.
    assert state.try_take("released-in-vain", holder_name(), time.time() + 600)[0]
    started = time.monotonic()
    with lease(state, seconds=5, wait=10):
        assert time.monotonic() - started < 5  # not the 600 s that lease asked for
        # A lease this process holds now is not left behind: a second writer here waits.
        with pytest.raises(LeaseTimeout), lease(LocalState(tmp_path / "state.sqlite"),
                                                seconds=5, wait=1):
            pass


def test_a_writer_that_waits_says_so_at_the_default_level(tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """The CLI shows WARNING and above: a second ingest waiting (up to an hour) for the first
    printed nothing and looked hung (outside probe)."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from index.state import LocalState, lease\n"
        f"with lease(LocalState(Path({str(tmp_path / 'state.sqlite')!r})), seconds=600):\n"
        "    print('held', flush=True); time.sleep(600)")], cwd=ROOT, stdout=subprocess.PIPE,
        text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with caplog.at_level(logging.WARNING, logger="index.state"), \
                pytest.raises(LeaseTimeout), lease(LocalState(tmp_path / "state.sqlite"),
                                                   seconds=5, wait=1.5):
            pass
    finally:
        holder.kill()
        holder.wait()
    waiting = [r for r in caplog.records if "waiting for another ingest" in r.getMessage()]
    assert waiting and waiting[0].levelno == logging.WARNING


@pytest.mark.server
def test_lease_on_a_server(chroma_server: str) -> None:
    name = f"test-{uuid.uuid4().hex[:12]}"

    def make_state() -> ServerState:
        store = ChromaStore(url=chroma_server, collection=name)
        return ServerState(store.side_collection("state"), store.call)

    _lease_serialises(make_state)
