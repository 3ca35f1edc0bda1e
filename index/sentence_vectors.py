"""How the catalog stores sentence vectors: int8 since issue #22, float16 before it."""

from __future__ import annotations

import numpy as np


def encode_int8(vectors: np.ndarray) -> list[bytes]:
    """Each vector as its float32 scale (4 bytes) and int8 components (scale x -127..127):
    388 bytes for MiniLM's 384 dimensions, half the float16 stored before issue #22. For unit
    vectors the rounding moves a cosine by about 0.001."""
    v = np.asarray(vectors, dtype=np.float32)
    scale = np.abs(v).max(axis=1, initial=0.0) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(v / scale[:, None]), -127, 127).astype(np.int8)
    scales = scale.astype("<f4")
    return [scales[i].tobytes() + q[i].tobytes() for i in range(len(q))]


def decode_many(blobs: list[bytes], vector_format: str) -> np.ndarray:
    """Many stored vectors at once, one row each (float32): one numpy pass, not one a row."""
    if not blobs:
        return np.zeros((0, 0), dtype=np.float32)
    return decode_packed(b"".join(blobs), len(blobs), vector_format)


def decode_packed(data: bytes, rows: int, vector_format: str) -> np.ndarray:
    """`rows` stored vectors laid end to end in one byte string (float32 rows)."""
    raw = np.frombuffer(data, dtype=np.uint8).reshape(rows, -1)
    if vector_format == "float16":
        return raw.view(np.float16).astype(np.float32)
    scales = raw[:, :4].copy().view("<f4")
    return raw[:, 4:].view(np.int8).astype(np.float32) * scales
