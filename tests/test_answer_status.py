"""The reader's three answer states: answered plainly, tentative (below the confidence band fitted
on validation: said in words, with no bold short answer), declined. And a question about another
year than the article's is declined."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli

QUESTION = "When did construction of the Riverside Line begin?"


def _ask(store: Path, question: str, *extra: str, model: Path | None = None):
    env = {"ASSISTANT_READER_MODEL": str(model)} if model else None
    return run_cli("ask", question, "--store", str(store), *extra, env=env)


def test_an_answer_above_the_band_is_plain(sample_store: Path, sure_model: Path) -> None:
    result = _ask(sample_store, QUESTION, "--json", model=sure_model)
    answer = json.loads(result.stdout)
    assert answer["status"] == "answered" and answer["short_answer"] == "March 2021"
    assert _ask(sample_store, QUESTION, model=sure_model).stdout.startswith("Answer: March 2021")


def test_the_shipped_band_decides_by_the_fitted_cut(sample_assistant) -> None:
    """The same answer is plain or tentative by where its decision score falls against the band
    fitted on validation (reader_model/calibration.json's plain_from)."""
    calibration = sample_assistant.reader.calibration
    assert calibration.plain_from is not None and calibration.plain_from > calibration.threshold
    answer = sample_assistant.ask(QUESTION)
    reading = max(sample_assistant.reader_answerer.readings(QUESTION, sample_assistant.retrieve(QUESTION)),
                  key=lambda r: r.strength)
    expected = "answered" if reading.strength >= calibration.plain_from else "tentative"
    assert answer.status == expected


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
