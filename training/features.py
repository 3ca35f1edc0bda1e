"""Question + context -> model windows, shared by training and the shipped reader.

The tokenizer is the HuggingFace `tokenizers` one the runtime uses (no transformers), so a
window seen in training is tokenised exactly as the reader will tokenise it at question time.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenizers import Tokenizer

from assistant.reader import make_windows


@dataclass
class Feature:
    input_ids: list[int]
    type_ids: list[int]
    start: int  # token index of the answer's first token; 0 (CLS) for "no answer"
    end: int
    context_mask: list[int]  # 1 where a token may begin or end an answer (context tokens and CLS)


def features_for(tokenizer: Tokenizer, question: str, context: str, answer_start: int, answer: str,
                 max_length: int, stride: int) -> list[Feature]:
    out = []
    a_end = answer_start + len(answer)
    for window in make_windows(tokenizer, question, context, max_length, stride):
        start = end = 0
        if answer_start >= 0:
            first = last = None
            for i, (s, e) in enumerate(window.offsets):
                if not window.context_mask[i] or i == 0:
                    continue
                if first is None and s <= answer_start < e:
                    first = i
                if first is None and s >= answer_start and e <= a_end:
                    first = i
                if s < a_end <= e or (s >= answer_start and e <= a_end):
                    last = i
            if first is not None and last is not None and last >= first \
                    and window.offsets[first][0] <= answer_start + 1 and window.offsets[last][1] >= a_end - 1:
                start, end = first, last
        out.append(Feature(window.input_ids, window.type_ids, start, end, window.context_mask))
    return out
