"""A citation of a retrieved sentence: what the offline answer and the generative answer's guard
both cite with (Citation in assistant/models.py)."""

from __future__ import annotations

from assistant.models import Citation
from assistant.retrieval import Candidate


def citation_for(n: int, cand: Candidate, score: float | None = None) -> Citation:
    article = cand.passage.article
    chunk = cand.passage.chunk
    return Citation(
        n=n, article_id=article.article_id, title=article.title, source=article.source,
        url=article.url, date=article.date, text=cand.text, start=cand.sentence.start,
        end=cand.sentence.end, score=round(cand.score if score is None else score, 4),
        passage=chunk.text, passage_start=chunk.start, passage_end=chunk.end)
