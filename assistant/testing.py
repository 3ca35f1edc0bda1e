"""Test helpers for apps built on the assistant: assert that an Answer is grounded.

    from assistant import Assistant
    from assistant.testing import assert_grounded

    def test_tram_answer_is_grounded(assistant: Assistant) -> None:
        answer = assistant.ask("How long is the Riverside Line?")
        assert_grounded(answer, min_support=0.5, assistant=assistant)

The same primitives (`answer_claims`, `citation_problems`) back the evaluation suite's citation
metrics, so a test suite and `assistant eval` judge an answer the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assistant.answering.check import cited_premise
from assistant.grounding import SUPPORT_THRESHOLD, SupportScorer
from assistant.models import TENTATIVE_LEAD, Answer

if TYPE_CHECKING:
    from assistant.core import Assistant

__all__ = ["Claim", "answer_claims", "assert_grounded", "citation_problems", "cited_premise",
           "conflict_claim_support", "strip_markers"]

_MARKER = re.compile(r"\[(\d+)\]")
_MARKER_WITH_SPACE = re.compile(r"\s*\[(\d+)\]")
# A fallback sentence split for answers that carry no `sentences`: an end mark, optional closing
# quotes, then optional [n] markers, then whitespace or the end.
_SENTENCE = re.compile(r".+?(?:[.!?][\"'”’)\]]*(?:\s*\[\d+\])*(?=\s|$)|$)", re.DOTALL)
_WORDY = re.compile(r"\w")


@dataclass
class Claim:
    """One sentence of an answer, without its [n] markers, and the citations it carries."""

    text: str
    citations: list[int] = field(default_factory=list)


def strip_markers(text: str) -> str:
    """The text a reader sees as the claim: [n] markers removed, spaces tidied."""
    text = _MARKER_WITH_SPACE.sub("", text)
    return re.sub(r"\s+([,.;:!?])", r"\1", re.sub(r"\s{2,}", " ", text)).strip()


def _markers(text: str) -> list[int]:
    return list(dict.fromkeys(int(m) for m in _MARKER.findall(text)))


def answer_claims(answer: Answer) -> list[Claim]:
    """The answer's sentences with the [n] markers that follow or sit inside each.

    The answer's own `sentences` give the boundaries, since quoted news sentences hold
    abbreviations ("a.m.", "U.S.") that a regex split would cut. Text of the answer that no
    listed sentence covers becomes a claim of its own, so a backend cannot hide an uncited claim
    by leaving it out of `sentences`.
    """
    if answer.abstained:
        return []
    text = answer.answer
    located: list[tuple[int, int, list[int]]] = []
    cursor = 0
    for sentence in answer.sentences:
        start = text.find(sentence.text, cursor) if sentence.text else -1
        if start < 0:
            return _split_claims(text)
        located.append((start, start + len(sentence.text), sentence.citations))
        cursor = start + len(sentence.text)
    if not located:
        return _split_claims(text)
    claims: list[Claim] = []
    head = text[:located[0][0]]
    if answer.status == "tentative" and head.startswith(TENTATIVE_LEAD):
        # A tentative answer's lead ("Not sure: the closest passage says “") frames the quotes
        # that follow and claims nothing; anything else before them is still a claim.
        head = head[len(TENTATIVE_LEAD):].strip(" “”\"")
    if _WORDY.search(strip_markers(head)):
        claims.extend(_split_claims(head))
    for i, (start, end, declared) in enumerate(located):
        tail_end = located[i + 1][0] if i + 1 < len(located) else len(text)
        tail = text[end:tail_end]
        # Markers right after the sentence belong to it; words after them are another claim.
        words_at = _WORDY.search(_MARKER.sub(lambda m: " " * len(m.group(0)), tail))
        own_tail = tail[:words_at.start()] if words_at else tail
        body = text[start:end] + own_tail
        cited = _markers(body) or list(declared)
        claims.append(Claim(strip_markers(text[start:end]), cited))
        if words_at:
            claims.extend(_split_claims(tail[words_at.start():]))
    return claims


def _split_claims(text: str) -> list[Claim]:
    claims = []
    for match in _SENTENCE.finditer(text):
        piece = match.group(0)
        clean = strip_markers(piece)
        if _WORDY.search(clean):
            claims.append(Claim(clean, _markers(piece)))
    return claims


def _squash(text: str) -> str:
    return " ".join(text.lower().split())


def conflict_claim_support(claim: Claim, answer: Answer) -> bool | None:
    """Whether a sentence reporting one of the answer's conflicts is backed by its citations.

    "One says X [1], another says Y [2]" asserts that [1] states X and [2] states Y; no single
    passage supports that, so the support scorer cannot judge it. It is supported when every side
    of the conflict it restates has its value in the quote (or passage) of the citation that side
    names. None when the sentence restates no conflict of the answer.
    """
    by_n = {c.n: c for c in answer.citations}
    text = _squash(claim.text)
    for conflict in answer.conflicts:
        sides = conflict.sides
        if len(sides) < 2 or not all(s.citation in claim.citations and _squash(s.value) in text
                                     for s in sides):
            continue
        return all(s.citation in by_n and (_squash(s.value) in _squash(by_n[s.citation].text)
                                           or _squash(s.value) in _squash(by_n[s.citation].passage))
                   for s in sides)
    return None


def citation_problems(answer: Answer,
                      article: Callable[[str], dict[str, Any] | None] | None = None) -> list[str]:
    """Why the answer's citations are invalid, if they are: an [n] with no citation, or (when
    `article` looks up an article's text, e.g. `Assistant.article`) a quote or passage that is not
    found verbatim at its offsets. An empty list means every citation checks out."""
    problems: list[str] = []
    numbers = [c.n for c in answer.citations]
    for n in sorted({n for n in numbers if numbers.count(n) > 1}):
        problems.append(f"[{n}] is listed twice")
    known = set(numbers)
    referenced = _markers(answer.answer) + [n for s in answer.sentences for n in s.citations]
    for n in dict.fromkeys(referenced):
        if n not in known:
            problems.append(f"[{n}] does not resolve to a citation")
    if article is None:
        return problems
    texts: dict[str, str | None] = {}
    for c in answer.citations:
        if c.article_id not in texts:
            record = article(c.article_id)
            texts[c.article_id] = None if record is None else str(record.get("text") or "")
        source = texts[c.article_id]
        if source is None:
            problems.append(f"[{c.n}] cites unknown article {c.article_id!r}")
            continue
        if not c.text or source[c.start:c.end] != c.text:
            problems.append(f"[{c.n}] quote not found verbatim at {c.start}:{c.end} of {c.article_id}")
        if c.passage and source[c.passage_start:c.passage_end] != c.passage:
            problems.append(f"[{c.n}] passage does not match {c.passage_start}:{c.passage_end} "
                            f"of {c.article_id}")
    return problems


def assert_grounded(answer: Answer, min_support: float = SUPPORT_THRESHOLD, *,
                    assistant: Assistant | None = None, scorer: SupportScorer | None = None,
                    allow_abstain: bool = True) -> None:
    """Fail (AssertionError) unless every sentence of `answer` cites passages that support it.

    - Every [n] must resolve to a citation; with `assistant`, every quote must also be found
      verbatim in its article at the cited offsets.
    - Each sentence's support by the passages it cites must reach `min_support` (a sentence that
      restates one of the answer's conflicts is checked by `conflict_claim_support`). It is scored
      afresh with `scorer` (or `assistant.scorer`) when one is given; otherwise the support the
      answer reports for the sentence is used.
    - An abstention makes no claim, so it passes unless `allow_abstain=False`.
    """
    if answer.abstained:
        if not allow_abstain:
            raise AssertionError(f"the assistant abstained on {answer.question!r}")
        return
    lookup = assistant.article if assistant is not None else None
    problems = citation_problems(answer, lookup)
    if scorer is None and assistant is not None:
        scorer = assistant.scorer
    by_n = {c.n: c for c in answer.citations}
    reported = {s.text: s.support for s in answer.sentences}
    claims = answer_claims(answer)
    if not claims:
        problems.append("the answer makes no claim but did not abstain")
    for i, claim in enumerate(claims, start=1):
        cited = [by_n[n] for n in claim.citations if n in by_n]
        if not cited:
            problems.append(f"sentence {i} cites nothing: {claim.text!r}")
            continue
        if conflict_claim_support(claim, answer):
            continue
        if scorer is not None:
            support = scorer.score(claim.text, cited_premise(cited)).score
        else:
            support = next((v for t, v in reported.items() if strip_markers(t) == claim.text), 0.0)
        if support < min_support:
            problems.append(f"sentence {i} has support {support:.2f} < {min_support:.2f}: "
                            f"{claim.text!r}")
    if problems:
        raise AssertionError("answer is not grounded:\n  " + "\n  ".join(problems))
