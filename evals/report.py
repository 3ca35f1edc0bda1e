"""Reports of one evaluation run: JSON, JUnit XML, Markdown and a self-contained HTML page.

The HTML needs nothing from the network (inline CSS and SVG, no scripts), so a CI artifact opens
anywhere. JUnit failures are the gate's failed checks, so a CI dashboard is red exactly when the
build fails; each question is a test case too, with its failure reasons in system-out.
"""

from __future__ import annotations

import html
import json
import os
import xml.etree.ElementTree as ET
from dataclasses import asdict
from pathlib import Path
from typing import Any

from evals.gate import Check, GateResult
from evals.metrics import METRICS
from evals.question_scoring import QuestionResult
from evals.runner import EvalRun, listed_ids

REPORT_SUFFIXES = ("json", "junit.xml", "md", "html")


class ReportError(Exception):
    """The reports cannot be written where --report says. One line."""


def check_report_dir(directory: Path, name: str) -> None:
    """Before the run: `directory` is a folder, or can be made one, and NAME.* can be written in
    it; so a typo in --report fails in seconds, not after the evaluation."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "" if existing == directory else f" ({existing} is not a folder)"
        raise ReportError(f"--report {directory}: not a folder{where}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ReportError(f"--report {directory}: {existing} is not writable")
    for suffix in REPORT_SUFFIXES:
        target = directory / f"{name}.{suffix}"
        if target.is_dir():
            raise ReportError(f"--report {directory}: {target} is a folder")


def run_to_dict(run: EvalRun, gate: GateResult | None = None) -> dict[str, Any]:
    return {
        "dataset": run.dataset, "dataset_path": run.dataset_path, "articles": run.articles,
        "backend": run.backend, "top_k": run.top_k, "support_threshold": run.support_threshold,
        "seconds": run.seconds, "counts": run.counts, "metrics": run.metrics,
        "metric_info": {k: {x: y for x, y in asdict(m).items() if x != "key"} for k, m in METRICS.items()},
        "intervals": run.intervals, "calibration": run.calibration,
        "gate": gate.to_dict() if gate else None, "notes": run.notes, "judge": run.judge,
        "questions": [r.to_dict() for r in run.results],
    }


def write_reports(run: EvalRun, gate: GateResult, directory: Path) -> list[Path]:
    """Write NAME.json, NAME.junit.xml, NAME.md and NAME.html into `directory` (ReportError
    when that fails)."""
    paths = [directory / f"{run.dataset}.{ext}" for ext in REPORT_SUFFIXES]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        paths[0].write_text(json.dumps(run_to_dict(run, gate), indent=2, ensure_ascii=False) + "\n",
                            encoding="utf-8")
        paths[1].write_bytes(junit_xml(run, gate))
        paths[2].write_text(markdown(run, gate), encoding="utf-8")
        paths[3].write_text(html_report(run, gate), encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"--report {directory}: cannot write the reports "
                          f"({exc.__class__.__name__}: {exc.strerror or exc})") from None
    return paths


def fmt(value: float | None, unit: str = "rate") -> str:
    if value is None:
        return "n/a"
    if unit == "ms":
        return f"{value:.0f} ms"
    if unit == "count":
        return f"{value:.0f}"
    if unit == "words":
        return f"{value:.1f}"
    return f"{value:.3f}"


def _thresholds(gate: GateResult) -> dict[str, dict[str, Check]]:
    """{metric: {"min"|"max": check}} for the threshold checks."""
    out: dict[str, dict[str, Check]] = {}
    for c in gate.checks:
        if c.kind == "threshold":
            out.setdefault(c.metric, {})[c.side] = c
    return out


def _metric_status(metric: str, gate: GateResult) -> str:
    checks = [c for c in gate.checks if c.metric == metric]
    if not checks:
        return ""
    return "pass" if all(c.passed for c in checks) else "FAIL"


def _threshold_text(metric: str, gate: GateResult) -> str:
    unit = METRICS[metric].unit
    parts = []
    for c in gate.checks:
        if c.metric == metric and c.kind == "threshold":
            sign = ">=" if c.side == "min" else "<="
            parts.append(f"{sign} {fmt(c.limit, unit)}")
    return ", ".join(parts)


def _baseline_value(metric: str, gate: GateResult) -> float | None:
    return next((c.limit for c in gate.checks if c.metric == metric and c.kind == "baseline"), None)


# --- text ---------------------------------------------------------------------------------------

def interval_text(run: EvalRun, metric: str) -> str:
    """'[0.71, 0.89]': the metric's 95 % interval, or '' when it has none."""
    interval = run.intervals.get(metric)
    return f"[{interval['low']:.2f}, {interval['high']:.2f}]" if interval else ""


def calibration_lines(run: EvalRun) -> list[str]:
    """The reliability table of `confidence` and its expected calibration error."""
    cal = run.calibration
    if not cal or not cal.get("answered"):
        return []
    lines = [f"  calibration of confidence over {cal['answered']} answered questions: "
             f"ECE {cal['ece']:.3f}"]
    for b in cal["bins"]:
        if b["n"]:
            lines.append(f"    confidence {b['low']:.1f}-{b['high']:.1f}: n={b['n']:<3} mean "
                         f"{b['mean_confidence']:.2f}, right {b['accuracy']:.2f} "
                         f"[{b['accuracy_low']:.2f}, {b['accuracy_high']:.2f}]")
    return lines


def summary_text(run: EvalRun, gate: GateResult) -> str:
    lines = [f"{run.dataset}: {run.counts['questions']} questions, backend {run.backend}, top_k "
             f"{run.top_k}, {run.seconds:.1f} s; {run.counts['passed']} passed every check"]
    for metric, info in METRICS.items():
        base = _baseline_value(metric, gate)
        extra = [x for x in (_threshold_text(metric, gate),
                             f"baseline {fmt(base, info.unit)}" if base is not None else "") if x]
        status = _metric_status(metric, gate)
        lines.append(f"  {info.label:<26} {fmt(run.metrics.get(metric), info.unit):>9} "
                     f"{interval_text(run, metric):<15}  {status:<4}  {'; '.join(extra)}".rstrip())
    lines.extend(calibration_lines(run))
    for note in run.notes + gate.notes:
        lines.append(f"  note: {note}")
    failed = [r.id for r in run.results if not r.passed]
    if failed:
        lines.append(f"  questions that failed a check ({len(failed)} of {len(run.results)}): "
                     f"{listed_ids(failed)}")
    if run.judge:
        lines.append(f"  LLM judge: agreement with the offline scorer {fmt(run.judge.get('agreement'))} "
                     f"on {run.judge['judged']} of {run.judge['pairs']} (sentence, citations) pairs"
                     + (f"; {run.judge['errors']} request errors" if run.judge.get("errors") else ""))
    if gate.passed:
        lines.append("gate: PASS")
    else:
        lines.append("gate: FAIL")
        lines.extend(f"  - {c.message}" for c in gate.failures)
    return "\n".join(lines)


# --- JUnit --------------------------------------------------------------------------------------

def junit_xml(run: EvalRun, gate: GateResult) -> bytes:
    suites = ET.Element("testsuites", name=f"assistant eval {run.dataset}")
    gate_suite = ET.SubElement(suites, "testsuite", name=f"eval.{run.dataset}.gate",
                               tests=str(len(gate.checks)), failures=str(len(gate.failures)),
                               errors="0", skipped="0", time="0")
    for c in gate.checks:
        case = ET.SubElement(gate_suite, "testcase", classname=f"eval.{run.dataset}.gate.{c.kind}",
                             name=c.metric, time="0")
        if not c.passed:
            ET.SubElement(case, "failure", message=c.message, type=f"{c.kind}-regression").text = c.message
        else:
            ET.SubElement(case, "system-out").text = c.message
    q_suite = ET.SubElement(suites, "testsuite", name=f"eval.{run.dataset}.questions",
                            tests=str(len(run.results)), failures="0", errors="0", skipped="0",
                            time=f"{sum(r.latency_ms for r in run.results) / 1000:.3f}")
    properties = ET.SubElement(q_suite, "properties")
    for metric, value in run.metrics.items():
        ET.SubElement(properties, "property", name=metric, value="n/a" if value is None else str(value))
    for r in run.results:
        case = ET.SubElement(q_suite, "testcase", classname=f"eval.{run.dataset}.questions",
                             name=r.id, time=f"{r.latency_ms / 1000:.3f}")
        status = "PASS" if r.passed else "FAIL: " + "; ".join(r.failures)
        ET.SubElement(case, "system-out").text = (f"{status}\nquestion: {r.question}\n"
                                                  f"answer: {r.answer}\ngold: {r.gold}")
    ET.indent(suites)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True) + b"\n"


# --- Markdown -----------------------------------------------------------------------------------

def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(run: EvalRun, gate: GateResult) -> str:
    out = [f"# Evaluation: {run.dataset}", "",
           f"**Gate: {'PASS' if gate.passed else 'FAIL'}** · {run.counts['questions']} questions "
           f"({run.counts['answerable']} answerable, {run.counts['unanswerable']} unanswerable) · "
           f"backend `{run.backend}` · top_k {run.top_k} · {run.counts['passed']} passed every check "
           f"· {run.seconds:.1f} s", ""]
    if gate.failures:
        out += ["## Gate failures", ""] + [f"- {c.message}" for c in gate.failures] + [""]
    out += ["## Metrics", "", "| metric | value | 95% interval | threshold | baseline | status |",
            "|---|---:|---|---|---:|---|"]
    for metric, info in METRICS.items():
        base = _baseline_value(metric, gate)
        out.append(f"| {info.label} | {fmt(run.metrics.get(metric), info.unit)} | "
                   f"{interval_text(run, metric)} | "
                   f"{_threshold_text(metric, gate)} | {fmt(base, info.unit) if base is not None else ''} | "
                   f"{_metric_status(metric, gate)} |")
    cal = run.calibration
    if cal and cal.get("answered"):
        out += ["", f"## Calibration of confidence (ECE {cal['ece']:.3f}, {cal['answered']} answered)",
                "", "| confidence | answers | mean confidence | right | 95% interval |",
                "|---|---:|---:|---:|---|"]
        out += [f"| {b['low']:.1f}-{b['high']:.1f} | {b['n']} | {b['mean_confidence']:.2f} | "
                f"{b['accuracy']:.2f} | [{b['accuracy_low']:.2f}, {b['accuracy_high']:.2f}] |"
                for b in cal["bins"] if b["n"]]
    notes = run.notes + gate.notes
    if run.judge:
        notes.append(f"LLM judge agreement with the offline scorer: {fmt(run.judge.get('agreement'))} "
                     f"({run.judge['judged']} of {run.judge['pairs']} pairs judged; never gates)")
    if notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    failed = [r for r in run.results if not r.passed]
    out += ["", f"## Questions that failed a check ({len(failed)})", ""]
    if failed:
        out += ["| id | question | answer | why |", "|---|---|---|---|"]
        for r in failed:
            out.append(f"| {r.id} | {_md_cell(r.question)} | {_md_cell(r.answer)} | "
                       f"{_md_cell('; '.join(r.failures))} |")
    out += ["", "Metric definitions: evals/README.md.", ""]
    return "\n".join(out)


# --- HTML ---------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2330}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}
.pass{background:#1f8a4c}.fail{background:#c62828}.muted{color:#667}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:12px}
.card{border:1px solid #dde;border-radius:8px;padding:10px 12px}
.card.bad{border-color:#c62828;background:#fff5f5}
.card h3{font-size:13px;margin:0;font-weight:600}.card .v{font-size:20px;font-weight:700}
.card p{font-size:11.5px;color:#556;margin:4px 0 0}
table{border-collapse:collapse;width:100%}
td,th{border-top:1px solid #e3e3ea;padding:6px;vertical-align:top;text-align:left}
th{background:#f4f5f8;position:sticky;top:0}tr.failed td:first-child{border-left:4px solid #c62828}
tr.passed td:first-child{border-left:4px solid #1f8a4c}.why{color:#c62828}
.cit{margin:2px 0;font-size:12.5px}.quote{font-style:italic}.sent{font-size:12.5px;margin:2px 0}
.ok{color:#1f8a4c}.no{color:#c62828}code{font-size:12px}details summary{cursor:pointer;color:#335}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _bullet_svg(value: float | None, unit: str, thresholds: dict[str, Check], base: float | None,
                bad: bool) -> str:
    """A horizontal bar for the value, a red tick per threshold, a dark tick for the baseline."""
    w, h, pad = 230, 34, 4
    marks = [v for v in [value, base, *(c.limit for c in thresholds.values())] if v is not None]
    # Rates live on 0..1; other units scale to the largest mark, with headroom.
    scale = 1.0 if unit == "rate" else max([*marks, 1.0]) * 1.15

    def x(v: float) -> float:
        return pad + (w - 2 * pad) * min(max(v / scale, 0.0), 1.0)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" '
             f'viewBox="0 0 {w} {h}">',
             f'<rect x="{pad}" y="10" width="{w - 2 * pad}" height="12" fill="#eceef3" rx="2"/>']
    if value is not None:
        colour = "#c62828" if bad else "#3465a4"
        parts.append(f'<rect x="{pad}" y="10" width="{x(value) - pad:.1f}" height="12" '
                     f'fill="{colour}" rx="2"><title>value {fmt(value, unit)}</title></rect>')
    for side, check in thresholds.items():
        parts.append(f'<line x1="{x(check.limit):.1f}" x2="{x(check.limit):.1f}" y1="5" y2="27" '
                     f'stroke="#d9480f" stroke-width="2" stroke-dasharray="3,2">'
                     f'<title>threshold {side} {fmt(check.limit, unit)}</title></line>')
    if base is not None:
        parts.append(f'<line x1="{x(base):.1f}" x2="{x(base):.1f}" y1="7" y2="25" stroke="#111" '
                     f'stroke-width="2"><title>baseline {fmt(base, unit)}</title></line>')
    parts.append(f'<text x="{pad}" y="{h - 1}" font-size="9" fill="#778">0</text>'
                 f'<text x="{w - pad}" y="{h - 1}" font-size="9" fill="#778" text-anchor="end">'
                 f'{_e(fmt(scale, unit))}</text></svg>')
    return "".join(parts)


def _histogram_svg(values: list[float], threshold: float) -> str:
    """How the sentences' support by their citations is distributed, with the threshold."""
    bins = [0] * 10
    for v in values:
        bins[min(int(v * 10), 9)] += 1
    w, h, top = 520, 150, max([*bins, 1])
    bar = (w - 40) / 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h + 30}" role="img" '
             f'viewBox="0 0 {w} {h + 30}">']
    for i, n in enumerate(bins):
        bh = (h - 20) * n / top  # headroom for the count above the tallest bar
        colour = "#3465a4" if (i + 1) / 10 > threshold else "#c9a227"
        parts.append(f'<rect x="{30 + i * bar:.1f}" y="{h - bh:.1f}" width="{bar - 3:.1f}" '
                     f'height="{bh:.1f}" fill="{colour}"><title>{i / 10:.1f}-{(i + 1) / 10:.1f}: '
                     f'{n} sentences</title></rect>')
        parts.append(f'<text x="{30 + i * bar + bar / 2:.1f}" y="{h - bh - 3:.1f}" font-size="10" '
                     f'text-anchor="middle">{n}</text>')
        parts.append(f'<text x="{30 + i * bar:.1f}" y="{h + 14}" font-size="10">{i / 10:.1f}</text>')
    tx = 30 + threshold * (w - 40)
    parts.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="0" y2="{h}" stroke="#d9480f" stroke-width="2" '
                 f'stroke-dasharray="4,3"><title>support threshold {threshold}</title></line>')
    parts.append(f'<text x="{w - 10}" y="{h + 27}" font-size="10" text-anchor="end">support by cited '
                 'passages</text></svg>')
    return "".join(parts)


def _question_row(r: QuestionResult) -> str:
    status = "passed" if r.passed else "failed"
    why = "".join(f'<div class="why">{_e(f)}</div>' for f in r.failures) or '<span class="ok">ok</span>'
    citations = "".join(
        f'<div class="cit">[{c["n"]}] <b>{_e(c["title"])}</b> <span class="muted">({_e(c["article_id"])}, '
        f'chars {c["start"]}-{c["end"]})</span><br><span class="quote">“{_e(c["text"])}”</span></div>'
        for c in r.citations) or '<span class="muted">none</span>'
    sentences = "".join(
        f'<div class="sent"><span class="{"ok" if s.supported_by_citations else "no"}">'
        f'{s.cited_support:.2f}</span> {_e(s.text)} <span class="muted">cites '
        f'{", ".join(f"[{n}]" for n in s.citations) or "nothing"}; best passage {s.best_support:.2f}'
        f'{"; checked as conflict sides" if s.check != "scorer" else ""}'
        f'{"; misattributed" if s.misattributed else ""}'
        f'{"" if s.judge is None else "; judge: " + ("supported" if s.judge else "unsupported")}'
        f'</span></div>' for s in r.sentences) or '<span class="muted">—</span>'
    retrieved = ", ".join(f'{p["rank"]}{"*" if p["relevant"] else ""}' for p in r.retrieved)
    gold = " | ".join(r.gold) if r.gold else "(unanswerable)"
    return (f'<tr class="{status}"><td><b>{_e(r.id)}</b><br><span class="muted">{_e(", ".join(r.tags))}'
            f'</span><br>{r.latency_ms:.0f} ms</td>'
            f'<td>{_e(r.question)}<br><span class="muted">gold: {_e(gold)}</span><br>'
            f'<span class="muted">retrieved ranks (* overlaps evidence): {_e(retrieved)}</span></td>'
            f'<td>{_e(r.answer)}{"<br><b>conflict reported</b>" if r.conflict_reported else ""}</td>'
            f'<td><details><summary>{len(r.citations)} citation(s)</summary>{citations}</details></td>'
            f'<td>{sentences}</td><td>{why}</td></tr>')


def _calibration_html(run: EvalRun) -> str:
    cal = run.calibration
    if not cal or not cal.get("answered"):
        return ""
    rows = "".join(
        f"<tr><td>{b['low']:.1f}-{b['high']:.1f}</td><td>{b['n']}</td>"
        f"<td>{b['mean_confidence']:.2f}</td><td>{b['accuracy']:.2f}</td>"
        f"<td>[{b['accuracy_low']:.2f}, {b['accuracy_high']:.2f}]</td></tr>"
        for b in cal["bins"] if b["n"])
    return (f"<h2>Calibration of confidence</h2><p class=\"muted\">Expected calibration error "
            f"{cal['ece']:.3f} over {cal['answered']} answered questions; right = the answer holds "
            "a gold answer (an answer to an unanswerable question is wrong).</p>"
            "<table><thead><tr><th>confidence</th><th>answers</th><th>mean confidence</th>"
            f"<th>right</th><th>95% interval</th></tr></thead><tbody>{rows}</tbody></table>")


def html_report(run: EvalRun, gate: GateResult) -> str:
    thresholds = _thresholds(gate)
    cards = []
    for metric, info in METRICS.items():
        value = run.metrics.get(metric)
        base = _baseline_value(metric, gate)
        bad = _metric_status(metric, gate) == "FAIL"
        extra = [x for x in (_threshold_text(metric, gate),
                             f"baseline {fmt(base, info.unit)}" if base is not None else "") if x]
        interval = interval_text(run, metric)
        cards.append(f'<div class="card{" bad" if bad else ""}"><h3>{_e(info.label)} '
                     f'<span class="muted">({_e(info.group)})</span></h3>'
                     f'<div class="v">{_e(fmt(value, info.unit))} '
                     f'<span class="muted" title="95% interval">{_e(interval)}</span></div>'
                     f'{_bullet_svg(value, info.unit, thresholds.get(metric, {}), base, bad)}'
                     f'<p>{_e("; ".join(extra))}</p><p>{_e(info.definition)}</p></div>')
    ordered = sorted(run.results, key=lambda r: (r.passed, run.results.index(r)))
    supports = [s.cited_support for r in run.results for s in r.sentences]
    failures = "".join(f"<li>{_e(c.message)}</li>" for c in gate.failures)
    notes = run.notes + gate.notes
    if run.judge:
        notes.append(f"LLM judge agreement with the offline scorer: {fmt(run.judge.get('agreement'))} "
                     f"({run.judge['judged']} of {run.judge['pairs']} pairs; never gates)")
    c = run.counts
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Evaluation: {_e(run.dataset)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>
<body>
<h1>Evaluation: {_e(run.dataset)} <span class="badge {"pass" if gate.passed else "fail"}">gate
{"PASS" if gate.passed else "FAIL"}</span></h1>
<div class="muted">{c["questions"]} questions ({c["answerable"]} answerable,
{c["unanswerable"]} unanswerable),
backend <code>{_e(run.backend)}</code>, top_k {run.top_k}, support threshold {run.support_threshold},
{c["passed"]} passed every check, {run.seconds:.1f} s. Articles: <code>{_e(run.articles)}</code></div>
{f"<h2>Gate failures</h2><ul>{failures}</ul>" if failures else ""}
{"<h2>Notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>" if notes else ""}
<h2>Metrics</h2>
<p class="muted">Bar: this run, with its 95% interval in brackets. Dashed red: threshold.
Black: baseline.</p>
<div class="grid">{"".join(cards)}</div>
{_calibration_html(run)}
<h2>Support of answer sentences by the passages they cite</h2>
{_histogram_svg(supports, run.support_threshold)}
<h2>Questions (failures first)</h2>
<table><thead><tr><th>id</th><th>question</th><th>answer</th><th>citations</th>
<th>sentences (support by citations)</th><th>checks</th></tr></thead>
<tbody>{"".join(_question_row(r) for r in ordered)}</tbody></table>
</body></html>
"""

