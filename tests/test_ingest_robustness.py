"""Ingest survives any file: every bad input is one line naming it, the rest of the folder is
indexed, and nothing indexed is lost. Real stores, the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import SAMPLES, run_cli

from assistant import Assistant, AssistantError

GOOD = ("Harbour Ferry Returns\n\nThe Port Wendle harbour ferry returned to service on Saturday "
        "after a two-year refit, the operator said.\n")
UTF16 = ("Kite Festival Draws Crowds\n\nThe Carrow kite festival drew 9,300 visitors on Sunday, "
         "the organisers said.\n")
UTF32 = ("Orchard Harvest Begins\n\nPickers at the Mill Lane orchard began the apple harvest on "
         "Monday, a week early.\n")
SECRET = "Private notes\n\nThe vault code is 4471 and must never be indexed.\n"


def _lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def _titles(store: Path) -> list[str]:
    return [s.title for s in Assistant(store=store).sources()]


def test_bad_files_are_one_line_each_and_the_rest_of_the_folder_is_indexed(tmp_path: Path) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "good.txt").write_text(GOOD, encoding="utf-8")
    (folder / "kites.txt").write_bytes(UTF16.encode("utf-16"))  # with its byte-order mark
    (folder / "orchard.txt").write_bytes(UTF32.encode("utf-32"))
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf\n")
    os.mkfifo(folder / "pipe.txt")
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET, encoding="utf-8")
    (folder / "notes.txt").symlink_to(outside / "secret.txt")
    (folder / "zero.txt").symlink_to("/dev/zero")
    # Two links that point at each other: resolving one raised RuntimeError and the whole
    # ingest stopped with a traceback.
    (folder / "loop-a.txt").symlink_to(folder / "loop-b.txt")
    (folder / "loop-b.txt").symlink_to(folder / "loop-a.txt")
    (folder / "big.txt").write_text(GOOD + "More text.\n" * 30_000, encoding="utf-8")
    store = tmp_path / "store"

    result = run_cli("ingest", str(folder), "--store", str(store), env={"ASSISTANT_MAX_FILE_MB": "0.2"},
                     timeout=300)
    assert result.returncode == 0, result.stderr
    errors = _lines(result.stderr)
    named = {name: [e for e in errors if f"/{name}:" in e or f"/{name} " in e]
             for name in ("deep.json", "broken.pdf", "pipe.txt", "notes.txt", "zero.txt", "big.txt",
                          "loop-a.txt", "loop-b.txt")}
    for name, found in named.items():
        assert len(found) == 1, (name, errors)
    assert "nested too deeply" in named["deep.json"][0]
    assert "not a regular file" in named["pipe.txt"][0]
    assert "outside" in named["notes.txt"][0] and "--follow-links" in named["notes.txt"][0]
    assert "over the 0 MB limit" in named["big.txt"][0] or "limit" in named["big.txt"][0]
    assert "loops back to itself" in named["loop-a.txt"][0]
    assert "added 3," in result.stdout, result.stdout
    assert sorted(_titles(store)) == ["Harbour Ferry Returns", "Kite Festival Draws Crowds",
                                      "Orchard Harvest Begins"]
    assert "4471" not in run_cli("ask", "What is the vault code?", "--store", str(store)).stdout

    # Asked for, a link out of the folder is followed; what was indexed stays.
    followed = run_cli("ingest", str(folder), "--store", str(store), "--follow-links",
                       env={"ASSISTANT_MAX_FILE_MB": "0.2"}, timeout=300)
    assert "added 1," in followed.stdout and "unchanged 3" in followed.stdout, followed.stdout
    assert "Private notes" in _titles(store)


def test_a_fifo_or_device_named_on_the_command_line_does_not_hang(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text(GOOD, encoding="utf-8")
    fifo = tmp_path / "queue.txt"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.txt"
    zero.symlink_to("/dev/zero")
    result = run_cli("ingest", str(fifo), str(zero), str(good), "--store", str(tmp_path / "s"),
                     timeout=120)
    errors = _lines(result.stderr)
    assert len(errors) == 2 and all("not a regular file" in e for e in errors), result.stderr
    assert "added 1," in result.stdout


def test_a_damaged_catalog_is_one_line_and_check_repair_recovers(tmp_path: Path) -> None:
    source = tmp_path / "good.txt"
    source.write_text(GOOD, encoding="utf-8")
    store = tmp_path / "store"
    assert run_cli("ingest", str(source), "--store", str(store)).returncode == 0
    catalog = store / "catalog.sqlite"
    for suffix in ("-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    catalog.write_bytes(catalog.read_bytes()[:6000])  # half a file: pages lost

    for args in (["ask", "When did the ferry return?"], ["ingest", str(source)], ["sources"]):
        result = run_cli(*args, "--store", str(store))
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            f"error: the catalog at {catalog} is damaged (database disk image is malformed); "
            "run `assistant check --repair`"], result.stderr
    checked = run_cli("check", "--store", str(store))
    assert checked.returncode == 1 and "damaged" in checked.stdout
    repaired = run_cli("check", "--repair", "--store", str(store))
    assert repaired.returncode == 0, repaired.stderr
    assert list(store.glob("catalog.sqlite.damaged-*")), "the damaged file is kept aside"
    assert "added 1," in run_cli("ingest", str(source), "--store", str(store)).stdout
    assert run_cli("check", "--store", str(store)).returncode == 0


def test_a_deleted_vector_folder_is_rebuilt_by_the_next_ingest(tmp_path: Path) -> None:
    source = tmp_path / "good.txt"
    source.write_text(GOOD, encoding="utf-8")
    store = tmp_path / "store"
    assert run_cli("ingest", str(source), "--store", str(store)).returncode == 0
    shutil.rmtree(store / "chroma")
    lost = run_cli("check", "--store", str(store))
    assert lost.returncode == 1 and "1 missing" in lost.stdout, lost.stdout
    again = run_cli("ingest", str(source), "--store", str(store))
    assert "rebuilt 1 vectors" in again.stdout and "unchanged 1" in again.stdout, again.stdout
    passages = Assistant(store=store).retrieve("When did the harbour ferry return?")
    assert passages and passages[0].dense > 0.3
    assert run_cli("check", "--store", str(store)).returncode == 0


def test_more_chunks_than_chromas_batch_limit_and_a_progress_bar(tmp_path: Path) -> None:
    """5,600 records (one chunk each) exceed Chroma's max batch of 5,461: written in batches.
    Their texts repeat (97 readings, embedded once each): the point is the writes, not the model."""
    path = tmp_path / "wire.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for i in range(5600):
            out.write(json.dumps({"id": f"r{i}", "title": f"Bulletin {i}",
                                  "text": f"The river gauge read {i % 97} centimetres."}) + "\n")
    store = tmp_path / "store"
    result = run_cli("ingest", str(path), "--store", str(store), timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "added 5600," in result.stdout and "5600 chunks" in result.stdout, result.stdout
    assert "sentence" in result.stderr, "no progress bar for a big file"
    checked = run_cli("check", "--store", str(store))
    assert "5600 vectors: 0 missing, 0 orphaned, 0 unreadable" in checked.stdout, checked.stdout


def test_the_cli_prints_no_escape_sequences_from_articles(tmp_path: Path) -> None:
    path = tmp_path / "evil.txt"
    path.write_text("Tram \x1b]0;pwned\x07Line Opens\x1b[2J\n\nThe \x1b[31mRiverside\x1b[0m tram "
                    "line opened on Saturday with 22 stops.\n", encoding="utf-8")
    store = tmp_path / "store"
    assert run_cli("ingest", str(path), "--store", str(store)).returncode == 0
    for args in (["ask", "How many stops does the tram line have?"], ["sources"]):
        result = run_cli(*args, "--store", str(store))
        assert result.returncode == 0
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "22 stops" in run_cli("ask", "How many stops does the tram line have?",
                                 "--store", str(store)).stdout


@pytest.mark.parametrize("nav", ["<nav><a href='/'>Home</a><a href='/world'>World</a>",
                                 "<aside class='related'><a href='/x'>Other story</a>"])
def test_an_unclosed_navigation_block_does_not_drop_the_article(tmp_path: Path, nav: str) -> None:
    page = tmp_path / "page.html"
    page.write_text(f"<html><head><title>Bridge</title></head><body>{nav}<article><h1>Old Bridge "
                    "Reopens</h1><p>The old stone bridge at Carrow reopened on Friday after a "
                    "repair that cost 2.1 million pounds.</p><p>Engineers replaced 40 of its "
                    "granite blocks, the council said.</p></article></body></html>",
                    encoding="utf-8")
    store = tmp_path / "store"
    assert "added 1," in run_cli("ingest", str(page), "--store", str(store)).stdout
    answer = run_cli("ask", "How much did the bridge repair cost?", "--store", str(store)).stdout
    assert "2.1 million" in answer, answer


def test_a_big_article_written_slice_by_slice_equals_one_written_whole(tmp_path: Path) -> None:
    """The streaming path (for articles of more sentences than Indexer.stream_sentences) stores
    the same sentences, chunks and vectors as the one-piece path."""
    import numpy as np

    from index.pipeline import Indexer

    text = "Big Report\n\n" + "\n\n".join(
        f"Paragraph {i}: the harbour crane number {i} lifted {i * 7} containers on day {i}. "
        f"Its operator said shift {i} ended early." for i in range(300))
    path = tmp_path / "report.txt"
    path.write_text(text, encoding="utf-8")
    stores = {}
    for name, threshold in (("whole", 10_000), ("sliced", 50)):
        assistant = Assistant(store=tmp_path / name)
        indexer = Indexer(assistant.catalog, assistant.vectors, assistant.embedder, 40, 1)
        indexer.stream_sentences, indexer.embed_slice = threshold, 64
        report = indexer.ingest([path])
        assert report.added == 1 and report.chunks > 20
        stores[name] = assistant
    whole, sliced = stores["whole"], stores["sliced"]
    [article] = whole.sources()
    assert sorted(whole.catalog.all_chunk_ids()) == sorted(sliced.catalog.all_chunk_ids())
    # Chroma holds a vector a section (index/sections.py): 600 sentences make 13 of them.
    ids = sorted(whole.catalog.all_vector_ids())
    assert ids == sorted(sliced.vectors.all_ids()) and len(ids) == 13
    a, b = whole.vectors.embeddings(ids), sliced.vectors.embeddings(ids)
    assert all(np.allclose(a[i], b[i], atol=1e-3) for i in ids)
    # ... and `check --repair` rebuilds the same from the catalog's int8 sentence vectors.
    sliced.vectors.delete(ids)
    assert not sliced.check().consistent
    assert sliced.check(repair=True).repaired
    rebuilt = sliced.vectors.embeddings(ids)
    assert all(np.allclose(a[i], rebuilt[i], atol=1e-2) for i in ids)
    n = len(whole.catalog.sentences_of(article.article_id, 0, 10**6))
    assert n == len(sliced.catalog.sentences_of(article.article_id, 0, 10**6)) and n >= 600
    assert sliced.check().consistent
    assert sliced.ask("How many containers did crane number 12 lift?").citations


def test_check_names_a_store_built_with_another_embedder(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert run_cli("ingest", str(SAMPLES), "--store", str(store)).returncode == 0
    assert run_cli("check", "--store", str(store)).returncode == 0
    # As a store built with an OpenAI-compatible embedder would record it.
    Assistant(store=store).catalog.set_meta("embedder", "openai:text-embedding-3-small")
    result = run_cli("check", "--store", str(store))
    assert result.returncode == 1
    assert "built with embedder 'openai:text-embedding-3-small'" in result.stdout, result.stdout


def test_paths_the_filesystem_refuses_are_one_line_and_the_rest_is_ingested(
        tmp_path: Path) -> None:
    # A name too long raised OSError out of ingest (nothing ingested, a traceback in the CLI);
    # an empty path ingested the current folder; feeds="x.xml" was read letter by letter and
    # feeds=[Path(...)] raised TypeError.
    good = tmp_path / "good.txt"
    good.write_text(GOOD, encoding="utf-8")
    assistant = Assistant(store=tmp_path / "store")
    report = assistant.ingest([good, str(tmp_path / ("y" * 300 + ".txt")), ""])
    assert report.added == 1
    assert [line.split(": ", 1)[1] for line in report.failed] == [
        "cannot read (File name too long)", "give a file or folder"], report.failed
    missing = tmp_path / "nope.xml"
    for feeds in (str(missing), [missing]):
        report = assistant.ingest(feeds=feeds)  # type: ignore[arg-type]
        assert report.failed == [f"{missing}: no such file"], report.failed
    afile = tmp_path / "a-file"
    afile.write_text("x")
    with pytest.raises(AssistantError, match=r"would be inside .*a-file, a file"):
        Assistant(store=afile / "store")
