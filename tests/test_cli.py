"""End to end through `python -m assistant` on a temporary store."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLES, ask_json, run_cli

from assistant import Assistant

ANSWER_FIELDS = {"question", "answer", "abstained", "short_answer", "citations", "sentences", "conflicts",
                 "backend", "confidence", "notes", "timings_ms"}
CITATION_FIELDS = {"n", "article_id", "title", "source", "url", "date", "text", "start", "end",
                   "score", "passage", "passage_start", "passage_end", "answer_start", "answer_end"}
QUESTION = "How many stops does the Riverside Line have?"


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("cli-store")
    result = run_cli("ingest", str(SAMPLES), "--store", str(store))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("added 7, updated 0, unchanged 0, removed 0, failed 0"), result.stdout
    assert re.search(r"\d+ tokens/s", result.stdout)
    return store


def check_answer(answer: dict, assistant: Assistant) -> None:
    """Every field is there, every [n] has a citation, every citation quotes its article."""
    assert ANSWER_FIELDS <= answer.keys()
    assert isinstance(answer["abstained"], bool)
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer["answer"])}
    numbers = [c["n"] for c in answer["citations"]]
    assert numbers == list(range(1, len(numbers) + 1))
    assert markers == set(numbers)
    for citation in answer["citations"]:
        assert CITATION_FIELDS <= citation.keys()
        article = assistant.article(citation["article_id"])
        assert article is not None and article["title"] == citation["title"]
        text = article["text"]
        assert text[citation["start"]:citation["end"]] == citation["text"]
        assert text[citation["passage_start"]:citation["passage_end"]] == citation["passage"]
        assert citation["passage_start"] <= citation["start"] < citation["end"] <= citation["passage_end"]
    for sentence in answer["sentences"]:
        assert {"text", "citations", "support"} <= sentence.keys()
        assert set(sentence["citations"]) <= set(numbers)


def test_ask_json_fields_and_verbatim_citations(cli_store: Path) -> None:
    answer = ask_json(cli_store, QUESTION)
    assert answer["question"] == QUESTION
    assert not answer["abstained"] and answer["citations"]
    assert "22" in answer["answer"]
    assert answer["backend"] == "extractive"
    assert answer["timings_ms"]["total"] > 0
    check_answer(answer, Assistant(store=cli_store))


def test_ask_plain_text_prints_answer_and_sources(cli_store: Path, sure_model: Path) -> None:
    # A model whose band every answer clears: this is how a plain answer prints (a tentative one:
    # tests/test_answer_status.py).
    result = run_cli("ask", QUESTION, "--store", str(cli_store),
                     env={"ASSISTANT_READER_MODEL": str(sure_model)})
    assert result.returncode == 0, result.stderr
    # The reader's short answer first, then the quoted answer with its markers.
    first, second = [line for line in result.stdout.splitlines() if line.strip()][:2]
    assert re.fullmatch(r"Answer: .*22.*  \(confidence \d+%\)", first), first
    assert "22" in second and "[1]" in second
    assert re.search(r"^\[1\] .+ \(.+, chars \d+-\d+\)$", result.stdout, re.MULTILINE)


def test_batch_answers_good_lines_and_reports_bad_ones(cli_store: Path, tmp_path: Path) -> None:
    batch = tmp_path / "questions.jsonl"
    batch.write_text("\n".join([
        json.dumps({"id": "stops", "question": QUESTION}),
        '{"id": "broken", "question": ',
        json.dumps({"id": "blank", "question": "   "}),
        "",
        json.dumps({"id": 7, "question": "Who painted the Mona Lisa?"}),
        json.dumps(["not", "an", "object"]),
    ]) + "\n", encoding="utf-8")
    # A line that is not UTF-8 is that line's error; it used to stop the whole batch.
    with batch.open("ab") as out:
        out.write(b"\xff\xfe not text\n" + json.dumps({"id": "after", "question": QUESTION}).encode() + b"\n")
    result = run_cli("ask", "--batch", str(batch), "--store", str(cli_store), "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r.get("id") for r in rows] == ["stops", None, "blank", 7, None, None, "after"]
    stops, broken, blank, mona, array, not_text, after = rows
    assert not_text["line"] == 7 and "not UTF-8" in not_text["error"]
    assert after["answer"] == stops["answer"]
    assert not stops["abstained"] and "22" in stops["answer"]
    assistant = Assistant(store=cli_store)
    check_answer(stops, assistant)
    check_answer(mona, assistant)
    assert mona["abstained"] and mona["citations"] == []
    assert broken["line"] == 2 and "malformed JSON" in broken["error"]
    assert blank["line"] == 3 and "empty" in blank["error"]
    assert array["line"] == 6 and "object" in array["error"]
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 4
    assert all(e.startswith(f"error: {batch}:") for e in errors)


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_exits_1_with_one_line(cli_store: Path, question: str) -> None:
    result = run_cli("ask", question, "--store", str(cli_store))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == "error: the question is empty"


def test_no_question_and_missing_batch_file_exit_1(cli_store: Path, tmp_path: Path) -> None:
    result = run_cli("ask", "--store", str(cli_store))
    assert result.returncode == 1 and result.stderr.startswith("error: no question given")
    result = run_cli("ask", "--batch", str(tmp_path / "none.jsonl"), "--store", str(cli_store))
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {tmp_path / 'none.jsonl'}: no such file"


def test_empty_store_exits_1(tmp_path: Path) -> None:
    result = run_cli("ask", QUESTION, "--store", str(tmp_path / "empty"))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "empty" in result.stderr
    assert "ingest" in result.stderr  # it says what to do


def test_missing_path_exits_1(tmp_path: Path) -> None:
    result = run_cli("ingest", str(tmp_path / "nowhere"), "--store", str(tmp_path / "store"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1:] == [
        f"error: {tmp_path / 'nowhere'}: no such file or directory"]
    assert all(line.startswith("error:") for line in result.stderr.strip().splitlines())


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("ASSISTANT_TOP_K", "0", "greater than or equal to 1"),
    ("ASSISTANT_ANSWERER", "foo", "'heuristic' or 'reader'"),
    ("ASSISTANT_SPELLING", "maybe", "valid boolean"),
])
def test_a_bad_setting_in_the_environment_is_one_line_naming_it(tmp_path: Path, variable: str,
                                                                value: str, says: str) -> None:
    # pydantic's validation error used to reach the terminal as a 41-line traceback, from every
    # command.
    for args in (("sources", "--store", str(tmp_path / "s")),
                 ("ask", "Who won?", "--store", str(tmp_path / "s"))):
        result = run_cli(*args, env={variable: value})
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: bad setting {variable}='{value}'"), \
            result.stderr
        assert says in lines[0]


def test_a_store_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    # It was a FileExistsError traceback from SQLite's set-up for sources, ingest, check and
    # remove, and "no index at ..." for ask.
    afile = tmp_path / "not-a-folder"
    afile.write_text("x")
    for args in (("sources",), ("ask", "Who won?"), ("ingest", str(SAMPLES))):
        result = run_cli(*args, env={"ASSISTANT_STORE": str(afile)})
        assert result.returncode != 0
        assert result.stderr.strip().splitlines() == [
            f"error: the store {afile} is a file, not a folder; choose another --store "
            "(ASSISTANT_STORE)"], result.stderr
    assert afile.read_text() == "x"


def test_reading_a_store_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    # sources, check and remove used to create catalog.sqlite and state.sqlite (check a whole
    # store) where none was; ask never did.
    missing = tmp_path / "never-ingested"
    assert run_cli("sources", "--store", str(missing)).stdout.strip() == "no articles indexed"
    for args in (("check",), ("check", "--repair"), ("ask", "Who won?")):
        result = run_cli(*args, "--store", str(missing))
        assert result.returncode != 0
        assert result.stderr.strip().splitlines() == [
            f"error: no index at {missing}; run `assistant ingest PATH --store {missing}` first"]
    assert "no indexed article with id abc" in run_cli("remove", "abc", "--store", str(missing)).stderr
    assistant = Assistant(store=missing)
    assert assistant.sources() == [] and assistant.article("abc") is None
    assert assistant.remove("abc") is False
    assert not missing.exists()


@pytest.mark.parametrize("name", ["ab", "../../evil", "a..b", "-dash"])
def test_a_bad_collection_name_writes_nothing(tmp_path: Path, name: str) -> None:
    # Chroma refused "ab" only after catalog-ab.sqlite and state.sqlite were written, and
    # "../../evil" put a catalog file outside the store.
    store = tmp_path / "store"
    result = run_cli("ingest", str(SAMPLES), "--store", str(store),
                     env={"ASSISTANT_COLLECTION": name})
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"error: bad setting ASSISTANT_COLLECTION={name!r}: 3-63 letters, digits, '.', '_' or "
        "'-', starting and ending with a letter or digit"]
    assert sorted(p.name for p in tmp_path.rglob("*")) == []


def test_the_terminal_chat_on_a_store_that_does_not_exist_says_so_once(tmp_path: Path) -> None:
    # It used to start, and print the error after every line typed, then exit 0.
    missing = tmp_path / "never-ingested"
    result = subprocess.run([sys.executable, "-m", "assistant", "chat", "--store", str(missing)],
                            input="Who won?\nAnd when?\n", capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: no index at {missing}; run `assistant ingest PATH --store {missing}` first"]
    assert not missing.exists()


def test_an_id_with_a_newline_is_printed_on_one_line(cli_store: Path) -> None:
    result = run_cli("remove", "\x1b[31mred\n2nd", "--store", str(cli_store))
    assert result.stderr.strip().splitlines() == [
        "error: no indexed article with id \\x1b[31mred\\n2nd"]


def test_ask_json_of_a_refused_question_is_json_and_question_with_batch_is_refused(
        cli_store: Path, tmp_path: Path) -> None:
    refused = run_cli("ask", "--json", "   ", "--store", str(cli_store))
    assert refused.returncode == 1 and json.loads(refused.stdout) == {"error": "the question is empty"}
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps({"question": QUESTION}) + "\n")
    both = run_cli("ask", "--batch", str(batch), QUESTION, "--store", str(cli_store))
    assert both.returncode != 0 and both.stdout == ""
    assert both.stderr.strip() == "error: give a question or --batch FILE.jsonl, not both"


def test_an_empty_store_path_is_refused_not_the_current_folder(tmp_path: Path) -> None:
    for args, env in ((("--store", "", "sources"), {}), (("sources",), {"ASSISTANT_STORE": ""})):
        result = run_cli(*args, cwd=tmp_path, env=env)
        assert result.returncode != 0 and "empty" in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
