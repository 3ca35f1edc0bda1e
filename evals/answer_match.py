"""Does an answer hold a gold answer: SQuAD's normalization, whole-word containment and token
F1 (evals/README.md writes each definition out)."""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter


def normalize_answer(text: str) -> str:
    """SQuAD's normalization: lower case, no punctuation, no articles, single spaces. Unicode
    punctuation (curly quotes, dashes) goes too, since news text is full of it."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in string.punctuation
                   and not unicodedata.category(ch).startswith("P"))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def holds_answer(prediction: str, golds: list[str]) -> bool:
    """A gold answer occurs in the prediction after normalization, on word boundaries (so that
    '22' does not match '220')."""
    padded = f" {normalize_answer(prediction)} "
    return any(norm and f" {norm} " in padded for norm in (normalize_answer(g) for g in golds))


def token_f1(prediction: str, golds: list[str]) -> float:
    """SQuAD token F1 against the best-matching gold answer."""
    pred = normalize_answer(prediction).split()
    best = 0.0
    for gold in golds:
        ref = normalize_answer(gold).split()
        common = Counter(pred) & Counter(ref)
        same = sum(common.values())
        if not pred or not ref or same == 0:
            continue
        precision, recall = same / len(pred), same / len(ref)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best
