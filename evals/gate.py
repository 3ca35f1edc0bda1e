"""The quality gate: absolute thresholds plus a comparison with a committed baseline.

thresholds.json:

    {"tolerance": {"rate": 0.04, "words": 5, "count": 0},
     "default": {"invalid_citations": {"max": 0}},
     "datasets": {"sample": {"answer_match": {"min": 0.6}, ...}}}

`default` applies to every dataset, `datasets.NAME` adds to it (and overrides it) for one.
baseline.json holds one entry per dataset, the metrics of an accepted run. A rate regresses
when the 95 % interval of its difference from the baseline lies wholly on the worse side
(Newcombe's interval for proportions, from both runs' Wilson intervals; for averages such as MRR
the run's bootstrap interval, the baseline's noise taken as equal); other metrics when they are worse than
their baseline by more than the tolerance for their unit. Latency is never compared with the
baseline (it measures the machine as much as the code) and is gated by thresholds only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evals.metrics import METRICS, difference_interval

DEFAULT_THRESHOLDS = Path(__file__).resolve().parent / "thresholds.json"
DEFAULT_TOLERANCE = {"rate": 0.04, "words": 5.0, "count": 0.0, "ms": float("inf")}


class GateError(Exception):
    """A thresholds or baseline file is malformed. The message is one line."""


@dataclass
class Check:
    metric: str
    kind: str  # "threshold" or "baseline"
    passed: bool
    value: float | None
    limit: float | None
    message: str
    side: str = ""  # for thresholds: "min" or "max"


@dataclass
class GateResult:
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": [asdict(c) for c in self.checks], "notes": self.notes}


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GateError(f"{path}: no such {what} file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GateError(f"{path}: cannot read {what} ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise GateError(f"{path}: {what} must be a JSON object")
    return data


def load_thresholds(path: Path | None, dataset: str) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """The limits for one dataset ({metric: {"min"|"max": x}}) and the tolerances by unit."""
    if path is None:
        return {}, dict(DEFAULT_TOLERANCE)
    data = _read_json(path, "thresholds")
    limits: dict[str, dict[str, float]] = {}
    for block in (data.get("default", {}), data.get("datasets", {}).get(dataset, {})):
        for metric, limit in block.items():
            if metric not in METRICS:
                raise GateError(f"{path}: unknown metric {metric!r}")
            if not isinstance(limit, dict) or not set(limit) <= {"min", "max"}:
                raise GateError(f"{path}: {metric} must be {{\"min\": x}} and/or {{\"max\": y}}")
            limits[metric] = {k: float(v) for k, v in limit.items()}
    tolerance = dict(DEFAULT_TOLERANCE)
    tolerance.update({k: float(v) for k, v in data.get("tolerance", {}).items()})
    return limits, tolerance


def load_baseline(path: Path) -> dict[str, Any]:
    return _read_json(path, "baseline") if path.exists() else {}


def baseline_entry(metrics: dict[str, float | None], *, backend: str, top_k: int,
                   questions: int, intervals: dict[str, dict[str, float] | None] | None = None
                   ) -> dict[str, Any]:
    """A run's entry in baseline.json; `counts` (how many items each rate averaged) lets the
    gate weigh the baseline's own noise."""
    return {"backend": backend, "top_k": top_k, "questions": questions,
            "metrics": {k: metrics.get(k) for k in METRICS},
            "counts": {k: int(v["n"]) for k, v in (intervals or {}).items() if v}}


def write_baseline(path: Path, dataset: str, entry: dict[str, Any]) -> None:
    """Record (or replace) one dataset's entry, keeping the others."""
    data = load_baseline(path)
    data[dataset] = entry
    path.write_text(json.dumps(dict(sorted(data.items())), indent=2) + "\n", encoding="utf-8")


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:.3f}"


def evaluate_gate(metrics: dict[str, float | None], dataset: str, *,
                  thresholds: Path | None = DEFAULT_THRESHOLDS, baseline: Path | None = None,
                  backend: str = "extractive", top_k: int | None = None,
                  questions: int | None = None,
                  intervals: dict[str, dict[str, float] | None] | None = None) -> GateResult:
    """Thresholds, then the baseline. A rate with a 95 % interval (`intervals`, from
    evals.metrics.intervals) regresses only when its baseline lies outside that interval on the
    worse side: a change the run's own sampling noise could explain is not a regression, and a
    larger one always is, whatever a fixed tolerance says. Other metrics use the tolerance."""
    limits, tolerance = load_thresholds(thresholds, dataset)
    gate = GateResult()
    for metric, limit in limits.items():
        value = metrics.get(metric)
        label = METRICS[metric].label
        for side, bound in limit.items():
            if value is None:
                gate.notes.append(f"{label}: no value on this dataset, threshold {side} {_fmt(bound)} "
                                  "not applied")
                continue
            ok = value >= bound if side == "min" else value <= bound
            sign = ">=" if side == "min" else "<="
            gate.checks.append(Check(metric, "threshold", ok, value, bound,
                                     f"{label} {_fmt(value)} {'meets' if ok else 'misses'} "
                                     f"threshold {sign} {_fmt(bound)}", side))
    if baseline is None:
        return gate
    entries = load_baseline(baseline)
    entry = entries.get(dataset)
    if not isinstance(entry, dict):
        gate.checks.append(Check("baseline", "baseline", False, None, None,
                                 f"no entry for {dataset!r} in {baseline}; record one with "
                                 "--update-baseline"))
        return gate
    if entry.get("backend", "extractive") != backend:
        gate.notes.append(f"baseline for {dataset!r} is for backend {entry.get('backend')!r}, not "
                          f"{backend!r}; not compared")
        return gate
    for key, label in (("top_k", "top_k"), ("questions", "question count")):
        have = {"top_k": top_k, "questions": questions}[key]
        if have is not None and entry.get(key) not in (None, have):
            gate.notes.append(f"baseline {label} was {entry.get(key)}, this run {have}")
    base_metrics = entry.get("metrics", {})
    for metric, info in METRICS.items():
        base, value = base_metrics.get(metric), metrics.get(metric)
        tol = tolerance.get(info.unit, 0.0)
        if base is None or tol == float("inf"):
            continue
        if value is None:
            gate.checks.append(Check(metric, "baseline", False, None, base,
                                     f"{info.label}: no value, baseline {_fmt(base)}"))
            continue
        worse_by = (base - value) if info.higher_is_better else (value - base)
        interval = (intervals or {}).get(metric)
        if interval is not None:
            base_n = (entry.get("counts") or {}).get(metric)
            low, high = difference_interval(value, interval, base, base_n)
            # Worse beyond noise: the whole interval of the difference is on the worse side.
            ok = high >= -1e-9 if info.higher_is_better else low <= 1e-9
            noise = f"difference {value - base:+.3f}, 95% interval {low:+.3f} to {high:+.3f}"
        else:
            ok = worse_by <= tol + 1e-9
            noise = f"tolerance {_fmt(tol)}"
        verdict = "regressed" if not ok else ("improved" if worse_by < -1e-9 else "holds")
        gate.checks.append(Check(metric, "baseline", ok, value, base,
                                 f"{info.label} {_fmt(value)} {verdict} vs baseline {_fmt(base)} "
                                 f"({noise})"))
    return gate
