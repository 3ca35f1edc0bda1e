"""The quality gate: absolute thresholds plus a comparison with a committed baseline.

thresholds.json:

    {"tolerance": {"rate": 0.04, "words": 5, "count": 0},
     "default": {"invalid_citations": {"max": 0}},
     "datasets": {"sample": {"answer_match": {"min": 0.6}, ...}}}

`default` applies to every dataset, `datasets.NAME` adds to it (and overrides it) for one. A
limit on a metric that has no value on the dataset (conflict detection without `conflict`
questions) is noted when it comes from `default`, and fails the gate when `datasets.NAME` sets
it: someone asked for that figure on that set, and it could not be measured.
baseline.json holds one entry per dataset, the metrics of an accepted run. A rate regresses
when the 95 % interval of its difference from the baseline lies wholly on the worse side
(Newcombe's interval for proportions, from both runs' Wilson intervals; for averages such as MRR
the run's bootstrap interval, the baseline's noise taken as equal); other metrics when they are worse than
their baseline by more than the tolerance for their unit. Latency is never compared with the
baseline (it measures the machine as much as the code) and is gated by thresholds only.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

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
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise GateError(f"{path}: no such {what} file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GateError(f"{path}: cannot read {what} ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise GateError(f"{path}: {what} must be a JSON object")
    return data


# A limit or tolerance is a plain JSON number: a string ("0.9"), a boolean, null or NaN is a
# mistake that would otherwise be coerced, or crash the run after it finished.
FiniteNumber = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Limit = dict[Literal["min", "max"], FiniteNumber]


class ThresholdsFile(BaseModel):
    """thresholds.json as written; an unknown key ("dataset" for "datasets") is an error, since
    a misspelt block would silently switch its limits off."""

    model_config = ConfigDict(extra="forbid")

    tolerance: dict[Literal["rate", "words", "count", "ms"], Annotated[FiniteNumber, Field(ge=0)]] = {}
    default: dict[str, Limit] = {}
    datasets: dict[str, dict[str, Limit]] = {}


class BaselineEntry(BaseModel):
    """One dataset's entry in baseline.json, as `baseline_entry` writes it. Metric names are not
    checked against METRICS: the file is machine-written, and an entry recorded before a metric
    was renamed still compares on the others."""

    model_config = ConfigDict(extra="forbid")

    backend: Annotated[str, Field(strict=True)] = "extractive"
    top_k: Annotated[int, Field(strict=True)] | None = None
    questions: Annotated[int, Field(strict=True)] | None = None
    metrics: dict[str, FiniteNumber | None]
    counts: dict[str, Annotated[int, Field(strict=True)]] = {}


BASELINE_FILE = TypeAdapter(dict[str, BaselineEntry])


# Pydantic's error types, in the words of a JSON file's author.
_SHAPE_ERRORS = {"dict_type": "must be a JSON object", "model_type": "must be a JSON object",
                 "float_type": "must be a number", "finite_number": "must be a finite number",
                 "int_type": "must be a whole number", "string_type": "must be a string",
                 "missing": "is missing", "greater_than_equal": "must be 0 or more"}


def _validation_message(path: Path, what: str, error: ValidationError, known_keys: list[str]) -> str:
    """One line naming where in the file each problem is (the first three). `known_keys`: the
    keys of the object where an unknown one can appear, for a did-you-mean."""
    parts = []
    for item in error.errors()[:3]:
        loc = [str(x) for x in item["loc"] if x != "[key]"]
        where = ".".join(loc) or "(top level)"
        if item["type"] == "extra_forbidden":
            close = difflib.get_close_matches(loc[-1], known_keys, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known_keys)}"
            parts.append(f"{'.'.join(loc[:-1]) or '(top level)'}: unknown key {loc[-1]!r} ({hint})")
        elif item["loc"] and item["loc"][-1] == "[key]":
            parts.append(f"{where}: unknown key ({item['msg'].lower()})")
        else:
            parts.append(f"{where}: {_SHAPE_ERRORS.get(item['type'], item['msg'].lower())}")
    more = len(error.errors()) - len(parts)
    return f"{path}: bad {what}: " + "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


@dataclass
class Thresholds:
    """The limits that apply to one dataset, with where they came from."""

    limits: dict[str, dict[str, float]] = field(default_factory=dict)
    tolerance: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TOLERANCE))
    # Metrics whose limits the file sets for this dataset by name: a metric with no value then
    # fails the gate (someone asked for it on this set), where a default limit is only a note.
    named: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def _check_limits(path: Path, where: str, block: dict[str, Limit]) -> None:
    for metric, limit in block.items():
        if metric not in METRICS:
            close = difflib.get_close_matches(metric, METRICS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise GateError(f"{path}: {where}: unknown metric {metric!r}{hint}")
        info = METRICS[metric]
        for side, bound in limit.items():
            if info.unit == "rate" and not 0.0 <= bound <= 1.0:
                raise GateError(f"{path}: {where}.{metric}.{side}: {bound:g} is outside 0..1 "
                                f"({info.label} is a rate)")
            if bound < 0:
                raise GateError(f"{path}: {where}.{metric}.{side}: {bound:g} is negative")
        if "min" in limit and "max" in limit and limit["min"] > limit["max"]:
            raise GateError(f"{path}: {where}.{metric}: min {limit['min']:g} is greater than "
                            f"max {limit['max']:g}, no value can pass")


def load_thresholds(path: Path | None, dataset: str) -> Thresholds:
    """The limits for one dataset ({metric: {"min"|"max": x}}), the tolerances by unit, which
    limits name this dataset, and notes (such as: the file has no block for this dataset)."""
    if path is None:
        return Thresholds()
    try:
        data = ThresholdsFile.model_validate(_read_json(path, "thresholds"))
    except ValidationError as exc:
        raise GateError(_validation_message(path, "thresholds", exc,
                                           list(ThresholdsFile.model_fields))) from None
    _check_limits(path, "default", data.default)
    for name, block in data.datasets.items():
        _check_limits(path, f"datasets.{name}", block)
    thresholds = Thresholds(limits={metric: dict(limit) for metric, limit in data.default.items()})
    if dataset in data.datasets:
        # A dataset's block adds to the default one, and replaces its limit for a metric both set.
        thresholds.limits.update({metric: dict(limit) for metric, limit in data.datasets[dataset].items()})
        thresholds.named = set(data.datasets[dataset])
    elif data.datasets:
        thresholds.notes.append(f"{path} has no limits for dataset {dataset!r} (it has: "
                                f"{', '.join(sorted(data.datasets))}); only the default ones apply")
    thresholds.tolerance.update(data.tolerance)
    return thresholds


def load_baseline(path: Path, *, missing_ok: bool = False) -> dict[str, Any]:
    """Every entry of a baseline file, each checked for shape. A file that does not exist is an
    error unless `missing_ok` (recording the first entry)."""
    if missing_ok and not path.exists():
        return {}
    data = _read_json(path, "baseline")
    try:
        BASELINE_FILE.validate_python(data)
    except ValidationError as exc:
        raise GateError(_validation_message(path, "baseline", exc,
                                           list(BaselineEntry.model_fields))) from None
    return data


def check_baseline_target(path: Path) -> None:
    """Before a run that will record into `path`: its folder exists and can be written, so a
    typo fails in seconds, not after the evaluation."""
    folder = path.parent
    if not folder.is_dir():
        raise GateError(f"{path}: no such folder {folder} for the baseline file")
    if path.exists():
        load_baseline(path)
        if not os.access(path, os.W_OK):
            raise GateError(f"{path}: baseline file is not writable")
    elif not os.access(folder, os.W_OK):
        raise GateError(f"{path}: cannot create the baseline file, {folder} is not writable")


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
    data = load_baseline(path, missing_ok=True)
    data[dataset] = entry
    try:
        path.write_text(json.dumps(dict(sorted(data.items())), indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise GateError(f"{path}: cannot write the baseline ({exc.__class__.__name__}: "
                        f"{exc.strerror or exc})") from None


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
    limits = load_thresholds(thresholds, dataset)
    tolerance = limits.tolerance
    gate = GateResult(notes=list(limits.notes))
    for metric, limit in limits.limits.items():
        value = metrics.get(metric)
        label = METRICS[metric].label
        for side, bound in limit.items():
            if value is None and metric in limits.named:
                gate.checks.append(Check(metric, "threshold", False, None, bound,
                                         f"{label}: no value on this dataset, but {thresholds} "
                                         f"sets {side} {_fmt(bound)} for {dataset!r}", side))
                continue
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
