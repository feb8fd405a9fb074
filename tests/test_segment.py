from __future__ import annotations

import itertools

from qa._segment import SentenceChunker, paragraphs, split_sentences
from tests.conftest import SEED, squad_articles

QUOTE = "“I’ll be speaking to President Putin on Tuesday,” Trump told reporters aboard Air Force One."


def words(text: str) -> int:
    return len(text.split())


def test_quotations_stay_whole_in_the_seed() -> None:
    text = SEED.read_text(encoding="utf-8")
    sentences = [text[s.start : s.end] for s in split_sentences(text)]
    assert QUOTE in sentences
    assert any(
        s.startswith("“We will demand that ironclad security guarantees") and s.endswith("Izvestia.") for s in sentences
    )


def test_offsets_are_exact_over_all_squad_paragraphs() -> None:
    articles = squad_articles()
    assert len(articles) == 2067
    total = 0
    for article in articles:
        text = article["text"]
        spans = split_sentences(text)
        assert spans, article["id"]
        previous_end = 0
        for span in spans:
            sentence = text[span.start : span.end]
            assert sentence == sentence.strip() and sentence
            assert span.start >= previous_end  # in order, never overlapping
            previous_end = span.end
        # Nothing but whitespace is left out between sentences.
        covered = "".join(text[s.start : s.end] for s in spans)
        assert "".join(covered.split()) == "".join(text.split()), article["id"]
        total += len(spans)
    assert total > 9000


def test_paragraphs_soft_wraps_and_lines() -> None:
    wrapped = "One para\nwrapped here.\n\nSecond para."
    assert [wrapped[p.start : p.end] for p in paragraphs(wrapped)] == ["One para\nwrapped here.", "Second para."]
    lines = "Line one.\nLine two."
    assert [lines[p.start : p.end] for p in paragraphs(lines)] == ["Line one.", "Line two."]
    spans = split_sentences(wrapped)
    assert [wrapped[s.start : s.end] for s in spans] == ["One para\nwrapped here.", "Second para."]


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
