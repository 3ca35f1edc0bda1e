"""The lexical benchmark's corpus and questions (benchmarks/lexical.py): the scale series' pooled
news, loaded and chunked by the product's own code and cached in benchmarks/.cache/, and the
scale series' questions, each with its search terms and a scope."""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.lexical_common import ROOT, log

CACHE = ROOT / "benchmarks" / ".cache"
CORPUS_FORMAT = 2  # bump when what prepare_corpus caches changes


def read_articles(path: Path) -> Iterator[dict[str, Any]]:
    """The prepared articles, one at a time (100,000 of them hold ~0.5 GB of text)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)



def _code_key(*parts: object) -> str:
    """Changes when the generator, loader, cleaning or chunking code changes."""
    h = hashlib.sha1(json.dumps(parts).encode())
    for name in ("benchmarks/corpus.py", "benchmarks/corpus_topics.py", "index/loaders.py",
                 "index/clean.py", "index/topmatter.py", "index/text.py", "index/chunking.py"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()[:12]


def _load_chunk(folder: Path, articles: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Articles as the product sees them: written as .txt files, loaded by index/loaders.py,
    chunked by index/chunking.py. Chunk texts are text[start:end], so only offsets are kept."""
    from benchmarks.corpus import write_corpus
    from index.chunking import chunk_article
    from index.loaders import load_file

    written = write_corpus(articles, folder)
    # write_corpus names files by position, so sorted paths line up with the generated articles.
    for path, generated in zip(sorted(folder.rglob("*.txt")), written, strict=True):
        for article in load_file(path).articles:
            _, chunks = chunk_article(article.text)
            # The key, as the catalog knows it: unique across both parts, or an extra article
            # would replace the base article at the same file name.
            key = f"{folder.name}/{path.relative_to(folder).as_posix()}"
            yield {"id": article.article_id, "key": key, "title": article.title,
                   "date": article.date, "text": article.text,
                   "questions": [f.question for f in generated.facts],
                   "chunks": [[c.index, c.start, c.end, c.first_sentence, c.last_sentence]
                              for c in chunks]}


def prepare_corpus(n: int, extra: int, seed: int, pool_articles: int, work: Path
                   ) -> tuple[Path, Path, Any]:
    """base.jsonl.gz (n articles), extra.jsonl.gz (`extra` more, for the update), and the pool.
    Cached in benchmarks/.cache/ by size, seed and the code that makes them."""
    from benchmarks import corpus as gen

    pool = gen.make_pool(pool_articles, seed + 1)  # the scale series' pool (benchmarks/run.py)
    key = _code_key(CORPUS_FORMAT, n, extra, seed, pool_articles)
    cached = {part: CACHE / f"lexical-{n}-{part}-{key}.jsonl.gz" for part in ("base", "extra")}
    if not all(p.exists() for p in cached.values()):
        CACHE.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        seen: set[str] = set()  # the same article twice is stored once
        counts = {}
        with tempfile.TemporaryDirectory(prefix="lexical-corpus-") as tmp:
            for part, articles, limit in (
                    ("base", gen.pooled_corpus(pool, n, seed + n), n),
                    ("extra", gen.pooled_corpus(pool, extra * 2, seed + n + 7919), extra)):
                tmp_path = cached[part].with_suffix(".tmp")
                counts[part] = 0
                with gzip.open(tmp_path, "wt", encoding="utf-8") as f:
                    for row in _load_chunk(Path(tmp) / part, articles):
                        if row["id"] not in seen and counts[part] < limit:
                            seen.add(row["id"])
                            counts[part] += 1
                            f.write(json.dumps(row) + "\n")
                tmp_path.replace(cached[part])
        log(f"corpus: {counts['base']} + {counts['extra']} articles loaded and chunked in "
            f"{time.perf_counter() - t0:.1f} s (cached in {CACHE.relative_to(ROOT)})")
    else:
        log(f"corpus: cached ({cached['base'].name})")
    for part, path in cached.items():
        shutil.copyfile(path, work / f"{part}.jsonl.gz")
    return work / "base.jsonl.gz", work / "extra.jsonl.gz", pool


def make_queries(ids: list[str], holders: dict[str, list[str]], pool: Any, n_queries: int,
                 scope_size: int, seed: int) -> list[dict[str, Any]]:
    """The scale series' questions (benchmarks/run.py), each with its search terms and a scope:
    `scope_size` random articles, one of which holds the question's fact when any does
    (`holders`: question -> the ids of the articles written with its fact)."""
    from assistant.retrieval import question_terms
    from benchmarks import corpus as gen

    facts = gen.questions_for(pool.articles, n_queries, seed + 2)
    rng = random.Random(seed + 3)
    size = max(1, min(scope_size, len(ids) // 3))
    queries = []
    for fact in facts:
        scope = set(rng.sample(ids, size))
        if fact.question in holders and not scope & set(holders[fact.question]):
            scope.remove(min(scope))
            scope.add(rng.choice(holders[fact.question]))
        queries.append({"question": fact.question, "answer": fact.answer,
                        "terms": question_terms(fact.question), "scope": sorted(scope),
                        "answerable": fact.question in holders})
    return queries
