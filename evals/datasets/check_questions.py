"""Sanity-check a gold question set against its articles.

Usage (from the repository root):
    python3 evals/datasets/check_questions.py evals/datasets/sample
    python3 evals/datasets/check_questions.py evals/datasets/user-articles --articles ../shared/articles

Checks, for every line of questions.jsonl:
  * required keys and types; ids unique; tags include exactly one of answerable/unanswerable,
    consistent with whether the answers list is empty;
  * every evidence snippet occurs verbatim in one article's text;
  * for answerable questions, every acceptable answer occurs (case-insensitively) in the articles.
Article text is read with the standard library only: .txt/.md as-is, .html with tags stripped and
entities unescaped, .jsonl as the "text" (and "title") fields of each record.
"""
import argparse
import html
import json
import os
import re
import sys


def _norm(s):
    return re.sub(r"\s+", " ", s)


def load_texts(articles_dir):
    texts = {}
    for name in sorted(os.listdir(articles_dir)):
        path = os.path.join(articles_dir, name)
        if not os.path.isfile(path) or name.lower() == "readme.md":
            continue
        raw = open(path, encoding="utf-8").read()
        if name.endswith((".html", ".htm")):
            texts[name] = html.unescape(re.sub(r"<[^>]+>", " ", raw))
        elif name.endswith(".jsonl"):
            for i, line in enumerate(raw.splitlines()):
                if line.strip():
                    rec = json.loads(line)
                    texts[f"{name}#{i}"] = rec.get("title", "") + "\n\n" + rec["text"]
        else:
            texts[name] = raw
    return {k: _norm(v) for k, v in texts.items()}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--articles", help="articles folder (default: DATASET/articles)")
    args = ap.parse_args(argv)
    articles = args.articles or os.path.join(args.dataset, "articles")
    texts = load_texts(articles)
    allt = "\n".join(texts.values()).lower()
    errors, ids, counts = [], set(), {}
    for n, line in enumerate(open(os.path.join(args.dataset, "questions.jsonl"), encoding="utf-8"), 1):
        q = json.loads(line)
        where = f"line {n} ({q.get('id')})"
        for key, typ in (("id", str), ("question", str), ("answers", list), ("evidence", list),
                         ("tags", list)):
            if not isinstance(q.get(key), typ):
                errors.append(f"{where}: bad or missing {key}")
        if q["id"] in ids:
            errors.append(f"{where}: duplicate id")
        ids.add(q["id"])
        for t in q["tags"]:
            counts[t] = counts.get(t, 0) + 1
        status = [t for t in q["tags"] if t in ("answerable", "unanswerable")]
        if status != (["answerable"] if q["answers"] else ["unanswerable"]):
            errors.append(f"{where}: answerable/unanswerable tag does not match answers")
        for ev in q["evidence"]:
            if not any(_norm(ev) in t for t in texts.values()):
                errors.append(f"{where}: evidence not found verbatim: {ev!r}")
        for a in q["answers"]:
            if a.lower() not in allt:
                errors.append(f"{where}: answer not in articles: {a!r}")
        if q["answers"] and not q["evidence"]:
            errors.append(f"{where}: answerable question without evidence")
    for e in errors:
        print(e)
    print(f"{len(ids)} questions; tags: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
