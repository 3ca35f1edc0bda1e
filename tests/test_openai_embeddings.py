"""Embeddings from an OpenAI-compatible endpoint: a real llama.cpp server with --embedding,
over real HTTP. The offline MiniLM stays the default; this is the configuration path."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SAMPLES, TEST_THREADS, require

from assistant import Assistant, AssistantError
from harness.llm_server import free_port, llama_server_unavailable_reason, running_llama_server


@pytest.fixture(scope="module")
def embedding_url() -> Iterator[str]:
    reason = llama_server_unavailable_reason()
    require(reason is None, reason or "")
    with running_llama_server(extra_args=["--embedding", "True"], n_threads=TEST_THREADS) as url:
        yield url


def _remote(store: Path, url: str) -> Assistant:
    return Assistant(store=store, embedding="openai", embedding_base_url=url,
                     embedding_model="smollm2-135m-instruct", openai_api_key="unused",
                     # SmolLM2 on a CPU shared with other test workers: embedding a batch can
                     # take far longer than the 30 s a real endpoint gets.
                     llm_timeout=300)


@pytest.mark.llm
def test_ingest_and_ask_with_remote_embeddings(tmp_path: Path, embedding_url: str) -> None:
    # One of the samples: SmolLM2 behind llama.cpp returns a vector per token, and all six
    # articles' JSON took two minutes to serve on 2 cores; one shows the path as well.
    articles = tmp_path / "articles"
    articles.mkdir()
    shutil.copy(SAMPLES / "port-alder-tram-opening.txt", articles)
    assistant = _remote(tmp_path / "store", embedding_url)
    report = assistant.ingest([articles])
    assert report.added == 1 and not report.failed
    answer = assistant.ask("How many stops does the Riverside Line have?")
    assert answer.citations or answer.abstained
    for citation in answer.citations:
        article = assistant.article(citation.article_id)
        assert article is not None
        assert article["text"][citation.start:citation.end] == citation.text
    # The store remembers its model: the offline embedder must not query it.
    with pytest.raises(AssistantError, match="built with embedder"):
        Assistant(store=tmp_path / "store").ask("How many stops does the Riverside Line have?")


def test_unreachable_embedding_server_is_one_line(tmp_path: Path) -> None:
    assistant = Assistant(store=tmp_path / "store", embedding="openai",
                          embedding_base_url=f"http://127.0.0.1:{free_port()}/v1",
                          openai_api_key="unused", llm_timeout=2, llm_max_retries=0)
    with pytest.raises(AssistantError) as caught:
        assistant.ingest([SAMPLES])
    assert "unreachable" in str(caught.value) and "\n" not in str(caught.value)
