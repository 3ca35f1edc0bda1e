"""The reader: a small extractive question-answering model we train ourselves (training/).

Given a question and a passage it returns the best answer span, with character offsets, the
model's score for "this passage does not answer the question", and (reader v2 models) the
answerability head's logit for the window the span came from. It is all-MiniLM-L6-v2 fine-tuned
SQuAD 2.0 style with hard negatives, shipped as an int8 ONNX file inside this package
(assistant/reader_model/, with its model card) and run by onnxruntime: no torch at run time,
nothing downloaded.

How its scores become decisions (the answerability threshold and the calibrated probability that
an answer is right) is fitted by training/calibrate_reader.py on the validation split and stored
in reader_model/calibration.json.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
from tokenizers import Tokenizer

from assistant.tuning import (
    READER_MAX_ANSWER_TOKENS,
    READER_MAX_BATCH_WINDOWS,
    READER_MAX_LENGTH,
    READER_MAX_QUESTION_TOKENS,
    READER_STRIDE,
    READER_TOP_LOGITS,
)
from assistant.values import start_with_qualifier

log = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).resolve().parent / "reader_model"
_NEG = -1e4


class ReaderError(Exception):
    """The reader model could not be loaded. The message is one line."""


@dataclass
class Window:
    """One model input: question tokens, then a slice of the context."""

    input_ids: list[int]
    type_ids: list[int]
    offsets: list[tuple[int, int]]  # character offsets in the context (question tokens: (0, 0))
    context_mask: list[int]  # 1 for context tokens; CLS (index 0) is kept separately


@dataclass(frozen=True)
class Span:
    """The reader's answer in one passage."""

    text: str
    start: int  # character offsets in the passage given to read()
    end: int
    score: float  # best span logit sum
    null_score: float  # "no answer" logit sum (CLS)
    answerable: float | None = None  # the answerability head's logit (v2 models; None for v1)
    decision: float | None = None  # the calibrated decision score (Reader.read sets it)

    @property
    def margin(self) -> float:
        """How much the model prefers this span to "no answer"."""
        return self.score - self.null_score

    @property
    def strength(self) -> float:
        """The score answers are decided and ranked on: the calibration's combination of the margin
        and the answerability head (the margin alone for a v1 model or an uncalibrated one)."""
        return self.margin if self.decision is None else self.decision


def _configure(tokenizer: Tokenizer, max_length: int, stride: int) -> Tokenizer:
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length, stride=stride, strategy="only_second")
    return tokenizer


_PLAIN: dict[int, Tokenizer] = {}


def _plain(tokenizer: Tokenizer) -> Tokenizer:
    """A copy of the tokenizer without truncation: a lone question longer than the window would
    otherwise be an error ("second sequence not provided") instead of being cut."""
    plain = _PLAIN.get(id(tokenizer))
    if plain is None:
        plain = Tokenizer.from_str(tokenizer.to_str())
        plain.no_truncation()
        plain.no_padding()
        _PLAIN[id(tokenizer)] = plain
    return plain


def _question_prefix(tokenizer: Tokenizer, question: str) -> str:
    """The question cut to READER_MAX_QUESTION_TOKENS word pieces, so the context keeps its room."""
    question = " ".join(question.split())
    enc = _plain(tokenizer).encode(question, add_special_tokens=False)
    if len(enc.ids) <= READER_MAX_QUESTION_TOKENS:
        return question
    return question[: enc.offsets[READER_MAX_QUESTION_TOKENS - 1][1]]


def make_windows(tokenizer: Tokenizer, question: str, context: str,
                 max_length: int = READER_MAX_LENGTH, stride: int = READER_STRIDE) -> list[Window]:
    """Question + context as overlapping windows of at most max_length tokens. The tokenizer
    is set up for it on first use (truncation of the context only, with the stride); the reader
    configures its own once at load, so reading never changes a shared tokenizer."""
    if tokenizer.truncation is None or tokenizer.truncation.get("max_length") != max_length \
            or tokenizer.truncation.get("stride") != stride:
        _configure(tokenizer, max_length, stride)
    enc = tokenizer.encode(_question_prefix(tokenizer, question), context)
    windows = []
    for e in [enc, *enc.overflowing]:
        seq = e.sequence_ids
        mask = [1 if s == 1 else 0 for s in seq]
        offsets = [tuple(o) if s == 1 else (0, 0) for o, s in zip(e.offsets, seq, strict=True)]
        windows.append(Window(list(e.ids), list(e.type_ids), offsets, mask))
    return windows


def best_span(start_logits: np.ndarray, end_logits: np.ndarray, window: Window,
              max_answer_tokens: int = READER_MAX_ANSWER_TOKENS, top: int = READER_TOP_LOGITS
              ) -> tuple[int, int, float] | None:
    """The highest-scoring (start, end) over context tokens, end >= start, at most
    max_answer_tokens long; None when the window has no context tokens."""
    mask = np.asarray(window.context_mask, dtype=bool)
    if not mask.any():
        return None
    s = np.where(mask, start_logits[: len(mask)], _NEG)
    e = np.where(mask, end_logits[: len(mask)], _NEG)
    starts = np.argsort(-s)[:top]
    ends = np.argsort(-e)[:top]
    best: tuple[int, int, float] | None = None
    for i in starts:
        if not mask[i]:
            continue
        for j in ends:
            if not mask[j] or j < i or j - i + 1 > max_answer_tokens:
                continue
            score = float(s[i] + e[j])
            if best is None or score > best[2]:
                best = (int(i), int(j), score)
    if best is None:
        # No pair among the top candidates fits (every top end precedes every top start): the
        # best single-token span is still a valid answer.
        i = int(np.argmax(s))
        best = (i, i, float(s[i] + e[i]))
    return best


Status = Literal["answered", "tentative", "declined"]


@dataclass(frozen=True)
class Calibration:
    """Fitted by training/calibrate_reader.py on the validation split; see the model card.

    decision = margin_weight * margin + answerable_weight * answerability logit; the reader answers
    when decision >= threshold, plainly when decision >= plain_from (the answers above it were
    right at least 80 % of the time on validation), tentatively between the two."""

    threshold: float
    slope: float  # P(answer right) = sigmoid(slope * decision + intercept)
    intercept: float
    margin_weight: float = 1.0
    answerable_weight: float = 0.0
    plain_from: float | None = None  # None: no band fitted, every answer is plain

    def decision(self, margin: float, answerable: float | None) -> float:
        return self.margin_weight * margin + self.answerable_weight * (answerable or 0.0)

    def probability(self, decision: float) -> float:
        return _sigmoid(self.slope * decision + self.intercept)

    def status(self, decision: float) -> Status:
        if decision < self.threshold:
            return "declined"
        if self.plain_from is not None and decision < self.plain_from:
            return "tentative"
        return "answered"


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))


class Reader:
    """Runs the shipped reader model. Thread-safe: onnxruntime sessions may be shared, and the
    tokenizer is configured once and only read afterwards."""

    def __init__(self, model_dir: Path = MODEL_DIR, threads: int | None = None,
                 verify: bool = True) -> None:
        import onnxruntime as ort

        self.model_dir = Path(model_dir)
        model = self.model_dir / "reader.onnx"
        tokenizer_path = self.model_dir / "tokenizer.json"
        for path in (model, tokenizer_path):
            if not path.exists():
                raise ReaderError(f"reader model file missing: {path}; reinstall the package")
        if verify:
            verify_model(self.model_dir)
        try:
            self._tokenizer = _configure(Tokenizer.from_file(str(tokenizer_path)), READER_MAX_LENGTH,
                                         READER_STRIDE)
            options = ort.SessionOptions()
            options.log_severity_level = 3
            if threads:
                options.intra_op_num_threads = threads
            # As the embedder's: idle threads sleep rather than spin (index/embedding.py).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            # Batches of many shapes (passages x windows x tokens): onnxruntime kept a memory
            # plan per shape, 25-30 MB of a query process at 100,000 articles, for no speed.
            options.enable_mem_pattern = False
            self._session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types; all mean "cannot load"
            raise ReaderError(f"reader model {model} cannot be loaded: {str(exc).splitlines()[0]}") from None
        self.calibration = load_calibration(self.model_dir)

    def read(self, question: str, passages: list[str]) -> list[Span | None]:
        """The best span of each passage (None for an empty one), batched in one model call
        (READER_MAX_BATCH_WINDOWS windows at most a call, so memory stays bounded)."""
        windows: list[Window] = []
        owner: list[int] = []
        for k, passage in enumerate(passages):
            if not passage.strip():
                continue
            for w in make_windows(self._tokenizer, question, passage):
                windows.append(w)
                owner.append(k)
        results: list[Span | None] = [None] * len(passages)
        for first in range(0, len(windows), READER_MAX_BATCH_WINDOWS):
            batch = slice(first, first + READER_MAX_BATCH_WINDOWS)
            self._read_batch(passages, windows[batch], owner[batch], results)
        return results

    def _read_batch(self, passages: list[str], windows: list[Window], owner: list[int],
                    results: list[Span | None]) -> None:
        """One model call over `windows`; each passage's best span so far kept in `results`."""
        start_logits, end_logits, answerable = self._run(windows)
        for row, (w, k) in enumerate(zip(windows, owner, strict=True)):
            found = best_span(start_logits[row], end_logits[row], w)
            null = float(start_logits[row][0] + end_logits[row][0])
            if found is None:
                continue
            i, j, score = found
            s, e = w.offsets[i][0], w.offsets[j][1]
            s = start_with_qualifier(passages[k], s, e)
            head = None if answerable is None else float(answerable[row])
            span = Span(passages[k][s:e], s, e, score, null, head)
            span = replace(span, decision=self.calibration.decision(span.margin, head))
            current = results[k]
            # Across a passage's windows keep the most confident span, SQuAD 2.0 style: the
            # passage answers when any window does.
            if current is None or span.strength > current.strength:
                results[k] = span

    def _run(self, windows: list[Window]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        length = max(len(w.input_ids) for w in windows)
        ids = np.zeros((len(windows), length), dtype=np.int64)
        types = np.zeros_like(ids)
        attention = np.zeros_like(ids)
        for r, w in enumerate(windows):
            n = len(w.input_ids)
            ids[r, :n] = w.input_ids
            types[r, :n] = w.type_ids
            attention[r, :n] = 1
        outputs = self._session.run(
            None, {"input_ids": ids, "attention_mask": attention, "token_type_ids": types})
        # v1 models have two outputs; v2 adds the answerability head's logit per window.
        return outputs[0], outputs[1], (outputs[2] if len(outputs) > 2 else None)

    def probability(self, span: Span | None) -> float:
        """Calibrated probability that the span is a right answer."""
        if span is None:
            return 0.0
        return self.calibration.probability(span.strength)

    def answers(self, span: Span | None) -> bool:
        return span is not None and span.strength >= self.calibration.threshold

    def status(self, span: Span | None) -> Status:
        """answered (plainly), tentative (answered, but below the fitted band) or declined."""
        return "declined" if span is None else self.calibration.status(span.strength)


def load_calibration(model_dir: Path = MODEL_DIR) -> Calibration:
    """The fitted threshold and Platt parameters. They belong to one model file: a calibration
    fitted for another reader.onnx is refused rather than silently misapplied."""
    path = Path(model_dir) / "calibration.json"
    if not path.exists():
        # A freshly exported model, before training/calibrate_reader.py has run.
        log.warning("reader model %s is not calibrated: answering when a span beats 'no answer'",
                    model_dir)
        return Calibration(threshold=0.0, slope=1.0, intercept=0.0)
    try:
        data = json.loads(path.read_text())
        plain_from = data.get("plain_from")
        calibration = Calibration(float(data["threshold"]), float(data["slope"]),
                                  float(data["intercept"]), float(data.get("margin_weight", 1.0)),
                                  float(data.get("answerable_weight", 0.0)),
                                  None if plain_from is None else float(plain_from))
        fitted_for = data.get("model_sha256")
    except (ValueError, KeyError, TypeError) as exc:
        raise ReaderError(f"reader calibration {path} is malformed: {exc}") from None
    manifest = Path(model_dir) / "manifest.json"
    if fitted_for and manifest.exists():
        shipped = json.loads(manifest.read_text()).get("files", {}).get("reader.onnx")
        if shipped and shipped != fitted_for:
            raise ReaderError(f"reader calibration {path} was fitted for another model file; "
                              "run `python -m training.calibrate_reader`")
    return calibration


def verify_model(model_dir: Path = MODEL_DIR) -> None:
    """Refuse a model file whose sha256 is not the one its model card records (a truncated
    download, a corrupted install, a file swapped by hand)."""
    manifest = Path(model_dir) / "manifest.json"
    if not manifest.exists():
        return
    expected = json.loads(manifest.read_text()).get("files", {})
    for name, digest in expected.items():
        path = Path(model_dir) / name
        if not path.exists():
            raise ReaderError(f"reader model file missing: {path}; reinstall the package")
        actual = sha256(path)
        if actual != digest:
            raise ReaderError(f"reader model file {path} is corrupted (sha256 {actual[:12]}…, "
                              f"expected {digest[:12]}…); reinstall the package")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
