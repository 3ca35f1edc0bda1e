"""The reader answerer (`answerer="reader"`): the trained reader model reads the retrieved passages;
its answer span picks the sentence to quote, decides whether to abstain, and finds the articles
that disagree.

The judgement is the model's: the reader (assistant/reader.py) is trained by training/, and its
threshold and calibration are fitted on a validation split by training/calibrate_reader.py.
Hand-set numbers remain in the conflict check: the heuristic answerer's same-topic cosine
(assistant/extractive.same_topic, shared) and the word overlap in assistant/values.py; the
cosine a phrase's conflict needs is fitted by training/fit_conflict_similarity.py (all in
assistant/tuning.py, with where they came from).

- Answerability: each retrieved passage is read; when no passage holds a span the reader
  prefers to "no answer" by at least the fitted threshold, the answer abstains.
- The answer quotes the sentence that holds the best span, and carries the span; a second
  sentence joins it when its own span is accepted too (max_answer_sentences).
- Time: a question that names a year ("Who won the final in 2018?") is answered only from
  articles that mention that year (in their text, title or date). Reports of other editions are
  the commonest near-miss in news (last year's final, this year's snippets); when no passage read
  comes from an article about the year asked, the answer abstains and says so.
- Conflicts: the best span of each article; two confident spans from different articles that
  state different values (assistant/values.py) about the same event are shown side by side (of
  several such pairs, the one whose sentences say the most the same around their values). A
  phrase (not a name, an amount or a date) is one side only against a sentence alike enough to
  report the same thing: two phrases from two facts of one event are not a dispute. When
  the retrieved passages hold no such pair, `other_side` reads the other articles' passages found
  by searching with the answer's sentence (`probe_for` asks the retrieve stage for them), so a
  report that words the event differently from the question is still read.

It reads only the Evidence the retrieve stage hands it (assistant/answering/retrieve.py): the
passages' sentences and the articles' texts are loaded there, never here.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from assistant.answering.retrieve import Evidence
from assistant.extractive import same_topic
from assistant.instructions import addresses_an_assistant, after_instructions
from assistant.reader import Reader
from assistant.retrieval import Candidate, Passage
from assistant.selection import Probe, Reading, Selection
from assistant.tuning import PHRASE_CONFLICT_COSINE, QUOTE_AFTER_INSTRUCTIONS_MIN_WORDS
from assistant.values import comparable, mentions_an_amount, read_value, same_value, topic_of
from index.text import words

log = logging.getLogger(__name__)

# Kinds of value whose difference is a plain contradiction (assistant/values.py).
_COMPARABLE = frozenset({"number", "date"})

# A year named on its own: "in 2018", "2018's", "the 2019-20 season" (its first year); not a part
# of a longer number ("12,018", "2018.5") nor a decade ("the 1990s").
_YEAR = re.compile(r"(?<![\w.,])(1[0-9]\d\d|20\d\d)(?!\w|[.,]\d)")


def years_named(text: str) -> frozenset[str]:
    """The years a question names."""
    return frozenset(_YEAR.findall(text))


def _of_the_years(readings: list[Reading], years: frozenset[str], evidence: Evidence) -> list[Reading]:
    """The readings whose article mentions one of the years (in its text, title or date); all of
    them when no year is asked. Each article's text is scanned once."""
    if not years:
        return readings
    mentions: dict[str, bool] = {}
    for r in readings:
        if r.article_id not in mentions:
            article = r.passage.article
            text = " ".join((evidence.text_of(r.article_id), article.title, article.date))
            mentions[r.article_id] = bool(years_named(text) & years)
    return [r for r in readings if mentions[r.article_id]]


def _past_the_instructions(cand: Candidate, span_start: int) -> Candidate | None:
    """The part of a sentence after the instructions it carries, when the span lies there and
    that part reads as a sentence of its own; None otherwise (the reading is dropped)."""
    cut = after_instructions(cand.text)
    rest = cand.text[cut:]
    start = cand.sentence.start + cut
    if span_start < start or len(rest.split()) < QUOTE_AFTER_INSTRUCTIONS_MIN_WORDS \
            or addresses_an_assistant(rest):
        return None
    return replace(cand, sentence=replace(cand.sentence, start=start), text=rest)


class ReaderAnswerer:
    def __init__(self, reader: Reader, max_sentences: int = 2,
                 abstain_below: float | None = None) -> None:
        self.reader = reader
        self.max_sentences = max_sentences
        # A probability cut-off chosen by the user replaces the fitted margin threshold.
        self.abstain_below = abstain_below

    def readings(self, question: str, passages: list[Passage], evidence: Evidence
                 ) -> list[Reading]:
        """Every passage's best span, most confident first. A span inside a sentence that
        addresses an AI assistant is dropped: article text is data, not instructions."""
        candidates = evidence.candidates(passages)
        by_article: dict[str, list[Candidate]] = {}
        for cand in candidates:
            by_article.setdefault(cand.sentence.article_id, []).append(cand)
        spans = self.reader.read(question, [p.chunk.text for p in passages])
        out: list[Reading] = []
        for passage, span in zip(passages, spans, strict=True):
            if span is None:
                continue
            start = passage.chunk.start + span.start
            end = passage.chunk.start + span.end
            holding = [c for c in by_article.get(passage.article.article_id, [])
                       if c.sentence.start <= start < c.sentence.end]
            if not holding:
                continue
            sentence = holding[0]
            if addresses_an_assistant(sentence.text):
                sentence = _past_the_instructions(sentence, start)
                if sentence is None:
                    continue
            # A span that runs into the next sentence is cut at its sentence's end: the quote and
            # the short answer must stay one verbatim sentence.
            if end > sentence.sentence.end:
                text = sentence.text[start - sentence.sentence.start:].rstrip()
                end = start + len(text)
                span = replace(span, text=text, end=span.start + len(text))
            out.append(Reading(passage, span, start, end, sentence, self.reader.probability(span)))
        out.sort(key=lambda r: -r.strength)
        return out

    def answers(self, reading: Reading) -> bool:
        if self.abstain_below is not None:
            return reading.probability >= self.abstain_below
        return self.reader.answers(reading.span)

    def tentative(self, reading: Reading) -> bool:
        """An answer below the fitted band (reader_model/calibration.json's plain_from): the
        answers above it were right at least 80 % of the time on validation, these less often."""
        return self.reader.status(reading.span) != "answered"

    def select(self, question: str, evidence: Evidence) -> Selection:
        """Answer from the evidence's passages; its `extra` (the next passages in retrieval
        order) are read only once there is an answer, to find an article that disagrees with
        it: a disagreement between sources matters more than its retrieval rank."""
        passages, extra = evidence.passages, evidence.extra
        if not passages:
            return Selection([], 0.0, True, reason="nothing retrieved")
        readings = self.readings(question, passages, evidence)
        if not readings:
            return Selection([], 0.0, True, reason="nothing retrieved to read")
        # Every passage's reading, for a decline's list of passages. An answer keeps only the
        # readings it may use: other_side looks for the other side of a conflict among them.
        read = tuple(readings)
        years = years_named(question)
        if years:
            in_time = _of_the_years(readings, years, evidence)
            if not in_time:
                asked = " or ".join(sorted(years))
                return Selection([], readings[0].probability, True, reason=(
                    f"none of the {len(passages)} passages read comes from an article that "
                    f"mentions {asked}: they are about other years"), readings=read,
                    explanation=f"The passages found come from articles that do not mention {asked}.")
            readings = in_time
        best = readings[0]
        if not self.answers(best):
            return Selection([], best.probability, True, reason=(
                f"the reader found no answer in the {len(passages)} passages read "
                f"(best span {best.text!r} at probability {best.probability:.2f})"),
                readings=read)
        chosen = [best.sentence]
        # Further sentences whose own spans the model also accepts: more evidence for the answer
        # (the conflict check below replaces them when another article disagrees).
        for other in readings[1:]:
            if len(chosen) >= self.max_sentences or not self.answers(other):
                break
            if all(c.text != other.sentence.text for c in chosen):
                chosen.append(other.sentence)
        others = _of_the_years(readings + (self.readings(question, extra, evidence) if extra else []),
                              years, evidence)
        others.sort(key=lambda r: -r.strength)
        return self._with_conflict(Selection(chosen, best.probability, False, reading=best,
                                             readings=tuple(readings), tentative=self.tentative(best)),
                                   others, evidence)

    def probe_for(self, selection: Selection) -> Probe | None:
        """An answer without a conflict asks for the other articles' passages found by its own
        sentence (another report may word the event differently from the question)."""
        if selection.abstain or selection.conflict or selection.reading is None:
            return None
        # Only an amount or a date is looked for elsewhere (see other_side): for any other answer
        # the search and the reading would be spent for nothing.
        if read_value(selection.reading.text).kind not in _COMPARABLE:
            return None
        sentence = selection.reading.sentence
        return Probe(sentence=sentence.text, best_article=selection.reading.article_id,
                     vector=sentence.sentence.vector)

    def other_side(self, question: str, selection: Selection, probe: Evidence) -> Selection:
        """`selection` (an answer without a conflict) checked against the `probe` evidence:
        passages of the other articles found by searching with the answer's own sentence. A
        report that gives the same event another value is found even when the question's
        wording did not retrieve it."""
        if selection.abstain or selection.conflict or selection.reading is None \
                or not probe.passages:
            return selection
        kind = read_value(selection.reading.text).kind
        if kind not in _COMPARABLE:
            return selection
        # Passages found by the answer's sentence rather than the question are looser evidence:
        # only a value of the answer's own kind (an amount against an amount, a date against a
        # date) counts as the other side. Names and phrases from them gave spurious conflicts on
        # the user-articles set (a place named at another grain, another quote of the talks).
        # A passage that names no amount or date cannot hold the other side: not read.
        holding = [p for p in probe.passages if mentions_an_amount(p.chunk.text)]
        if not holding:
            return selection
        found = [r for r in _of_the_years(self.readings(question, holding, probe),
                                         years_named(question), probe)
                 if read_value(r.text).kind == kind]
        others = sorted([*selection.readings, *found], key=lambda r: -r.strength)
        return self._with_conflict(selection, others, probe)

    def _with_conflict(self, selection: Selection, others: list[Reading], evidence: Evidence
                       ) -> Selection:
        """The selection as it stands, or the two disagreeing readings when `others` holds them."""
        assert selection.reading is not None
        conflict = self._conflict(selection.reading, others, evidence)
        if conflict is None:
            return selection
        first, second = conflict
        return Selection(
            [first.sentence, second.sentence], first.probability, False,
            (topic_of(first.text), first.sentence, second.sentence, first.text, second.text),
            reading=first, conflict_readings=conflict, readings=selection.readings,
            tentative=self.tentative(first) and self.tentative(second))

    @staticmethod
    def _states(reading: Reading, value: str, evidence: Evidence) -> bool:
        """Whether the reading's article states the value anywhere: then the two spans name one
        thing at different grain ("Anchorage" and "Joint Base Elmendorf-Richardson in
        Anchorage"), not two answers that exclude each other."""
        return bool(re.search(rf"(?<!\w){re.escape(value.strip())}(?!\w)",
                              evidence.text_of(reading.article_id), re.IGNORECASE))

    def _disagree(self, first: Reading, second: Reading, evidence: Evidence) -> bool:
        """Two readings of different articles that state different values (neither article
        states the other's) about the same event (their sentences are close in meaning)."""
        if first.article_id == second.article_id or same_value(first.text, second.text) \
                or self._states(second, first.text, evidence) \
                or self._states(first, second.text, evidence):
            return False
        if first.sentence.text == second.sentence.text or \
                not same_topic(first.sentence, second.sentence):
            return False
        # Amounts of different kinds (a length, a number of stops) differ without contradicting
        # each other; the span's unit may be the word after it ("29" in "29 stops").
        if not comparable(_with_its_unit(first), _with_its_unit(second)):
            return False
        # Two amounts, dates or names of one event contradict each other in any wording; a
        # phrase only in a sentence that reports the same thing (PHRASE_CONFLICT_COSINE): "the
        # talks were constructive" and "Trump spoke of great progress" are two facts, not a
        # dispute.
        if _a_phrase(first.text, second.text):
            return float(first.sentence.sentence.vector @ second.sentence.sentence.vector) \
                >= PHRASE_CONFLICT_COSINE
        return True

    def _conflict(self, best: Reading, readings: list[Reading], evidence: Evidence
                  ) -> tuple[Reading, Reading] | None:
        """Two articles' readings that both answer and disagree about the same event (see
        `_disagree`). Each article offers its most confident reading. Of the disagreeing pairs,
        the one whose sentences say the most the same around their values is shown: a source
        that reports the same thing with another figure, not a confident span about a
        neighbouring event (the women's final beside the men's). The best reading need not be
        in it (a confident span about another year must not hide two sources that contradict
        each other), but both sides must then be about the best reading's event."""
        tops: list[Reading] = []
        seen: set[str] = set()
        # `readings` may hold probe passages that out-score `best` (they were read after it was
        # chosen), so `best` is not necessarily first: every reading is looked at.
        for reading in [best, *readings]:
            if reading.article_id in seen:
                continue
            seen.add(reading.article_id)
            if reading is not best and not self.answers(reading):
                continue
            tops.append(reading)
        # A pair without the best reading must be about the best reading's event too.
        near = [r for r in tops if r is best or same_topic(best.sentence, r.sentence)]
        pairs = [(a, b) for i, a in enumerate(near) for b in near[i + 1:]
                 if self._disagree(a, b, evidence)]
        if not pairs:
            return None
        words_of = {id(r): _context_words(r) for r in near}
        first, second = max(pairs, key=lambda ab: (_overlap(words_of[id(ab[0])],
                                                            words_of[id(ab[1])]),
                                                   ab[0] is best))
        if second.strength > first.strength:
            first, second = second, first
        log.debug("conflict: %r vs %r", first.text, second.text)
        return first, second


def _a_phrase(first: str, second: str) -> bool:
    """Whether two answer spans are compared as phrases: one of them is neither an amount nor a
    date, and one is not a name (its first letter is not a capital): "smooth and quiet" against
    "a great success", "foreign ministers and two officials" against "US and Russian
    presidents" (training/fit_conflict_similarity.py)."""
    spans = (first.strip(), second.strip())
    return any(read_value(s).kind == "text" for s in spans) and \
        any(s[:1].islower() for s in spans)


# Up to four words after an amount, within its clause and before another figure: its unit and
# whether it is a rate ("29 stops", "38,000 riders a day").
_WORDS_AFTER = re.compile(r"(?:[\s-]+[^\W\d_]+){1,4}")


def _with_its_unit(reading: Reading) -> str:
    """The span, and the words after it in its sentence when the span ends with an amount: "29"
    read in "has 29 stops, the operator said" is "29 stops"; "38,000" in "expects 38,000 riders a
    day by 2027" is "38,000 riders a day by"."""
    text = reading.text.rstrip()
    value = read_value(text)
    if value.kind != "number":
        return reading.text
    after = reading.sentence.text[max(reading.end - reading.sentence.sentence.start, 0):]
    found = _WORDS_AFTER.match(after)
    return f"{text}{found.group(0)}" if found else reading.text


def _context_words(reading: Reading) -> set[str]:
    """The words of a reading's sentence around its span (the span itself left out)."""
    start = reading.start - reading.sentence.sentence.start
    text = reading.sentence.text
    rest = text[:max(start, 0)] + " " + text[max(start, 0) + len(reading.text):]
    return set(words(rest))


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
