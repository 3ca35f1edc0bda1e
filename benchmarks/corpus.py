"""A seeded generator of article-sized local-news documents, and the questions they answer.

Two modes:

* `fresh_corpus`: every article is written from templates with its own random facts, so every
  sentence is new and has to be embedded for real. Used for the side-by-side ingest figures.
* `pooled_corpus`: articles are composed from the paragraphs of a fixed pool of fresh articles.
  The pool's sentences are embedded once (and cached on disk), so a 10,000- or 100,000-article
  corpus can be ingested in minutes on two cores: the scale series measures everything except
  the model, whose cost per token is measured separately and is the same at every size.

The prose is template news (councils, transit, weather, earnings, fires, sport, schools, health),
about 450-650 words an article, with bylines, quotes, numbers and dates, which is what the
extractive answerer and the BM25 index care about. Output is deterministic for a given seed.
The templates are in benchmarks/corpus_topics.py.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.corpus_topics import DESKS, FIRST, LAST, TOPICS, Fact, Fill, generic_sentence


@dataclass
class GeneratedArticle:
    title: str
    byline: str
    paragraphs: list[str]
    topic: str
    facts: list[Fact] = field(default_factory=list)

    def render(self) -> str:
        """The article as a .txt file: title line, byline, then paragraphs."""
        return "\n\n".join([self.title, self.byline, *self.paragraphs]) + "\n"



def generate_article(rng: random.Random) -> GeneratedArticle:
    f = Fill(rng)
    topic = rng.choice(TOPICS)
    title, lead, body, facts = topic(f)
    sentences = list(body)
    rng.shuffle(sentences)
    # Real articles run longer than one pass over the templates: pad with generic sentences
    # and a second, re-filled pass of the topic's body.
    extra_fill = Fill(rng)
    extra_fill.town, extra_fill.people = f.town, f.people
    sentences += list(dict.fromkeys(generic_sentence(f) for _ in range(rng.randint(10, 16))))
    sentences += rng.sample(topic(extra_fill)[2], rng.randint(4, 7))
    # A template without random slots comes out the same twice; an article says it once.
    sentences = list(dict.fromkeys(sentences))
    rng.shuffle(sentences)
    paragraphs = [" ".join(lead)]
    i = 0
    while i < len(sentences):
        size = rng.randint(2, 4)
        paragraphs.append(" ".join(sentences[i:i + size]))
        i += size
    byline = f"By {rng.choice(FIRST)} {rng.choice(LAST)}, {rng.choice(DESKS)} | {f.date()}"
    return GeneratedArticle(title, byline, paragraphs, topic.__name__.strip("_"), facts)


def fresh_corpus(n: int, seed: int) -> list[GeneratedArticle]:
    rng = random.Random(seed)
    return [generate_article(rng) for _ in range(n)]


@dataclass
class Pool:
    """Fresh articles whose paragraphs the pooled corpora are built from."""

    articles: list[GeneratedArticle]

    def by_topic(self) -> dict[str, list[GeneratedArticle]]:
        out: dict[str, list[GeneratedArticle]] = {}
        for article in self.articles:
            out.setdefault(article.topic, []).append(article)
        return out


def make_pool(n_articles: int, seed: int) -> Pool:
    return Pool(fresh_corpus(n_articles, seed))


def pooled_corpus(pool: Pool, n: int, seed: int) -> Iterator[GeneratedArticle]:
    """n articles, each a lead paragraph (with its facts) and byline from one pool article plus
    body paragraphs from others of the same topic. Every sentence is a pool sentence."""
    rng = random.Random(seed)
    topics = pool.by_topic()
    names = sorted(topics)
    for _ in range(n):
        same = topics[rng.choice(names)]
        base = rng.choice(same)
        body: list[str] = []
        for _ in range(rng.randint(5, 8)):
            donor = rng.choice(same)
            body.append(rng.choice(donor.paragraphs[1:]))
        yield GeneratedArticle(base.title, base.byline, [base.paragraphs[0], *body], base.topic,
                               base.facts)


def write_corpus(articles: Iterator[GeneratedArticle] | list[GeneratedArticle], folder: Path,
                 per_folder: int = 1000) -> list[GeneratedArticle]:
    """Write one .txt per article (in sub-folders of per_folder files, as a news archive would
    be laid out). Returns the articles written."""
    written = []
    for i, article in enumerate(articles):
        sub = folder / f"part-{i // per_folder:04d}"
        if i % per_folder == 0:
            sub.mkdir(parents=True, exist_ok=True)
        (sub / f"article-{i:06d}.txt").write_text(article.render(), encoding="utf-8")
        written.append(article)
    return written


def questions_for(articles: list[GeneratedArticle], n: int, seed: int) -> list[Fact]:
    """n (question, answer) pairs drawn from the articles' facts, seeded."""
    rng = random.Random(seed)
    facts = [fact for a in articles for fact in a.facts]
    return rng.sample(facts, min(n, len(facts)))


def pool_sentences(pool: Pool) -> list[str]:
    """Every sentence our pipeline will see in a pooled corpus, split as the loader splits it."""
    from index.clean import clean_text
    from index.text import split_sentences

    out: list[str] = []
    for article in pool.articles:
        body = "\n\n".join([article.byline, *article.paragraphs])
        out.extend(s.text for s in split_sentences(clean_text(body)))
    return out
