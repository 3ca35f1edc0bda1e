"""The pooled embedder of the scale series: precomputed vectors for the pooled corpora's
sentences, the real model for anything else (questions).

It deliberately imports nothing from LlamaIndex, so our side's workers pay no LlamaIndex import in
their timings or memory (the baseline's adapter lives in benchmarks/baseline.py).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np

from index.embedding import LocalMiniLM, normalise
from index.text import split_sentences


def text_key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


class PoolEmbedder:
    """Looks texts up in a table of precomputed vectors; embeds misses with the real model.

    A text that is not in the table but is made of sentences that are (a chunk, a whole
    document) gets the normalised mean of their vectors: the shortcut our own pipeline takes for
    chunks, applied here to the baseline's chunks too so both sides skip the model equally.
    Only the scale series uses this; its figures therefore exclude model time, which is measured
    separately per token.
    """

    def __init__(self, model: LocalMiniLM, table: dict[bytes, np.ndarray]) -> None:
        self.model = model
        self.table = table
        self.name = model.name  # stores built with it stay readable by the real model
        self.dimension = model.dimension
        self.hits = 0
        self.composed = 0
        self.misses = 0
        # Token counts by text, each text tokenised once: the real model counts the tokens of
        # what it embeds as it embeds them (LocalMiniLM.embed_counted), so a stand-in for a free
        # model counts them for free too, near enough.
        self.counts: dict[bytes, int] = {}

    def count_tokens(self, texts: list[str]) -> int:
        return self.model.count_tokens(texts)

    def embed_counted(self, texts: list[str]) -> tuple[np.ndarray, list[int]]:
        keys = [text_key(text) for text in texts]
        unknown = {key: text for key, text in zip(keys, texts, strict=True) if key not in self.counts}
        if unknown:
            self.counts.update(zip(unknown, self.model.token_counts(list(unknown.values())),
                                   strict=True))
        return self.embed(texts), [self.counts[key] for key in keys]

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        missing: list[int] = []
        for i, text in enumerate(texts):
            vector = self.table.get(text_key(text))
            if vector is None:
                vector = self._compose(text)
            if vector is None:
                missing.append(i)
            else:
                out[i] = vector
        if missing:
            self.misses += len(missing)
            out[missing] = self.model.embed([texts[i] for i in missing])
        self.hits += len(texts) - len(missing)
        return out

    def _compose(self, text: str) -> np.ndarray | None:
        known = [v for s in split_sentences(text) if (v := self.table.get(text_key(s.text))) is not None]
        if not known:
            return None
        self.composed += 1
        return normalise(np.mean(known, axis=0, keepdims=True))[0]


def load_or_build_table(sentences: list[str], model: LocalMiniLM, cache: Path) -> tuple[
        dict[bytes, np.ndarray], float]:
    """Vectors for `sentences`, cached in `cache` (an .npz). Returns the table and the seconds
    spent embedding (0 when the cache was used)."""
    unique = sorted(set(sentences))
    # Raw digests as a uint8 matrix: numpy's bytes dtype would drop trailing zero bytes.
    keys = np.frombuffer(b"".join(text_key(s) for s in unique), dtype=np.uint8).reshape(-1, 20)
    digests = [row.tobytes() for row in keys]
    if cache.exists():
        data = np.load(cache)
        if data["keys"].shape == keys.shape and bool((data["keys"] == keys).all()):
            return dict(zip(digests, data["vectors"], strict=True)), 0.0
    started = time.perf_counter()
    vectors = model.embed(unique)
    seconds = time.perf_counter() - started
    cache.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: two runs at once (a smoke test beside a `make bench`) must never
    # read each other's half-written file.
    partial = cache.with_name(f"{cache.name}.{os.getpid()}.partial")
    with open(partial, "wb") as out:
        np.savez(out, keys=keys, vectors=vectors)
    os.replace(partial, cache)
    return dict(zip(digests, vectors, strict=True)), seconds
