"""The build: corpus -> sentences and chunks -> vectors and BM25 -> an index folder."""

from __future__ import annotations

import errno
import re
import sys
import time
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from . import _lexical
from ._chunk import SentenceChunker, make_chunker
from ._corpus import Corpus, article_hash, read_corpus
from ._embed import DEFAULT_BACKEND, Embedder, SpanPass, embed_span_batches, load_embedder
from ._errors import BuildError, IndexNotFoundError, QAError
from ._kinds import sentence_types
from ._late import SAMPLE_ROWS, TOKEN_DIMS, Projection, fit_projection, quantize
from ._segment import iter_split
from ._store import FORMAT_VERSION, IndexData, Manifest, StoredIndex, vector_index_kind
from ._stores import Store, is_server, open_store
from ._types import Article, BuildReport

_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")

CHUNK_TOKENS = 200
OVERLAP_SENTENCES = 1


@dataclass(frozen=True)
class BuildSettings:
    """Chunking settings; recorded in the manifest.

    `sentence_vectors` is "pooled" (each sentence's vector is the mean of its token vectors
    from the chunk pass, so every text is embedded once) or "separate" (each sentence is
    embedded again on its own). `token_dims` is how many dimensions each sentence's stored
    token vectors keep (`_late`; a model with fewer keeps all of its own).
    """

    chunk_tokens: int = CHUNK_TOKENS
    overlap_sentences: int = OVERLAP_SENTENCES
    sentence_vectors: str = "pooled"
    token_dims: int = TOKEN_DIMS


def build_index(
    corpus_dir: str | Path,
    index_dir: str | Path | Store,
    model: str | None = None,
    *,
    backend: str | None = None,
    embedder: Embedder | None = None,
    settings: BuildSettings = BuildSettings(),
    full: bool = False,
    progress: bool = False,
    ray: str | None = None,
) -> BuildReport:
    """Build an index of the corpus at `corpus_dir` into `index_dir` and make it current.

    `index_dir` is an index folder, a Milvus Lite file (`*.db`), a Milvus URI or a `Store`
    (`qa._stores.open_store`). With `ray` ("local" for a one-machine cluster, "auto" or an
    address such as ray://head:10001 to join one) the texts are embedded on Ray Data
    (`qa._ray`), to the same bits as without it.

    The new index is written beside the old one and swapped in atomically, so a build that
    fails leaves the previous index serving. `model` and `backend` left None are the current
    index's (the bundled model and onnx for a new index). Unless `full`, articles whose content is unchanged
    since the current index (same model, backend and settings) keep their vectors, and only new
    or changed articles are embedded. Raises `QAError` subclasses with a fix in
    the message.
    """
    _outside(corpus_dir, index_dir)
    if embedder is None and (model is None or backend is None):
        built = index_manifest(index_dir)
        if built is not None:
            model, backend = model or built.model, backend or built.backend
    corpus = read_corpus(corpus_dir, index=index_dir.location if isinstance(index_dir, Store) else index_dir)
    with ExitStack() as stack:
        if ray is not None and embedder is None:
            from ._ray import RayEmbedder

            embedder = stack.enter_context(RayEmbedder(ray, model, backend or DEFAULT_BACKEND))
        return build_corpus(
            corpus,
            index_dir,
            model,
            backend=backend or DEFAULT_BACKEND,
            embedder=embedder,
            settings=settings,
            full=full,
            progress=progress,
        )


def _outside(corpus_dir: str | Path, index_dir: str | Path | Store) -> None:
    """Keep a corpus folder and a local index apart. An index folder or Milvus Lite file that is
    the corpus folder or lies inside it would be written into the corpus, and the next build
    would read its files as articles; a corpus inside an index folder may be removed with the
    index's old builds."""
    if isinstance(index_dir, Store) or is_server(str(index_dir)) or not Path(corpus_dir).is_dir():
        return
    try:
        corpus, place = Path(corpus_dir).resolve(), Path(index_dir).resolve()
    except (OSError, RuntimeError):
        return  # a symlink loop: the build itself then fails with one line naming it
    if place.is_relative_to(corpus):
        raise BuildError(
            f"the index {str(index_dir)!r} would be inside the corpus {str(corpus_dir)!r}, and the next build "
            "would read it as articles; pass --index a place outside the corpus folder"
        )
    if corpus.is_relative_to(place):
        raise BuildError(
            f"the corpus {str(corpus_dir)!r} is inside the index {str(index_dir)!r}, whose old builds a build "
            "removes; move the corpus out of the index folder, or pass --index a place outside it"
        )


def _disk_full(exc: BaseException) -> bool:
    """Whether `exc` is a write the disk had no room for: ENOSPC, or numpy's short write (its
    `tofile` reports "N requested and M written" without an errno)."""
    if not isinstance(exc, OSError):
        return False
    return exc.errno in (errno.ENOSPC, errno.EDQUOT) or bool(_SHORT_WRITE.search(str(exc)))


def index_manifest(index_dir: str | Path | Store) -> Manifest | None:
    """The manifest of the index at `index_dir`, if one is there: a build not told which model
    or backend to use keeps the index's, so adding articles to an all-mpnet-base-v2 index (or
    a torch one) neither re-embeds it all with the defaults nor leaves a build that a server
    of the index will not load."""
    try:
        return open_store(index_dir).read_manifest()
    except QAError:
        return None  # none there yet, or unreadable: the defaults


def index_model(index_dir: str | Path | Store) -> str | None:
    """The model the index at `index_dir` was built with, if one is there (`index_manifest`)."""
    built = index_manifest(index_dir)
    return built.model if built is not None else None


def build_corpus(
    corpus: Corpus,
    index_dir: str | Path | Store,
    model: str | None = None,
    *,
    backend: str = DEFAULT_BACKEND,
    embedder: Embedder | None = None,
    settings: BuildSettings = BuildSettings(),
    full: bool = False,
    progress: bool = False,
) -> BuildReport:
    """`build_index` for a corpus already in memory (as `qa eval` makes from a SQuAD file)."""
    started = time.perf_counter()
    store = open_store(index_dir)
    root = store.location
    try:
        with store.lock():
            embedder = embedder or load_embedder(model, backend)
            chunker = _chunker(embedder, settings)
            chunking = {
                **chunker.settings,
                "sentence_vectors": settings.sentence_vectors,
                "token_dims": settings.token_dims,
            }
            previous, fresh = (None, "") if full else _reusable(store, embedder, chunking)
            data, reused = _index_data(
                list(corpus.articles),
                embedder,
                chunker,
                previous,
                progress,
                pooled=settings.sentence_vectors == "pooled",
                token_dims=settings.token_dims,
            )
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
                vector_index=vector_index_kind(len(data.chunks)),
                tokens=len(data.token_codes),
            )
            store.publish(data, manifest, previous)
            if previous is not None:
                previous.close()  # its tables were copied; its build may now be removed
            store.collect()  # builds still read by a server are left to the last reader to go
    except QAError:
        raise
    except (OSError, MemoryError, ValueError, RuntimeError) as exc:
        if _disk_full(exc):
            raise BuildError(
                f"build failed: the disk holding {root} is full ({exc}); free space there and build again. "
                f"The previous index in {root} is unchanged"
            ) from exc
        raise BuildError(
            f"build failed ({type(exc).__name__}: {exc}); the previous index in {root} is unchanged"
        ) from exc
    return BuildReport(
        index_dir=root,
        articles=manifest.articles,
        sentences=manifest.sentences,
        chunks=manifest.chunks,
        skipped=corpus.skipped,
        ignored=corpus.ignored,
        seconds=time.perf_counter() - started,
        model=embedder.name,
        backend=embedder.backend,
        reused=reused,
        embedded=manifest.articles - reused,
        removed=len({a.id for a in previous.articles} - {a.id for a in corpus.articles}) if previous else 0,
        incremental=previous is not None,
        fresh=fresh,
    )


def shown(progress: bool) -> dict[str, Any]:
    """tqdm's settings for a progress bar shown only if `progress`: redrawn at tqdm's 0.1 s on a
    terminal; into a log or a pipe, where each redraw is another line of output, every 10 s
    (the first and last states still show)."""
    interval = 0.1 if sys.stderr is not None and sys.stderr.isatty() else 10.0
    return {"disable": not progress, "mininterval": interval}


def _chunker(embedder: Embedder, settings: BuildSettings) -> SentenceChunker:
    if settings.sentence_vectors not in ("pooled", "separate"):
        raise BuildError(f"sentence_vectors must be 'pooled' or 'separate', not {settings.sentence_vectors!r}")
    if settings.token_dims < 1:
        raise BuildError(f"token_dims must be at least 1, not {settings.token_dims}")
    # Two word pieces of the window go to the model's [CLS] and [SEP].
    chunk_tokens = min(settings.chunk_tokens, embedder.max_tokens - 2)
    return make_chunker(embedder.count_tokens, chunk_tokens, settings.overlap_sentences)


def _reusable(store: Store, embedder: Embedder, chunking: dict[str, object]) -> tuple[StoredIndex | None, str]:
    """The current index, if its vectors can be reused: same model, backend, chunking and BM25;
    else None and why not, for the report ("" when there is no index yet).

    Only the files a build reuses are read: a damaged FAISS or BM25 file is simply written anew,
    and any other damaged file makes the build embed everything.
    """
    try:
        previous = store.load(search=False)
    except IndexNotFoundError:
        return None, ""
    except QAError as exc:
        # The message's own advice is to rebuild, which this build is doing.
        return None, f"the index there could not be read ({str(exc).split('; rebuild')[0]})"
    m = previous.manifest
    had = {"model": m.model, "backend": m.backend, "dimensions": m.dimensions, "chunking": m.chunking, "bm25": m.bm25}
    now = {
        "model": embedder.name,
        "backend": embedder.backend,
        "dimensions": embedder.dimensions,
        "chunking": chunking,
        "bm25": _lexical.SETTINGS,
    }
    if had == now:
        return previous, ""
    previous.close()
    other = [f"{key} {had[key]!r}" for key in ("model", "backend") if had[key] != now[key]]
    other += [f"other {key} settings" for key in ("chunking", "bm25") if had[key] != now[key]]
    return None, f"the index there was built with {', '.join(other) or 'other settings'}"


def _index_data(
    articles: list[Article],
    embedder: Embedder,
    chunker: SentenceChunker,
    previous: StoredIndex | None,
    progress: bool,
    *,
    pooled: bool = True,
    token_dims: int = TOKEN_DIMS,
) -> tuple[IndexData, int]:
    """Sentences, chunks, vectors and BM25 for `articles`; (data, articles reused from `previous`).

    An article whose content hash is unchanged since `previous` keeps its sentences, chunks and
    vectors and token vectors; only new or changed articles are split and embedded. BM25 is
    always rebuilt, as its statistics span the whole corpus.
    """
    old: dict[str, tuple[int, int, int, int]] = {}
    if previous is not None:
        s_bounds = np.searchsorted(previous.sentences[:, 0], np.arange(len(previous.articles) + 1))
        c_bounds = np.searchsorted(previous.chunks[:, 0], np.arange(len(previous.articles) + 1))
        for p, article in enumerate(previous.articles):
            old[article_hash(article)] = (
                int(s_bounds[p]),
                int(s_bounds[p + 1]),
                int(c_bounds[p]),
                int(c_bounds[p + 1]),
            )
    sentence_rows: list[tuple[int, int, int]] = []
    chunk_rows: list[tuple[int, int, int]] = []
    # Where each row's vector comes from: >= 0 a row of the previous index, < 0 a new text (-1 - k).
    sentence_source: list[int] = []
    chunk_source: list[int] = []
    new_sentences: list[str] = []
    new_chunks: list[str] = []
    # For each new chunk, its sentences: (index into new_sentences, span relative to the chunk).
    new_members: list[list[tuple[int, tuple[int, int]]]] = []
    reused = 0
    hashes = [article_hash(article) for article in articles]
    # Only new or changed articles are split; worker processes split ahead of this loop.
    texts = [article.text for article, h in zip(articles, hashes, strict=True) if h not in old]
    with closing(iter_split(texts)) as splits:
        for a, article in enumerate(tqdm(articles, desc="Splitting", unit="article", **shown(progress))):
            text = article.text
            base = len(sentence_rows)
            kept = old.get(hashes[a])
            if kept is not None and previous is not None:
                s0, s1, c0, c1 = kept
                sentence_rows += [(a, start, end) for _, start, end in previous.sentences[s0:s1].tolist()]
                chunk_rows += [
                    (a, first - s0 + base, last - s0 + base) for _, first, last in previous.chunks[c0:c1].tolist()
                ]
                sentence_source += range(s0, s1)
                chunk_source += range(c0, c1)
                reused += 1
                continue
            measured = chunker.measure(text, next(splits))
            units = [unit for unit, _ in measured]
            first_new = len(new_sentences)
            for span in units:
                sentence_rows.append((a, span.start, span.end))
                sentence_source.append(-1 - len(new_sentences))
                new_sentences.append(text[span.start : span.end])
            for first, last in chunker.pack(size for _, size in measured):
                chunk_rows.append((a, base + first, base + last))
                chunk_source.append(-1 - len(new_chunks))
                offset = units[first].start
                new_chunks.append(text[offset : units[last - 1].end])
                new_members.append(
                    [(first_new + k, (units[k].start - offset, units[k].end - offset)) for k in range(first, last)]
                )
    if not sentence_rows:
        raise BuildError("the corpus has no sentences to index; check that its articles contain text")
    total = len(new_chunks) + (0 if pooled else len(new_sentences))
    # Nothing to embed (an unchanged corpus) shows no bar rather than "Embedding: 0text".
    with tqdm(total=total, desc="Embedding", unit="text", **shown(progress and total > 0)) as bar:
        # The previous index's projection keeps reused and new token codes comparable.
        tokens = _TokenCodes(new_members, len(new_sentences), previous.projection if previous else None, token_dims)
        fresh_chunks = np.zeros((len(new_chunks), embedder.dimensions), dtype=np.float32)
        pooled_rows: list[np.ndarray] = [np.zeros(0)] * len(new_chunks)
        batches = tokens.batches(len(new_chunks))
        inputs = [([new_chunks[c] for c in b], [[span for _, span in new_members[c]] for c in b]) for b in batches]
        embedded = embed_span_batches(embedder, inputs, progress=bar.update)
        for batch, (vectors, passes) in zip(batches, embedded, strict=True):
            fresh_chunks[batch] = vectors
            for c, passed in zip(batch, passes, strict=True):
                pooled_rows[c] = passed.vectors
            tokens.add(batch, passes)
        if pooled:
            fresh_sentences = _sentence_means(new_members, pooled_rows, len(new_sentences), embedder.dimensions)
        else:
            fresh_sentences = embedder.embed(new_sentences, progress=bar.update)
    projection, fresh_tokens = tokens.result()

    def gather(source: list[int], fresh: np.ndarray, kept: np.ndarray | None) -> np.ndarray:
        out = np.zeros((len(source), embedder.dimensions), dtype=np.float32)
        src = np.asarray(source, dtype=np.int64)
        if kept is not None and (src >= 0).any():
            out[src >= 0] = kept[src[src >= 0]]
        if (src < 0).any():
            out[src < 0] = fresh[-1 - src[src < 0]]
        return out

    sentence_table = np.asarray(sentence_rows, dtype=np.int64)
    chunk_table = np.asarray(chunk_rows, dtype=np.int64)
    sentence_texts = [articles[a].text[s:e] for a, s, e in sentence_rows]
    window_texts = [
        articles[a].text[(sentence_rows[i - 1][1] if i and sentence_rows[i - 1][0] == a else s) : e]
        for i, (a, s, e) in enumerate(sentence_rows)
    ]
    chunk_texts = [
        articles[a].text[sentence_rows[first][1] : sentence_rows[last - 1][2]] for a, first, last in chunk_rows
    ]
    data = IndexData(
        articles=articles,
        sentences=sentence_table,
        chunks=chunk_table,
        sentence_vectors=gather(sentence_source, fresh_sentences, previous.sentence_vectors if previous else None),
        chunk_vectors=gather(chunk_source, fresh_chunks, previous.chunk_vectors if previous else None),
        bm25={
            "chunks": _lexical.build(chunk_texts),
            "sentences": _lexical.build(sentence_texts),
            "windows": _lexical.build(window_texts),
        },
        projection=projection,
        sentence_types=np.array([sentence_types(t) for t in sentence_texts], dtype=np.uint16),
        sentence_groups=_groups(sentence_texts),
        **_gather_tokens(sentence_source, fresh_tokens, previous),
    )
    return data, reused


def _groups(sentences: list[str]) -> np.ndarray:
    """For each sentence, the first row with the same text, ignoring case and spacing: the
    sentences that copies of one story (the BBC set has about 170 such pairs) share."""
    first: dict[str, int] = {}
    return np.array([first.setdefault(" ".join(t.lower().split()), i) for i, t in enumerate(sentences)], dtype=np.int64)


_Tokens = tuple[np.ndarray, np.ndarray, np.ndarray]  # (offsets with a leading 0, int8 codes, scales)
_SAMPLE_CHUNKS = 512  # chunks embedded first, evenly spread, whose tokens fit the projection
_BATCH_CHUNKS = 512  # chunks embedded at a time after them; their float32 tokens are then coded


class _TokenCodes:
    """The new sentences' token codes, made as the chunks are embedded.

    Each sentence takes its token vectors from the first chunk holding it. Without a projection
    to reuse, an evenly spread sample of chunks is embedded first and the projection fitted on
    their tokens; every later batch is projected and quantized as soon as it is embedded, so a
    build never holds more than a batch of float32 token vectors (Reuters peak RSS was 5 GB
    when it held them all).
    """

    def __init__(
        self, members: list[list[tuple[int, tuple[int, int]]]], count: int, projection: Projection | None, dims: int
    ) -> None:
        self.members, self.projection, self.dims = members, projection, dims
        self.first_holder = np.full(count, -1, dtype=np.int64)
        for c in range(len(members) - 1, -1, -1):
            for sentence, _ in members[c]:
                self.first_holder[sentence] = c
        if (self.first_holder < 0).any():
            raise BuildError("a sentence is in no chunk; this is a bug in chunking, please report it")
        self.codes: list[np.ndarray | None] = [None] * count
        self.scales: list[np.ndarray | None] = [None] * count

    def batches(self, chunks: int) -> list[list[int]]:
        """Chunk numbers in the order to embed them: the fitting sample first, if one is needed."""
        sample: list[int] = []
        if self.projection is None and chunks:
            sample = list(range(0, chunks, max(1, chunks // _SAMPLE_CHUNKS)))
        taken = set(sample)
        rest = [c for c in range(chunks) if c not in taken]
        return ([sample] if sample else []) + [rest[i : i + _BATCH_CHUNKS] for i in range(0, len(rest), _BATCH_CHUNKS)]

    def add(self, batch: list[int], passes: list[SpanPass]) -> None:
        """Take the tokens of the sentences these chunks hold first, and code them."""
        found = [
            (sentence, tokens)
            for c, passed in zip(batch, passes, strict=True)
            for (sentence, _), tokens in zip(self.members[c], passed.tokens, strict=True)
            if self.first_holder[sentence] == c
        ]
        projection = self.projection
        if projection is None:  # the first batch is the sample: fit on it
            rows = [t for _, t in found]
            step = max(1, sum(len(t) for t in rows) // SAMPLE_ROWS)
            projection = self.projection = fit_projection(np.vstack(rows[::step]), self.dims)
        if found:
            codes, scale = quantize(projection.apply(np.vstack([t for _, t in found])))
            bounds = np.cumsum([0] + [len(t) for _, t in found])
            for (sentence, _), a, b in zip(found, bounds[:-1], bounds[1:], strict=True):
                self.codes[sentence], self.scales[sentence] = codes[a:b], scale[a:b]

    def result(self) -> tuple[Projection, _Tokens]:
        """The projection used, and the codes of every new sentence in order."""
        if self.projection is None:
            raise BuildError("no chunk was embedded to fit the token projection on; this is a bug, please report it")
        codes = [c for c in self.codes if c is not None]
        scales = [s for s in self.scales if s is not None]
        if len(codes) != len(self.codes):
            raise BuildError("a sentence got no token vectors; this is a bug in the build, please report it")
        offsets = np.concatenate([[0], np.cumsum([len(c) for c in codes])]).astype(np.int64)
        width = self.projection.dims
        return self.projection, (
            offsets,
            np.vstack(codes) if codes else np.zeros((0, width), dtype=np.int8),
            np.concatenate(scales) if scales else np.zeros(0, dtype=np.float32),
        )


def _gather_tokens(source: list[int], fresh: _Tokens, previous: StoredIndex | None) -> dict[str, np.ndarray]:
    """The token arrays of the new index: each sentence's rows from the previous index (source
    >= 0) or from this build's fresh ones (source -1 - k)."""
    fresh_offsets, fresh_codes, fresh_scale = fresh
    pieces: list[tuple[np.ndarray, np.ndarray]] = []
    counts = np.zeros(len(source), dtype=np.int64)
    for row, src in enumerate(source):
        if src >= 0 and previous is not None:
            a, b = int(previous.sentence_tokens[src]), int(previous.sentence_tokens[src + 1])
            pieces.append((np.asarray(previous.token_codes[a:b]), previous.token_scale[a:b]))
        else:
            a, b = int(fresh_offsets[-1 - src]), int(fresh_offsets[-src])
            pieces.append((fresh_codes[a:b], fresh_scale[a:b]))
        counts[row] = b - a
    width = fresh_codes.shape[1]
    return {
        "sentence_tokens": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        "token_codes": np.vstack([c for c, _ in pieces]) if pieces else np.zeros((0, width), dtype=np.int8),
        "token_scale": np.concatenate([s for _, s in pieces]) if pieces else np.zeros(0, dtype=np.float32),
    }


def _sentence_means(
    members: list[list[tuple[int, tuple[int, int]]]], pooled: list[np.ndarray], count: int, dimensions: int
) -> np.ndarray:
    """Each sentence's vector: the normalised mean of its pooled vectors in the chunks holding it
    (a sentence in the overlap of two chunks is seen in both contexts)."""
    sums = np.zeros((count, dimensions), dtype=np.float32)
    for chunk_members, rows in zip(members, pooled, strict=True):
        for (sentence, _), row in zip(chunk_members, rows, strict=True):
            sums[sentence] += row
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    if (norms == 0).any():
        raise BuildError("a sentence is in no chunk; this is a bug in chunking, please report it")
    return np.asarray(sums / norms, dtype=np.float32)
