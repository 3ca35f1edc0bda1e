"""The grounding guard: nothing a model writes reaches the reader unless a passage backs it.

For each sentence of a generated answer:

1. Read its [n] markers (the passages it cites) and strip them; drop lines that are not claims
   ("The articles don't say.", "Answer:").
2. Cut it into clauses at ", but", ", which", "; " and the like, because small models append a
   fluent invented detail to a true statement ("... in Alaska, a strategic location for ...").
3. Score every clause against every retrieved passage with the shared SupportScorer.
4. Keep the longest run of supported clauses from the start; a sentence whose first clause no
   passage supports is removed. Each kept clause cites the passage it cited if that passage
   supports it, else the passage that supports it best (a repaired citation).
5. Quote, as each citation's text, the window of the passage that supported the clause: a
   verbatim span of the article, so every [n] resolves to text the reader can check.

Instruction-like sentences in passages ("ignore previous instructions ...") are blanked before
scoring: article text is data, so a sentence that addresses the assistant backs no claim.

If no claim survives, or the survivors miss the question (no date for a "when" question; for
questions with no expected kind, much further from the question than the extractive quote), the
answer falls back to the extractive one (when that one is confident) or abstains, and says
which. When the extractive answerer found sources disagreeing on a figure, the answer says so
and cites both sides, whatever the model wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.answer_types import expected_type, offers_type
from assistant.answering.compose import CONFLICT_NOTE, conflict_summary
from assistant.citations import citation_for
from assistant.grounding import SUPPORT_THRESHOLD, Support, SupportScorer
from assistant.instructions import addresses_an_assistant
from assistant.models import (
    ABSTAIN_TEXT,
    Answer,
    Citation,
    Conflict,
    GuardCheck,
    GuardReport,
    SentenceSupport,
)
from assistant.retrieval import Passage
from assistant.selection import Selection
from assistant.tuning import GUARD_MIN_CLAIM_WORDS, GUARD_MIN_CLAUSE_CONTENT_WORDS, OFF_POINT_RATIO
from index.text import STOPWORDS, split_sentences, words

_MARKER = re.compile(r"\s*[\[【]\s*(?:(?:passage|source|ref)\s*)?(\d+(?:\s*[,;&]\s*(?:(?:passage|"
                     r"source)\s*)?\d+)*)\s*[\]】]", re.IGNORECASE)
_PAREN_MARKER = re.compile(r"\s*\((?:passage|source)\s+(\d+)\)", re.IGNORECASE)
_ABSTENTION = re.compile(
    r"\b(articles?|passages?|sources?|texts?|context)\s+(do|does|did)\s*(n['’]?t|not)\s+"
    r"(say|mention|state|specify|provide|contain|answer|include|give)|\bnot\s+(mentioned|stated|"
    r"specified|provided|given)\b|\bno\s+(information|mention)\b|\bcannot\s+(answer|be\s+"
    r"determined)\b|\bunable\s+to\s+(answer|determine)\b|\bdon['’]?t\s+(know|say)\b",
    re.IGNORECASE)
_META_SUFFIX = re.compile(r",?\s+as\s+(?:mentioned|stated|described|said|noted)\s+in\s+the\s+"
                          r"(?:passages?|articles?|texts?|sources?)(?:\s*\d+)?(?=[.!?]?$)", re.IGNORECASE)
_META_PREFIX = re.compile(
    r"^(?:answer\s*:\s*|the\s+(?:short\s+)?answer\s+is\s*:?\s*|the\s+(?:passages?|articles?)(?:\s*\d+)?\s*(?:says?|states?|mentions?)?"
    r"\s*:\s*|(?:according\s+to|based\s+on|as\s+(?:stated|mentioned|reported)\s+in|per|"
    r"in)\s+(?:the\s+)?(?:passages?|articles?|sources?|texts?|reports?)(?:\s*\d+)?\s*,?\s*)",
    re.IGNORECASE)
_CLAUSE_BREAK = re.compile(
    r"\s*;\s*|,\s+(?=(?:but|while|whereas|although|though|which|who|whom|where|and|as|after|"
    r"before|because|since|with|including|adding|saying|noting|a|an|the)\b)|\s+(?=(?:but|"
    r"whereas|although)\s)", re.IGNORECASE)
# For questions with no expected kind of answer ("what does peace require?"), a reply is off
# the point when its best sentence's cosine to the question is under OFF_POINT_RATIO of the
# extractive quote's (assistant/tuning.py: how it was set on the bench's SmolLM2 replies).


@dataclass
class _Claim:
    """One generated sentence, parsed."""

    raw: str
    text: str
    cited: list[int]
    invalid: list[int] = field(default_factory=list)


@dataclass
class _Verdict:
    check: GuardCheck
    # (passage index, clause support) for each kept clause, in order.
    backing: list[tuple[int, Support]] = field(default_factory=list)


def mask_instructions(text: str) -> str:
    """The text with every sentence that addresses an AI assistant blanked out, same length."""
    out = text
    for span in split_sentences(text):
        if addresses_an_assistant(span.text):
            out = out[:span.start] + " " * (span.end - span.start) + out[span.end:]
    return out


def content_word_count(text: str) -> int:
    return sum(1 for w in words(text) if w not in STOPWORDS)


def split_clauses(sentence: str) -> list[str]:
    """Clauses carrying a claim each; short pieces stay with their neighbour."""
    pieces: list[str] = []
    last = 0
    for match in _CLAUSE_BREAK.finditer(sentence):
        pieces.append(sentence[last:match.start()])
        last = match.start()  # keep the separator's words ("but ...") with the next clause
    pieces.append(sentence[last:])
    merged: list[str] = []
    for piece in pieces:
        if merged and content_word_count(piece) < GUARD_MIN_CLAUSE_CONTENT_WORDS:
            merged[-1] += piece
        else:
            merged.append(piece)
    if len(merged) > 1 and content_word_count(merged[0]) < GUARD_MIN_CLAUSE_CONTENT_WORDS:
        merged[1] = merged[0] + merged[1]
        merged.pop(0)
    return [m for m in merged if m.strip()]


def _sentence_of(clauses: list[str], count: int) -> str:
    """The first `count` clauses as a sentence (a cut one gets its full stop back)."""
    if count >= len(clauses):
        return "".join(clauses)
    kept = "".join(clauses[:count]).rstrip(" ,;:-–—")
    return kept if kept.endswith((".", "!", "?")) else kept + "."


def _clause_text(piece: str) -> str:
    return piece.strip().lstrip(",;").strip()


def parse_reply(reply: str, passage_count: int) -> list[_Claim]:
    """The reply's sentences with their cited passage numbers."""
    # Small models echo the prompt's <passage> tags; markup is never part of a claim.
    text = re.sub(r"</?[A-Za-z][^>]{0,200}>", "\n", reply)
    text = re.sub(r"\*\*|__|`", "", text)
    text = re.sub(r"(?m)^\s*(?:[-*•]|\d+[.)])\s+", "", text)
    text = re.sub(r"\s+\d{1,2}[.)]\s+(?=[A-Z])", "\n", text)  # "are: 1. Putin 2. Lavrov" -> items
    claims: list[_Claim] = []
    for span in split_sentences(text):
        cited: list[int] = []
        for match in list(_MARKER.finditer(span.text)) + list(_PAREN_MARKER.finditer(span.text)):
            cited.extend(int(n) for n in re.findall(r"\d+", match.group(1)))
        clean = _PAREN_MARKER.sub("", _MARKER.sub("", span.text)).strip()
        clean = _META_SUFFIX.sub("", _META_PREFIX.sub("", clean)).strip()
        if clean and clean[0].islower():
            clean = clean[0].upper() + clean[1:]
        if len(words(clean)) < GUARD_MIN_CLAIM_WORDS:
            if claims and cited:  # a marker split off onto its own line belongs to the last claim
                claims[-1].cited.extend(n for n in cited if 1 <= n <= passage_count)
            continue
        valid = list(dict.fromkeys(n for n in cited if 1 <= n <= passage_count))
        invalid = list(dict.fromkeys(n for n in cited if not 1 <= n <= passage_count))
        claims.append(_Claim(span.text, clean, valid, invalid))
    return claims


class _CitationBook:
    """Numbers citations by first use; one number per quoted span."""

    def __init__(self) -> None:
        self.citations: list[Citation] = []
        self._by_span: dict[tuple[str, int, int], int] = {}

    def add(self, citation: Citation) -> int:
        key = (citation.article_id, citation.start, citation.end)
        if key not in self._by_span:
            citation.n = len(self.citations) + 1
            self.citations.append(citation)
            self._by_span[key] = citation.n
        return self._by_span[key]

    def add_window(self, passage: Passage, span: tuple[int, int], score: float) -> int:
        chunk = passage.chunk
        start, end = span if span[1] > span[0] else (0, len(chunk.text))
        article = passage.article
        return self.add(Citation(
            n=0, article_id=article.article_id, title=article.title, source=article.source,
            url=article.url, date=article.date, text=chunk.text[start:end],
            start=chunk.start + start, end=chunk.start + end, score=round(score, 4),
            passage=chunk.text, passage_start=chunk.start, passage_end=chunk.end))


class GroundingGuard:
    def __init__(self, scorer: SupportScorer, threshold: float = SUPPORT_THRESHOLD) -> None:
        self.scorer = scorer
        self.threshold = threshold

    def check(self, question: str, reply: str, passages: list[Passage], *,
              prompt_passages: int | None = None, selection: Selection | None = None,
              fallback: Answer | None = None, model: str = "") -> Answer:
        """The checked Answer for a model's reply. `passages` are all retrieved passages; the
        first `prompt_passages` of them were numbered 1..k in the prompt."""
        shown = len(passages) if prompt_passages is None else min(prompt_passages, len(passages))
        texts = [mask_instructions(p.chunk.text) for p in passages]
        claims = parse_reply(reply, shown)
        verdicts: list[_Verdict] = []
        model_abstained = False
        for claim in claims:
            if claim.text.rstrip().endswith(":"):
                # "The names of the ministers are:" introduces a claim; alone it answers nothing.
                verdicts.append(_Verdict(GuardCheck(
                    text=claim.text, cited=claim.cited, support_cited=0.0, support=0.0,
                    action="dropped", reason="a lead-in, not a claim")))
                continue
            if _ABSTENTION.search(claim.text):
                model_abstained = True
                verdicts.append(_Verdict(GuardCheck(
                    text=claim.text, cited=claim.cited, support_cited=0.0, support=0.0,
                    action="dropped", reason="says the articles don't answer")))
                continue
            verdicts.append(self._judge(claim, texts))
        kept = [v for v in verdicts if v.check.kept_text]
        report = GuardReport(model=model, generated=reply, outcome="generated",
                             checks=[v.check for v in verdicts])
        judged = [v.check for v in verdicts if v.check.action != "dropped"]
        if judged:
            report.supported_before = round(
                sum(c.support >= self.threshold for c in judged) / len(judged), 4)
            report.cited_supported_before = round(
                sum(c.support_cited >= self.threshold for c in judged) / len(judged), 4)
        if not kept:
            return self._nothing_kept(question, report, model_abstained, bool(judged), selection,
                                      fallback)
        kind = expected_type(question)
        if kind and not any(offers_type(v.check.kept_text, kind, question) for v in kept) \
                and fallback is not None and not fallback.abstained:
            # Supported but beside the point: "when" answered without a date. The extractive
            # answer, chosen for the kind of answer asked for, serves the reader better.
            return self._nothing_kept(question, report, False, True, selection, fallback,
                                      why=f"the model's supported sentences give no {kind}, "
                                      "which the question asks for")
        # Without an expected kind of answer to check, closeness to the question has to do.
        if kind is None and fallback is not None and not fallback.abstained \
                and selection is not None and selection.sentences \
                and self._off_point(question, kept, selection.sentences[0].text):
            return self._nothing_kept(question, report, False, True, selection, fallback,
                                      why="the model's supported sentences are further from the "
                                      "question than the passages' best sentence")
        return self._compose(question, kept, passages, report, selection)

    def _off_point(self, question: str, kept: list[_Verdict], best_quote: str) -> bool:
        """True when every kept sentence is much further from the question than the sentence
        the extractive answerer would quote: true, supported, and beside the point (asked what
        peace requires, the model restated how the summit ended)."""
        texts = [question, best_quote, *(v.check.kept_text for v in kept)]
        vectors = self.scorer.embedder.embed(texts)
        sims = vectors[1:] @ vectors[0]
        return float(sims[1:].max()) < OFF_POINT_RATIO * float(sims[0])

    # --- judging one sentence -----------------------------------------------------------------

    def _judge(self, claim: _Claim, texts: list[str]) -> _Verdict:
        whole = self.scorer.score_many(claim.text, texts)
        support_all = max((s.score for s in whole), default=0.0)
        support_cited = max((whole[n - 1].score for n in claim.cited), default=0.0)
        clauses = split_clauses(claim.text)
        per_clause = [whole] if len(clauses) == 1 else \
            [self.scorer.score_many(_clause_text(c), texts) for c in clauses]
        clause_backing: list[list[tuple[int, Support]]] = []
        for supports in per_clause:
            choice = self._choose(supports, claim.cited)
            if not choice:
                break
            clause_backing.append(choice)
        # Clauses backed one by one can still add up to a claim no passage makes ("a pivotal
        # moment in the talks, with both leaders discussing ..."): the kept run of clauses must
        # also hold as a whole against the passages backing it, else it is cut shorter.
        clauses_backed = len(clause_backing)
        while clauses_backed and len(clauses) > 1 and not self._holds(
                _sentence_of(clauses, clauses_backed),
                [texts[i] for b in clause_backing[:clauses_backed] for i, _ in b]):
            clauses_backed -= 1
        backing = [pair for b in clause_backing[:clauses_backed] for pair in b]
        check = GuardCheck(text=claim.text, cited=claim.cited, support_cited=round(support_cited, 4),
                           support=round(support_all, 4), action="removed")
        reasons = []
        if claim.invalid:
            reasons.append("cited passage(s) " + ", ".join(f"[{n}]" for n in claim.invalid)
                           + " that do not exist")
        if not backing:
            best = max(whole, key=lambda s: s.score) if whole else None
            detail = f"best support {support_all:.2f}"
            if best is not None and best.vetoed:
                detail += f"; not in any passage: {', '.join(best.vetoed[:4])}"
            check.reason = "; ".join([*reasons, f"no passage supports it ({detail})"])
            return _Verdict(check)
        if clauses_backed < len(clauses):
            check.kept_text = _sentence_of(clauses, clauses_backed)
            check.action = "trimmed"
            reasons.append("cut unsupported: " + _clause_text("".join(clauses[clauses_backed:])))
        else:
            check.kept_text = claim.text
            chosen = {index + 1 for index, _ in backing}
            if chosen != set(claim.cited) or claim.invalid:
                check.action = "repaired"
                if not claim.cited:
                    reasons.append("added the missing citation")
                else:
                    reasons.append("cited " + "".join(f"[{n}]" for n in claim.cited)
                                   + ", supported by " + "".join(f"[{n}]" for n in sorted(chosen))
                                   + " (passage numbers of the prompt)")
            else:
                check.action = "kept"
        check.reason = "; ".join(reasons)
        return _Verdict(check, backing)

    def _holds(self, text: str, passages: list[str]) -> bool:
        """Whether one of the passages, or all of them together, support the text."""
        unique = list(dict.fromkeys(passages))
        if len(unique) > 1:
            unique.append("\n".join(unique))  # a claim joining facts from two passages
        scores = self.scorer.score_many(_clause_text(text), unique)
        return max((x.score for x in scores), default=0.0) >= self.threshold

    def _choose(self, supports: list[Support], cited: list[int]) -> list[tuple[int, Support]]:
        """The passages backing a clause: the cited ones that support it, else the best one;
        none when no passage supports it."""
        cited_ok = [(n - 1, supports[n - 1]) for n in cited if supports[n - 1].score >= self.threshold]
        if cited_ok:
            return cited_ok
        best = max(range(len(supports)), key=lambda i: supports[i].score, default=None)
        if best is None or supports[best].score < self.threshold:
            return []
        return [(best, supports[best])]

    # --- composing the answer -----------------------------------------------------------------

    def _compose(self, question: str, kept: list[_Verdict], passages: list[Passage],
                 report: GuardReport, selection: Selection | None) -> Answer:
        book = _CitationBook()
        parts: list[str] = []
        sentences: list[SentenceSupport] = []
        conflicts: list[Conflict] = []
        if selection is not None and selection.conflict:
            summary, conflict = self._conflict_summary(book, selection)
            parts.append(summary.text)
            sentences.append(summary)
            conflicts.append(conflict)
            report.changes.append("added the sources' disagreement on " + conflict.topic)
        for verdict in kept:
            numbers: list[int] = []
            spans: dict[int, tuple[int, int, float]] = {}
            for index, support in verdict.backing:
                start, end = support.best_window
                if index in spans:  # one quote per passage per sentence: the union of windows
                    s0, e0, sc = spans[index]
                    spans[index] = (min(s0, start), max(e0, end), min(sc, support.score))
                else:
                    spans[index] = (start, end, support.score)
            for index, (start, end, score) in spans.items():
                n = book.add_window(passages[index], (start, end), score)
                if n not in numbers:
                    numbers.append(n)
            verdict.check.citations = numbers
            support_value = min(s.score for _, s in verdict.backing)
            note = verdict.check.action if not verdict.check.reason else \
                f"{verdict.check.action}: {verdict.check.reason}"
            sentences.append(SentenceSupport(text=verdict.check.kept_text, citations=numbers,
                                             support=round(support_value, 4), supported=True,
                                             note=note))
            parts.append(verdict.check.kept_text + " " + "".join(f"[{n}]" for n in numbers))
        report.supported_after = self._supported_after(sentences, book.citations)
        report.changes.extend(self._summarise(report.checks))
        notes = ["guard: " + "; ".join(report.changes)] if report.changes else \
            ["guard: every sentence was supported by the passage it cited"]
        confidence = selection.confidence if selection is not None else 0.0
        # The reader's span is the short answer only when the generated text states it.
        short = selection.reading.text if selection is not None and selection.reading else ""
        if short and short not in " ".join(parts):
            short = ""
        return Answer(question=question, answer=" ".join(parts), abstained=False, short_answer=short,
                      citations=book.citations, sentences=sentences, conflicts=conflicts,
                      backend="openai", confidence=round(confidence, 4), notes=notes,
                      guard=report)

    @staticmethod
    def _conflict_summary(book: _CitationBook, selection: Selection
                          ) -> tuple[SentenceSupport, Conflict]:
        """The sources' disagreement, worded as the offline answer words it (compose.py), with
        its two sides cited from the book."""
        assert selection.conflict is not None
        _, first, second, _, _ = selection.conflict
        return conflict_summary(selection, book.add(citation_for(0, first)),
                                book.add(citation_for(0, second)))

    def _supported_after(self, sentences: list[SentenceSupport], citations: list[Citation]) -> float:
        """An independent re-check: each final sentence against the passages it cites."""
        if not sentences:
            return 0.0
        by_n = {c.n: c for c in citations}
        good = 0
        for sentence in sentences:
            if sentence.note == CONFLICT_NOTE:
                good += sentence.supported
                continue
            good += self._holds(sentence.text, [mask_instructions(by_n[n].passage)
                                                for n in sentence.citations])
        return round(good / len(sentences), 4)

    @staticmethod
    def _summarise(checks: list[GuardCheck]) -> list[str]:
        counts: dict[str, int] = {}
        for check in checks:
            counts[check.action] = counts.get(check.action, 0) + 1
        words_for = {"repaired": "repaired the citations of {} sentence(s)",
                     "trimmed": "cut unsupported clauses from {} sentence(s)",
                     "removed": "removed {} unsupported sentence(s)",
                     "dropped": "dropped {} non-answer sentence(s)"}
        return [text.format(counts[action]) for action, text in words_for.items()
                if counts.get(action)]

    def _nothing_kept(self, question: str, report: GuardReport, model_abstained: bool,
                      had_claims: bool, selection: Selection | None, fallback: Answer | None,
                      why: str = "") -> Answer:
        if not why:
            why = "no sentence of the model's reply is supported by the passages" if had_claims \
                else "the model said the articles don't answer this" if model_abstained \
                else "the model's reply held no answer"
        report.changes.extend(self._summarise(report.checks))
        if fallback is not None and not fallback.abstained:
            report.outcome = "fallback_extractive"
            answer = fallback.model_copy(deep=True)
            answer.notes = [*answer.notes, f"guard: {why}; answered extractively instead"]
            report.supported_after = self._supported_after(answer.sentences, answer.citations)
            answer.guard = report
            return answer
        report.outcome = "abstained"
        confidence = selection.confidence if selection is not None else 0.0
        return Answer(question=question, answer=ABSTAIN_TEXT, abstained=True, backend="openai",
                      confidence=round(confidence, 4), notes=[f"guard: {why}; abstained"],
                      guard=report)
