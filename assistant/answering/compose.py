"""Stage 3, compose: the offline Answer from the read stage's Selection.

The quoted sentences with their [n] markers, the citations with exact offsets (and where the
reader's span lies inside each), the conflict summary, the status (answered, tentative,
declined) and the retrieved passages with why each was or was not used. The conflict summary's
wording lives here once: the generative composer's guard (assistant/guard.py) states a conflict
with `conflict_summary` too.

The support recorded here is provisional: the check stage (check.py) scores every quoted
sentence against the passage it cites.
"""

from __future__ import annotations

from collections.abc import Iterator

from assistant.citations import citation_for
from assistant.models import (
    ABSTAIN_TEXT,
    TENTATIVE_LEAD,
    Answer,
    Citation,
    Conflict,
    ConflictSide,
    RetrievedPassage,
    SentenceSupport,
)
from assistant.retrieval import Passage
from assistant.selection import Reading, Selection
from index.catalog import ChunkRecord

CONFLICT_NOTE = "conflict summary"
QUOTE_NOTE = "verbatim quote"


def conflict_summary(selection: Selection, a: int, b: int) -> tuple[SentenceSupport, Conflict]:
    """The sentence that states the sources' disagreement, citing its two sides as [a] and [b],
    and the Conflict itself."""
    assert selection.conflict is not None
    unit, first, second, value_a, value_b = selection.conflict
    text = f"The sources disagree: one says {value_a} [{a}], another says {value_b} [{b}]."
    # The summary restates the two figures; it is supported when each figure is quoted
    # verbatim in the sentence it cites.
    verbatim = value_a in first.text and value_b in second.text
    sentence = SentenceSupport(text=text, citations=[a, b], support=1.0 if verbatim else 0.0,
                               supported=verbatim, note=CONFLICT_NOTE)
    conflict = Conflict(topic=unit, sides=[
        ConflictSide(citation=a, value=value_a, article_id=first.passage.article.article_id,
                     title=first.passage.article.title),
        ConflictSide(citation=b, value=value_b, article_id=second.passage.article.article_id,
                     title=second.passage.article.title)])
    return sentence, conflict


def compose(question: str, selection: Selection, calibrated: bool) -> Answer:
    """The offline Answer: the selection's sentences quoted verbatim, or a declined one.
    `calibrated`: the confidence is the reader's calibrated probability."""
    if selection.abstain:
        return Answer(question=question, answer=ABSTAIN_TEXT, abstained=True, status="declined",
                      confidence=round(selection.confidence, 4),
                      confidence_calibrated=calibrated,
                      declined_because=selection.explanation,
                      notes=[f"abstained: {selection.reason}"])
    citations: list[Citation] = []
    sentences: list[SentenceSupport] = []
    parts: list[str] = []
    spans = [r for r in (selection.conflict_readings or (selection.reading,)) if r is not None]
    for cand in selection.sentences:
        n = len(citations) + 1
        citations.append(_with_span(citation_for(n, cand), spans))
        sentences.append(SentenceSupport(text=cand.text, citations=[n], support=1.0,
                                         note=QUOTE_NOTE))
        parts.append(f"{cand.text} [{n}]")
    if selection.tentative and not selection.conflict:
        # Said in words, not as a plain answer: below the fitted band, answers were wrong
        # too often to be stated as what the articles say.
        parts = [f"{TENTATIVE_LEAD} " + " ".join(
            f"“{cand.text}” [{n}]" for n, cand in enumerate(selection.sentences, start=1))]
    conflicts: list[Conflict] = []
    if selection.conflict:
        # The conflict's two sentences are the selection's, so they are [1] and [2].
        summary, conflict = conflict_summary(selection, 1, 2)
        sentences.insert(0, summary)
        parts.insert(0, summary.text)
        conflicts.append(conflict)
    return Answer(question=question, answer=" ".join(parts), abstained=False,
                  status="tentative" if selection.tentative else "answered",
                  short_answer=selection.reading.text if selection.reading else "",
                  citations=citations, sentences=sentences, conflicts=conflicts,
                  confidence=round(selection.confidence, 4),
                  confidence_calibrated=calibrated)


def _with_span(citation: Citation, readings: list[Reading]) -> Citation:
    """Mark where inside the quote the reader's answer lies (the first reading that falls in it)."""
    for reading in readings:
        if reading.article_id == citation.article_id and citation.start <= reading.start \
                and reading.end <= citation.end:
            citation.answer_start, citation.answer_end = reading.start, reading.end
            break
    return citation


def retrieved_passages(passages: list[Passage], answer: Answer,
                       selection: Selection | None = None) -> list[RetrievedPassage]:
    """The retrieved passages as the Answer reports them: scores (the reader's too, when it
    read them), and why each was used or not. A side of a conflict may come from a passage read
    past them (the next passages, or those found by the answer's own sentence): it is listed
    after them, so that every quoted article is among the passages shown."""
    read = {r.passage.chunk.chunk_id: r.probability
            for r in (selection.readings if selection is not None else ())}
    listed = {p.chunk.chunk_id for p in passages}
    beyond: list[Passage] = []
    for reading in (selection.conflict_readings or ()) if selection is not None else ():
        chunk = reading.passage.chunk
        if chunk.chunk_id not in listed and _quoted(answer, chunk):
            listed.add(chunk.chunk_id)
            beyond.append(reading.passage)
            read.setdefault(chunk.chunk_id, reading.probability)
    out = []
    for number, passage in enumerate([*passages, *beyond], start=1):
        chunk = passage.chunk
        quoted = _quoted(answer, chunk)
        marks = ", ".join(f"[{n}]" for n in quoted)
        if number > len(passages):
            why = f"read past the top passages to look for a source that disagrees; quoted in " \
                  f"the answer as {marks}"
        elif quoted:
            why = f"quoted in the answer as {marks}"
        elif answer.abstained and answer.declined_because:
            why = f"not used: {answer.declined_because[:1].lower()}{answer.declined_because[1:]}"
        elif answer.abstained:
            why = (f"no sentence in it answered the question confidently enough (the answer's "
                   f"confidence was {answer.confidence:.2f})" if number == 1 else
                   "ranked lower than the passages above, which did not answer it either")
        elif passage.lexical == 0:
            why = "not quoted: found by meaning alone, none of the question's words are in it"
        else:
            why = "not quoted: the quoted sentences answered the question better"
        out.append(RetrievedPassage(
            rank=number, article_id=chunk.article_id, title=passage.article.title,
            start=chunk.start, end=chunk.end, text=chunk.text, dense=round(passage.dense, 4),
            lexical=round(passage.lexical, 4), fused=round(passage.fused, 4),
            reader=round(read[chunk.chunk_id], 4) if chunk.chunk_id in read else None,
            used=bool(quoted), why=why))
    return out


def _quoted(answer: Answer, chunk: ChunkRecord) -> list[int]:
    """The answer's citation numbers that quote this chunk."""
    return [c.n for c in answer.citations if c.article_id == chunk.article_id
            and chunk.start <= c.start < chunk.end]


def pieces_then(answer: Answer, words_per_piece: int = 4) -> Iterator[str | Answer]:
    """The offline answer streamed like a generated one: a few words at a time, then itself."""
    tokens = answer.answer.split(" ")
    for i in range(0, len(tokens), words_per_piece):
        yield (" " if i else "") + " ".join(tokens[i:i + words_per_piece])
    yield answer
