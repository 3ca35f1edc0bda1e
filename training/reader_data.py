"""Training examples for the reader: SQuAD 2.0 questions plus the hard negatives our failures show.

Pure Python (no torch), so the example construction can be tested and inspected on its own.

Every example is (question, context, answer text, answer start) with answer_start = -1 for "the
context does not answer". Besides the official examples, each answerable question yields, by
seeded chance:

- other_paragraph: the question against another paragraph of the same article that does not
  hold the answer (a near-topic passage, like a retrieved chunk that misses);
- other_article: the question against a paragraph of another article (off-topic);
- sentence_removed: the paragraph with every sentence that holds the answer taken out (the
  passage is on the question's topic and nearly answers it);
- swapped_detail: the question with one detail it shares with the paragraph (a year, a number or
  a name) replaced by one the paragraph does not mention, so the paragraph speaks of another
  year or event (news snippets about last year's final);
- cropped: a short window of sentences around the answer, positive, because retrieved windows
  and news snippets are shorter than SQuAD paragraphs;
- context_swapped: the paragraph with the detail the question names (a year, a number or a
  name) replaced throughout by another of its kind, so the passage reports another edition, year
  or person of the same kind of event and no longer answers (news about last year's final);
- long_passage: the paragraph between its neighbours in the article, several paragraphs like a
  news chunk, positive (its windows without the answer are negatives);
- noisy_question (reader v2): the question with typing noise and the label unchanged, answerable
  or not: adjacent letters swapped, a letter dropped or doubled, its casing changed, a code or a
  name in brackets appended. People type like this; the v1 reader declined half of such questions.

The split is by article (never by question), as the pool's README asks.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from index.text import split_sentences

POOL = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "squad2-pool" / "train.json"


@dataclass(frozen=True)
class Example:
    question: str
    context: str
    answer: str
    answer_start: int  # -1: the context does not answer the question
    kind: str  # "squad", or which hard negative / augmentation made it
    article: str

    @property
    def answerable(self) -> bool:
        return self.answer_start >= 0


@dataclass(frozen=True)
class Mix:
    """How many derived examples each answerable question yields (probabilities)."""

    other_paragraph: float = 0.35
    other_article: float = 0.10
    sentence_removed: float = 0.35
    swapped_detail: float = 0.50
    cropped: float = 0.30
    context_swapped: float = 0.0  # v2 kinds default off, so Mix() stays the v1 recipe
    long_passage: float = 0.0
    noisy_question: float = 0.0

    @classmethod
    def v2(cls) -> Mix:
        """Reader v2's recipe (`make train-reader`)."""
        return cls(context_swapped=0.35, long_passage=0.25, noisy_question=0.20)

    def without(self, kind: str) -> Mix:
        """The same recipe with one kind switched off (the model card's ablation)."""
        from dataclasses import replace

        return replace(self, **{kind: 0.0})


def load_pool(path: Path = POOL) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return json.load(f)["data"]


def split_articles(articles: list[dict], validation: int = 5, seed: int = 13
                   ) -> tuple[list[dict], list[dict]]:
    """A seeded split by article: `validation` whole articles are held out."""
    order = sorted(range(len(articles)), key=lambda i: articles[i]["title"])
    random.Random(seed).shuffle(order)
    held = set(order[:validation])
    train = [a for i, a in enumerate(articles) if i not in held]
    val = [a for i, a in enumerate(articles) if i in held]
    return train, val


def official_examples(articles: list[dict]) -> list[Example]:
    out = []
    for article in articles:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                if qa.get("is_impossible") or not qa["answers"]:
                    out.append(Example(qa["question"], context, "", -1, "squad", article["title"]))
                else:
                    a = qa["answers"][0]
                    out.append(Example(qa["question"], context, a["text"], a["answer_start"], "squad",
                                       article["title"]))
    return out


_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)?\b")
_NAME = re.compile(r"\b[A-Z][a-zA-Z\u00C0-\u017F'-]+"
                   r"(?:\s+(?:of\s+|de\s+|the\s+)?[A-Z][a-zA-Z\u00C0-\u017F'-]+)*")


def _names(text: str) -> list[str]:
    """Capitalised runs that are not just the sentence's first word."""
    found = []
    for m in _NAME.finditer(text):
        if m.start() == 0 or text[m.start() - 2:m.start()].strip() in {".", "?", "!"}:
            continue
        found.append(m.group(0))
    return found


def swap_detail(question: str, context: str, rng: random.Random, names: list[str]) -> str | None:
    """The question with one detail it shares with the context replaced by one the context lacks,
    or None when it shares no year, number or name with it."""
    ctx_lower = context.lower()
    options: list[tuple[str, str]] = []
    for m in _YEAR.finditer(question):
        if m.group(0) in context:
            year = int(m.group(0))
            for _ in range(10):
                other = str(year + rng.choice([-1, 1]) * rng.randint(1, 25))
                if other not in context:
                    options.append((m.group(0), other))
                    break
    if not options:
        for m in _NUMBER.finditer(question):
            if re.search(rf"\b{re.escape(m.group(0))}\b", context):
                value = m.group(0).replace(",", "")
                try:
                    number = float(value)
                except ValueError:
                    continue
                for _ in range(10):
                    factor = rng.choice([0.5, 2, 3, 1.5, 0.25, 10])
                    other = number * factor
                    text = f"{other:g}" if "." in value else f"{round(other):,}" if "," in m.group(0) \
                        else str(round(other))
                    if text != m.group(0) and not re.search(rf"\b{re.escape(text)}\b", context):
                        options.append((m.group(0), text))
                        break
    for name in _names(question):
        if name.lower() in ctx_lower and len(name) > 2:
            for _ in range(10):
                other = rng.choice(names)
                if other.lower() not in ctx_lower and other.lower() != name.lower():
                    options.append((name, other))
                    break
    if not options:
        return None
    old, new = rng.choice(options)
    swapped = question.replace(old, new, 1)
    return swapped if swapped != question else None


def _shared_details(question: str, context: str) -> list[tuple[str, str]]:
    """(kind, text) of each year, number or name the question and the context both hold."""
    found: list[tuple[str, str]] = []
    for m in _YEAR.finditer(question):
        if re.search(rf"\b{m.group(0)}\b", context):
            found.append(("year", m.group(0)))
    years = {t for _, t in found}
    for m in _NUMBER.finditer(question):
        if m.group(0) not in years and re.search(rf"\b{re.escape(m.group(0))}\b", context):
            found.append(("number", m.group(0)))
    for name in _names(question):
        if len(name) > 2 and re.search(rf"\b{re.escape(name)}\b", context):
            found.append(("name", name))
    return found


def swap_context_detail(question: str, context: str, answer: str, rng: random.Random,
                        names: list[str]) -> str | None:
    """The context with a detail the question names replaced everywhere by another of its kind
    that the context lacks: the passage now reports another year, figure or person, so it no
    longer answers the question. None when the question names no such detail, or when the detail
    is inside the answer (changing it would change the answer, not the event)."""
    options = [(k, t) for k, t in _shared_details(question, context) if t.lower() not in answer.lower()]
    if not options:
        return None
    kind, old = rng.choice(options)
    new = None
    for _ in range(10):
        if kind == "year":
            candidate = str(int(old) + rng.choice([-1, 1]) * rng.randint(1, 25))
        elif kind == "number":
            try:
                value = float(old.replace(",", ""))
            except ValueError:
                return None
            candidate = f"{value * rng.choice([0.5, 2, 3, 1.5, 0.25, 10]):g}"
        else:
            candidate = rng.choice(names) if names else ""
        if candidate and candidate.lower() != old.lower() and candidate.lower() not in context.lower() \
                and candidate.lower() not in question.lower():
            new = candidate
            break
    if new is None:
        return None
    swapped = re.sub(rf"\b{re.escape(old)}\b", new, context)
    return swapped if swapped != context else None


_KEYBOARD_CODES = ("conv", "ref", "id", "msg", "q", "ticket")


def noisy_question(question: str, rng: random.Random, names: list[str] | None = None) -> str:
    """The question as a hurried person might type it: one of adjacent letters swapped, a letter
    dropped or doubled (in a word of four letters or more), all lower or upper case, or a code or
    a name in brackets appended. The meaning, and so the label, is unchanged."""
    kind = rng.choice(["swap", "drop", "double", "lower", "upper", "code", "name"])
    words = question.split(" ")
    long_words = [i for i, w in enumerate(words) if sum(c.isalpha() for c in w) >= 4]
    if kind in ("swap", "drop", "double") and long_words:
        i = rng.choice(long_words)
        w = words[i]
        letters = [k for k, c in enumerate(w) if c.isalpha()]
        k = rng.choice(letters[1:-1] or letters)
        if kind == "swap" and k + 1 < len(w) and w[k + 1].isalpha() and w[k] != w[k + 1]:
            w = w[:k] + w[k + 1] + w[k] + w[k + 2:]
        elif kind == "drop":
            w = w[:k] + w[k + 1:]
        else:
            w = w[:k] + w[k] + w[k:]
        words[i] = w
        return " ".join(words)
    if kind == "lower":
        return question.lower()
    if kind == "upper":
        return question.upper()
    if kind == "name" and names:
        return f"{question} ({rng.choice(names)})"
    return f"{question} ({rng.choice(_KEYBOARD_CODES)}{rng.randint(10, 99999)})"


def _long_passage(paragraphs: list[str], index: int, start: int, rng: random.Random
                  ) -> tuple[str, int] | None:
    """The paragraph between up to two neighbours on each side, and the answer's new offset."""
    if len(paragraphs) < 2:
        return None
    lo = max(0, index - rng.randint(1, 2))
    hi = min(len(paragraphs), index + 1 + rng.randint(0, 2))
    if hi - lo < 2:
        return None
    before = "\n\n".join(paragraphs[lo:index])
    offset = len(before) + 2 if before else 0
    return "\n\n".join(paragraphs[lo:hi]), start + offset


def _remove_answer_sentences(context: str, start: int, end: int) -> str | None:
    sentences = split_sentences(context)
    kept = [s.text for s in sentences if s.end <= start or s.start >= end]
    if len(kept) == len(sentences) or not kept:
        return None
    return " ".join(kept)


def _crop(context: str, start: int, end: int, rng: random.Random) -> tuple[str, int] | None:
    sentences = split_sentences(context)
    inside = [i for i, s in enumerate(sentences) if s.start < end and s.end > start]
    if not inside or len(sentences) < 3:
        return None
    lo = max(0, inside[0] - rng.randint(0, 2))
    hi = min(len(sentences), inside[-1] + 1 + rng.randint(0, 2))
    first, last = sentences[lo], sentences[hi - 1]
    return context[first.start:last.end], start - first.start


def derived_examples(articles: list[dict], seed: int = 7, mix: Mix | None = None) -> list[Example]:
    """The hard negatives and crops, made only from the given articles."""
    mix = mix or Mix()
    rng = random.Random(seed)
    names = sorted({n for a in articles for p in a["paragraphs"] for qa in p["qas"]
                    for n in _names(qa["question"])})
    out: list[Example] = []
    for ai, article in enumerate(articles):
        paragraphs = [p["context"] for p in article["paragraphs"]]
        for pi, paragraph in enumerate(article["paragraphs"]):
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                if qa.get("is_impossible") or not qa["answers"]:
                    continue
                q = qa["question"]
                answer = qa["answers"][0]
                a_text, a_start = answer["text"], answer["answer_start"]
                a_end = a_start + len(a_text)
                title = article["title"]
                if rng.random() < mix.other_paragraph and len(paragraphs) > 1:
                    others = [c for j, c in enumerate(paragraphs)
                              if j != pi and a_text.lower() not in c.lower()]
                    if others:
                        out.append(Example(q, rng.choice(others), "", -1, "other_paragraph", title))
                if rng.random() < mix.other_article and len(articles) > 1:
                    other = articles[rng.choice([j for j in range(len(articles)) if j != ai])]
                    c = rng.choice(other["paragraphs"])["context"]
                    if a_text.lower() not in c.lower():
                        out.append(Example(q, c, "", -1, "other_article", title))
                if rng.random() < mix.sentence_removed:
                    rest = _remove_answer_sentences(context, a_start, a_end)
                    if rest and a_text.lower() not in rest.lower():
                        out.append(Example(q, rest, "", -1, "sentence_removed", title))
                if rng.random() < mix.swapped_detail:
                    swapped = swap_detail(q, context, rng, names)
                    if swapped:
                        out.append(Example(swapped, context, "", -1, "swapped_detail", title))
                if rng.random() < mix.cropped:
                    crop = _crop(context, a_start, a_end, rng)
                    if crop:
                        c, s = crop
                        if c[s:s + len(a_text)] == a_text:
                            out.append(Example(q, c, a_text, s, "cropped", title))
                if rng.random() < mix.context_swapped:
                    other_event = swap_context_detail(q, context, a_text, rng, names)
                    if other_event:
                        out.append(Example(q, other_event, "", -1, "context_swapped", title))
                if rng.random() < mix.long_passage:
                    long = _long_passage(paragraphs, pi, a_start, rng)
                    if long:
                        c, s = long
                        if c[s:s + len(a_text)] == a_text:
                            out.append(Example(q, c, a_text, s, "long_passage", title))
    if mix.noisy_question:
        # Noise over every kind of example, answerable or not, so that noise never means either.
        official = official_examples(articles)
        for e in official + out[:]:
            if rng.random() < mix.noisy_question:
                out.append(Example(noisy_question(e.question, rng, names), e.context, e.answer,
                                   e.answer_start, "noisy_question", e.article))
    return out


def build(seed: int = 7, validation: int = 5, mix: Mix | None = None,
          articles_cap: int | None = None, validation_mix: Mix | None = None
          ) -> tuple[list[Example], list[Example], list[str]]:
    """(train examples, validation examples, validation article titles). Validation holds the
    official examples of the held-out articles plus their derived ones, so it measures the
    hard negatives too. A different seed draws different derived examples from the same training
    articles (reader v2 draws them afresh each epoch); the validation set depends on its recipe
    only: `validation_mix`, by default `mix` (an ablation run validates on the whole recipe).

    `articles_cap` keeps only the first that many training articles and one validation article
    (a quick run of a few examples, `train_reader --limit`: deriving examples from the whole pool
    was most of such a run's time); None, the default, uses them all."""
    articles = load_pool()
    train_articles, val_articles = split_articles(articles, validation)
    if articles_cap is not None:
        train_articles, val_articles = train_articles[:articles_cap], val_articles[:1]
    train = official_examples(train_articles) + derived_examples(train_articles, seed, mix)
    val = official_examples(val_articles) + derived_examples(val_articles, 8, validation_mix or mix)
    random.Random(seed).shuffle(train)
    return train, val, [a["title"] for a in val_articles]


def main() -> None:
    from collections import Counter

    train, val, titles = build()
    print("validation articles:", ", ".join(titles))
    for name, rows in (("train", train), ("validation", val)):
        kinds = Counter(e.kind for e in rows)
        print(f"{name}: {len(rows)} examples, {sum(e.answerable for e in rows)} answerable; {dict(kinds)}")
    rng = random.Random(0)
    for e in rng.sample([e for e in train if e.kind == "swapped_detail"], 5):
        print(json.dumps(asdict(e))[:300])


if __name__ == "__main__":
    main()
