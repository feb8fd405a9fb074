"""Sentence splitting (pysbd) with exact character offsets, and sentence-aligned chunking.

Every sentence is a `Span` of its article: `text[span.start:span.end]` is the sentence, so a
citation built from it is verbatim. Chunks are runs of whole sentences that fit the embedding
model's window and overlap their neighbours by whole sentences.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

import pysbd
from langchain_text_splitters import RecursiveCharacterTextSplitter, TextSplitter

from ._types import Span

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
# Split points for a "sentence" too long for the model window (tables, lists, run-ons),
# coarsest first; langchain's recursive splitter tries them in this order.
_LONG_SENTENCE_SEPARATORS = ["\n", "; ", ", ", " ", ""]


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    # clean=False keeps pysbd's output a substring of its input, so offsets can be recovered.
    return pysbd.Segmenter(language="en", clean=False, char_span=False)


def paragraphs(text: str) -> list[Span]:
    """Paragraph spans of `text`, stripped of surrounding whitespace.

    Text with blank lines is split at blank lines (single newlines are soft wraps); text
    without any is split at every newline, as in one-paragraph-a-line news files.
    """
    separator = _BLANK_LINE if _BLANK_LINE.search(text) else re.compile(r"\n")
    spans: list[Span] = []
    pos = 0
    for match in [*separator.finditer(text), None]:
        end = match.start() if match else len(text)
        spans.extend(_strip(text, pos, end))
        if match:
            pos = match.end()
    return spans


def split_sentences(text: str) -> list[Span]:
    """Sentence spans of `text`, in order, never crossing a paragraph break."""
    spans: list[Span] = []
    for para in paragraphs(text):
        # Soft line wraps become spaces of the same length, so offsets map one to one.
        block = text[para.start : para.end].replace("\n", " ")
        cursor = 0
        for piece in _segmenter().segment(block):
            sentence = piece.strip()
            if not sentence:
                continue
            found = block.find(sentence, cursor)
            if found < 0:
                # pysbd altered the text; fall back to the rest of the paragraph as one unit.
                spans.extend(_strip(text, para.start + cursor, para.end))
                cursor = len(block)
                break
            spans.append(Span(para.start + found, para.start + found + len(sentence)))
            cursor = found + len(sentence)
    return spans


def _strip(text: str, start: int, end: int) -> list[Span]:
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    trail = len(piece) - len(piece.rstrip())
    if start + lead >= end - trail:
        return []
    return [Span(start + lead, end - trail)]


class SentenceChunker(TextSplitter):
    """A langchain `TextSplitter` whose chunks are runs of whole sentences.

    `chunk_size` is measured by `length_function` (word pieces of the embedding model when
    built with `from_huggingface_tokenizer` or given the model's counter). Consecutive chunks
    share `overlap_sentences` whole sentences. A sentence longer than `chunk_size` is first
    cut into smaller units by langchain's `RecursiveCharacterTextSplitter` (at line breaks,
    then semicolons, commas and spaces), so every unit fits the model's window.
    """

    def __init__(self, chunk_size: int = 200, overlap_sentences: int = 1, **kwargs: Any) -> None:
        if overlap_sentences < 1:
            raise ValueError("overlap_sentences must be at least 1")
        super().__init__(chunk_size=chunk_size, chunk_overlap=0, **kwargs)
        self.overlap_sentences = overlap_sentences
        self._long_splitter = RecursiveCharacterTextSplitter(
            chunk_size=chunk_size,
            chunk_overlap=0,
            length_function=self._length_function,
            separators=_LONG_SENTENCE_SEPARATORS,
            keep_separator="end",
            add_start_index=True,
        )

    @property
    def settings(self) -> dict[str, Any]:
        """The settings that shape chunks, recorded in the index manifest."""
        return {
            "chunk_size": self._chunk_size,
            "overlap_sentences": self.overlap_sentences,
            "segmenter": f"pysbd-{pysbd.__version__}",
        }

    def units(self, text: str) -> list[Span]:
        """Sentence spans of `text`, with any sentence over `chunk_size` cut to fit."""
        units: list[Span] = []
        for span in split_sentences(text):
            sentence = text[span.start : span.end]
            if self._length_function(sentence) <= self._chunk_size:
                units.append(span)
                continue
            for doc in self._long_splitter.create_documents([sentence]):
                offset = span.start + int(doc.metadata["start_index"])
                units.extend(_strip(text, offset, offset + len(doc.page_content)))
        return units

    def pack(self, lengths: Iterable[int]) -> list[tuple[int, int]]:
        """Group consecutive units into chunks `[first, last)` by their lengths.

        Each chunk holds as many whole units as fit in `chunk_size` (at least one), and the
        next chunk starts `overlap_sentences` units before the previous one ended, unless the
        two units at the seam do not fit in one chunk together.
        """
        sizes = list(lengths)
        chunks: list[tuple[int, int]] = []
        first = 0
        while first < len(sizes):
            last, total = first, 0
            while last < len(sizes) and (last == first or total + sizes[last] <= self._chunk_size):
                total += sizes[last]
                last += 1
            chunks.append((first, last))
            if last == len(sizes):
                break
            # Overlap by whole sentences, but never so many that the next unit cannot join
            # them: a chunk that adds nothing new would only repeat its neighbour.
            first = max(last - self.overlap_sentences, first + 1)
            while first < last and sum(sizes[first:last]) + sizes[last] > self._chunk_size:
                first += 1
        return chunks

    def split_text(self, text: str) -> list[str]:
        """Chunk texts, verbatim slices of `text` (langchain's `TextSplitter` interface)."""
        units = self.units(text)
        ranges = self.pack(self._length_function(text[u.start : u.end]) for u in units)
        return [text[units[a].start : units[b - 1].end] for a, b in ranges]


def make_chunker(count_tokens: Callable[[str], int], chunk_size: int, overlap_sentences: int) -> SentenceChunker:
    """A `SentenceChunker` measuring length with the embedding model's own token counter."""
    return SentenceChunker(chunk_size=chunk_size, overlap_sentences=overlap_sentences, length_function=count_tokens)
