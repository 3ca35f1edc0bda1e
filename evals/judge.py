"""An optional LLM judge: asks an OpenAI-compatible model whether a passage supports a sentence.

It is a second opinion on the offline SupportScorer, never a gate: the verdicts are reported as
agreement figures only. Calls run at temperature 0 and every verdict is cached on disk (keyed by
model, prompt version, sentence and passage), so a rerun costs nothing and gives the same figures.
It is on when OPENAI_API_KEY or OPENAI_BASE_URL (or their ASSISTANT_ forms) is set.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

from assistant import Settings

PROMPT_VERSION = "support-v1"
DEFAULT_CACHE = Path("reports") / "judge-cache.json"
_SYSTEM = ("You check whether a claim is fully supported by a passage. Judge only from the passage; "
           "a claim that adds, changes or contradicts any detail (a number, date, name or negation) "
           "is not supported. Reply with exactly one word: yes or no.")
_VERDICT = re.compile(r"\b(yes|no)\b")


def configured(settings: Settings | None = None) -> bool:
    s = settings or Settings()
    return s.openai_api_key is not None or bool(s.openai_base_url)


class LLMJudge:
    """Callable as judge(sentence, passage) -> True, False, or None when it could not judge."""

    def __init__(self, *, model: str, base_url: str | None = None, api_key: str | None = None,
                 cache: Path = DEFAULT_CACHE, timeout: float = 30.0) -> None:
        import openai

        self.model = model
        self.cache_path = cache
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key or "unused", timeout=timeout,
                                     max_retries=1)
        self._error_types: tuple[type[Exception], ...] = (openai.OpenAIError,)
        # A verdict, or None for a reply that was neither yes nor no (at temperature 0 asking
        # again would get the same reply, so that is cached too).
        self._cache: dict[str, bool | None] = {}
        if cache.exists():
            try:
                loaded = json.loads(cache.read_text(encoding="utf-8"))
                self._cache = {k: v for k, v in loaded.items() if v is None or isinstance(v, bool)}
            except (OSError, ValueError, AttributeError):
                self._cache = {}  # a damaged cache is only lost work; start afresh
        self.calls = self.hits = self.errors = self.unclear = 0

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, cache: Path = DEFAULT_CACHE,
                      model: str | None = None) -> LLMJudge:
        s = settings or Settings()
        key = s.openai_api_key.get_secret_value() if s.openai_api_key else None
        return cls(model=model or s.llm_model, base_url=s.openai_base_url, api_key=key, cache=cache,
                   timeout=s.llm_timeout)

    def _key(self, sentence: str, passage: str) -> str:
        blob = json.dumps([self.model, PROMPT_VERSION, sentence, passage], ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def __call__(self, sentence: str, passage: str) -> bool | None:
        key = self._key(sentence, passage)
        if key in self._cache:
            self.hits += 1
            return self._cache[key]
        self.calls += 1
        try:
            response = self._client.chat.completions.create(
                model=self.model, temperature=0.0, max_tokens=6,
                messages=[{"role": "system", "content": _SYSTEM},
                          {"role": "user", "content": f"Passage:\n{passage}\n\nClaim:\n{sentence}\n\n"
                                                      "Is the claim fully supported by the passage?"}])
            reply = (response.choices[0].message.content or "").strip().lower()
        except self._error_types:
            self.errors += 1  # not cached: a network error says nothing about the pair
            return None
        found = _VERDICT.search(reply)
        verdict = None if found is None else found.group(1) == "yes"
        if verdict is None:
            self.unclear += 1
        self._cache[key] = verdict
        self._save()
        return verdict

    def _save(self) -> None:
        # Write-then-rename, so an interrupted run never leaves a half-written cache.
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.cache_path.parent, prefix=".judge-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self._cache, f, indent=0, sort_keys=True)
        os.replace(tmp, self.cache_path)

    def stats(self) -> dict[str, object]:
        return {"model": self.model, "calls": self.calls, "cache_hits": self.hits, "errors": self.errors,
                "unclear": self.unclear, "cache": str(self.cache_path)}


def cohen_kappa(a: list[bool], b: list[bool]) -> float | None:
    """Agreement between two raters beyond chance (1: perfect, 0: chance)."""
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(a) / n, sum(b) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    return 1.0 if expected == 1 else round((observed - expected) / (1 - expected), 4)
