"""The reader's three answer states: answered plainly, tentative (below the confidence band fitted
on validation: said in words, with no bold short answer), declined. And a question about another
year than the article's is declined."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import run_cli

from assistant.reader import MODEL_DIR

QUESTION = "When did construction of the Riverside Line begin?"


@pytest.fixture(scope="module")
def unsure_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped model with a band no answer reaches: every answer it gives is tentative."""
    folder = tmp_path_factory.mktemp("unsure-model") / "reader_model"
    shutil.copytree(MODEL_DIR, folder)
    calibration = json.loads((folder / "calibration.json").read_text())
    calibration["plain_from"] = 1e6
    (folder / "calibration.json").write_text(json.dumps(calibration))
    return folder


def _ask(store: Path, question: str, *extra: str, model: Path | None = None):
    env = {"ASSISTANT_READER_MODEL": str(model)} if model else None
    return run_cli("ask", question, "--store", str(store), *extra, env=env)


def test_a_confident_answer_is_plain(sample_store: Path) -> None:
    result = _ask(sample_store, QUESTION, "--json")
    answer = json.loads(result.stdout)
    assert answer["status"] == "answered" and answer["short_answer"] == "March 2021"
    assert _ask(sample_store, QUESTION).stdout.startswith("Answer: March 2021")


def test_an_answer_below_the_band_is_tentative_in_json_and_cli(sample_store: Path,
                                                               unsure_model: Path) -> None:
    result = _ask(sample_store, QUESTION, "--json", model=unsure_model)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["status"] == "tentative" and not answer["abstained"]
    assert answer["answer"].startswith("Not sure: the closest passage says “")
    assert answer["citations"], "a tentative answer still shows the closest quote"
    printed = _ask(sample_store, QUESTION, model=unsure_model).stdout
    assert "Answer:" not in printed, "a tentative answer must not look like a plain one"
    assert printed.startswith("Not sure: the closest passage says") and "[1]" in printed
    assert "below the band" in printed


def test_a_tentative_answer_carries_its_status_on_the_openai_api(sample_store: Path, unsure_model: Path,
                                                                  tmp_path: Path) -> None:
    """A real `assistant serve` on loopback: the status in the extra field, the words in the text."""
    import httpx
    from test_openai_api import KEY, start_server, stop_server

    process, url = start_server(sample_store, tmp_path / "serve.log",
                                env={"ASSISTANT_READER_MODEL": str(unsure_model)})
    try:
        reply = httpx.post(f"{url}/v1/chat/completions", timeout=60,
                           headers={"Authorization": f"Bearer {KEY}"}, json={
            "model": "article-assistant", "messages": [{"role": "user", "content": QUESTION}]})
    finally:
        stop_server(process, tmp_path / "serve.log")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["article_assistant"]["status"] == "tentative"
    assert body["choices"][0]["message"]["content"].startswith("Not sure:")


def test_a_question_about_another_year_is_declined(sample_store: Path) -> None:
    """The article expects 38,000 riders a day by 2027; it says nothing about 2031."""
    asked = json.loads(_ask(sample_store, "How many riders a day does the agency expect by 2027?",
                            "--json").stdout)
    assert not asked["abstained"] and "38,000" in asked["short_answer"]
    swapped = json.loads(_ask(sample_store, "How many riders a day does the agency expect by 2031?",
                              "--json").stdout)
    assert swapped["abstained"] and swapped["status"] == "declined"
