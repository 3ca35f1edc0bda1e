"""Validate the support-scorer pairs and resolve their passages.

The passages are NOT stored in this repository (the user's articles are copyrighted); each pair
points into an article file by character offsets: passage = text[passage_start:passage_end], where
text = open(path, encoding="utf-8").read().

Usage (from the repository root):
    python3 evals/datasets/support-pairs/check_pairs.py [ARTICLES_DIR] [--show]

ARTICLES_DIR defaults to ../shared/articles. Other code can reuse load_pairs() to get
dicts with an added "passage" key.
"""
import argparse
import collections
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PAIRS = os.path.join(HERE, "pairs.jsonl")
KINDS = {"paraphrase", "verbatim-short", "number-swap", "name-swap", "date-swap",
         "negation", "unrelated", "partial-overclaim"}
SUPPORTED_KINDS = {"paraphrase", "verbatim-short"}
MAX_SHARED_WORDS = 13  # a sentence may share at most 13 consecutive words with an article


def _words(s):
    return re.findall(r"\w+", s.lower())


def load_pairs(articles_dir="../shared/articles", pairs_path=PAIRS):
    """Return the pairs with a resolved "passage" field added to each."""
    texts, out = {}, []
    with open(pairs_path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            name = rec["article"]
            if name not in texts:
                with open(os.path.join(articles_dir, name), encoding="utf-8") as af:
                    texts[name] = af.read()
            rec["passage"] = texts[name][rec["passage_start"]:rec["passage_end"]]
            out.append(rec)
    return out


def check(articles_dir, show=False):
    pairs = load_pairs(articles_dir)
    grams = set()
    for name in os.listdir(articles_dir):
        path = os.path.join(articles_dir, name)
        if os.path.isfile(path):
            w = _words(open(path, encoding="utf-8").read())
            n = MAX_SHARED_WORDS + 1
            grams.update(" ".join(w[i:i + n]) for i in range(len(w) - n + 1))
    ids = set()
    for rec in pairs:
        rid = rec["id"]
        assert rid not in ids, f"duplicate id {rid}"
        ids.add(rid)
        assert set(rec) >= {"id", "article", "passage_start", "passage_end", "sentence",
                            "supported", "kind"}, f"{rid}: missing keys"
        text_len = len(open(os.path.join(articles_dir, rec["article"]), encoding="utf-8").read())
        s, e = rec["passage_start"], rec["passage_end"]
        assert isinstance(s, int) and isinstance(e, int), f"{rid}: offsets must be ints"
        assert 0 <= s < e <= text_len, f"{rid}: offsets {s}:{e} out of range (len {text_len})"
        assert rec["passage"].strip() == rec["passage"], f"{rid}: passage has stray whitespace"
        assert rec["kind"] in KINDS, f"{rid}: bad kind {rec['kind']}"
        assert isinstance(rec["supported"], bool), f"{rid}: supported must be bool"
        assert rec["supported"] == (rec["kind"] in SUPPORTED_KINDS), f"{rid}: kind/supported mismatch"
        if rec["kind"] == "verbatim-short":
            assert rec["sentence"] in rec["passage"], f"{rid}: verbatim-short sentence not in passage"
        w = _words(rec["sentence"])
        n = MAX_SHARED_WORDS + 1
        shared = [" ".join(w[i:i + n]) for i in range(len(w) - n + 1) if " ".join(w[i:i + n]) in grams]
        assert not shared, f"{rid}: sentence copies {n}+ consecutive words from the articles"
        if show:
            print(f"{rid} [{'SUPPORTED' if rec['supported'] else 'unsupported'} / {rec['kind']}]")
            print(f"  sentence: {rec['sentence']}")
            print(f"  passage:  {rec['passage']}")
    n_sup = sum(r["supported"] for r in pairs)
    kinds = collections.Counter(r["kind"] for r in pairs)
    print(f"OK: {len(pairs)} pairs, {n_sup} supported, {len(pairs) - n_sup} unsupported; "
          + ", ".join(f"{k}={v}" for k, v in sorted(kinds.items())))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("articles_dir", nargs="?", default="../shared/articles")
    ap.add_argument("--show", action="store_true", help="print each pair with its passage")
    args = ap.parse_args(argv)
    check(args.articles_dir, args.show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
