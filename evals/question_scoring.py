"""One question scored (`score_question`): retrieval against the located evidence, the answer
against the gold answers, and every sentence's support by the passages it cites.

Everything here is deterministic given the answer and the support scorer; evals/README.md writes
each definition out. The functions take plain values (an Answer, passage references, a lookup for
article text) so they can be checked on hand-made answers. evals/metrics.py turns the results
into a dataset's metrics.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
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
from evals.answer_match import holds_answer, normalize_answer, token_f1
from evals.dataset import Question

# An optional second opinion on (sentence, premise): True/False, or None when it could not judge.
Judge = Callable[[str, str], bool | None]
# The independent support check on (question, sentence, cited passages): evals/checker.py.
Checker = Callable[[str, str, list[str]], bool | None]


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

