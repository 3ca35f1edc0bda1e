"""The baseline: the pipeline a user would otherwise write with plain LlamaIndex.

    SimpleDirectoryReader -> VectorStoreIndex.from_documents (default SentenceSplitter,
    1,024-token chunks with 200 overlap) -> ChromaVectorStore (PersistentClient or HttpClient)
    -> index.as_retriever(similarity_top_k=k)

Choices, so the comparison is fair:

* Same embedding model: our LocalMiniLM (int8 ONNX all-MiniLM-L6-v2) wrapped as a LlamaIndex
  `BaseEmbedding`, with LlamaIndex's default embed_batch_size. A user would more likely reach for
  HuggingFaceEmbedding (sentence-transformers + torch), which is slower to import and to run, so
  this favours the baseline. `Settings.llm = None`: nothing may call OpenAI.
* Same Chroma version and HNSW space (cosine) as ours; a collection of its own.
* Re-ingest: the LlamaIndex way to skip unchanged documents, `filename_as_id=True` plus
  `index.refresh_ref_docs(docs)` against the persisted docstore of document hashes.
* Full answer, no LLM: the two sentences of the top retrieved node most similar to the question,
  by the same embedding model, which is what LlamaIndex's `SentenceEmbeddingOptimizer` does
  (punkt sentences, embedded at query time); fixed at two sentences to match our answers' length.
  It never abstains: plain LlamaIndex has no notion of "the articles don't say".
  `lead2` (the top node's first two sentences) is reported too, as the cheapest possible answer.

    python -m benchmarks.baseline ask --store DIR "question"     # the cold-start script
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core import (
    Settings,
    SimpleDirectoryReader,
    StorageContext,
    VectorStoreIndex,
    load_index_from_storage,
)
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
from llama_index.core.utils import globals_helper
from llama_index.vector_stores.chroma import ChromaVectorStore

from index.embedding import Embedder, LocalMiniLM

COLLECTION = "baseline"
TOP_K = 6


class LlamaEmbedding(BaseEmbedding):
    """One of our embedders as a LlamaIndex embedding model."""

    _embedder: Any = PrivateAttr()

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        super().__init__(model_name=embedder.name, **kwargs)
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        return "ArticleAssistantEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(list(texts)).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)


def configure(embedder: Embedder) -> LlamaEmbedding:
    model = LlamaEmbedding(embedder)
    Settings.llm = None
    Settings.embed_model = model
    return model


def vector_store(store: Path, chroma_url: str | None = None) -> ChromaVectorStore:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        host, _, port = chroma_url.removeprefix("http://").partition(":")
        client = chromadb.HttpClient(host=host, port=int(port or 8000), settings=settings)
    else:
        client = chromadb.PersistentClient(path=str(store / "chroma"), settings=settings)
    # embedding_function=None: LlamaIndex always passes vectors, and Chroma's default function
    # would download a model.
    collection = client.get_or_create_collection(COLLECTION, embedding_function=None,
                                                 metadata={"hnsw:space": "cosine"})
    return ChromaVectorStore(chroma_collection=collection)


def read(corpus: Path) -> list[Any]:
    return SimpleDirectoryReader(input_dir=str(corpus), recursive=True, filename_as_id=True,
                                 required_exts=[".txt"]).load_data()


def ingest(corpus: Path, store: Path, chroma_url: str | None = None) -> dict[str, Any]:
    """First ingest into an empty store (with `chroma_url`, into that server's collection; the
    docstore stays in `store`). Returns counts; the caller times it."""
    documents = read(corpus)
    context = StorageContext.from_defaults(vector_store=vector_store(store, chroma_url))
    index = VectorStoreIndex.from_documents(documents, storage_context=context)
    context.persist(persist_dir=str(store / "llama"))
    nodes = index.vector_store._collection.count()  # type: ignore[attr-defined]
    return {"articles": len(documents), "chunks": nodes}


def reingest(corpus: Path, store: Path, chroma_url: str | None = None) -> dict[str, Any]:
    """Ingest the same folder again, skipping documents whose hash is unchanged."""
    context = StorageContext.from_defaults(vector_store=vector_store(store, chroma_url),
                                           persist_dir=str(store / "llama"))
    index = load_index_from_storage(context)
    documents = read(corpus)
    refreshed = index.refresh_ref_docs(documents)
    context.persist(persist_dir=str(store / "llama"))
    return {"articles": len(documents), "refreshed": sum(refreshed)}


class BaselineQA:
    """Retrieval and the no-LLM answer over a built baseline store."""

    def __init__(self, store: Path, embed_model: LlamaEmbedding, chroma_url: str | None = None,
                 top_k: int = TOP_K) -> None:
        self.embed_model = embed_model
        index = VectorStoreIndex.from_vector_store(vector_store(store, chroma_url),
                                                   embed_model=embed_model)
        self.retriever = index.as_retriever(similarity_top_k=top_k)
        self.split = globals_helper.punkt_tokenizer.tokenize

    def retrieve(self, question: str) -> list[NodeWithScore]:
        return self.retriever.retrieve(question)

    def answer(self, question: str) -> dict[str, str]:
        query = self.embed_model.get_query_embedding(question)
        nodes = self.retriever.retrieve(QueryBundle(query_str=question, embedding=query))
        if not nodes:
            return {"answer": "", "lead2": ""}
        sentences = self.split(nodes[0].node.get_content(metadata_mode=MetadataMode.NONE))
        vectors = np.asarray(self.embed_model.get_text_embedding_batch(sentences))
        best = np.argsort(-(vectors @ np.asarray(query)))[:2]
        return {"answer": " ".join(sentences[i] for i in best), "lead2": " ".join(sentences[:2])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.baseline")
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="answer one question from a built baseline store")
    ask.add_argument("question")
    ask.add_argument("--store", type=Path, required=True)
    ask.add_argument("--chroma-url")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    qa = BaselineQA(args.store, configure(LocalMiniLM()), args.chroma_url)
    print(qa.answer(args.question)["answer"])
    print(f"({time.perf_counter() - started:.2f} s after imports)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
