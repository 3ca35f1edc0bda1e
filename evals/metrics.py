"""Metric definitions (`METRICS`) and a dataset's metrics (`aggregate`), with their 95 %
intervals and the calibration of `confidence`. One question is scored in
evals/question_scoring.py (`score_question`), an answer matched against the gold answers in
evals/answer_match.py.

Everything here is deterministic given the questions' results (and, for the intervals, a fixed
seed); evals/README.md writes each definition out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from evals.question_scoring import QuestionResult


@dataclass(frozen=True)
class MetricInfo:
    key: str
    label: str
    group: str
    higher_is_better: bool
    unit: str  # "rate" (0..1), "ms", "words" or "count"
    definition: str


METRICS: dict[str, MetricInfo] = {m.key: m for m in [
    MetricInfo("hit_at_k", "hit@k", "retrieval", True, "rate",
               "answerable questions with at least one retrieved passage that overlaps an evidence "
               "snippet"),
    MetricInfo("mrr", "MRR", "retrieval", True, "rate",
               "mean of 1/rank of the first retrieved passage overlapping an evidence snippet (0 if none)"),
    MetricInfo("evidence_recall_at_k", "evidence recall@k", "retrieval", True, "rate",
               "per answerable question, the share of its evidence snippets that some retrieved "
               "passage overlaps; averaged"),
    MetricInfo("answer_match", "holds a gold answer", "answer", True, "rate",
               "answerable questions whose answer contains a gold answer (normalized, whole words); "
               "an abstention counts as a miss"),
    MetricInfo("token_f1", "token F1", "answer", True, "rate",
               "SQuAD token F1 between the answer (markers removed) and the best gold answer, over "
               "answerable questions; an abstention scores 0"),
    MetricInfo("short_answer_em", "short answer exact match", "answer", True, "rate",
               "answerable questions whose short answer (the reader's span; answerers without "
               "one are n/a) equals a gold answer after SQuAD normalization; an abstention or an "
               "empty short answer scores 0"),
    MetricInfo("short_answer_f1", "short answer token F1", "answer", True, "rate",
               "SQuAD token F1 of the short answer against the best gold answer, over answerable "
               "questions; an abstention or an empty short answer scores 0"),
    MetricInfo("answer_length", "mean answer length", "answer", False, "words",
               "mean number of words in non-abstained answers, markers removed"),
    MetricInfo("citation_recall", "citation recall", "citations", True, "rate",
               "per answer, the share of its sentences that the passages they cite support "
               "(jointly); averaged over non-abstained answers (ALCE)"),
    MetricInfo("citation_precision", "citation precision", "citations", True, "rate",
               "per answer, the share of its citations that are needed: the sentence is supported "
               "by its citations and the citation supports it alone or the others do not without "
               "it; averaged over answers that cite (ALCE)"),
    MetricInfo("invalid_citations", "invalid citations", "citations", False, "count",
               "citations that are an [n] with no citation, or whose quote (or passage) is not found "
               "verbatim in its article at its offsets; summed over the dataset"),
    MetricInfo("answer_evidence", "answer cites gold evidence", "evidence", True, "rate",
               "answered answerable questions (with located evidence) at least one of whose "
               "citations overlaps a gold evidence snippet: a verbatim quote of the wrong passage "
               "counts as wrong"),
    MetricInfo("citation_evidence", "citations on gold evidence", "evidence", True, "rate",
               "citations of answered answerable questions (with located evidence) that overlap "
               "a gold evidence snippet"),
    MetricInfo("independent_support", "independent support", "grounding", True, "rate",
               "answer sentences (conflict summaries aside) that the independent checker finds "
               "supported: the trained reader, reading the question over the passages the "
               "sentence cites, finds an answer the sentence states (evals/checker.py)"),
    MetricInfo("checker_agreement", "scorer/checker agreement", "grounding", True, "rate",
               "sentences on which the support scorer (the grounding guard's own method) and the "
               "independent checker agree"),
    MetricInfo("groundedness", "groundedness", "grounding", True, "rate",
               "share of all answer sentences supported by at least one passage the answerer saw "
               "(retrieved or cited)"),
    MetricInfo("misattribution", "misattribution", "grounding", False, "rate",
               "share of all answer sentences that some passage supports but the passages they "
               "cite do not"),
    MetricInfo("abstention_precision", "abstention precision", "abstention", True, "rate",
               "share of abstentions that were on unanswerable questions"),
    MetricInfo("abstention_recall", "abstention recall", "abstention", True, "rate",
               "share of unanswerable questions on which the assistant abstained"),
    MetricInfo("false_abstention_rate", "false-abstention rate", "abstention", False, "rate",
               "share of answerable questions on which the assistant abstained"),
    MetricInfo("conflict_detection", "conflict detection rate", "conflicts", True, "rate",
               "share of questions tagged `conflict` whose answer reports a conflict"),
    MetricInfo("spurious_conflict_rate", "spurious conflicts", "conflicts", False, "rate",
               "share of questions not tagged `conflict` whose answer reports a conflict"),
    MetricInfo("latency_p50_ms", "latency p50", "latency", False, "ms",
               "median wall-clock time of Assistant.ask, in milliseconds"),
    MetricInfo("latency_p95_ms", "latency p95", "latency", False, "ms",
               "95th percentile (nearest rank) of Assistant.ask wall-clock time, in milliseconds"),
]}


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least p% of values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


# --- a dataset ----------------------------------------------------------------------------------

def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _items(results: list[QuestionResult]) -> dict[str, list[float]]:
    """Per-item values of every averaged metric: the metric is their mean, and its interval is
    computed from them."""
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    answered = [r for r in results if not r.abstained]
    abstained = [r for r in results if r.abstained]
    # Retrieval is judged only where the evidence could be located in the articles (the rest is
    # reported as a dataset problem).
    judged = [r for r in answerable if r.evidence_located]
    on_evidence = [r for r in judged if r.citations_on_evidence is not None and r.citations]
    sentences = [s for r in answered for s in r.sentences]
    conflict = [r for r in results if "conflict" in r.tags]
    other = [r for r in results if "conflict" not in r.tags]
    return {
        "hit_at_k": [float(r.first_relevant_rank is not None) for r in judged],
        "mrr": [1.0 / r.first_relevant_rank if r.first_relevant_rank else 0.0 for r in judged],
        "evidence_recall_at_k": [r.evidence_found / r.evidence_located for r in judged],
        "answer_match": [float(bool(r.holds_answer)) for r in answerable],
        "token_f1": [r.f1 or 0.0 for r in answerable],
        "short_answer_em": [r.short_em for r in answerable if r.short_em is not None],
        "short_answer_f1": [r.short_f1 for r in answerable if r.short_f1 is not None],
        "answer_length": [float(r.length_words) for r in answered],
        "answer_evidence": [float(bool(r.citations_on_evidence)) for r in on_evidence],
        "citation_evidence": [float(i < (r.citations_on_evidence or 0)) for r in on_evidence
                              for i in range(len(r.citations))],
        "citation_recall": [r.citation_recall for r in answered if r.citation_recall is not None],
        "citation_precision": [r.citation_precision for r in answered
                               if r.citation_precision is not None],
        "independent_support": [float(bool(s.independent)) for s in sentences
                                if s.independent is not None],
        "checker_agreement": [float(s.independent == s.supported_by_citations) for s in sentences
                              if s.independent is not None],
        "groundedness": [float(s.grounded) for s in sentences],
        "misattribution": [float(s.misattributed) for s in sentences],
        "abstention_precision": [float(not r.answerable) for r in abstained],
        "abstention_recall": [float(r.abstained) for r in unanswerable],
        "false_abstention_rate": [float(r.abstained) for r in answerable],
        "conflict_detection": [float(r.conflict_reported) for r in conflict],
        "spurious_conflict_rate": [float(r.conflict_reported) for r in other],
    }


def aggregate(results: list[QuestionResult]) -> dict[str, float | None]:
    """Dataset-level metrics (keys of METRICS). None where a metric has nothing to average over,
    e.g. conflict detection on a dataset with no `conflict` questions."""
    metrics: dict[str, float | None] = {key: _mean(values) for key, values in _items(results).items()}
    latencies = [r.latency_ms for r in results]
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    metrics["invalid_citations"] = float(sum(len(r.invalid) for r in results))
    metrics["latency_p50_ms"] = None if p50 is None else round(p50, 1)
    metrics["latency_p95_ms"] = None if p95 is None else round(p95, 1)
    return {key: metrics.get(key) for key in METRICS}


# --- uncertainty and calibration ------------------------------------------------------------------

Z_95 = 1.959964
BOOTSTRAP_RESAMPLES = 2000


def wilson(successes: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (good at the small n and the 0 %/100 % rates
    our sets have, where the normal approximation gives nonsense)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap(values: list[float], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
              ) -> tuple[float, float]:
    """A 95 % percentile-bootstrap interval of a mean (for averages of non-binary values, such as
    MRR and token F1). Seeded, so a report is reproducible."""
    import random

    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choice(values) for _ in range(n)) / n for _ in range(resamples))
    return means[int(0.025 * resamples)], means[min(resamples - 1, int(0.975 * resamples))]


def intervals(results: list[QuestionResult]) -> dict[str, dict[str, float] | None]:
    """{metric: {"low", "high", "n"}}: the 95 % interval of every averaged rate metric."""
    out: dict[str, dict[str, float] | None] = {}
    for key, values in _items(results).items():
        if METRICS[key].unit != "rate" or not values:
            out[key] = None
            continue
        binary = all(v in (0.0, 1.0) for v in values)
        low, high = wilson(sum(values), len(values)) if binary else bootstrap(values)
        out[key] = {"low": round(low, 4), "high": round(high, 4), "n": len(values),
                    "method": "wilson" if binary else "bootstrap"}
    return out


def difference_interval(value: float, interval: dict[str, Any], base: float,
                        base_n: int | None = None) -> tuple[float, float]:
    """A 95 % interval of (this run - baseline), each with its own sampling noise: Newcombe's
    hybrid score interval for two proportions (Wilson), or, for bootstrapped averages, the
    difference with both halves' noise added in quadrature (the baseline's taken as this run's,
    the same questions being asked)."""
    n = int(interval["n"])
    if interval.get("method") == "wilson":
        base_n = base_n or n
        low1, high1 = interval["low"], interval["high"]
        low2, high2 = wilson(round(base * base_n), base_n)
        d = value - base
        return (d - math.sqrt((value - low1) ** 2 + (high2 - base) ** 2),
                d + math.sqrt((high1 - value) ** 2 + (base - low2) ** 2))
    half = (interval["high"] - interval["low"]) / 2
    margin = math.sqrt(2) * half
    return value - base - margin, value - base + margin


CALIBRATION_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def calibration(results: list[QuestionResult]) -> dict[str, Any]:
    """How well `confidence` predicts a right answer, over the questions answered (not
    abstained): right means an answerable question whose answer holds a gold answer; an answer
    to an unanswerable question is wrong. A reliability table in five bins and the expected
    calibration error (the bins' |accuracy - mean confidence| weighted by their size)."""
    pairs = [(r.confidence, 1.0 if r.answerable and r.holds_answer else 0.0)
             for r in results if not r.abstained]
    bins = []
    for low, high in pairwise(CALIBRATION_BINS):
        inside = [(c, y) for c, y in pairs if low <= c < high or (high == 1.0 and c == 1.0)]
        if inside:
            right = sum(y for _, y in inside)
            lo, hi = wilson(right, len(inside))
            bins.append({"low": low, "high": high, "n": len(inside),
                         "mean_confidence": round(sum(c for c, _ in inside) / len(inside), 4),
                         "accuracy": round(right / len(inside), 4),
                         "accuracy_low": round(lo, 4), "accuracy_high": round(hi, 4)})
        else:
            bins.append({"low": low, "high": high, "n": 0})
    ece = sum(b["n"] / len(pairs) * abs(b["accuracy"] - b["mean_confidence"])
              for b in bins if b["n"]) if pairs else None
    return {"answered": len(pairs), "ece": None if ece is None else round(ece, 4), "bins": bins}


def counts(results: list[QuestionResult]) -> dict[str, int]:
    return {
        "questions": len(results),
        "answerable": sum(r.answerable for r in results),
        "unanswerable": sum(not r.answerable for r in results),
        "abstained": sum(r.abstained for r in results),
        "passed": sum(r.passed for r in results),
        "sentences": sum(len(r.sentences) for r in results),
        "citations": sum(len(r.citations) for r in results),
        "conflict_questions": sum("conflict" in r.tags for r in results),
        "evidence_missing": sum(1 for r in results if r.answerable and not r.evidence_located),
    }
