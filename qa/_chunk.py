"""Sentence-aligned chunking: runs of whole sentences that fit the embedding model's window.

Chunks overlap their neighbours by whole sentences. Chunk boundaries are sentence spans from
`_segment`, so a chunk is always a verbatim slice of its article.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from langchain_text_splitters import RecursiveCharacterTextSplitter, TextSplitter

from ._segment import SEGMENTER, split_sentences, strip_span
from ._types import Span

# Split points for a "sentence" too long for the model window (tables, lists, run-ons),
# coarsest first; langchain's recursive splitter tries them in this order.
_LONG_SENTENCE_SEPARATORS = ["\n", "; ", ", ", " ", ""]


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
            "segmenter": SEGMENTER,
        }

    def units(self, text: str) -> list[Span]:
        """Sentence spans of `text`, with any sentence over `chunk_size` cut to fit."""
        return [unit for unit, _ in self.measure(text, split_sentences(text))]

    def measure(self, text: str, sentences: Sequence[Span]) -> list[tuple[Span, int]]:
        """Units of `text` from its `sentences` (any over `chunk_size` cut to fit), each with its
        length, so packing need not measure them again."""
        units: list[tuple[Span, int]] = []
        for span in sentences:
            size = self._length_function(text[span.start : span.end])
            if size <= self._chunk_size:
                units.append((span, size))
                continue
            sentence = text[span.start : span.end]
            for doc in self._long_splitter.create_documents([sentence]):
                offset = span.start + int(doc.metadata["start_index"])
                units.extend(
                    (piece, self._length_function(text[piece.start : piece.end]))
                    for piece in strip_span(text, offset, offset + len(doc.page_content))
                )
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
        measured = self.measure(text, split_sentences(text))
        ranges = self.pack(size for _, size in measured)
        return [text[measured[a][0].start : measured[b - 1][0].end] for a, b in ranges]


def make_chunker(count_tokens: Callable[[str], int], chunk_size: int, overlap_sentences: int) -> SentenceChunker:
    """A `SentenceChunker` measuring length with the embedding model's own token counter."""
    return SentenceChunker(chunk_size=chunk_size, overlap_sentences=overlap_sentences, length_function=count_tokens)
