"""The Python API as the README documents it: Assistant(store=...), .ingest(paths), .ask(q)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import SAMPLES

import assistant as package
from assistant import (
    Answer,
    Assistant,
    AssistantError,
    Citation,
    EmptyQuestionError,
    EmptyStoreError,
    IngestSummary,
    Scope,
    ScopeError,
    Settings,
    Source,
)

TRAM = "How many stops does the Riverside Line have?"
HEAT = "Which power plant had a unit trip offline during the Eastmoor heatwave?"


def test_public_names() -> None:
    for name in ("Assistant", "Answer", "Citation", "Settings", "AssistantError"):
        assert name in package.__all__


def test_construction_is_free_and_settings_are_checked(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assistant = Assistant(store=store, top_k=3)
    assert not store.exists()
    assert assistant.settings.store == store and assistant.settings.top_k == 3
    assert Assistant(settings=Settings(store=store, top_k=4)).settings.top_k == 4
    with pytest.raises(AssistantError, match="top_k"):
        Assistant(store=store, top_k=0)
    with pytest.raises(AssistantError, match="topk"):
        Assistant(store=store, topk=3)
    # As `--log-level debug` takes it, and the docs' ASSISTANT_LOG_LEVEL=debug.
    assert Settings(store=store, log_level="debug").log_level == "DEBUG"
    # Chroma's own rule, checked before anything is written rather than by the server.
    with pytest.raises(ValueError, match="IP address"):
        Settings(store=store, collection="10.0.0.1")


def test_ingest_and_ask_as_documented(tmp_path: Path) -> None:
    assistant = Assistant(store=tmp_path / "store")
    with pytest.raises(EmptyStoreError):
        assistant.ask(TRAM)
    report = assistant.ingest([str(SAMPLES)])
    assert isinstance(report, IngestSummary)
    assert (report.added, report.failed) == (7, [])
    assert assistant.ingest(SAMPLES).unchanged == 7  # one path works too

    answer = assistant.ask(TRAM)
    assert isinstance(answer, Answer)
    assert not answer.abstained and "22" in answer.answer
    assert answer.citations and all(isinstance(c, Citation) for c in answer.citations)
    citation = answer.citations[0]
    assert assistant.article(citation.article_id)["text"][citation.start:citation.end] == citation.text
    assert Answer.model_validate_json(answer.model_dump_json()) == answer

    sources = assistant.sources()
    assert len(sources) == 7 and all(isinstance(s, Source) for s in sources)
    passages = assistant.retrieve(TRAM, top_k=3)
    assert 0 < len(passages) <= 3
    # Accented names are found with or without their accents.
    for name in ("Tomás", "Tomas"):
        terms = assistant.retriever.question_terms(f"Who is {name}?")
        hits = assistant.catalog.chunks_by_id(c for c, _ in assistant.catalog.lexical_search(terms, 3))
        assert any("Tomás Ferreira" in chunk.text for chunk in hits.values())

    for bad in ("", "  \n"):
        with pytest.raises(EmptyQuestionError):
            assistant.ask(bad)
    with pytest.raises(ValueError):  # EmptyQuestionError is a ValueError too
        assistant.ask("")


def test_two_assistants_on_different_stores_do_not_interfere(tmp_path: Path) -> None:
    tram_dir, heat_dir = tmp_path / "tram", tmp_path / "heat"
    tram_dir.mkdir()
    heat_dir.mkdir()
    shutil.copy(SAMPLES / "port-alder-tram-opening.txt", tram_dir)
    shutil.copy(SAMPLES / "eastmoor-heatwave-grid.txt", heat_dir)
    tram = Assistant(store=tmp_path / "store-a")
    heat = Assistant(store=tmp_path / "store-b")
    assert tram.ingest([tram_dir]).added == 1
    assert heat.ingest([heat_dir]).added == 1

    tram_ids = {s.article_id for s in tram.sources()}
    heat_ids = {s.article_id for s in heat.sources()}
    assert len(tram_ids) == len(heat_ids) == 1 and not tram_ids & heat_ids
    assert tram.vectors.count() == tram.catalog.vector_count()
    assert heat.vectors.count() == heat.catalog.vector_count()

    for assistant, question, ids in ((tram, TRAM, tram_ids), (heat, HEAT, heat_ids)):
        answer = assistant.ask(question)
        assert not answer.abstained
        assert {c.article_id for c in answer.citations} <= ids
    # Each answers only from its own articles.
    assert heat.ask(TRAM).abstained
    assert tram.ask(HEAT).abstained

    assert tram.remove(next(iter(tram_ids)))
    assert tram.sources() == [] and tram.vectors.count() == 0
    assert {s.article_id for s in heat.sources()} == heat_ids
    assert not heat.ask(HEAT).abstained


def test_a_scope_limits_retrieval_and_answers(sample_assistant: Assistant) -> None:
    """A question asked of chosen articles (by id or publication date) is answered from them
    alone, even when another article answers it better; a scope that names nothing indexed is
    a one-line error, not an abstention."""
    sources = sample_assistant.sources()
    tram = next(s for s in sources if "Riverside" in s.title and not s.date)
    everywhere = sample_assistant.ask(TRAM)
    assert not everywhere.abstained and everywhere.scope is None
    for source in sources:
        answer = sample_assistant.ask(TRAM, scope=Scope(article_ids=[source.article_id]))
        assert {c.article_id for c in answer.citations} <= {source.article_id}
        assert answer.scope is not None and answer.scope.article_ids == [source.article_id]
        passages = sample_assistant.retrieve(TRAM, scope=Scope(article_ids=[source.article_id]))
        assert passages and {p.article.article_id for p in passages} == {source.article_id}
    dated = [s for s in sources if s.date]
    assert dated, "the samples have dated articles"
    day = dated[0].date[:10]
    within = sample_assistant.retrieve(TRAM, top_k=10, scope=Scope(date_from=day, date_to=day))
    assert {p.article.article_id for p in within} <= {s.article_id for s in dated
                                                       if s.date[:10] == day}
    assert tram.article_id not in {p.article.article_id for p in within}
    for scope, words in ((Scope(article_ids=["missing-id"]), "missing-id"),
                         (Scope(date_from="2999-01-01"), "no indexed article is in the scope"),
                         (Scope(date_to="yesterday"), "must be a date"),
                         # Shaped like dates but no day of the calendar; a range backwards.
                         (Scope(date_from="2025-02-30"), "must be a date like"),
                         (Scope(date_from="0000-01-01"), "must be a date like"),
                         (Scope(date_from="2025-07-01", date_to="2025-06-01"), "is after date_to")):
        with pytest.raises(ScopeError) as refused:
            sample_assistant.ask(TRAM, scope=scope)
        assert words in str(refused.value) and "\n" not in str(refused.value)
    # A misspelt key is refused, not read as "every article".
    with pytest.raises(ValueError, match="date_form"):
        Scope(date_form="2099-01-01")  # type: ignore[call-arg]


def test_a_scope_given_as_a_dict_is_read_and_anything_else_is_a_scope_error(
        sample_assistant: Assistant) -> None:
    # A dict reached the retrieve stage and failed there with an AttributeError.
    source = sample_assistant.sources()[0]
    answer = sample_assistant.ask(TRAM, scope={"article_ids": [source.article_id]})  # type: ignore[arg-type]
    assert {c.article_id for c in answer.citations} <= {source.article_id}
    for scope, words in (({"article_ids": "x"}, "scope article_ids"), ("id", "not str"),
                         ([source.article_id], "not list"), ({"date_form": "2025-01-01"},
                                                             "scope date_form")):
        with pytest.raises(ScopeError, match=words):
            sample_assistant.ask(TRAM, scope=scope)  # type: ignore[arg-type]
