"""Chunk an article along sentence boundaries, with overlap, keeping character offsets."""

from __future__ import annotations

from dataclasses import dataclass

from index.text import Span, split_sentences


# Slots: a 50 MB article holds ~600,000 of these at once.
@dataclass(frozen=True, slots=True)
class Chunk:
    index: int
    start: int  # offsets in the article's clean text
    end: int
    first_sentence: int  # index into the article's sentence list, inclusive
    last_sentence: int  # inclusive
    text: str


def chunk_sentences(text: str, sentences: list[Span], max_words: int = 120,
                    overlap_sentences: int = 1) -> list[Chunk]:
    """Group consecutive sentences into chunks of about max_words words.

    Neighbouring chunks share `overlap_sentences` sentences so that an answer sitting across a
    boundary is still whole in one chunk.
    """
    chunks: list[Chunk] = []
    begin = 0
    n = len(sentences)
    while begin < n:
        end = begin
        count = len(sentences[begin].text.split())
        while end + 1 < n and count + len(sentences[end + 1].text.split()) <= max_words:
            end += 1
            count += len(sentences[end].text.split())
        start_char, end_char = sentences[begin].start, sentences[end].end
        chunks.append(Chunk(len(chunks), start_char, end_char, begin, end, text[start_char:end_char]))
        if end + 1 >= n:
            break
        begin = max(end + 1 - overlap_sentences, begin + 1)
    return chunks


def chunk_article(text: str, max_words: int = 120, overlap_sentences: int = 1
                  ) -> tuple[list[Span], list[Chunk]]:
    sentences = split_sentences(text)
    return sentences, chunk_sentences(text, sentences, max_words, overlap_sentences)


# An article of more sentences than this is big: ingest streams it slice by slice
# (index/store_writer.py), and its chunks keep their own text in the catalog (below).
BIG_ARTICLE_SENTENCES = 8192

# A chunk's text in the catalog's SQL: its slice of the article's text. The chunks table keeps
# the text only of a big article (streamed at ingest, or fetched from a server's record), where
# slicing a text of tens of megabytes for each chunk would cost more than the copy (issue #22:
# the copy was a twentieth of the index). SQLite's substr counts characters, as Python's offsets
# do.
def chunk_text_sql(chunks: str = "chunks", articles: str = "articles") -> str:
    """The SQL of a chunk's text, the tables named as given (an attached catalog's, say)."""
    return (f"CASE WHEN {chunks}.text != '' THEN {chunks}.text "
            f"ELSE substr({articles}.text, {chunks}.start + 1, {chunks}.end - {chunks}.start) END")


CHUNK_TEXT_SQL = chunk_text_sql()
CHUNKS_WITH_ARTICLES_SQL = "chunks JOIN articles ON articles.article_id = chunks.article_id"
