"""Fit how alike two sentences must be for two different phrases in them to be shown as sources
that disagree (assistant/tuning.py PHRASE_CONFLICT_COSINE).

    python -m training.fit_conflict_similarity [--pairs 3000] [--seed 5]

Two amounts or dates of one kind contradict each other in any wording, and so do two names
("designed by the architect Maria Lopez" against "by the architect Hannah Berg, the city said").
A phrase ("smooth and quiet", "a great success", "neutral ground") does only when the sentences
report the same thing: "passengers described the crossing as smooth" against "the operator
called the first week a great success" are two facts, not a dispute. What this fits is the
cosine of the two sentences' vectors (the catalog's embedding model) that tells the two apart
when one side is a phrase (its first letter not a capital), on squad2-pool's training articles
(never a dev set):

- a report that disagrees: an answer's sentence, and the same sentence with the answer replaced
  by another question's answer, a phrase for a phrase, as two sources that contradict each
  other on one detail do;
- two facts of one article: the sentences of two questions' answers in the same article,
  different, one of them a phrase, and alike enough (SAME_TOPIC_COSINE) that the conflict check
  would otherwise compare them. Wikipedia does not contradict itself within an article, so a
  pair here is a spurious conflict.

The threshold is the one that best separates the two (Youden's J: most disagreeing reports kept
less most spurious pairs kept). Seeded; prints the figures that go beside the constant.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass

import numpy as np

from assistant.tuning import SAME_TOPIC_COSINE
from assistant.values import read_value
from index.embedding import LocalMiniLM
from index.text import split_sentences
from training.reader_data import load_pool, split_articles


@dataclass(frozen=True)
class Answered:
    article: int
    sentence: str  # the sentence holding the answer
    answer: str


def _is_name(text: str) -> bool:
    return text[:1].isupper()


def answered_sentences(articles: list[dict]) -> list[Answered]:
    """Every answerable question's first answer whose value is a name or phrase (not an amount or
    a date), with the one sentence that holds it."""
    out: list[Answered] = []
    for a_index, article in enumerate(articles):
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            sentences = split_sentences(context)
            for qa in paragraph["qas"]:
                if qa.get("is_impossible") or not qa["answers"]:
                    continue
                answer = qa["answers"][0]
                text, start = answer["text"].strip(), answer["answer_start"]
                if not text or read_value(text).kind != "text":
                    continue
                holding = [s for s in sentences if s.start <= start and start + len(text) <= s.end]
                if holding:
                    out.append(Answered(a_index, holding[0].text, text))
    return out


def pairs(answered: list[Answered], count: int, seed: int) -> tuple[list[tuple[str, str]],
                                                                    list[tuple[str, str]]]:
    """(disagreeing reports on a phrase, two facts of one article with a phrase), up to `count`
    candidates each."""
    rng = random.Random(seed)
    phrases = [a.answer for a in answered if not _is_name(a.answer)]
    reports: list[tuple[str, str]] = []
    phrased = [a for a in answered if not _is_name(a.answer)]
    for item in rng.sample(phrased, min(count, len(phrased))):
        other = rng.choice(phrases)
        if other.lower() == item.answer.lower() or other.lower() in item.sentence.lower():
            continue
        reports.append((item.sentence, item.sentence.replace(item.answer, other, 1)))
    by_article: dict[int, list[Answered]] = {}
    for item in answered:
        by_article.setdefault(item.article, []).append(item)
    facts: list[tuple[str, str]] = []
    articles = [group for group in by_article.values() if len(group) > 1]
    for _ in range(count * 3):
        group = rng.choice(articles)
        first, second = rng.sample(group, 2)
        if not (_is_name(first.answer) and _is_name(second.answer)) \
                and first.sentence != second.sentence \
                and first.answer.lower() != second.answer.lower() \
                and first.answer.lower() not in second.sentence.lower():
            facts.append((first.sentence, second.sentence))
        if len(facts) >= count:
            break
    return reports, facts


def cosines(embedder: LocalMiniLM, pairs_: list[tuple[str, str]]) -> np.ndarray:
    if not pairs_:
        return np.zeros(0)
    first = embedder.embed([a for a, _ in pairs_])
    second = embedder.embed([b for _, b in pairs_])
    return np.einsum("ij,ij->i", first, second)


def youden(positive: np.ndarray, negative: np.ndarray) -> tuple[float, float, float]:
    """The threshold with the largest TPR - FPR, and those two rates."""
    best = (0.0, 1.0, 1.0, -1.0)
    for t in np.unique(np.concatenate([positive, negative])):
        tpr, fpr = float(np.mean(positive >= t)), float(np.mean(negative >= t))
        if tpr - fpr > best[3]:
            best = (float(t), tpr, fpr, tpr - fpr)
    return best[0], best[1], best[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    train, _ = split_articles(load_pool())
    answered = answered_sentences(train)
    reports, facts = pairs(answered, args.pairs, args.seed)
    embedder = LocalMiniLM()
    positive = cosines(embedder, reports)
    negative = cosines(embedder, facts)
    # Only pairs the conflict check compares at all are to be told apart.
    negative = negative[negative >= SAME_TOPIC_COSINE]
    threshold, tpr, fpr = youden(positive, negative)
    print(f"squad2-pool training split: {len(train)} articles, {len(answered)} name/phrase "
          f"answers, {sum(not _is_name(a.answer) for a in answered)} of them phrases")
    print(f"disagreeing reports: {len(positive)}, cosine p5/p50 "
          f"{np.percentile(positive, 5):.3f}/{np.percentile(positive, 50):.3f}")
    print(f"two facts of one article (cosine >= {SAME_TOPIC_COSINE}): {len(negative)}, "
          f"p50/p95 {np.percentile(negative, 50):.3f}/{np.percentile(negative, 95):.3f}")
    print(f"PHRASE_CONFLICT_COSINE = {threshold:.2f}: keeps {tpr:.1%} of the disagreeing reports "
          f"and {fpr:.1%} of the spurious pairs")


if __name__ == "__main__":
    main()
