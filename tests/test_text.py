"""The sentence splitter and the chunker: offsets must be exact, because citations quote by them."""

from __future__ import annotations

from itertools import pairwise

import pytest

from index.chunking import chunk_article, chunk_sentences
from index.text import split_sentences, words

TEXT = (
    "Mr. Smith flew to the U.S. Capitol on Jan. 5 with Dr. Jones. "
    "Prices rose 3.5 percent to $1,200.50 a tonne, said Acme Inc. spokesman J. Rivera. "
    '"Stop!" she said. Was it over? Yes!\n'
    "A headline with no full stop\n\n"
    "The last paragraph ends here."
)


def test_offsets_slice_back_to_each_sentence() -> None:
    spans = split_sentences(TEXT)
    assert spans, "no sentences"
    for span in spans:
        assert TEXT[span.start:span.end] == span.text
        assert span.text == span.text.strip()
    # Ordered, non-overlapping.
    assert all(a.end <= b.start for a, b in pairwise(spans))


def test_abbreviations_decimals_and_quotes_do_not_split() -> None:
    texts = [s.text for s in split_sentences(TEXT)]
    assert texts == [
        "Mr. Smith flew to the U.S. Capitol on Jan. 5 with Dr. Jones.",
        "Prices rose 3.5 percent to $1,200.50 a tonne, said Acme Inc. spokesman J. Rivera.",
        '"Stop!" she said.',
        "Was it over?",
        "Yes!",
        "A headline with no full stop",
        "The last paragraph ends here.",
    ]


def test_offset_argument_shifts_spans() -> None:
    prefix = "xxxxx "
    shifted = split_sentences(TEXT[:62], offset=len(prefix))
    whole = prefix + TEXT[:62]
    assert [whole[s.start:s.end] for s in shifted] == [s.text for s in shifted]


@pytest.mark.parametrize("text", ["", "   \n\n  "])
def test_blank_text_has_no_sentences(text: str) -> None:
    assert split_sentences(text) == []
    assert chunk_article(text)[1] == []


def _article(n: int) -> str:
    return " ".join(f"Sentence number {i} tells about event {i} in some detail here." for i in range(n))


@pytest.mark.parametrize(("max_words", "overlap"), [(30, 1), (50, 2), (20, 0)])
def test_chunks_cover_every_sentence_with_overlap(max_words: int, overlap: int) -> None:
    text = _article(40)
    sentences, chunks = chunk_article(text, max_words=max_words, overlap_sentences=overlap)
    assert len(chunks) > 3
    covered: set[int] = set()
    for chunk in chunks:
        assert text[chunk.start:chunk.end] == chunk.text
        assert chunk.start == sentences[chunk.first_sentence].start
        assert chunk.end == sentences[chunk.last_sentence].end
        # Never more than the budget, unless one sentence alone exceeds it.
        words = sum(len(s.text.split()) for s in sentences[chunk.first_sentence:chunk.last_sentence + 1])
        assert words <= max_words or chunk.first_sentence == chunk.last_sentence
        covered.update(range(chunk.first_sentence, chunk.last_sentence + 1))
    assert covered == set(range(len(sentences)))
    for a, b in pairwise(chunks):
        assert b.index == a.index + 1
        assert b.first_sentence == a.last_sentence + 1 - overlap
        assert b.first_sentence > a.first_sentence


def test_long_sentence_gets_its_own_chunk_and_progress_is_made() -> None:
    long = "word " * 300
    text = f"Short one. Long {long.strip()}. Short two. Short three."
    sentences = split_sentences(text)
    chunks = chunk_sentences(text, sentences, max_words=50, overlap_sentences=2)
    assert {i for c in chunks for i in range(c.first_sentence, c.last_sentence + 1)} == set(
        range(len(sentences)))
    assert any(c.first_sentence == c.last_sentence == 1 for c in chunks)
    assert len(chunks) <= len(sentences)


def test_words_keep_accented_names_whole_and_fold_accents() -> None:
    assert words("Tomás Ferreira’s goal at Fécamp, don’t stop") == [
        "tomas", "ferreira", "goal", "at", "fecamp", "don't", "stop"]
    assert words("Tomas") == words("Tomás")


def test_an_ascii_text_gives_the_words_the_general_path_gives() -> None:
    # The same words with and without a non-ASCII character, which sends a text the long way.
    text = "O'Neil's CAR'S don't 1990's x's 'tis Bob_Smith 42,000 US-led"
    assert words(text) == ["o'neil", "s", "car", "don't", "1990", "x", "tis", "bob", "smith",
                           "42", "000", "us", "led"]
    assert words(text + " é")[:-1] == words(text)


def test_a_run_without_full_stops_is_cut_into_sentences_of_bounded_length() -> None:
    # One 2 MB line with no full stop used to be one sentence, one chunk and one passage, and
    # reading it took 23 GB. It is cut after a space, each piece at most MAX_SENTENCE_CHARS.
    from index.text import MAX_SENTENCE_CHARS

    words = ("the council said on monday that the new bridge would open in march " * 800).split()
    text = "Bridge news\n\n" + " ".join(words) + ". It opens in March."
    spans = split_sentences(text)
    assert spans[0].text == "Bridge news" and spans[-1].text == "It opens in March."
    assert all(text[s.start:s.end] == s.text for s in spans)
    assert max(len(s.text) for s in spans) <= MAX_SENTENCE_CHARS
    assert len(spans) > 2 + len(" ".join(words)) // MAX_SENTENCE_CHARS - 1
    # Cut between words, and nothing lost: the pieces cover the long run word for word.
    assert " ".join(s.text for s in spans[1:-1]).split() == [*words[:-1], words[-1] + "."]
    # A run with no space at all is cut where it reaches the cap.
    assert [len(s.text) for s in split_sentences("x" * 4500)] == [MAX_SENTENCE_CHARS,
                                                                 MAX_SENTENCE_CHARS, 500]
