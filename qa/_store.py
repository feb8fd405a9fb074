"""The index store: the on-disk layout of `index/`, its manifest, and atomic swaps.

This is the only module that imports faiss. Layout::

    index/
      CURRENT            name of the build in use (replaced atomically)
      builds/<id>/       one complete build: manifest.json, articles.jsonl, *.npy,
                         chunks.faiss, bm25_* folders
      builds/.tmp-<id>/  a build in progress; never read, removed by the next build
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from . import _lexical
from ._errors import BuildError, IndexCorruptError, IndexMismatchError, IndexNotFoundError
from ._late import Projection
from ._types import Article

# 3: sentences' token vectors for late interaction; 4: sentence types and duplicate groups;
# 5: article dates in ISO 8601 only (filters compare them; older builds kept them as written)
FORMAT_VERSION = 5
CURRENT = "CURRENT"
BUILDS = "builds"
TMP_PREFIX = ".tmp-"
_BM25_PARTS = ("chunks", "sentences", "windows")
# Chunk search is exact up to this many chunks, then HNSW: exact search costs a full scan per
# question, about 15 ms at 100k chunks on 2 cores, against 2 ms for HNSW (benchmarks/faiss_curve.py).
EXACT_LIMIT = 100_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256


def vector_index_kind(chunks: int) -> str:
    """The FAISS index a build with this many chunks gets: "flat" (exact) or "hnsw"."""
    return "flat" if chunks <= EXACT_LIMIT else "hnsw"


def make_vector_index(vectors: np.ndarray, kind: str) -> Any:
    """A FAISS inner-product index of `kind` ("flat" or "hnsw") over unit `vectors`."""
    dimensions = vectors.shape[1]
    if kind == "flat":
        index: Any = faiss.IndexFlatIP(dimensions)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dimensions, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    else:
        raise BuildError(f"unknown vector index {kind!r}; use 'flat' or 'hnsw'")
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    _tune(index)
    return index


def _tune(index: Any) -> None:
    if isinstance(index, faiss.IndexHNSW):
        # 100 candidates are asked for; a wide beam keeps their recall near exact search's.
        index.hnsw.efSearch = HNSW_EF_SEARCH


@dataclass(frozen=True)
class Manifest:
    """How an index was built; loading checks it before trusting any file."""

    format_version: int
    model: str
    backend: str
    dimensions: int
    chunking: dict[str, Any]
    bm25: dict[str, Any]
    corpus_hash: str
    articles: int
    sentences: int
    chunks: int
    built_at: str
    build_seconds: float
    vector_index: str = "flat"  # indexes written before this field existed were all flat
    tokens: int = 0  # token vectors stored for late interaction


@dataclass
class IndexData:
    """Everything a build produces, in memory.

    `sentences[i] = (article, start, end)`; `chunks[j] = (article, first, last)` where
    `first:last` are sentence rows; `windows` are BM25 texts "previous sentence + sentence".
    Sentence i's token vectors are rows `sentence_tokens[i]:sentence_tokens[i + 1]` of
    `token_codes` (int8, see `_late.quantize`), projected by `projection`. `sentence_types[i]`
    is the bitmask of `_kinds.TYPES` sentence i holds; `sentence_groups[i]` is the first sentence
    row with the same text (so copies of one story cite a sentence once).
    """

    articles: list[Article]
    sentences: np.ndarray
    chunks: np.ndarray
    sentence_vectors: np.ndarray
    chunk_vectors: np.ndarray
    bm25: dict[str, Any]
    sentence_tokens: np.ndarray
    token_codes: np.ndarray
    token_scale: np.ndarray
    projection: Projection
    sentence_types: np.ndarray
    sentence_groups: np.ndarray


class StoredIndex:
    """A loaded index: articles, sentence and chunk tables, vectors, FAISS and BM25."""

    def __init__(self, path: Path, manifest: Manifest, data: IndexData) -> None:
        self.path = path
        self.manifest = manifest
        self.articles = data.articles
        self.sentences = data.sentences
        self.chunks = data.chunks
        self.sentence_vectors = data.sentence_vectors
        self.chunk_vectors = data.chunk_vectors
        self.bm25 = data.bm25
        self.sentence_tokens = data.sentence_tokens
        self.token_codes = data.token_codes
        self.token_scale = data.token_scale
        self.projection = data.projection
        self.sentence_types = data.sentence_types
        self.sentence_groups = data.sentence_groups
        self.copies = _copies(data.sentence_groups, data.sentences[:, 0])
        self._faiss = faiss.read_index(str(path / "chunks.faiss"))
        _tune(self._faiss)
        if self._faiss.ntotal != len(self.chunks) or self._faiss.d != manifest.dimensions:
            raise IndexCorruptError(f"{path}: chunks.faiss does not match the manifest; rebuild with `qa build`")

    def search_chunks(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-`k` chunks by inner product with the unit `vector`: (ids, scores), best first.

        `allowed` (a bool per chunk) restricts the search itself to those chunks, so a filter
        still gets `k` of them however few of the nearest it allows.
        """
        k = min(k, self._faiss.ntotal)
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        params: Any = None
        if allowed is not None:
            # `bits` must outlive the search: the selector only points at it.
            bits = np.packbits(allowed.astype(bool), bitorder="little")
            selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bits))
            if isinstance(self._faiss, faiss.IndexHNSW):
                params = getattr(faiss, "SearchParametersHNSW")()  # noqa: B009 - absent from faiss's stubs
                params.efSearch = HNSW_EF_SEARCH  # search parameters replace the index's own
            else:
                params = faiss.SearchParameters()
            params.sel = selector
        # One query searches best on one thread: more OpenMP threads only wait on each other and
        # on the model's (Reuters query p50/p95 10.1/12.6 ms with two, 7.4/9.0 ms with one). The
        # setting belongs to the calling thread, and is put back for whatever it runs next.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            scores, ids = self._faiss.search(query, k, params=params)
        finally:
            faiss.omp_set_num_threads(threads)
        keep = ids[0] >= 0
        return ids[0][keep].astype(np.int64), scores[0][keep]


def _copies(groups: np.ndarray, article_of: np.ndarray) -> np.ndarray:
    """For each sentence, how many articles hold its text (1 for a sentence of one story only)."""
    if not len(groups):
        return np.zeros(0, dtype=np.int64)
    pairs = np.unique(np.stack([groups, article_of], axis=1), axis=0)
    return np.asarray(np.bincount(pairs[:, 0], minlength=len(groups))[groups])


def build_id() -> str:
    """A sortable, unique name for a new build folder."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}"


@contextlib.contextmanager
def build_lock(root: Path) -> Iterator[None]:
    """Hold the index folder's lock, so two builds never interleave their swaps."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BuildError(f"another `qa build` is writing {root}; wait for it to finish") from exc
        yield


def write_index(root: Path, data: IndexData, manifest: Manifest) -> Path:
    """Write a complete build next to the current one, then make it current atomically.

    Until the final rename of CURRENT nothing the loader reads changes, so a build that
    fails or is killed leaves the previous index serving. Call under `build_lock`.
    """
    builds = root / BUILDS
    builds.mkdir(parents=True, exist_ok=True)
    for stale in builds.glob(TMP_PREFIX + "*"):
        shutil.rmtree(stale, ignore_errors=True)  # leftovers of killed builds
    name = build_id()
    tmp = builds / (TMP_PREFIX + name)
    tmp.mkdir()
    try:
        _write_files(tmp, data, manifest)
        final = builds / name
        os.rename(tmp, final)
        pointer = root / (CURRENT + ".tmp")
        pointer.write_text(name + "\n")
        with open(pointer) as handle:
            os.fsync(handle.fileno())
        os.replace(pointer, root / CURRENT)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in builds.iterdir():
        if old.name != name and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)
    return final


def _write_files(folder: Path, data: IndexData, manifest: Manifest) -> None:
    with open(folder / "articles.jsonl", "w", encoding="utf-8") as out:
        for article in data.articles:
            out.write(json.dumps(asdict(article), ensure_ascii=False) + "\n")
    np.save(folder / "sentences.npy", data.sentences.astype(np.int64))
    np.save(folder / "chunks.npy", data.chunks.astype(np.int64))
    np.save(folder / "sentence_vectors.npy", data.sentence_vectors.astype(np.float32))
    np.save(folder / "chunk_vectors.npy", data.chunk_vectors.astype(np.float32))
    faiss.write_index(make_vector_index(data.chunk_vectors, manifest.vector_index), str(folder / "chunks.faiss"))
    np.save(folder / "sentence_tokens.npy", data.sentence_tokens.astype(np.int64))
    np.save(folder / "token_codes.npy", data.token_codes.astype(np.int8))
    np.save(folder / "token_scale.npy", data.token_scale.astype(np.float32))
    np.save(folder / "token_mean.npy", data.projection.mean.astype(np.float32))
    np.save(folder / "token_projection.npy", data.projection.matrix.astype(np.float32))
    np.save(folder / "sentence_types.npy", data.sentence_types.astype(np.uint16))
    np.save(folder / "sentence_groups.npy", data.sentence_groups.astype(np.int64))
    for part in _BM25_PARTS:
        _lexical.save(data.bm25[part], folder / f"bm25_{part}")
    # The manifest goes last: a folder without one is never a complete build.
    (folder / "manifest.json").write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def resolve(root: Path) -> Path:
    """The build folder `root` points at: itself if it is one, else the one CURRENT names."""
    if (root / "manifest.json").is_file():
        return root
    pointer = root / CURRENT
    if not pointer.is_file():
        raise IndexNotFoundError(f"no index in {str(root)!r}; build one with `qa build --index {root}` (or `make run`)")
    folder = root / BUILDS / pointer.read_text().strip()
    if not (folder / "manifest.json").is_file():
        raise IndexCorruptError(f"{root}/CURRENT names a build that is missing; rebuild with `qa build --index {root}`")
    return folder


def read_manifest(root: Path) -> Manifest:
    """The manifest of the index at `root`, checked for this version of `qa`."""
    folder = resolve(root)
    try:
        raw = json.loads((folder / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(
            f"{folder}/manifest.json is unreadable ({exc}); rebuild with `qa build --index {root}`"
        ) from exc
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index {str(root)!r} has format version {version!r} but this qa reads version {FORMAT_VERSION}; "
            f"rebuild it with `qa build --index {root}`"
        )
    try:
        return Manifest(**raw)
    except TypeError as exc:
        raise IndexMismatchError(
            f"index {str(root)!r} has an unexpected manifest ({exc}); rebuild it with `qa build --index {root}`"
        ) from exc


def load_index(root: Path) -> StoredIndex:
    """Load the current build under `root`, checking every file against the manifest."""
    manifest = read_manifest(root)
    folder = resolve(root)
    try:
        articles = [Article(**json.loads(line)) for line in (folder / "articles.jsonl").open(encoding="utf-8")]
        data = IndexData(
            articles=articles,
            sentences=np.load(folder / "sentences.npy"),
            chunks=np.load(folder / "chunks.npy"),
            sentence_vectors=np.load(folder / "sentence_vectors.npy"),
            chunk_vectors=np.load(folder / "chunk_vectors.npy"),
            bm25={part: _lexical.load(folder / f"bm25_{part}") for part in _BM25_PARTS},
            sentence_tokens=np.load(folder / "sentence_tokens.npy"),
            # Memory-mapped: a question reads the tokens of a few dozen sentences. Seen as a plain
            # array, so each slice skips np.memmap's per-slice bookkeeping.
            token_codes=np.asarray(np.load(folder / "token_codes.npy", mmap_mode="r")),
            token_scale=np.load(folder / "token_scale.npy"),
            projection=Projection(np.load(folder / "token_mean.npy"), np.load(folder / "token_projection.npy")),
            sentence_types=np.load(folder / "sentence_types.npy"),
            sentence_groups=np.load(folder / "sentence_groups.npy"),
        )
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise IndexCorruptError(
            f"index {str(root)!r} is incomplete or damaged ({exc}); rebuild it with `qa build --index {root}`"
        ) from exc
    expected = {
        "articles": (len(data.articles), manifest.articles),
        "sentences": (len(data.sentences), manifest.sentences),
        "chunks": (len(data.chunks), manifest.chunks),
        "sentence vectors": (data.sentence_vectors.shape, (manifest.sentences, manifest.dimensions)),
        "chunk vectors": (data.chunk_vectors.shape, (manifest.chunks, manifest.dimensions)),
        "token offsets": (
            (data.sentence_tokens.shape, int(data.sentence_tokens[-1]) if len(data.sentence_tokens) else None),
            ((manifest.sentences + 1,), manifest.tokens),
        ),
        "token vectors": (data.token_codes.shape, (manifest.tokens, data.projection.dims)),
        "token scales": (data.token_scale.shape, (manifest.tokens,)),
        "token projection": (data.projection.mean.shape, (manifest.dimensions,)),
        "sentence types": (data.sentence_types.shape, (manifest.sentences,)),
        "sentence groups": (
            (data.sentence_groups.shape, bool((data.sentence_groups <= np.arange(len(data.sentence_groups))).all())),
            ((manifest.sentences,), True),
        ),
    }
    for what, (found, wanted) in expected.items():
        if found != wanted:
            raise IndexMismatchError(
                f"index {str(root)!r}: {what} {found} do not match the manifest's {wanted}; rebuild it with `qa build --index {root}`"
            )
    return StoredIndex(folder, manifest, data)
