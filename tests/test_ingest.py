"""Ingestion against real embedded Chroma in temporary stores: idempotency, updates, pruning,
removal, reports, bad files, and an ingest killed midway."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from conftest import ROOT, SAMPLES, run_cli

from assistant import Assistant
from index.embedding import LocalMiniLM, embed_distinct, embed_distinct_counted
from index.vectorstore import NodeToStore

ZEPPELIN = "The council said a zeppelin would carry visitors over the harbour every Sunday."
HOVERCRAFT = "The council said a hovercraft would carry visitors across the harbour every Sunday."

HARBOUR = f"""Harbour Festival Returns to Port Wendle

The Port Wendle harbour festival returned on Saturday after a three-year pause.
Organisers counted 18,400 visitors on the first day, more than they had planned for.
{ZEPPELIN}
The festival closes on Monday with a fireworks display over the old lighthouse.
"""

LIBRARY = """# Library Opens in Carrow

The new Carrow public library opened its doors on Tuesday.
It holds 62,000 books and a workshop with three laser cutters.
Head librarian Ola Brandt said membership is free for residents under 18.
"""

FEED = [
    {"id": "orchard", "title": "Orchard Harvest Falls", "text": "The Kestle orchard harvest fell by "
     "a fifth this year. Growers blamed a late frost in April.", "url": "https://farm.example/1"},
    {"id": "ferry", "title": "Ferry Timetable Changes", "text": "The Lorn ferry will sail hourly "
     "from June. Tickets will cost 4.50 euros.", "url": "https://ferry.example/2"},
]


class CountingEmbedder:
    """The real local model, counting what it is asked to embed: the proof that re-ingesting
    unchanged files embeds nothing."""

    def __init__(self, inner: LocalMiniLM) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.texts = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.texts += len(texts)
        return self.inner.embed(texts)

    def count_tokens(self, texts: list[str]) -> int:
        return self.inner.count_tokens(texts)


def make_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    (folder / "library.md").write_text(LIBRARY, encoding="utf-8")
    (folder / "feed.jsonl").write_text("\n".join(json.dumps(r) for r in FEED) + "\n", encoding="utf-8")
    (folder / "README.md").write_text("# This folder\n\nNot an article.\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def embedder() -> CountingEmbedder:
    return CountingEmbedder(LocalMiniLM())


def consistent(assistant: Assistant) -> None:
    """Chroma holds exactly the sections of the chunks the catalog lists, article by article."""
    catalog, vectors = assistant.catalog, assistant.vectors
    assert vectors.count() == catalog.vector_count()
    for source in assistant.sources():
        chunks = set(catalog.chunk_ids_of(source.article_id))
        assert len(chunks) == source.chunks > 0
        sections = catalog.vector_ids_of(source.article_id)
        assert sections and all(s.rsplit("-", 1)[0] == next(iter(chunks)).rsplit("-", 1)[0]
                                for s in sections)
        assert set(vectors.ids_of_article(source.article_id)) == sections


def test_idempotent_update_prune_and_remove(tmp_path: Path, embedder: CountingEmbedder) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    assistant = Assistant(store=tmp_path / "store", embedder=embedder)

    first = assistant.ingest([corpus])
    assert (first.added, first.updated, first.unchanged, first.removed, first.failed) == (4, 0, 0, 0, [])
    assert first.chunks >= 4 and first.tokens > 0 and first.tokens_per_second > 0
    assert sorted(s.title for s in assistant.sources()) == [
        "Ferry Timetable Changes", "Harbour Festival Returns to Port Wendle", "Library Opens in Carrow",
        "Orchard Harvest Falls"]
    consistent(assistant)
    ids_before = sorted(assistant.vectors._collection.get(include=[])["ids"])

    # Unchanged: nothing embedded, nothing written.
    embedder.texts = 0
    again = assistant.ingest([corpus])
    assert (again.added, again.updated, again.unchanged, again.removed) == (0, 0, 4, 0)
    assert (again.chunks, again.tokens, embedder.texts) == (0, 0, 0)
    assert sorted(assistant.vectors._collection.get(include=[])["ids"]) == ids_before

    # Changed: the article's old chunks are replaced, in Chroma and in the catalog.
    harbour = next(s for s in assistant.sources() if s.title.startswith("Harbour"))
    old_chunks = assistant.catalog.chunk_ids_of(harbour.article_id)
    (corpus / "harbour.txt").write_text(HARBOUR.replace(ZEPPELIN, HOVERCRAFT), encoding="utf-8")
    changed = assistant.ingest([corpus])
    assert (changed.added, changed.updated, changed.unchanged) == (0, 1, 3)
    assert 0 < embedder.texts <= 6  # only the changed article's sentences
    # The run applied its writes to the lexical index before returning, none left marked.
    catalog = assistant.catalog
    assert catalog.read().execute("SELECT count(*) FROM lexical_pending").fetchone()[0] == 0
    assert catalog.lexical is not None and catalog.lexical.count() == catalog.chunk_count()
    consistent(assistant)
    assert assistant.vectors._collection.get(ids=old_chunks, include=[])["ids"] == []
    assert assistant.catalog.lexical_search(["zeppelin"], 10) == []
    assert assistant.vectors._collection.get(where_document={"$contains": "zeppelin"})["ids"] == []
    assert assistant.catalog.lexical_search(["hovercraft"], 10)
    passages = assistant.retrieve("Which aircraft will carry visitors over the harbour, a zeppelin?")
    assert passages and all("zeppelin" not in p.chunk.text for p in passages)
    # Ids come from content: the new text is a new id, and the old one is gone.
    assert assistant.article(harbour.article_id) is None
    harbour = next(s for s in assistant.sources() if s.title.startswith("Harbour"))
    assert HOVERCRAFT in assistant.article(harbour.article_id)["text"]

    # A record dropped from a JSON Lines file is dropped from the index on re-ingest.
    (corpus / "feed.jsonl").write_text(json.dumps(FEED[1]) + "\n", encoding="utf-8")
    dropped = assistant.ingest([corpus])
    assert (dropped.added, dropped.updated, dropped.unchanged, dropped.removed) == (0, 0, 3, 1)
    assert "Orchard Harvest Falls" not in {s.title for s in assistant.sources()}
    consistent(assistant)

    # A deleted file stays indexed until --prune, and so do the vectors of an article an
    # interrupted ingest wrote but never committed.
    (corpus / "library.md").unlink()
    kept = assistant.ingest([corpus])
    assert (kept.unchanged, kept.removed, len(assistant.sources())) == (2, 0, 3)
    stray = NodeToStore("feedfacefeedface-0123456789-0", "feedfacefeedface", 0, 12,
                        embedder.embed(["Stray chunk."])[0], {"title": "Stray"})
    assistant.vectors.add([stray])
    assert assistant.vectors.count() == assistant.catalog.vector_count() + 1
    pruned = assistant.ingest([corpus], prune=True)
    assert (pruned.unchanged, pruned.removed) == (2, 1)
    assert sorted(s.title for s in assistant.sources()) == [
        "Ferry Timetable Changes", "Harbour Festival Returns to Port Wendle"]
    consistent(assistant)

    # remove(ID)
    ferry = next(s for s in assistant.sources() if s.title.startswith("Ferry"))
    assert assistant.remove(ferry.article_id) is True
    assert assistant.remove(ferry.article_id) is False
    assert assistant.article(ferry.article_id) is None
    assert [s.title for s in assistant.sources()] == ["Harbour Festival Returns to Port Wendle"]
    consistent(assistant)

    # The store reopens from disk with the same content.
    reopened = Assistant(store=tmp_path / "store", embedder=embedder)
    assert [s.article_id for s in reopened.sources()] == [harbour.article_id]
    answer = reopened.ask("What will carry visitors across the harbour every Sunday?")
    assert not answer.abstained and "hovercraft" in answer.answer


def test_cli_reports_bad_file_sources_remove_and_prune(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    (corpus / "broken.txt").write_bytes(b"\x00\x01binary\xff" * 20)
    (corpus / "extra.jsonl").write_text(json.dumps({"title": "Mill Reopens", "text": "The Osk mill "
                                        "reopened on Friday."}) + '\n{"title": "cut off', encoding="utf-8")
    store = str(tmp_path / "store")

    result = run_cli("ingest", str(corpus), "--store", store, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["added"], report["updated"], report["unchanged"], report["removed"]) == (5, 0, 0, 0)
    assert len(report["failed"]) == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2
    assert any("broken.txt" in e and "binary" in e for e in errors)
    assert any(f"{corpus / 'extra.jsonl'}:2: malformed JSON" in e for e in errors)

    result = run_cli("ingest", str(corpus), "--store", store)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("added 0, updated 0, unchanged 5, removed 0, failed 2")

    listed = run_cli("sources", "--store", store, "--json")
    assert listed.returncode == 0, listed.stderr
    sources = json.loads(listed.stdout)
    assert len(sources) == 5 and all(s["chunks"] > 0 for s in sources)
    table = run_cli("sources", "--store", store)
    assert all(s["article_id"] in table.stdout for s in sources)

    library = next(s for s in sources if s["title"] == "Library Opens in Carrow")
    removed = run_cli("remove", library["article_id"], "--store", store)
    assert removed.returncode == 0 and f"removed {library['article_id']}" in removed.stdout
    unknown = run_cli("remove", "0000000000000000", "--store", store)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "error: no indexed article with id 0000000000000000"

    (corpus / "harbour.txt").unlink()
    (corpus / "broken.txt").unlink()
    (corpus / "extra.jsonl").unlink()
    result = run_cli("ingest", str(corpus), "--store", store, "--prune", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    # library.md comes back (it was removed, not deleted); harbour.txt and extra.jsonl are pruned.
    assert (report["added"], report["unchanged"], report["removed"], report["failed"]) == (1, 2, 2, [])
    titles = {s["title"] for s in json.loads(run_cli("sources", "--store", store, "--json").stdout)}
    assert titles == {"Library Opens in Carrow", "Orchard Harvest Falls", "Ferry Timetable Changes"}

    nothing = run_cli("ingest", str(tmp_path / "missing"), "--store", store)
    assert nothing.returncode == 1
    assert nothing.stderr.strip().count("\n") == 0 and "no such file" in nothing.stderr


QUESTION = "How many stops does the Riverside Line have?"


def _big_folder(folder: Path, files: int, sentences: int) -> Path:
    folder.mkdir()
    for f in range(files):
        lines = [f"Warehouse Bulletin {f}", ""]
        lines += [f"Depot {f}-{s} shipped {f * 100 + s} crates of widget model W{s} to the northern "
                  f"yard on shift {s % 3}." for s in range(sentences)]
        (folder / f"bulletin-{f:03d}.txt").write_text("\n".join(lines), encoding="utf-8")
    return folder


def _committed_articles(catalog: Path) -> int:
    try:
        with sqlite3.connect(f"file:{catalog}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT count(*) FROM articles").fetchone()[0]
    except sqlite3.Error:
        return 0


def _answer_key(answer: dict) -> tuple:
    """The best-supported quote. New, unrelated articles may shift scores, not this."""
    assert not answer["abstained"] and answer["citations"]
    first = answer["citations"][0]
    return first["article_id"], first["start"], first["end"], first["text"]


def test_killed_ingest_leaves_previous_index_intact(tmp_path: Path) -> None:
    corpus = tmp_path / "samples"
    shutil.copytree(SAMPLES, corpus)
    store = tmp_path / "store"
    assert run_cli("ingest", str(corpus), "--store", str(store)).returncode == 0
    before_sources = json.loads(run_cli("sources", "--store", str(store), "--json").stdout)
    before = json.loads(run_cli("ask", QUESTION, "--store", str(store), "--json").stdout)
    # Only the catalog is read in this process until the end: embedded Chroma is not meant to
    # be shared with a process that writes to it.
    catalog_view = Assistant(store=store)
    texts = {s["article_id"]: catalog_view.article(s["article_id"]) for s in before_sources}

    # 20 files of 41 sentences: the first flush (512 sentences) commits about 13, and the kill
    # lands while the rest are written.
    files = 20
    big = _big_folder(tmp_path / "big", files=files, sentences=40)
    log = open(tmp_path / "ingest.log", "w")  # closed below
    process = subprocess.Popen([sys.executable, "-m", "assistant", "ingest", str(big), "--store",
                                str(store)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ})
    # Wait until it has committed its first new article, then kill it while it writes the rest.
    deadline = time.monotonic() + 120
    while _committed_articles(store / "catalog.sqlite") <= len(before_sources):
        assert process.poll() is None, (tmp_path / "ingest.log").read_text()[-500:]
        assert time.monotonic() < deadline, "ingest never committed an article"
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    log.close()
    assert process.returncode == -signal.SIGKILL
    assert f"/{files} [" in (tmp_path / "ingest.log").read_text()  # a long run shows a progress bar

    after_sources = json.loads(run_cli("sources", "--store", str(store), "--json").stdout)
    by_id = {s["article_id"]: s for s in after_sources}
    assert all(by_id.get(s["article_id"]) == s for s in before_sources)
    assert {i: catalog_view.article(i) for i in texts} == texts
    committed = len(after_sources) - len(before_sources)
    assert 1 <= committed < files, "the kill did not land midway"
    after = run_cli("ask", QUESTION, "--store", str(store), "--json")
    assert after.returncode == 0, after.stderr
    assert _answer_key(json.loads(after.stdout)) == _answer_key(before)

    again = run_cli("ingest", str(big), str(corpus), "--store", str(store), "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert (report["added"], report["updated"], report["failed"]) == (files - committed, 0, [])
    assert report["unchanged"] == committed + len(before_sources)

    # Vectors written by the killed run but never committed were cleaned up on re-ingest.
    assistant = catalog_view
    assert len(assistant.sources()) == files + len(before_sources)
    consistent(assistant)
    final = assistant.ask(QUESTION)
    assert _answer_key(json.loads(final.model_dump_json())) == _answer_key(before)


class CountingTokenizer:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def encode_batch(self, texts: list[str]) -> Any:
        self.calls += 1
        return self.inner.encode_batch(texts)


def test_the_tokens_an_ingest_reports_come_with_the_vectors_from_one_tokenisation() -> None:
    model = LocalMiniLM()
    tokenizer = model._tokenizer = CountingTokenizer(model._tokenizer)
    byline = "Reporting by the news desk; editing by the night editor."
    texts = [byline, ZEPPELIN, byline, HOVERCRAFT]
    vectors, tokens = embed_distinct_counted(model, texts)
    assert tokenizer.calls == 1
    assert tokens == model.count_tokens(texts)  # repeats counted, as an ingest report counts them
    assert np.allclose(vectors, model.embed(texts), atol=1e-6)
    # An embedder that gives no count with its vectors is asked for one (CountingEmbedder), and
    # one that cannot count at all reports words.
    assert embed_distinct_counted(CountingEmbedder(model), texts)[1] == tokens
    words = sum(len(text.split()) for text in texts)
    assert embed_distinct_counted(SimpleNamespace(embed=model.embed), texts)[1] == words


def test_repeated_texts_are_embedded_once_and_get_the_same_vector(tmp_path: Path,
                                                                   embedder: CountingEmbedder
                                                                   ) -> None:
    byline = "Reporting by the news desk; editing by the night editor."
    embedder.texts = 0
    vectors = embed_distinct(embedder, [byline, ZEPPELIN, byline, HOVERCRAFT, byline])
    assert embedder.texts == 3  # the three distinct texts, once each
    assert vectors.shape == (5, embedder.dimension)
    assert np.array_equal(vectors[0], vectors[2]) and np.array_equal(vectors[0], vectors[4])
    alone = embedder.inner.embed([ZEPPELIN])[0]
    assert float(vectors[1] @ alone) > 0.99  # the same vector as the text embedded on its own
    assert float(vectors[1] @ vectors[3]) < 0.99

    # Ingest asks for each distinct sentence of a flush once: two wire stories sharing a byline.
    folder = tmp_path / "wire"
    folder.mkdir()
    (folder / "ferry.txt").write_text(f"Ferry Returns\n\n{HOVERCRAFT} {byline}\n", encoding="utf-8")
    (folder / "zeppelin.txt").write_text(f"Zeppelin Plan\n\n{ZEPPELIN} {byline}\n",
                                         encoding="utf-8")
    assistant = Assistant(store=tmp_path / "store", embedder=embedder)
    embedder.texts = 0
    assert assistant.ingest([folder]).added == 2
    sentences = []
    for source in assistant.sources():
        text = assistant.article(source.article_id)["text"]
        sentences += [text[r.start:r.end]
                      for r in assistant.catalog.sentences_of(source.article_id, 0, 99)]
    assert len(sentences) > len(set(sentences)) and byline in sentences
    assert embedder.texts == len(set(sentences))
    consistent(assistant)


def test_a_store_of_chunk_vectors_is_searched_and_converted_to_sections(tmp_path: Path) -> None:
    """A store written before Chroma held sections has a vector per chunk (its id the chunk's):
    the dense search still finds its chunks, and the next ingest replaces those vectors with
    the sections', rebuilt from the catalog without the model."""
    from index.sections import chunk_vectors

    assistant = Assistant(store=tmp_path / "store")
    assert assistant.ingest([SAMPLES]).added > 0
    catalog, vectors = assistant.catalog, assistant.vectors
    vectors.delete(vectors.all_ids())
    old: list[NodeToStore] = []
    for source in assistant.sources():
        chunks = sorted(catalog.chunks_by_id(catalog.chunk_ids_of(source.article_id)).values(),
                        key=lambda c: c.idx)
        rows = catalog.sentence_vectors(source.article_id, 0, max(c.sent_last for c in chunks))
        for chunk, vector in zip(chunks, chunk_vectors(
                [(c.sent_first, c.sent_last) for c in chunks], rows), strict=True):
            old.append(NodeToStore(chunk.chunk_id, source.article_id, chunk.start,
                                   chunk.end, vector, {"title": source.title}))
    vectors.add(old)
    assert vectors.count() == catalog.chunk_count() > catalog.vector_count()

    question = "How many visitors rode the new tram line on its first day?"
    query = assistant.embedder.embed([question])[0]
    hits = assistant.retriever.dense(query, 10)
    assert hits and all(cid in catalog.all_chunk_ids() for cid, _ in hits)

    report = assistant.ingest([SAMPLES])
    assert report.unchanged == len(assistant.sources()) and report.repaired > 0
    assert set(vectors.all_ids()) == catalog.all_vector_ids()
    converted = assistant.retriever.dense(query, 10)
    # The same chunks, ranked by the same vectors (the section's chunks scored from the catalog).
    assert [cid for cid, _ in converted[:3]] == [cid for cid, _ in hits[:3]]
    consistent(assistant)


@pytest.mark.parametrize("edited", ["first", "second"])
def test_two_files_of_one_text_keep_it_when_one_of_them_changes(tmp_path: Path,
                                                               edited: str) -> None:
    # The same text in two files is stored once, at the first file's key. When the first file
    # changed, its new version replaced that article while the second file still held it: the
    # article was gone (until the next ingest) and the report said the second was unchanged.
    from assistant import Assistant

    folder = tmp_path / "news"
    folder.mkdir()
    text = (SAMPLES / "port-alder-tram-opening.txt").read_text(encoding="utf-8")
    assert "22 stops" in text
    for name in ("a.txt", "b.txt"):
        (folder / name).write_text(text, encoding="utf-8")
    assistant = Assistant(store=tmp_path / "store")
    assistant.ingest([folder])
    assert len(assistant.sources()) == 1
    changed = folder / ("a.txt" if edited == "first" else "b.txt")
    changed.write_text(text.replace("22 stops", "23 stops"), encoding="utf-8")
    assistant.ingest([folder])
    held = {Path(s.source).name: assistant.article(s.article_id)["text"]
            for s in assistant.sources()}
    assert sorted(held) == ["a.txt", "b.txt"], held.keys()
    assert "23 stops" in held[changed.name]
    assert "22 stops" in held["b.txt" if edited == "first" else "a.txt"]
    assert assistant.check().consistent
    again = assistant.ingest([folder])
    assert again.unchanged == 2 and again.added == again.updated == again.removed == 0
