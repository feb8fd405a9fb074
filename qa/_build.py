"""The build: corpus -> sentences and chunks -> vectors and BM25 -> an index folder."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import _lexical
from ._corpus import Corpus, read_corpus
from ._embed import DEFAULT_BACKEND, Embedder, load_embedder
from ._errors import BuildError, QAError
from ._segment import make_chunker
from ._store import FORMAT_VERSION, IndexData, Manifest, build_lock, write_index
from ._types import Article, BuildReport

CHUNK_TOKENS = 200
OVERLAP_SENTENCES = 1


@dataclass(frozen=True)
class BuildSettings:
    """Chunking settings; recorded in the manifest."""

    chunk_tokens: int = CHUNK_TOKENS
    overlap_sentences: int = OVERLAP_SENTENCES


def build_index(
    corpus_dir: str | Path,
    index_dir: str | Path,
    model: str | None = None,
    *,
    backend: str = DEFAULT_BACKEND,
    embedder: Embedder | None = None,
    settings: BuildSettings = BuildSettings(),
    progress: bool = False,
) -> BuildReport:
    """Build an index of the corpus at `corpus_dir` into `index_dir` and make it current.

    The new index is written beside the old one and swapped in atomically, so a build that
    fails leaves the previous index serving. Raises `QAError` subclasses with a fix in
    the message.
    """
    return build_corpus(
        read_corpus(corpus_dir),
        index_dir,
        model,
        backend=backend,
        embedder=embedder,
        settings=settings,
        progress=progress,
    )


def build_corpus(
    corpus: Corpus,
    index_dir: str | Path,
    model: str | None = None,
    *,
    backend: str = DEFAULT_BACKEND,
    embedder: Embedder | None = None,
    settings: BuildSettings = BuildSettings(),
    progress: bool = False,
) -> BuildReport:
    """`build_index` for a corpus already in memory (as `qa eval` makes from a SQuAD file)."""
    started = time.perf_counter()
    root = Path(index_dir)
    try:
        with build_lock(root):
            embedder = embedder or load_embedder(model, backend)
            data, chunking = _index_data(list(corpus.articles), embedder, settings, progress)
            manifest = Manifest(
                format_version=FORMAT_VERSION,
                model=embedder.name,
                backend=embedder.backend,
                dimensions=embedder.dimensions,
                chunking=chunking,
                bm25=dict(_lexical.SETTINGS),
                corpus_hash=corpus.hash,
                articles=len(data.articles),
                sentences=len(data.sentences),
                chunks=len(data.chunks),
                built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                build_seconds=round(time.perf_counter() - started, 2),
            )
            write_index(root, data, manifest)
    except QAError:
        raise
    except (OSError, MemoryError, ValueError, RuntimeError) as exc:
        raise BuildError(
            f"build failed ({type(exc).__name__}: {exc}); the previous index in {root} is unchanged"
        ) from exc
    return BuildReport(
        index_dir=str(root),
        articles=manifest.articles,
        sentences=manifest.sentences,
        chunks=manifest.chunks,
        skipped=corpus.skipped,
        seconds=time.perf_counter() - started,
        model=embedder.name,
        backend=embedder.backend,
    )


def _index_data(
    articles: list[Article], embedder: Embedder, settings: BuildSettings, progress: bool
) -> tuple[IndexData, dict[str, object]]:
    # Two word pieces of the window go to the model's [CLS] and [SEP].
    chunk_tokens = min(settings.chunk_tokens, embedder.max_tokens - 2)
    chunker = make_chunker(embedder.count_tokens, chunk_tokens, settings.overlap_sentences)
    sentence_rows: list[tuple[int, int, int]] = []
    chunk_rows: list[tuple[int, int, int]] = []
    sentence_texts: list[str] = []
    window_texts: list[str] = []
    chunk_texts: list[str] = []
    for a, article in enumerate(tqdm(articles, desc="Splitting", unit="article", disable=not progress)):
        text = article.text
        units = chunker.units(text)
        base = len(sentence_rows)
        for i, span in enumerate(units):
            sentence_rows.append((a, span.start, span.end))
            sentence_texts.append(text[span.start : span.end])
            window_start = units[i - 1].start if i else span.start
            window_texts.append(text[window_start : span.end])
        for first, last in chunker.pack(embedder.count_tokens(s) for s in sentence_texts[base:]):
            chunk_rows.append((a, base + first, base + last))
            chunk_texts.append(text[units[first].start : units[last - 1].end])
    if not sentence_rows:
        raise BuildError("the corpus has no sentences to index; check that its articles contain text")
    with tqdm(total=len(sentence_texts) + len(chunk_texts), desc="Embedding", unit="text", disable=not progress) as bar:
        chunk_vectors = embedder.embed(chunk_texts, progress=bar.update)
        sentence_vectors = embedder.embed(sentence_texts, progress=bar.update)
    bm25 = {
        "chunks": _lexical.build(chunk_texts),
        "sentences": _lexical.build(sentence_texts),
        "windows": _lexical.build(window_texts),
    }
    data = IndexData(
        articles=articles,
        sentences=np.asarray(sentence_rows, dtype=np.int64),
        chunks=np.asarray(chunk_rows, dtype=np.int64),
        sentence_vectors=sentence_vectors,
        chunk_vectors=chunk_vectors,
        bm25=bm25,
    )
    return data, {**chunker.settings, "chunk_size": chunk_tokens}
