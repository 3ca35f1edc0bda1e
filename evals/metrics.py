"""Metric definitions: one question scored (`score_question`), then a dataset (`aggregate`).

Everything here is deterministic given the answers and the support scorer; evals/README.md
writes each definition out. The functions take plain values (an Answer, passage references, a
lookup for article text) so they can be checked on hand-made answers.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any

from assistant import Answer, Citation
from assistant.grounding import SUPPORT_THRESHOLD, SupportScorer
from assistant.testing import (
    answer_claims,
    citation_problems,
    cited_premise,
    conflict_claim_support,
    strip_markers,
)
from evals.dataset import Question

# An optional second opinion on (sentence, premise): True/False, or None when it could not judge.
Judge = Callable[[str, str], bool | None]
# The independent support check on (question, sentence, cited passages): evals/checker.py.
Checker = Callable[[str, str, list[str]], bool | None]


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


# --- answer text --------------------------------------------------------------------------------

def normalize_answer(text: str) -> str:
    """SQuAD's normalization: lower case, no punctuation, no articles, single spaces. Unicode
    punctuation (curly quotes, dashes) goes too, since news text is full of it."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in string.punctuation
                   and not unicodedata.category(ch).startswith("P"))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def holds_answer(prediction: str, golds: list[str]) -> bool:
    """A gold answer occurs in the prediction after normalization, on word boundaries (so that
    '22' does not match '220')."""
    padded = f" {normalize_answer(prediction)} "
    return any(norm and f" {norm} " in padded for norm in (normalize_answer(g) for g in golds))


def token_f1(prediction: str, golds: list[str]) -> float:
    """SQuAD token F1 against the best-matching gold answer."""
    pred = normalize_answer(prediction).split()
    best = 0.0
    for gold in golds:
        ref = normalize_answer(gold).split()
        common = Counter(pred) & Counter(ref)
        same = sum(common.values())
        if not pred or not ref or same == 0:
            continue
        precision, recall = same / len(pred), same / len(ref)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least p% of values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


# --- passages and evidence ----------------------------------------------------------------------

@dataclass(frozen=True)
class PassageRef:
    """A retrieved passage, as the metrics need it: where it is and what it says."""

    article_id: str
    start: int
    end: int
    text: str
    title: str = ""


@dataclass(frozen=True)
class EvidenceSpan:
    article_id: str
    start: int
    end: int


def locate_evidence(snippet: str, texts: dict[str, str]) -> EvidenceSpan | None:
    """Where a verbatim evidence snippet sits in the indexed articles' text. Whitespace may differ
    (ingest tidies it), nothing else."""
    parts = snippet.split()
    if not parts:
        return None
    pattern = re.compile(r"\s+".join(re.escape(p) for p in parts))
    for article_id in sorted(texts):
        match = pattern.search(texts[article_id])
        if match:
            return EvidenceSpan(article_id, match.start(), match.end())
    return None


def overlaps(passage: PassageRef, span: EvidenceSpan) -> bool:
    return passage.article_id == span.article_id and passage.start < span.end and span.start < passage.end


# --- one question -------------------------------------------------------------------------------

@dataclass
class SentenceResult:
    text: str
    citations: list[int]
    cited_support: float  # support by the cited passages, jointly (0 when it cites nothing)
    best_support: float  # best support by any single passage the answerer saw
    supported_by_citations: bool
    grounded: bool
    misattributed: bool
    needed_citations: int
    check: str = "scorer"  # how support was judged: "scorer" or "conflict sides"
    judge: bool | None = None  # the optional LLM judge's verdict on (sentence, cited passages)
    independent: bool | None = None  # the independent checker's verdict (evals/checker.py)


@dataclass
class QuestionResult:
    id: str
    question: str
    tags: list[str]
    gold: list[str]
    answerable: bool
    abstained: bool
    answer: str
    backend: str
    confidence: float
    latency_ms: float
    retrieved: list[dict[str, Any]]
    first_relevant_rank: int | None
    evidence_located: int
    evidence_found: int
    holds_answer: bool | None
    f1: float | None
    length_words: int
    citations: list[dict[str, Any]]
    sentences: list[SentenceResult]
    invalid: list[str]
    citation_recall: float | None
    citation_precision: float | None
    conflict_reported: bool
    conflicts: list[dict[str, Any]]
    notes: list[str]
    # Of its citations, how many overlap a gold evidence snippet (None: not judged: abstained,
    # unanswerable, or no evidence located).
    citations_on_evidence: int | None = None
    short_answer: str = ""
    short_em: float | None = None  # answerable questions, when the answerer gives short answers
    short_f1: float | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        return data


def score_question(question: Question, answer: Answer, passages: list[PassageRef],
                   scorer: SupportScorer, article: Callable[[str], dict[str, Any] | None],
                   evidence: list[EvidenceSpan | None], latency_ms: float,
                   judge: Judge | None = None, checker: Checker | None = None) -> QuestionResult:
    """Score one answer. `passages` are those retrieval returned for the question, best first;
    `evidence` the located spans of the question's evidence snippets (None: not found)."""
    located = [span for span in evidence if span is not None]
    relevant = [any(overlaps(p, span) for span in located) for p in passages]
    first_rank = next((i + 1 for i, hit in enumerate(relevant) if hit), None)
    found = sum(1 for span in located if any(overlaps(p, span) for p in passages))

    text = strip_markers(answer.answer)
    holds = f1 = None
    if question.answerable:
        holds = not answer.abstained and holds_answer(text, question.answers)
        f1 = 0.0 if answer.abstained else round(token_f1(text, question.answers), 4)

    invalid = citation_problems(answer, article)
    sentences = [] if answer.abstained else _score_sentences(answer, passages, scorer, judge,
                                                             checker, question.question)
    recall = precision = None
    if sentences:
        recall = sum(s.supported_by_citations for s in sentences) / len(sentences)
        cited = sum(len(s.citations) for s in sentences)
        if cited:
            precision = sum(s.needed_citations for s in sentences) / cited

    result = QuestionResult(
        id=question.id, question=question.question, tags=list(question.tags),
        gold=list(question.answers), answerable=question.answerable, abstained=answer.abstained,
        answer=answer.answer, backend=answer.backend, confidence=answer.confidence,
        latency_ms=round(latency_ms, 2),
        retrieved=[{"rank": i + 1, "article_id": p.article_id, "title": p.title, "start": p.start,
                    "end": p.end, "relevant": hit} for i, (p, hit) in enumerate(zip(passages, relevant,
                                                                                    strict=True))],
        first_relevant_rank=first_rank, evidence_located=len(located), evidence_found=found,
        holds_answer=holds, f1=f1,
        length_words=0 if answer.abstained else len(text.split()),
        citations=[_citation_dict(c) for c in answer.citations], sentences=sentences,
        invalid=invalid, citation_recall=recall, citation_precision=precision,
        conflict_reported=bool(answer.conflicts),
        conflicts=[c.model_dump() for c in answer.conflicts], notes=list(answer.notes),
        short_answer=answer.short_answer,
        short_em=_short(answer, question, exact=True), short_f1=_short(answer, question, exact=False),
        citations_on_evidence=None if (answer.abstained or not question.answerable or not located)
        else sum(1 for c in answer.citations if any(
            c.article_id == span.article_id and c.start < span.end and span.start < c.end
            for span in located)))
    result.failures = _failures(question, result, len(evidence) - len(located))
    return result


def _short(answer: Answer, question: Question, exact: bool) -> float | None:
    """Exact match or token F1 of the short answer; None when the question is unanswerable or
    the answerer gives no short answers at all (the heuristic one)."""
    if not question.answerable or (not answer.short_answer and not answer.confidence_calibrated):
        return None
    if answer.abstained or not answer.short_answer:
        return 0.0
    if exact:
        gold = {normalize_answer(g) for g in question.answers}
        return 1.0 if normalize_answer(answer.short_answer) in gold else 0.0
    return round(token_f1(answer.short_answer, question.answers), 4)


def _citation_dict(c: Citation) -> dict[str, Any]:
    return {"n": c.n, "article_id": c.article_id, "title": c.title, "source": c.source,
            "text": c.text, "start": c.start, "end": c.end, "score": c.score}


def _score_sentences(answer: Answer, passages: list[PassageRef], scorer: SupportScorer,
                     judge: Judge | None = None, checker: Checker | None = None,
                     question: str = "") -> list[SentenceResult]:
    by_n = {c.n: c for c in answer.citations}
    # The pool: what the answerer saw, retrieved passages plus any cited passage it found by a
    # follow-up search.
    pool = list(dict.fromkeys([p.text for p in passages]
                              + [c.passage or c.text for c in answer.citations]))
    results = []
    for claim in answer_claims(answer):
        cited = [by_n[n] for n in claim.citations if n in by_n]
        conflict = conflict_claim_support(claim, answer)
        if conflict is not None:
            # A restated conflict: each side's value must sit in the citation it names, and then
            # every citation is needed (each backs one side).
            joint, supported = (1.0 if conflict else 0.0), conflict
            best = joint
            needed = len(cited) if conflict else 0
        else:
            joint = scorer.score(claim.text, cited_premise(cited)).score if cited else 0.0
            supported = joint >= SUPPORT_THRESHOLD
            best = max((s.score for s in scorer.score_many(claim.text, pool)), default=0.0)
            needed = _needed_citations(claim.text, cited, scorer) if supported else 0
        grounded = supported or best >= SUPPORT_THRESHOLD
        results.append(SentenceResult(
            text=claim.text, citations=list(claim.citations), cited_support=round(joint, 4),
            best_support=round(best, 4), supported_by_citations=supported, grounded=grounded,
            misattributed=grounded and not supported and bool(claim.citations),
            needed_citations=needed, check="scorer" if conflict is None else "conflict sides",
            judge=judge(claim.text, cited_premise(cited)) if judge is not None and cited else None,
            independent=checker(question, claim.text, [c.passage or c.text for c in cited])
            if checker is not None and cited and conflict is None else None))
    return results


def _needed_citations(sentence: str, cited: list[Citation], scorer: SupportScorer) -> int:
    """ALCE's precision test, for a sentence its citations jointly support: a citation is needed
    when it supports the sentence alone, or when the others fail to without it."""
    if len(cited) == 1:
        return 1
    needed = 0
    for i, citation in enumerate(cited):
        if scorer.score(sentence, cited_premise([citation])).supported:
            needed += 1
            continue
        rest = cited[:i] + cited[i + 1:]
        if not scorer.score(sentence, cited_premise(rest)).supported:
            needed += 1
    return needed


def _failures(question: Question, r: QuestionResult, evidence_missing: int) -> list[str]:
    out = []
    if question.answerable:
        if r.abstained:
            out.append("abstained on an answerable question")
        elif not r.holds_answer:
            out.append("no gold answer in the answer")
    elif not r.abstained:
        out.append("answered an unanswerable question")
    if r.citations_on_evidence == 0 and r.citations:
        out.append("wrong passage: no citation overlaps the gold evidence")
    if question.conflict and not r.conflict_reported:
        out.append("conflict not reported")
    elif not question.conflict and r.conflict_reported:
        out.append("spurious conflict: reported on a question without one")
    for problem in r.invalid:
        out.append(f"invalid citation: {problem}")
    for i, s in enumerate(r.sentences, start=1):
        if not s.supported_by_citations:
            what = "cites nothing" if not s.citations else f"support {s.cited_support:.2f}"
            out.append(f"sentence {i} not supported by its citations ({what})")
    if evidence_missing:
        out.append(f"dataset: {evidence_missing} evidence snippet(s) not found in the articles")
    return out


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
