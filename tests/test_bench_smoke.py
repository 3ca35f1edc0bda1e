"""`make bench` at tiny sizes (`python -m benchmarks.run --smoke`): every step end to end (side by
side, cold start, quality, the scale series, the Chroma server step) in real subprocesses with a
real `chroma run`, so the benchmark cannot silently break again. It checks that the run completes
and reports a number for every figure, never how fast anything is (the figures themselves are
benchmarks/results/, printed by `make bench`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, require

from harness.chroma_server import chroma_command

pytestmark = pytest.mark.server

DATASET = (ROOT.parent / "shared" / "datasets" / "squad2-normans").resolve()
SIZES = [10, 20]  # benchmarks.run's SMOKE sizes: the server step serves the larger


def number(data: Any, *path: str) -> float:
    """The figure at `path`, which must be a real number (not None, not missing)."""
    for key in path:
        assert isinstance(data, dict) and key in data, f"no {'/'.join(path)} in the results"
        data = data[key]
    assert isinstance(data, (int, float)) and not isinstance(data, bool), (path, data)
    return float(data)


def section(report: str, heading: str) -> list[list[str]]:
    """The table rows (cells, stripped) of the Markdown section whose heading starts with
    `heading`; fails when the section or its table is missing."""
    match = re.search(rf"^## {re.escape(heading)}.*?(?=^## |\Z)", report, re.M | re.S)
    assert match, f"no '## {heading}' section in the report"
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in match.group(0).splitlines() if line.startswith("|")]
    rows = rows[2:]  # past the header and its rule
    assert rows, f"the '{heading}' section has no table rows"
    return rows


def test_smoke_run_reports_every_section_with_numbers(tmp_path: Path) -> None:
    require(chroma_command().exists(), "the `chroma` command (pip install chromadb)")
    require((DATASET / "questions.jsonl").exists(), f"the squad2-normans dataset at {DATASET}")
    # Generous: CI's 2 cores are shared with nothing, a developer's often with much; what is
    # checked is that it finishes, not when.
    done = subprocess.run([sys.executable, "-m", "benchmarks.run", "--smoke", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1500,
                          env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    assert done.returncode == 0, f"benchmarks.run --smoke exited {done.returncode}:\n{done.stderr[-4000:]}"
    results = json.loads((tmp_path / "latest.json").read_text())
    report = (tmp_path / "latest.md").read_text()
    assert report.strip() in done.stdout  # the run prints its report
    side = results["side_by_side"]
    for system in ("ours", "baseline"):
        assert number(side, system, "ingest", "articles") == side["corpus"]["articles"]
        assert number(side, system, "ingest", "seconds") > 0
        assert number(side, system, "reingest", "seconds") > 0
        for mode in ("retrieve", "answer"):
            assert number(side, system, mode, "latency_ms", "p50") > 0
        assert number(side, system, "answer", "peak_rss_mb") > 0
        assert number(side, system, "index_mb") > 0
        assert 0 <= number(side, system, "generated_holds_gold") <= 1
        assert number(results, "cold_start", system, "median_s") > 0
        quality = results["quality"][system]
        assert number(quality, "answerable") > 0 and number(quality, "unanswerable") > 0
        assert 0 <= number(quality, "holds_gold") <= 1
    assert [row["articles"] for row in results["scale"]] == SIZES
    for row in results["scale"]:
        for system in ("ours", "baseline"):
            assert number(row, system, "ingest", "seconds") > 0
            assert number(row, system, "reingest", "seconds") > 0
            for mode in ("retrieve", "answer"):
                assert number(row, system, mode, "latency_ms", "p50") > 0
            assert number(row, system, "answer", "peak_rss_mb") > 0

    # The Chroma server step: each system ingested the whole corpus through its server, and the
    # same questions were answered through it and through the embedded client.
    server = results["server"]
    assert server["articles"] == SIZES[-1]
    assert number(server, "ours", "ingest", "added") == SIZES[-1]
    assert number(server, "baseline", "ingest", "articles") == SIZES[-1]
    for system, modes in (("ours", ("retrieve", "answer")), ("baseline", ("retrieve",))):
        for mode in modes:
            for side_name in ("embedded", "server"):
                assert number(server, system, mode, side_name, "n") > 0
                assert number(server, system, mode, side_name, "p50") > 0
        assert number(server, system, "server_peak_rss_mb") > 0

    # The Markdown: every section, and a number in every figure's cell ("–" marks a missing
    # one). Not checked: the headline's ratio column (no ratio for abstention rates) and the
    # projected ingest of the baseline (its token count is measured only in the side by side).
    for heading, first in (("Side by side", 1), ("Scale", 2), ("Chroma server", 2)):
        for row in section(report, heading):
            cells = row[first:3] if heading == "Side by side" else row[first:]
            if heading == "Scale" and row[1] == "LlamaIndex":
                cells = [cells[0], *cells[2:]]
            for cell in cells:
                assert re.search(r"\d", cell), f"'{heading}' row {row} has no figure in '{cell}'"
    assert len(section(report, "Scale")) == 2 * len(SIZES)
    assert [row[:2] for row in section(report, "Chroma server")] == [
        ["ours", "retrieval"], ["ours", "full answer"], ["LlamaIndex", "retrieval"]]
