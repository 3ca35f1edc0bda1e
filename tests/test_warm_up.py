"""A server warms its Assistant up before it takes requests (Assistant.warm_up): the first
question then loads no model, no sentence splitter and no dictionary of its own. Checked in a
fresh process, where nothing was loaded before (this test process has ingested stores)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

from assistant import Assistant

ROOT = Path(__file__).resolve().parent.parent

_SCRIPT = r"""
import json, sys
import onnxruntime
from assistant import Assistant
from assistant import spelling
from index import text

sessions = []
original = onnxruntime.InferenceSession.__init__
def counted(self, *args, **kwargs):
    sessions.append(str(args[0]) if args else "")
    original(self, *args, **kwargs)
onnxruntime.InferenceSession.__init__ = counted

assistant = Assistant(store=sys.argv[1])
if sys.argv[2] == "warm":
    assistant.warm_up()
before = {"sessions": len(sessions), "splitter": text._punkt.cache_info().currsize,
          "english": spelling._english_lookup.cache_info().currsize,
          "chroma": "chromadb" in sys.modules}
# A typo, so the corrector's dictionaries are needed; a non-verbatim check needs the splitter.
answer = assistant.ask("When did the tram line opne?")
print(json.dumps({"before": before, "created_by_first_answer": sessions[before["sessions"]:],
                  "splitter_after": text._punkt.cache_info().currsize,
                  "english_after": spelling._english_lookup.cache_info().currsize,
                  "query": answer.query}))
"""


def _first_answer(store: Path, mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _SCRIPT, str(store), mode], cwd=ROOT,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_after_warm_up_the_first_answer_loads_nothing(sample_store: Path) -> None:
    warm = _first_answer(sample_store, "warm")
    assert warm["before"]["sessions"] >= 2  # the embedder and the reader
    assert warm["before"]["splitter"] == 1 and warm["before"]["english"] == 1
    assert warm["before"]["chroma"]
    assert warm["created_by_first_answer"] == []
    assert warm["query"]  # the typo was corrected, with the dictionaries warm-up built


def test_without_warm_up_the_first_answer_loads_the_models(sample_store: Path) -> None:
    # The other side of the test above: what warm_up spares the first user.
    cold = _first_answer(sample_store, "cold")
    assert cold["before"]["sessions"] == 0 and not cold["before"]["chroma"]
    assert len(cold["created_by_first_answer"]) >= 2
    assert cold["english_after"] == 1


def test_warm_up_on_an_empty_store_logs_and_leaves_the_error_to_the_first_question(
        tmp_path: Path, caplog) -> None:
    assistant = Assistant(store=tmp_path / "nothing-here")
    with caplog.at_level(logging.WARNING, logger="assistant.core"):
        assistant.warm_up()
    assert any("warm-up" in r.getMessage() and "no index" in r.getMessage()
               for r in caplog.records)
    assert not (tmp_path / "nothing-here").exists()  # warming up creates no store
