"""The OpenAI-compatible API (/v1) of a real `python -m assistant serve` process on loopback,
called by the official `openai` Python client and by plain HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from assistant import Assistant
from harness.llm_server import free_port
from harness.serve import start_serve, stop_process

KEY = "sk-test-reader-7f3a"
LIMITED_KEY = "sk-test-limited-91c2"
# The rate limit: a burst of 25, refilled at 6 a minute. The tests with KEY stay well inside
# it; the rate-limit test spends LIMITED_KEY's burst.
RATE_PER_MINUTE, BURST = 6, 25


def start_server(store: Path, log_path: Path, *extra: str, env: dict[str, str] | None = None
                 ) -> tuple[subprocess.Popen[bytes], str]:
    try:
        return start_serve(store, log_path, after=extra, env={
            **os.environ, "ASSISTANT_LLM": "extractive", "ASSISTANT_AUTH": "",
            "ASSISTANT_API_KEYS": f"{KEY},{LIMITED_KEY}",
            "ASSISTANT_API_RATE_PER_MINUTE": str(RATE_PER_MINUTE),
            "ASSISTANT_API_BURST": str(BURST), **(env or {})})
    except RuntimeError as exc:
        pytest.fail(str(exc))


def stop_server(process: subprocess.Popen[bytes], log_path: Path) -> str:
    stop_process(process)
    return log_path.read_text()


@pytest.fixture(scope="module")
def api_url(user_assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("api") / "serve.log"
    process, url = start_server(user_assistant.settings.store, log_path)
    yield f"{url}/v1"
    log_text = stop_server(process, log_path)
    assert "Traceback" not in log_text, log_text[-2000:]
    assert KEY not in log_text and LIMITED_KEY not in log_text, "an API key reached the log"


@pytest.fixture
def client(api_url: str) -> openai.OpenAI:
    # No retries: a refused request must surface, not be retried into a pass.
    return openai.OpenAI(base_url=api_url, api_key=KEY, max_retries=0, timeout=60)


def article_id(assistant: Assistant, word: str) -> str:
    return next(s.article_id for s in assistant.sources() if word in s.title)


def test_a_plain_completion_quotes_and_cites(client: openai.OpenAI,
                                             user_assistant: Assistant) -> None:
    completion = client.chat.completions.create(
        model="article-assistant",
        messages=[{"role": "user", "content": "Where did the talks take place?"}])
    message = completion.choices[0].message.content or ""
    extra: dict[str, Any] = completion.model_extra["article_assistant"]
    assert completion.object == "chat.completion" and completion.choices[0].finish_reason == "stop"
    assert not extra["abstained"] and extra["citations"], extra
    assert "Alaska" in extra["answer"] or "Anchorage" in extra["answer"], extra["answer"]
    # The message is the answer with its [n] markers, then the Sources list.
    assert message.startswith(extra["answer"]) and "[1]" in message
    assert "\nSources:\n[1] " in message
    for citation in extra["citations"]:
        text = user_assistant.article(citation["article_id"])["text"]
        assert text[citation["start"]:citation["end"]] == citation["text"]
        assert f"[{citation['n']}] {citation['title']}" in message


def test_a_streamed_completion_concatenates_to_the_answer(client: openai.OpenAI) -> None:
    question = [{"role": "user", "content": "How long did the talks last?"}]
    plain = client.chat.completions.create(model="article-assistant", messages=question,
                                           extra_body={"article_assistant":
                                                       {"sources_in_text": False}})
    stream = client.chat.completions.create(model="article-assistant", messages=question,
                                            stream=True, extra_body={"article_assistant":
                                                                     {"sources_in_text": False}})
    chunks = list(stream)
    deltas = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert len([d for d in deltas if d]) > 3, "the answer arrived in one piece"
    assert "".join(deltas) == plain.choices[0].message.content
    *earlier, last = chunks
    assert last.choices[0].finish_reason == "stop"
    assert all((c.model_extra or {}).get("article_assistant") is None for c in earlier)
    extra = last.model_extra["article_assistant"]
    assert extra["answer"] == plain.choices[0].message.content
    assert extra["citations"] == plain.model_extra["article_assistant"]["citations"]


@pytest.fixture(scope="module")
def sure_client(user_assistant: Assistant, sure_model: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[openai.OpenAI]:
    """A server whose reader answers plainly whatever its confidence: a follow-up is rewritten
    from answered turns only, and which turns the shipped band answers plainly is the band's
    business, not this test's."""
    log_path = tmp_path_factory.mktemp("api-sure") / "serve.log"
    process, url = start_server(user_assistant.settings.store, log_path,
                                env={"ASSISTANT_READER_MODEL": str(sure_model)})
    yield openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0, timeout=60)
    stop_server(process, log_path)


def test_a_follow_up_is_understood_from_the_conversation(sure_client: openai.OpenAI) -> None:
    first = [{"role": "user", "content": "Where did Trump and Putin meet?"}]
    reply = sure_client.chat.completions.create(model="article-assistant", messages=first)
    assert reply.model_extra["article_assistant"]["status"] == "answered"
    follow_up = [*first,
                 {"role": "assistant", "content": reply.choices[0].message.content},
                 {"role": "user", "content": "And how long did they talk there?"}]
    answer = sure_client.chat.completions.create(model="article-assistant", messages=follow_up)
    extra = answer.model_extra["article_assistant"]
    assert extra["query"] and extra["query"] != "And how long did they talk there?"
    assert not extra["abstained"] and "hour" in extra["answer"], extra


def test_a_scope_limits_the_citations_to_the_chosen_article(
        client: openai.OpenAI, user_assistant: Assistant) -> None:
    question = [{"role": "user", "content": "How long did the talks last?"}]
    for source in user_assistant.sources():
        scope = {"article_ids": [source.article_id]}
        completion = client.chat.completions.create(
            model="article-assistant", messages=question,
            extra_body={"article_assistant": {"scope": scope}})
        extra = completion.model_extra["article_assistant"]
        assert extra["scope"]["article_ids"] == [source.article_id]
        assert {c["article_id"] for c in extra["citations"]} <= {source.article_id}, extra
    with pytest.raises(openai.BadRequestError) as unknown:
        client.chat.completions.create(
            model="article-assistant", messages=question,
            extra_body={"article_assistant": {"scope": {"article_ids": ["no-such-article"]}}})
    assert "no-such-article" in unknown.value.body["message"]


def test_search_returns_passages_with_scores(client: openai.OpenAI,
                                             user_assistant: Assistant) -> None:
    found = client.post("/search", body={"query": "length of the summit talks", "top_k": 3},
                        cast_to=object)
    assert found["object"] == "list" and 1 <= len(found["data"]) <= 3
    first = found["data"][0]
    assert first["rank"] == 1 and set(first["scores"]) == {"dense", "lexical", "fused"}
    text = user_assistant.article(first["article_id"])["text"]
    assert text[first["start"]:first["end"]] == first["text"]


def test_models_lists_the_offline_model_only_without_an_llm(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["article-assistant"]
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="article-assistant-llm",
                                       messages=[{"role": "user", "content": "Who met?"}])
    assert missing.value.body["code"] == "model_not_found" and "--llm-url" in missing.value.body["message"]
    # The SDK's retrieve (GET /v1/models/{id}) finds the model and refuses others.
    assert client.models.retrieve("article-assistant").id == "article-assistant"
    with pytest.raises(openai.NotFoundError) as unknown:
        client.models.retrieve("article-assistant-llm")
    assert unknown.value.body["code"] == "model_not_found"


@pytest.mark.parametrize(("request_body", "status", "words"), [
    ({"model": "article-assistant", "messages": []}, 400, "messages is empty"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": "Who met?"}]}, 404,
     "does not exist"),
    ({"model": "article-assistant", "messages": [{"role": "user", "content": "   "}]}, 400,
     "does not end with a question"),
    ({"model": "article-assistant"}, 400, "messages"),
    ({"model": "article-assistant", "messages": [{"role": "user", "content": "x" * 300_000}]},
     413, "larger than"),
])
def test_errors_come_in_openai_shape(api_url: str, request_body: dict[str, Any], status: int,
                                     words: str) -> None:
    request = urllib.request.Request(f"{api_url}/chat/completions", method="POST",
                                     data=json.dumps(request_body).encode(),
                                     headers={"Authorization": f"Bearer {KEY}",
                                              "Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as failed:
        urllib.request.urlopen(request, timeout=30)
    assert failed.value.code == status
    error = json.loads(failed.value.read())["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert words in error["message"] and "\n" not in error["message"]


def test_a_missing_or_wrong_key_gets_401(api_url: str) -> None:
    for key in ("", "sk-wrong"):
        anonymous = openai.OpenAI(base_url=api_url, api_key=key or "unset", max_retries=0)
        if not key:
            anonymous = anonymous.with_options(default_headers={"Authorization": ""})
        with pytest.raises(openai.AuthenticationError) as refused:
            anonymous.chat.completions.create(
                model="article-assistant", messages=[{"role": "user", "content": "Who met?"}])
        assert refused.value.status_code == 401
        assert refused.value.body["code"] == "invalid_api_key"


def test_over_the_rate_limit_gets_429_with_retry_after(api_url: str) -> None:
    limited = openai.OpenAI(base_url=api_url, api_key=LIMITED_KEY, max_retries=0)
    statuses = []
    for _ in range(BURST + 5):
        try:
            limited.models.with_raw_response.list()
            statuses.append(200)
        except openai.RateLimitError as exc:
            statuses.append(429)
            retry_after = int(exc.response.headers["Retry-After"])
            assert 1 <= retry_after <= 60 / RATE_PER_MINUTE + 1
            assert exc.body["type"] == "rate_limit_error"
    assert statuses[:BURST] == [200] * BURST, statuses
    assert statuses.count(429) >= 4, statuses
    # The limit is per key: the other key is still served.
    assert openai.OpenAI(base_url=api_url, api_key=KEY, max_retries=0).models.list().data


def test_an_unreachable_llm_falls_back_with_a_note(user_assistant: Assistant,
                                                   tmp_path: Path) -> None:
    """The LLM model with its server down: the offline answer, and a note that says why."""
    dead = f"http://127.0.0.1:{free_port()}/v1"
    log_path = tmp_path / "serve.log"
    process, url = start_server(user_assistant.settings.store, log_path, "--llm-url", dead,
                                env={"ASSISTANT_LLM_TIMEOUT": "5", "ASSISTANT_LLM_MAX_RETRIES": "0",
                                     "OPENAI_API_KEY": "sk-llm-secret"})
    try:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0, timeout=60)
        assert [m.id for m in client.models.list()] == ["article-assistant", "article-assistant-llm"]
        completion = client.chat.completions.create(
            model="article-assistant-llm",
            messages=[{"role": "user", "content": "Where did the talks take place?"}])
        extra = completion.model_extra["article_assistant"]
        assert not extra["abstained"] and extra["citations"]
        assert extra["backend"] == "extractive"
        assert any("cannot reach" in n and dead in n for n in extra["notes"]), extra["notes"]
        offline = client.chat.completions.create(
            model="article-assistant",
            messages=[{"role": "user", "content": "Where did the talks take place?"}])
        assert offline.model_extra["article_assistant"]["backend"] == "extractive"
        assert not offline.model_extra["article_assistant"]["notes"]
    finally:
        log_text = stop_server(process, log_path)
    assert "sk-llm-secret" not in log_text and KEY not in log_text
