"""Logging: one place configures it (--log-level, ASSISTANT_LOG_LEVEL), answers, ingests and API
requests log one line with their timings, and no secret or key ever appears in a log line."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from conftest import ROOT, SAMPLES, run_cli

from assistant.logs import RedactSecrets, configure_logging

OPENAI_KEY = "sk-test-0123456789abcdefSECRET"
API_KEY = "aa-key-7f3e9c1d5b2a4e6fSECRET"
WRONG_KEY = "aa-key-guess-000000000SECRET"


def test_info_logs_one_line_per_ingest_and_answer_with_timings(tmp_path: Path) -> None:
    store = tmp_path / "store"
    ingest = run_cli("--log-level", "INFO", "ingest", str(SAMPLES), "--store", str(store))
    assert ingest.returncode == 0, ingest.stderr
    lines = [line for line in ingest.stderr.splitlines() if "ingest: added" in line]
    assert len(lines) == 1 and " s (" in lines[0] and "tokens/s" in lines[0]
    ask = run_cli("ask", "Which company built the trams?", "--store", str(store),
                  env={"ASSISTANT_LOG_LEVEL": "INFO"})
    assert ask.returncode == 0, ask.stderr
    answers = [line for line in ask.stderr.splitlines() if "assistant.answering.pipeline: answer:" in line]
    assert len(answers) == 1 and "total" in answers[0] and "ms" in answers[0]
    assert "Which company" not in ask.stderr, "the question's text stays out of INFO lines"
    quiet = run_cli("ask", "Which company built the trams?", "--store", str(store),
                    env={"ASSISTANT_LOG_LEVEL": "WARNING"})
    assert "answer:" not in quiet.stderr


def test_a_bad_level_is_one_line() -> None:
    result = run_cli("--log-level", "LOUD", "sources")
    assert result.returncode != 0 and "LOUD" in result.stderr and "Traceback" not in result.stderr


def test_the_redaction_filter_covers_arguments_tracebacks_and_token_shapes() -> None:
    redact = RedactSecrets([API_KEY])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key %s and header %s", (
        API_KEY, f"Authorization: Bearer {WRONG_KEY}"), None)
    try:
        raise ValueError(f"bad key {API_KEY} / {OPENAI_KEY}")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert redact.filter(record)
    text = logging.Formatter().format(record)
    for secret in (API_KEY, WRONG_KEY, OPENAI_KEY):
        assert secret not in text
    assert "***" in text


def test_configure_logging_replaces_its_own_handler() -> None:
    root = logging.getLogger()
    configure_logging("INFO")
    configure_logging("DEBUG")
    assert root.level == logging.DEBUG
    assert sum(h.get_name() == "article-assistant" for h in root.handlers) == 1
    configure_logging("WARNING")


def test_no_key_reaches_the_log_of_a_serving_process(sample_store: Path, tmp_path: Path) -> None:
    """A real `serve` at DEBUG, asked with the right key, a wrong one, and with an OpenAI key in
    its environment: neither key is in anything it logged."""
    from harness.llm_server import free_port

    port = free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "assistant", "--log-level", "DEBUG", "serve", "--store",
             str(sample_store), "--port", str(port)], cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT,
            env={**os.environ, "ASSISTANT_API_KEYS": API_KEY, "OPENAI_API_KEY": OPENAI_KEY,
                 "ASSISTANT_LLM": "extractive", "ASSISTANT_AUTH": ""})
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    httpx.get(f"{url}/v1/models", timeout=2)
                    break
                except httpx.HTTPError:
                    if process.poll() is not None:
                        raise AssertionError(log_path.read_text()[-2000:]) from None
                    time.sleep(0.2)
            body = {"model": "article-assistant",
                    "messages": [{"role": "user", "content": "Which company built the trams?"}]}
            good = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60,
                              headers={"Authorization": f"Bearer {API_KEY}"})
            assert good.status_code == 200, good.text
            bad = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60,
                             headers={"Authorization": f"Bearer {WRONG_KEY}"})
            assert bad.status_code == 401
        finally:
            process.terminate()
            process.wait(timeout=15)
    logged = log_path.read_text()
    assert "POST /v1/chat/completions" in logged, "the requests were not logged at all"
    for secret in (API_KEY, WRONG_KEY, OPENAI_KEY):
        assert secret not in logged, f"a key reached the log: {secret[:8]}…"
