from __future__ import annotations

import itertools

from qa._chunk import SentenceChunker
from qa._segment import split_sentences
from tests.conftest import SEED


def words(text: str) -> int:
    return len(text.split())


def test_chunks_keep_whole_sentences_fit_and_overlap() -> None:
    text = SEED.read_text(encoding="utf-8")
    chunker = SentenceChunker(chunk_size=60, overlap_sentences=1, length_function=words)
    units = chunker.units(text)
    ranges = chunker.pack(words(text[u.start : u.end]) for u in units)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(units)
    size = [words(text[u.start : u.end]) for u in units]
    overlapping = 0
    for (_, b), (c, d) in itertools.pairwise(ranges):
        assert d > b, "every chunk adds a sentence"
        if c < b:
            overlapping += 1
        else:  # the one allowed exception: the two sentences at the seam do not fit together
            assert c == b and size[b - 1] + size[b] > 60
    assert overlapping > len(ranges) // 2
    for a, b in ranges:
        assert sum(words(text[u.start : u.end]) for u in units[a:b]) <= 60
    chunks = chunker.split_text(text)
    assert all(chunk in text for chunk in chunks)
    assert chunks[0].startswith("President Donald Trump") and chunks[-1].endswith("New Zealand.")


def test_overlong_sentence_is_cut_into_units_that_fit() -> None:
    text = "Intro sentence. " + ", ".join(f"item {i}" for i in range(200)) + "."
    chunker = SentenceChunker(chunk_size=50, overlap_sentences=1, length_function=words)
    units = chunker.units(text)
    assert len(units) > 4
    for unit in units:
        piece = text[unit.start : unit.end]
        assert piece == piece.strip() and words(piece) <= 50


def test_measure_reports_each_units_length() -> None:
    text = "Short one. " + ", ".join(f"item {i}" for i in range(120)) + ". Last words here."
    chunker = SentenceChunker(chunk_size=50, overlap_sentences=1, length_function=words)
    measured = chunker.measure(text, split_sentences(text))
    assert [unit for unit, _ in measured] == chunker.units(text)
    assert all(size == words(text[u.start : u.end]) <= 50 for u, size in measured)
