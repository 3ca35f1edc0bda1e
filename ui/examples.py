"""Example questions worth asking, made from the articles' own sentences and checked by
answering them before they are offered.

A sentence of a common news shape becomes a question whose answer it holds:
"The Riverside Line ... has 22 stops." -> "How many stops does the Riverside Line have?",
"The talks ... lasted nearly four hours." -> "How long did the talks last?",
"The new line ... cost $870 million." -> "How much did the new line cost?",
"The library reopened on Monday ..." -> "When did the library reopen?".
A candidate is offered only when the assistant answers it, quoting the very sentence it came
from: a question the assistant would decline, or answer from elsewhere, is never suggested.
Plain patterns, no model: they miss many sentences, but what they make is checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from assistant import Assistant, AssistantError, Source
from index.text import split_sentences, words

# "The" and up to five words, shortest first, up to the first common verb: the subject of the
# sentence's first clause.
_VERBS = (r"is|was|are|were|has|have|had|took|takes|will|would|lasted|cost|costs|opened|"
          r"reopened|closed|began|started|ended|launched|said|says|won|wins|runs|ran|can|could")
_SUBJECT = r"(?P<subj>The(?: [\w'’-]+){1,5}?)(?= (?:" + _VERBS + r")\b)"
# Anything up to the verb within the clause ("." only inside a number, as in 14.2).
_FILL = r" (?:(?:[^.;]|\.(?=\d))*? )?"
_COUNT = re.compile(_SUBJECT + _FILL + r"(?P<verb>has|have|had) "
                    r"(?P<num>\d[\d,.]*|two|three|four|five|six|seven|eight|nine|ten|twelve) "
                    r"(?P<noun>[a-z]+s)\b")
_LASTED = re.compile(_SUBJECT + _FILL + r"lasted\b")
_COST = re.compile(_SUBJECT + _FILL + r"cost(?:ing)? (?:about |nearly |more than |over )?"
                   r"[$£€\d]")
_WHEN = re.compile(_SUBJECT + r" (?P<verb>opened|reopened|closed|began|started|ended|launched)"
                   r" (?:on|in) ")
_BASE = {"opened": "open", "reopened": "reopen", "closed": "close", "began": "begin",
         "started": "start", "ended": "end", "launched": "launch"}
# Subjects that say nothing on their own ("The company has 40 staff" needs its name).
_VAGUE = {"the company", "the city", "the group", "the team", "the government", "the report",
          "the study", "the event", "the move", "the plan", "the deal"}


@dataclass(frozen=True)
class Candidate:
    question: str
    article_id: str
    sentence: str


def _lower_the(subject: str) -> str:
    return "the" + subject[3:]


def questions_from_sentence(sentence: str) -> Iterator[str]:
    """The questions a sentence of a known shape answers (none for other sentences)."""
    sentence = " ".join(sentence.split())
    if (m := _COUNT.match(sentence)) and m["subj"].lower() not in _VAGUE:
        verb = {"has": "does", "have": "do", "had": "did"}[m["verb"]]
        yield f"How many {m['noun']} {verb} {_lower_the(m['subj'])} have?"
    if (m := _LASTED.match(sentence)) and m["subj"].lower() not in _VAGUE:
        yield f"How long did {_lower_the(m['subj'])} last?"
    if (m := _COST.match(sentence)) and m["subj"].lower() not in _VAGUE:
        yield f"How much did {_lower_the(m['subj'])} cost?"
    if (m := _WHEN.match(sentence)) and m["subj"].lower() not in _VAGUE:
        yield f"When did {_lower_the(m['subj'])} {_BASE[m['verb']]}?"


def candidates(assistant: Assistant, sources: Sequence[Source], limit: int = 24
               ) -> list[Candidate]:
    """Questions from the sentences of each article, one article after another so every
    article gets a turn before one gets a second."""
    per_article: list[list[Candidate]] = []
    for source in sources:
        try:
            article = assistant.article(source.article_id)
        except AssistantError:
            continue
        found: list[Candidate] = []
        for span in split_sentences(str((article or {}).get("text") or "")):
            sentence = span.text
            for question in questions_from_sentence(sentence):
                if all(c.question != question for c in found):
                    found.append(Candidate(question, source.article_id, sentence))
        if found:
            per_article.append(found)
    out: list[Candidate] = []
    for turn in range(max((len(f) for f in per_article), default=0)):
        out += [found[turn] for found in per_article if turn < len(found)]
    return out[:limit]


def checked_examples(assistant: Assistant, sources: Sequence[Source], n: int) -> list[str]:
    """Up to `n` questions the assistant answers by quoting the sentence each was made from."""
    offered: list[str] = []
    for candidate in candidates(assistant, sources):
        try:
            answer = assistant.ask(candidate.question)
        except AssistantError:
            continue
        quoted = " ".join(c.text for c in answer.citations
                          if c.article_id == candidate.article_id)
        if not answer.abstained and quoted and (
                candidate.sentence in quoted or quoted in candidate.sentence
                or _overlap(candidate.sentence, quoted) >= 0.6):
            offered.append(candidate.question)
            if len(offered) == n:
                break
    return offered


def _overlap(a: str, b: str) -> float:
    wa, wb = set(words(a)), set(words(b))
    return len(wa & wb) / max(1, min(len(wa), len(wb)))
