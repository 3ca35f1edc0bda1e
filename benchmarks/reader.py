"""Issue 9's figures for the trained reader, printed: abstention, short answers and conflicts on
the dev sets, and question-time speed. Every set here is a dev set: none was used to train the
reader or fit its threshold (training/ reads only squad2-pool).

    python -m benchmarks.reader [--answerer reader|heuristic] [--datasets ../shared/datasets]
                                [--articles ../shared/articles] [--json out.json]
                                [--only squad2-normans,rgb-dev-noise,...]

- squad2-normans: unanswerable declined, false abstention, gold answer in the answer (word
  boundaries), short-answer token F1 on answerable questions (an abstention scores 0; also given
  over the answered ones).
- rgb-dev-noise: declined (every question's snippets lack the answer).
- rgb-dev-conflict: both values shown, each in a citation that holds it, and reported as a conflict.
- user-articles (evals/datasets/user-articles over the user's articles): near-topic and off-topic
  declined, the conflict questions reported, spurious conflicts on the others.
- speed: in-process ask p50/p95 over the user's articles plus samples/articles, cold
  `python -m assistant ask`.
- every set: what share of its questions the answer status puts in each band (answered plainly,
  tentative, declined) and, where the set has gold answers, how often the plain and the
  tentative answers hold one.
- user-articles-typo: every answerable user-articles question with one typo (two adjacent
  letters of its longest lower-case word swapped), gold in the answer against the original's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from assistant import Answer, Assistant
from evals.answer_match import holds_answer, normalize_answer, token_f1
from evals.scorer_check import roc_auc

ROOT = Path(__file__).resolve().parent.parent


def _questions(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


ANSWERER = "reader"  # set by --answerer


def _ask_all(articles: list[Path], questions: list[dict]) -> list[tuple[dict, Answer]]:
    with tempfile.TemporaryDirectory() as store:
        assistant = Assistant(store=store, answerer=ANSWERER)
        assistant.ingest(articles)
        return [(q, assistant.ask(q["question"])) for q in questions]


def _rate(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def bands(results: list[tuple[dict, Answer]], gold: str = "answers") -> dict[str, float | None]:
    """The share of questions in each answer status, and how often each answered band holds gold."""
    def holds(q: dict, a: Answer) -> bool:
        return bool(q.get(gold)) and holds_answer(a.answer, q[gold])

    plain = [(q, a) for q, a in results if a.status == "answered"]
    tentative = [(q, a) for q, a in results if a.status == "tentative"]
    out: dict[str, float | None] = {
        "band_answered": _rate([a.status == "answered" for _, a in results]),
        "band_tentative": _rate([a.status == "tentative" for _, a in results]),
        "band_declined": _rate([a.status == "declined" for _, a in results])}
    if any(q.get(gold) is not None for q, _ in results):
        out["plain_holds_gold"] = _rate([holds(q, a) for q, a in plain])
        out["tentative_holds_gold"] = _rate([holds(q, a) for q, a in tentative])
    return out


def one_typo(question: str) -> str:
    """Two adjacent letters swapped in the middle of the question's longest lower-case word."""
    words = question.split(" ")
    candidates = [i for i, w in enumerate(words) if w.isalpha() and w.islower() and len(w) >= 5]
    if not candidates:
        return question
    i = max(candidates, key=lambda k: (len(words[k]), -k))
    w = words[i]
    k = len(w) // 2 - 1
    words[i] = w[:k] + w[k + 1] + w[k] + w[k + 2:] if w[k] != w[k + 1] else w[:k] + w[k + 1:]
    return " ".join(words)


def squad(dataset: Path) -> dict[str, float | int | None]:
    results = _ask_all([dataset / "articles"], _questions(dataset / "questions.jsonl"))
    answerable = [(q, a) for q, a in results if q["answers"]]
    unanswerable = [(q, a) for q, a in results if not q["answers"]]
    answered = [(q, a) for q, a in answerable if not a.abstained]
    return {
        "questions": len(results),
        "unanswerable_declined": _rate([a.abstained for _, a in unanswerable]),
        "false_abstention": _rate([a.abstained for _, a in answerable]),
        "gold_in_answer": _rate([not a.abstained and holds_answer(a.answer, q["answers"])
                                 for q, a in answerable]),
        "short_answer_f1": round(statistics.mean(
            token_f1(a.short_answer, q["answers"]) if not a.abstained else 0.0 for q, a in answerable), 4)
        if answerable else None,
        "short_answer_f1_answered": round(statistics.mean(
            token_f1(a.short_answer, q["answers"]) for q, a in answered), 4) if answered else None,
        "short_answer_exact_answered": _rate([token_f1(a.short_answer, q["answers"]) == 1.0
                                              for q, a in answered]),
        # How well the answer's confidence (kept on an abstention too) separates answerable
        # questions from unanswerable ones, whatever the threshold.
        "answerable_roc_auc": round(roc_auc([a.confidence for _, a in results],
                                            [bool(q["answers"]) for q, _ in results]) or 0.0, 4),
        **bands(results),
    }


def noise(dataset: Path) -> dict[str, float | int | None]:
    results = _ask_all([dataset / "articles"], _questions(dataset / "questions.jsonl"))
    return {"questions": len(results), "declined": _rate([a.abstained for _, a in results]),
            "answered_with_true_answer": _rate([not a.abstained and holds_answer(
                a.answer, q.get("answer_would_be", [])) for q, a in results]),
            **bands(results, gold="answer_would_be")}


def _shown_and_cited(answer: Answer, spellings: list[str]) -> bool:
    """One spelling of the value is in the answer text and in the text of a citation."""
    if answer.abstained:
        return False
    return any(holds_answer(answer.answer, [s]) and any(holds_answer(c.text, [s]) for c in answer.citations)
               for s in spellings)


def conflict(dataset: Path) -> dict[str, float | int | None]:
    results = _ask_all([dataset / "articles"], _questions(dataset / "questions.jsonl"))
    both = [all(_shown_and_cited(a, side) for side in q["values"]) for q, a in results]
    reported = []
    for q, a in results:
        sides = [normalize_answer(s.value) for c in a.conflicts for s in c.sides]
        reported.append(bool(a.conflicts) and all(
            any(holds_answer(v, spellings) or normalize_answer(spellings[0]) in v for v in sides)
            for spellings in q["values"]))
    return {"questions": len(results), "both_values_shown_and_cited": _rate(both),
            "conflict_reported_with_both_values": _rate(reported),
            "declined": _rate([a.abstained for _, a in results]), **bands(results)}


def user_articles(articles: Path) -> dict[str, float | int | None]:
    questions = _questions(ROOT / "evals" / "datasets" / "user-articles" / "questions.jsonl")
    results = _ask_all([articles], questions)

    def tagged(tag: str) -> list[tuple[dict, Answer]]:
        return [(q, a) for q, a in results if tag in q["tags"]]

    answerable = [(q, a) for q, a in results if q["answers"]]
    return {
        "questions": len(results),
        "near_topic_declined": _rate([a.abstained for _, a in tagged("near-topic-unanswerable")]),
        "off_topic_declined": _rate([a.abstained for _, a in tagged("off-topic-unanswerable")]),
        "conflict_reported": _rate([bool(a.conflicts) for _, a in tagged("conflict")]),
        "spurious_conflicts": _rate([bool(a.conflicts) for q, a in results if "conflict" not in q["tags"]]),
        "false_abstention": _rate([a.abstained for _, a in answerable]),
        "gold_in_answer": _rate([not a.abstained and holds_answer(a.answer, q["answers"])
                                 for q, a in answerable]),
        **bands(results),
    }


def user_articles_typo(articles: Path) -> dict[str, float | int | None]:
    """Each answerable question asked as typed and with one typo: gold in the answer for both."""
    questions = [q for q in _questions(ROOT / "evals" / "datasets" / "user-articles" / "questions.jsonl")
                 if q["answers"]]
    typed = [{**q, "question": one_typo(q["question"])} for q in questions]
    changed = [i for i, (q, t) in enumerate(zip(questions, typed, strict=True))
               if q["question"] != t["question"]]
    original = _ask_all([articles], [questions[i] for i in changed])
    misspelt = _ask_all([articles], [typed[i] for i in changed])
    gold = _rate([not a.abstained and holds_answer(a.answer, q["answers"]) for q, a in original])
    gold_typo = _rate([not a.abstained and holds_answer(a.answer, q["answers"]) for q, a in misspelt])
    return {"questions": len(changed), "gold_in_answer": gold, "gold_in_answer_with_a_typo": gold_typo,
            "points_lost": round(100 * ((gold or 0) - (gold_typo or 0)), 1),
            "read_as_corrected": _rate([a.query == q["question"] for (q, _), (_, a)
                                        in zip(original, misspelt, strict=True)])}


def speed(articles: Path, rounds: int = 60) -> dict[str, float]:
    """benchmarks.core's speed run, over the user's articles plus samples/articles and the gold
    set's questions, with the chosen answerer."""
    from benchmarks.core import speed as timed

    questions = [q["question"] for q in _questions(ROOT / "evals" / "datasets" / "user-articles" /
                                                   "questions.jsonl")]
    figures = timed([articles, ROOT / "samples" / "articles"], rounds, questions=questions,
                    answerer=ANSWERER)
    return {"ask_p50_ms": round(figures["ask_p50_ms"], 1), "ask_p95_ms": round(figures["ask_p95_ms"], 1),
            "cold_ask_s_median_of_3": round(figures["cold_ask_s_median_of_3"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--articles", type=Path, default=ROOT.parent / "shared" / "articles")
    parser.add_argument("--only", default="", help="comma-separated sections to run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--answerer", choices=["reader", "heuristic"], default="reader")
    args = parser.parse_args()
    global ANSWERER
    ANSWERER = args.answerer
    sections = {
        "squad2-normans": lambda: squad(args.datasets / "squad2-normans"),
        "rgb-dev-noise": lambda: noise(args.datasets / "rgb-dev-noise"),
        "rgb-dev-conflict": lambda: conflict(args.datasets / "rgb-dev-conflict"),
        "user-articles": lambda: user_articles(args.articles),
        "user-articles-typo": lambda: user_articles_typo(args.articles),
        "speed": lambda: speed(args.articles),
    }
    wanted = [s for s in args.only.split(",") if s] or list(sections)
    figures = {}
    for name in wanted:
        started = time.perf_counter()
        figures[name] = sections[name]()
        print(f"[{name}]  ({time.perf_counter() - started:.0f} s)")
        for key, value in figures[name].items():
            print(f"  {key:32s} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
