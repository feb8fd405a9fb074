"""Sentence splitting (pysbd) with exact character offsets.

Every sentence is a `Span` of its article: `text[span.start:span.end]` is the sentence, so a
citation built from it is verbatim.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import warnings
from collections.abc import Generator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pysbd
from pysbd.lang.english import English
from pysbd.processor import Processor

from ._types import Span

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
# pysbd leaves pieces that are no sentence of their own: a closing quotation mark ('buy it."'
# gives 'buy it.' and '"'), and the rest of a sentence after an abbreviation or a title's
# question mark ("Sen. Rudy Boschwitz, R-Minn." and ", said he intended ..."; "Are We There
# Yet?" and ", slipped to second place"; "Overall." and "sales across the industry also fell").
# Cited alone they say nothing, and the sentence before loses its end; each is joined to the
# sentence before it in its paragraph. A piece is such a rest when it holds no letter or digit,
# opens with closing punctuation, or opens with a word in lower case ("iPod", "eBay" open
# sentences; "sales" does not).
_REST = re.compile(r"\W*$|[,;:)\]}]|[a-z][a-z'’]*(?![\w'’-])")
# What splits sentences, recorded in the index manifest (a change re-embeds on the next build).
SEGMENTER = f"pysbd-{pysbd.__version__}+rests"
# pysbd splits about 700 kB of news text a second on one core here (with `_English`), and a
# worker process takes about half a second to start; below this many characters one process
# is faster.
PARALLEL_CHARS = 1_000_000


class _English(English):  # type: ignore[misc]
    """pysbd's English, with the same output in about half the time.

    pysbd runs regular expressions for every one of its ~200 abbreviations that occurs in a
    line as a substring ("a", "no" and "st" occur in nearly every line), though only one
    followed by a period can change the line. Each line is searched for just the abbreviations
    it has followed by a period; replacements only ever remove periods, so no other
    abbreviation could have matched later (tests compare the output with pysbd's own).
    """

    class AbbreviationReplacer(English.AbbreviationReplacer):  # type: ignore[misc]
        lang: Any

        def search_for_abbreviations_in_string(self, text: str) -> str:
            lowered = text.lower()
            language = self.lang
            present = [a for a in language.Abbreviation.ABBREVIATIONS if a.strip() + "." in lowered]
            # A language class for this line only: `self` is this line's replacer, not shared.
            self.lang = type(
                "English",
                (language,),
                {"Abbreviation": type("Abbreviation", (language.Abbreviation,), {"ABBREVIATIONS": present})},
            )
            try:
                return str(super().search_for_abbreviations_in_string(text))
            finally:
                self.lang = language


def _pysbd_sentences(block: str) -> list[str]:
    """pysbd's sentences of one paragraph (clean=False, so each is a substring of `block`).

    Its `Processor` directly: `Segmenter.segment` then finds every sentence's offsets with a
    regular expression made from the sentence, which costs more than the splitting, and
    `split_sentences` finds them itself with `str.find`.
    """
    return list(Processor(block, _English).process())


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
        spans.extend(strip_span(text, pos, end))
        if match:
            pos = match.end()
    return spans


def split_sentences(text: str) -> list[Span]:
    """Sentence spans of `text`, in order, never crossing a paragraph break: pysbd's sentences
    (`pysbd_sentences`), with each piece that is no sentence of its own joined to the one
    before it in its paragraph."""
    spans: list[Span] = []
    for para in paragraphs(text):
        first = len(spans)
        for span in _paragraph_sentences(text, para):
            if len(spans) > first and _REST.match(text, span.start, span.end):
                spans[-1] = Span(spans[-1].start, span.end)
            else:
                spans.append(span)
    return spans


def pysbd_sentences(text: str) -> list[Span]:
    """pysbd's own sentence spans of `text`, paragraph by paragraph, nothing joined."""
    return [span for para in paragraphs(text) for span in _paragraph_sentences(text, para)]


def _paragraph_sentences(text: str, para: Span) -> list[Span]:
    spans: list[Span] = []
    # Soft line wraps become spaces of the same length, so offsets map one to one.
    block = text[para.start : para.end].replace("\n", " ")
    cursor = 0
    for piece in _pysbd_sentences(block):
        sentence = piece.strip()
        if not sentence:
            continue
        found = block.find(sentence, cursor)
        if found < 0:
            # pysbd altered the text; fall back to the rest of the paragraph as one unit.
            spans.extend(strip_span(text, para.start + cursor, para.end))
            break
        spans.append(Span(para.start + found, para.start + found + len(sentence)))
        cursor = found + len(sentence)
    return spans


def strip_span(text: str, start: int, end: int) -> list[Span]:
    """`text[start:end]` without surrounding whitespace, as a list of zero or one span."""
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    trail = len(piece) - len(piece.rstrip())
    if start + lead >= end - trail:
        return []
    return [Span(start + lead, end - trail)]


def iter_split(texts: Sequence[str], workers: int | None = None) -> Generator[list[Span], None, None]:
    """`split_sentences` of each text, yielded in order as they are ready.

    pysbd is pure Python and the slowest step of a build before embedding, so a corpus of more
    than `PARALLEL_CHARS` characters is split by one worker process per core (`workers`) while
    the caller goes on with the texts already split. The spans are the same either way. Worker
    processes import the caller's main module, so a script that builds must do so under
    `if __name__ == "__main__":`; if the workers cannot run, splitting goes on in this process.
    """
    workers = workers or os.cpu_count() or 1
    done = 0
    if workers > 1 and sum(map(len, texts)) >= PARALLEL_CHARS:
        try:
            # spawn, not fork: the caller holds onnxruntime and tokenizer threads that fork
            # would copy in whatever state they are in.
            context = multiprocessing.get_context("spawn")
            pool = ProcessPoolExecutor(workers, mp_context=context)
            try:
                for spans in pool.map(split_sentences, texts, chunksize=max(1, len(texts) // (workers * 16))):
                    yield spans
                    done += 1
            finally:  # a caller that stops early does not wait for the rest
                pool.shutdown(cancel_futures=True)
        except (BrokenProcessPool, OSError) as exc:
            warnings.warn(
                f"sentence splitting in worker processes failed ({type(exc).__name__}: {exc}); "
                "splitting in this process instead",
                RuntimeWarning,
                stacklevel=2,
            )
    yield from map(split_sentences, texts[done:])
