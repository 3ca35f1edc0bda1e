"""The public data types: Answer, Citation and what they carry. Plain pydantic models, so an
Answer serialises to the same JSON in the CLI, the web API and the evaluation reports."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Citation(BaseModel):
    n: int = Field(description="the marker number: [n] in the answer text")
    article_id: str
    title: str
    source: str = Field(description="the ingested path or URL")
    url: str = ""
    date: str = ""
    text: str = Field(description="verbatim quote from the article")
    start: int = Field(description="offset of the quote in the article's text")
    end: int
    score: float = Field(description="how strongly the passage supports the sentence citing it")
    passage: str = Field(default="", description="the retrieved chunk around the quote")
    passage_start: int = 0
    passage_end: int = 0
    page: int | None = Field(default=None, description="the page of a paginated source (a PDF) "
                             "the quote starts on")
    answer_start: int | None = Field(
        default=None, description="offset in the article's text of the short answer the reader "
        "found inside this quote (None when this citation holds no short answer)")
    answer_end: int | None = None


class SentenceSupport(BaseModel):
    text: str
    citations: list[int] = Field(default_factory=list)
    support: float = Field(description="0..1, support of the sentence by its cited passages")
    supported: bool = True
    note: str = ""


class ConflictSide(BaseModel):
    citation: int
    value: str
    article_id: str
    title: str


class Conflict(BaseModel):
    topic: str = Field(description="what the sources disagree on, e.g. 'hours'")
    sides: list[ConflictSide]


class GuardCheck(BaseModel):
    """What the grounding guard found for one sentence of a generated answer."""

    text: str = Field(description="the generated sentence, citation markers removed")
    cited: list[int] = Field(default_factory=list,
                             description="passage numbers the model cited for it")
    support_cited: float = Field(description="0..1, support by the passages it cited")
    support: float = Field(description="0..1, support by the best retrieved passage")
    action: Literal["kept", "repaired", "trimmed", "removed", "dropped"] = Field(
        description="kept as written; repaired (citations re-pointed or added); trimmed "
        "(unsupported clauses cut); removed (no passage supports it); dropped (not a claim, "
        "e.g. the model saying the articles don't say)")
    kept_text: str = Field(default="", description="what of it reached the answer")
    citations: list[int] = Field(default_factory=list,
                                 description="its [n] markers in the final answer")
    reason: str = ""


class GuardReport(BaseModel):
    """What the grounding guard did to a generated answer before it reached the reader."""

    model: str = ""
    generated: str = Field(description="the model's raw reply")
    outcome: Literal["generated", "fallback_extractive", "abstained"]
    checks: list[GuardCheck] = Field(default_factory=list)
    supported_before: float = Field(
        default=0.0, description="share of generated sentences some retrieved passage supports")
    cited_supported_before: float = Field(
        default=0.0, description="share of generated sentences supported by the passage they cite")
    supported_after: float = Field(default=0.0,
                                   description="share of final sentences their citations support")
    changes: list[str] = Field(default_factory=list)


class Scope(BaseModel):
    """Which articles a question may be answered from: given ids and/or a publication-date range
    (ISO dates, inclusive; an article without a date is outside any range). Empty: all."""

    # A misspelt key ("date_form") must be an error, not a scope silently widened to everything.
    model_config = ConfigDict(extra="forbid")

    article_ids: list[str] = Field(default_factory=list)
    date_from: str | None = Field(default=None, description="YYYY-MM-DD, inclusive")
    date_to: str | None = Field(default=None, description="YYYY-MM-DD, inclusive")

    def is_everything(self) -> bool:
        return not (self.article_ids or self.date_from or self.date_to)


class RetrievedPassage(BaseModel):
    """One passage the question retrieved, with the scores that ranked it and whether the
    answer used it, so a reader can see what else was found and why an answer abstained."""

    rank: int = Field(description="1 = best")
    article_id: str
    title: str
    start: int = Field(description="offsets of the passage in the article's text")
    end: int
    text: str
    dense: float = Field(description="cosine similarity of the question and the passage")
    lexical: float = Field(description="BM25 score of the question's words (0: none matched)")
    fused: float = Field(description="the reciprocal-rank fusion of the two, which ranks")
    reader: float | None = Field(default=None, description="with answerer='reader': the "
                                 "calibrated probability of the reader's best span in it")
    used: bool = Field(description="a citation of the answer quotes this passage")
    why: str = Field(description="why it was or was not used, in words")


AnswerStatus = Literal["answered", "tentative", "declined"]
ABSTAIN_TEXT = "The articles don't say."
TENTATIVE_LEAD = "Not sure: the closest passage says"


class Answer(BaseModel):
    question: str
    answer: str
    abstained: bool
    status: AnswerStatus = Field(
        default="answered", description="answered: shown plainly (with answerer='reader', above the "
        "confidence band fitted on validation, where such answers were right at least 80 % of the time); "
        "tentative: the closest passage is quoted but the assistant is not sure it answers "
        f"(the text starts '{TENTATIVE_LEAD}'); declined: the articles don't say")
    declined_because: str = Field(
        default="", description="with a decline, why the articles don't say when more is known than "
        "that no passage answers well enough: e.g. the question names a year that none of the "
        "articles read mentions ('' otherwise)")
    short_answer: str = Field(default="", description="with answerer='reader' (the default): the "
                              "reader's answer span, verbatim from the article; the citation holding it has "
                              "answer_start/answer_end ('' when abstaining, and with the heuristic "
                              "answerer)")
    citations: list[Citation] = Field(default_factory=list)
    sentences: list[SentenceSupport] = Field(default_factory=list)
    conflicts: list[Conflict] = Field(default_factory=list)
    backend: str = "extractive"
    confidence: float = Field(default=0.0, description="how sure the answerer is: with answerer='reader', "
                              "its calibrated probability that the short answer is right (see the "
                              "README); the heuristic answerer's fitted confidence otherwise")
    confidence_calibrated: bool = Field(
        default=False, description="whether `confidence` is a calibrated probability (the reader's, "
        "fitted on held-out validation articles); when False it only ranks answers, and the web "
        "chat shows a plain label (strong or weak evidence) instead of a percentage")
    notes: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    query: str = Field(default="", description="the standalone question retrieval used, when a "
                       "chat follow-up was rewritten")
    guard: GuardReport | None = Field(default=None,
                                      description="the grounding guard's report (LLM answers)")
    scope: Scope | None = Field(default=None, description="the articles the question was limited "
                                "to (None: every indexed article)")
    passages: list[RetrievedPassage] = Field(
        default_factory=list, description="every passage retrieved for the question, best first")


class Source(BaseModel):
    """One indexed article, as `assistant sources` lists it."""

    article_id: str
    title: str
    source: str
    url: str = ""
    date: str = ""
    chunks: int
    # The local file it was read from, when it came from one: a JSON or feed file holds many
    # articles, each with its own `source` (its URL), so this is what ingesting again restores.
    # Not named `path`: Gradio's client takes any object with a "path" for a file to download,
    # and the chat's /sources endpoint returns these.
    file: str = ""


class IngestSummary(BaseModel):
    added: int
    updated: int
    unchanged: int
    removed: int
    failed: list[str]
    chunks: int
    tokens: int
    seconds: float
    tokens_per_second: float
    repaired: int = Field(default=0, description="vectors rebuilt from the catalog before "
                          "ingesting (the store had lost them)")
