"""The index store: the on-disk layout of `index/`, its manifest, and atomic swaps.

`FolderStore` puts it behind `qa._stores.Store` (the default store); `StoredIndex`, the manifest
and `read_tables` are shared with the Milvus store. This is the only module that imports faiss.
Layout::

    index/
      CURRENT              name of the build in use (replaced atomically)
      builds/<id>/         one complete build: manifest.json, articles.jsonl, *.npy,
                           chunks.faiss, bm25_* folders, and .lease
      builds/.tmp-<id>/    a build in progress; never read, removed by the next build
      builds/.trash-<id>/  a released build being removed; never read

Readers and the collector meet at each build's `.lease` (see docs/live-reload.md): a reader
holds a shared flock on it from before it opens the build's first file until it lets the build
go; the collector removes a build that CURRENT no longer names only while it holds the lease
exclusively, and renames the folder away before deleting it. So no process ever opens a file of
a build that is being removed, and a build some process reads is never removed under it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import faiss
import numpy as np

from . import _lexical
from ._errors import BuildError, IndexCorruptError, IndexMismatchError, IndexNotFoundError, QAError, rebuild_hint
from ._late import Projection
from ._types import Article

# 3: sentences' token vectors for late interaction; 4: sentence types and duplicate groups;
# 5: article dates in ISO 8601 only (filters compare them; older builds kept them as written)
FORMAT_VERSION = 5
CURRENT = "CURRENT"
BUILDS = "builds"
TMP_PREFIX = ".tmp-"
TRASH_PREFIX = ".trash-"
LEASE = ".lease"
# A loader that finds CURRENT's build collected under it (a newer one was published meanwhile)
# reads CURRENT again; each retry follows a whole publication, so a few are plenty.
RESOLVE_ATTEMPTS = 20
_BM25_PARTS = ("chunks", "sentences", "windows")
# Chunk search is exact up to this many chunks, then HNSW: exact search costs a full scan per
# question, about 15 ms at 100k chunks on 2 cores, against 2 ms for HNSW (benchmarks/faiss_curve.py).
EXACT_LIMIT = 100_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256
T = TypeVar("T")


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
    """A loaded index: articles, sentence and chunk tables, vectors, FAISS and BM25.

    It holds its build's lease until `close` (or until it is garbage-collected), so no
    collector removes the build while it is in use.
    """

    def __init__(
        self, path: Path, manifest: Manifest, data: IndexData, vector_index: Any, lease: Lease | None = None
    ) -> None:
        self.path = path
        self.location = str(path)  # where the build is, for people (a folder, or a Milvus collection)
        self.name = lease.name if lease else None  # the build CURRENT named, if loaded through it
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
        self._faiss = vector_index
        self._lease = lease

    def sentence_texts(self, rows: np.ndarray) -> list[str]:
        """The text of each sentence row: its article's text between its offsets."""
        return [self.articles[a].text[s:e] for a, s, e in self.sentences[rows].tolist()]

    def close(self) -> None:
        """Let the build go: a collector may remove its folder once no other reader holds it."""
        if self._lease is not None:
            self._lease.release()

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

    def search_candidates(
        self, vector: np.ndarray, tokens: list[str], k: int, allowed: np.ndarray | None = None
    ) -> np.ndarray | None:
        """The union of the best `k` chunks by vector and the best `k` by BM25 for the tokenized
        question (sorted ids), from a store that searches both itself; None here, where retrieval
        takes the dense ones from `search_chunks` and ranks the BM25 scores it computes from `bm25`."""
        return None


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
    """Hold the index folder's lock, so two builds never interleave their swaps.

    The `.lock` file is never removed, not even from a folder a failed first build made and left
    holding nothing else: a process that opened it just before would lock a file no longer in the
    folder, and a third could then build beside it."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BuildError(f"another `qa build` is writing {root}; wait for it to finish") from exc
        yield


class Lease:
    """A shared flock on one build's `.lease`: while any process holds one, no collector
    removes that build. Released by `release`, or when the lease is garbage-collected."""

    def __init__(self, folder: Path, name: str | None, fd: int | None) -> None:
        self.folder, self.name = folder, name
        self._fd = fd
        # A StoredIndex dropped without `close` still lets its build go.
        self._finalizer = weakref.finalize(self, os.close, fd) if fd is not None else None

    def release(self) -> None:
        if self._finalizer is not None:
            self._finalizer()


def _open_lease(folder: Path) -> int | None:
    """A file descriptor of `folder`'s lease, created if an older build has none; None where
    nothing can be created (a read-only index folder, which no collector can change either)."""
    try:
        return os.open(folder / LEASE, os.O_RDONLY | os.O_CREAT, 0o644)
    except (FileNotFoundError, NotADirectoryError):
        raise
    except OSError:
        return None


def acquire(root: Path) -> Lease:
    """Resolve the build `root` points at once, and hold it: `root` itself if it is a build
    folder, else the one CURRENT names. Every file the caller then reads comes from that folder."""
    if (root / "manifest.json").is_file():
        return Lease(root, None, _shared(root))
    for _ in range(RESOLVE_ATTEMPTS):
        name = current_name(root)
        folder = root / BUILDS / name
        try:
            fd = _open_lease(folder)
        except FileNotFoundError:
            if current_name(root) == name:
                raise IndexCorruptError(
                    f"{root}/CURRENT names build {name!r}, which is missing; rebuild with {rebuild_hint('--index', root)}"
                ) from None
            continue  # collected after a newer build was published: follow CURRENT again
        if fd is None:
            return Lease(folder, name, None)
        fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            # A collector renames a build away while it holds the lease exclusively; the lease
            # just taken is that build's only if its file is still where CURRENT led.
            held = os.stat(folder / LEASE).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            held = False
        if held:
            if not (folder / "manifest.json").is_file():
                os.close(fd)
                raise IndexCorruptError(
                    f"{folder}/manifest.json is missing, so that build is incomplete; rebuild with {rebuild_hint('--index', root)}"
                )
            return Lease(folder, name, fd)
        os.close(fd)
    raise IndexCorruptError(
        f"{root}/CURRENT changed {RESOLVE_ATTEMPTS} times while it was being read; "
        "wait for the builds writing it to finish, then try again"
    )


def _shared(folder: Path) -> int | None:
    fd = _open_lease(folder)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def current_name(root: Path) -> str:
    """The name of the build CURRENT names (IndexNotFoundError if there is no index)."""
    try:
        name = (root / CURRENT).read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        raise IndexNotFoundError(
            f"no index in {str(root)!r}; build one with `qa build --index {root}` (or `make run`)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(
            f"{root}/CURRENT is unreadable ({exc}); rebuild with {rebuild_hint('--index', root)}"
        ) from exc
    if not name or "/" in name or name.startswith("."):
        raise IndexCorruptError(f"{root}/CURRENT does not name a build; rebuild with {rebuild_hint('--index', root)}")
    return name


def write_index(root: Path, data: IndexData, manifest: Manifest) -> Path:
    """Write a complete build next to the current one, then make it current atomically.

    Until the final rename of CURRENT nothing the loader reads changes, so a build that
    fails or is killed leaves the previous index serving. Older builds are left for `collect`.
    Call under `build_lock`.
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
        # Held from before the new build appears under its name until CURRENT names it, so a
        # collector that read CURRENT just before the swap cannot take it for an old build.
        lease = Lease(tmp, name, _shared(tmp))
        try:
            final = builds / name
            os.rename(tmp, final)
            pointer = root / (CURRENT + ".tmp")
            pointer.write_text(name + "\n")
            with open(pointer) as handle:
                os.fsync(handle.fileno())
            os.replace(pointer, root / CURRENT)
        finally:
            lease.release()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def collect(root: Path) -> list[str]:
    """Remove every build that CURRENT no longer names and no process holds; their names.

    Safe to call from any process at any time: a build is removed only while its lease is held
    exclusively and CURRENT, read under that lock, names another build.
    """
    builds = root / BUILDS
    removed: list[str] = []
    try:
        folders = sorted(builds.iterdir())
    except OSError:
        return removed
    for folder in folders:
        if folder.name.startswith(TRASH_PREFIX):
            shutil.rmtree(folder, ignore_errors=True)  # a collector stopped mid-removal
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        try:
            fd = os.open(folder / LEASE, os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError:
            continue  # gone already, or not ours to remove
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a reader holds it: the next build, or an engine letting it go, collects it
            try:
                if folder.name == current_name(root) or os.stat(folder / LEASE).st_ino != os.fstat(fd).st_ino:
                    continue
            except (QAError, OSError):
                continue  # no readable CURRENT: remove nothing
            trash = builds / (TRASH_PREFIX + folder.name)
            try:
                os.rename(folder, trash)
            except OSError:
                continue
            shutil.rmtree(trash, ignore_errors=True)
            removed.append(folder.name)
        finally:
            os.close(fd)
    return removed


def _write_files(folder: Path, data: IndexData, manifest: Manifest, vectors: bool = True) -> None:
    """The build's files; without `vectors`, no FAISS index (a store that searches vectors itself)."""
    (folder / LEASE).touch()
    with open(folder / "articles.jsonl", "w", encoding="utf-8") as out:
        for article in data.articles:
            out.write(json.dumps(asdict(article), ensure_ascii=False) + "\n")
    np.save(folder / "sentences.npy", data.sentences.astype(np.int64))
    np.save(folder / "chunks.npy", data.chunks.astype(np.int64))
    np.save(folder / "sentence_vectors.npy", data.sentence_vectors.astype(np.float32))
    np.save(folder / "chunk_vectors.npy", data.chunk_vectors.astype(np.float32))
    if vectors:
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
    """The build folder `root` points at now: itself if it is one, else the one CURRENT names."""
    lease = acquire(root)
    lease.release()
    return lease.folder


def read_manifest(root: Path) -> Manifest:
    """The manifest of the index at `root`, checked for this version of `qa`."""
    lease = acquire(root)
    try:
        return _manifest(root, lease.folder)
    finally:
        lease.release()


# Field types a manifest must have; anything else is a damaged file, not a setting to compare.
_MANIFEST_TYPES: dict[str, type | tuple[type, ...]] = {
    "format_version": int, "model": str, "backend": str, "dimensions": int, "chunking": dict, "bm25": dict,
    "corpus_hash": str, "articles": int, "sentences": int, "chunks": int, "built_at": str,
    "build_seconds": (int, float), "vector_index": str, "tokens": int,
}  # fmt: skip


def _manifest(root: Path, folder: Path) -> Manifest:
    path = folder / "manifest.json"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"{path} is unreadable ({exc}); rebuild with {rebuild_hint('--index', root)}") from exc
    return parse_manifest(root, path, text)


def parse_manifest(root: Path | str, path: Path | str, text: str) -> Manifest:
    """The manifest written as `text` (read from `path`), checked for this version of `qa`."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IndexCorruptError(f"{path} is unreadable ({exc}); rebuild with {rebuild_hint('--index', root)}") from exc
    if not isinstance(raw, dict):
        raise IndexCorruptError(
            f"{path} is not a manifest (a JSON object); rebuild with {rebuild_hint('--index', root)}"
        )
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index {str(root)!r} has format version {version!r} but this qa reads version {FORMAT_VERSION}; "
            f"rebuild it with {rebuild_hint('--index', root)}"
        )
    for key, value in raw.items():
        wanted = _MANIFEST_TYPES.get(key)
        if wanted is not None and (not isinstance(value, wanted) or isinstance(value, bool)):
            raise IndexCorruptError(
                f"{path}: {key} is {value!r}, not a {getattr(wanted, '__name__', 'number')}; "
                f"rebuild with {rebuild_hint('--index', root)}"
            )
    try:
        return Manifest(**raw)
    except TypeError as exc:
        raise IndexMismatchError(
            f"index {str(root)!r} has an unexpected manifest ({exc}); rebuild it with {rebuild_hint('--index', root)}"
        ) from exc


# FAISS opens its reason with the C++ function, source line and check that raised it ("Error in
# void faiss::read_xb_vector(...) at .../index_read.cpp:276: Error: 'ret == (size)' failed: read
# error in ...: 55 != 6144"); a user needs the reason only.
_FAISS_WHERE = re.compile(r"^Error in .*? at \S+:\d+: (?:Error: '.*?' failed: )?")


def _read(root: Path | str, path: Path, reader: Callable[[Path], T]) -> T:
    """`reader(path)`, any failure of which means the file is damaged: an IndexCorruptError naming it."""
    try:
        return reader(path)
    except Exception as exc:  # numpy, FAISS and bm25s each fail their own way on a damaged file
        detail = _FAISS_WHERE.sub("", str(exc).splitlines()[0]) if str(exc) else ""
        raise IndexCorruptError(
            f"{path} is unreadable ({type(exc).__name__}: {detail}); rebuild with {rebuild_hint('--index', root)}"
        ) from exc


def _articles(path: Path) -> list[Article]:
    with path.open(encoding="utf-8") as lines:
        return [Article(**json.loads(line)) for line in lines]


def load_index(root: Path, *, search: bool = True, check: Callable[[Manifest], None] | None = None) -> StoredIndex:
    """Load the build `root` points at, resolved once, checking every file against the manifest.

    `check` sees the manifest before any other file is read (and may raise). Without `search`,
    only what a build reuses is read (articles, tables, vectors, token codes and projection), so
    a build over a damaged FAISS or BM25 file still reuses the vectors.
    """
    lease = acquire(root)
    try:
        return _load(root, lease, search, check)
    except BaseException:
        lease.release()
        raise


def _load(root: Path, lease: Lease, search: bool, check: Callable[[Manifest], None] | None) -> StoredIndex:
    folder = lease.folder
    manifest = _manifest(root, folder)
    if check is not None:
        check(manifest)
    data = read_tables(root, folder, manifest, search)
    vector_index = None
    if search:
        path = folder / "chunks.faiss"
        vector_index = _read(root, path, lambda p: faiss.read_index(str(p)))
        if vector_index.ntotal != manifest.chunks or vector_index.d != manifest.dimensions:
            raise IndexCorruptError(f"{path} does not match the manifest; rebuild with {rebuild_hint('--index', root)}")
        _tune(vector_index)
    return StoredIndex(folder, manifest, data, vector_index, lease)


def read_tables(root: Path | str, folder: Path, manifest: Manifest, search: bool, mmap: bool = True) -> IndexData:
    """A build's tables from `folder` (all but the FAISS index), checked against `manifest`.
    Without `mmap` every array is read into memory, so the folder may go once this returns."""

    def npy(name: str, mapped: bool = False) -> np.ndarray:
        # Memory-mapped token codes: a question reads the tokens of a few dozen sentences. Seen
        # as a plain array, so each slice skips np.memmap's per-slice bookkeeping.
        return _read(root, folder / name, lambda p: np.asarray(np.load(p, mmap_mode="r" if mapped else None)))

    data = IndexData(
        articles=_read(root, folder / "articles.jsonl", _articles),
        sentences=npy("sentences.npy"),
        chunks=npy("chunks.npy"),
        sentence_vectors=npy("sentence_vectors.npy"),
        chunk_vectors=npy("chunk_vectors.npy"),
        bm25={part: _read(root, folder / f"bm25_{part}", _lexical.load) for part in _BM25_PARTS} if search else {},
        sentence_tokens=npy("sentence_tokens.npy"),
        token_codes=npy("token_codes.npy", mapped=mmap),
        token_scale=npy("token_scale.npy"),
        projection=Projection(npy("token_mean.npy"), npy("token_projection.npy")),
        sentence_types=npy("sentence_types.npy") if search else np.zeros(manifest.sentences, dtype=np.uint16),
        sentence_groups=npy("sentence_groups.npy") if search else np.arange(manifest.sentences, dtype=np.int64),
    )
    _check(root, folder, manifest, data)
    return data


def _check(root: Path | str, folder: Path, manifest: Manifest, data: IndexData) -> None:
    """Every table's shape against the manifest, naming the file that disagrees."""
    tokens, matrix, groups = data.sentence_tokens, data.projection.matrix, data.sentence_groups
    dims = matrix.shape[1] if matrix.ndim == 2 else None
    expected = {
        "token_projection.npy": ((matrix.ndim, matrix.shape[0] if matrix.ndim else None), (2, manifest.dimensions)),
        "articles.jsonl": (len(data.articles), manifest.articles),
        "sentences.npy": (data.sentences.shape, (manifest.sentences, 3)),
        "chunks.npy": (data.chunks.shape, (manifest.chunks, 3)),
        "sentence_vectors.npy": (data.sentence_vectors.shape, (manifest.sentences, manifest.dimensions)),
        "chunk_vectors.npy": (data.chunk_vectors.shape, (manifest.chunks, manifest.dimensions)),
        "sentence_tokens.npy": (
            (tokens.shape, int(tokens[-1]) if tokens.ndim == 1 and len(tokens) else None),
            ((manifest.sentences + 1,), manifest.tokens),
        ),
        "token_codes.npy": (data.token_codes.shape, (manifest.tokens, dims)),
        "token_scale.npy": (data.token_scale.shape, (manifest.tokens,)),
        "token_mean.npy": (data.projection.mean.shape, (manifest.dimensions,)),
        "sentence_types.npy": (data.sentence_types.shape, (manifest.sentences,)),
        "sentence_groups.npy": (
            (groups.shape, groups.ndim == 1 and bool((groups <= np.arange(len(groups))).all())),
            ((manifest.sentences,), True),
        ),
    }
    for name, (found, wanted) in expected.items():
        if found != wanted:
            raise IndexMismatchError(
                f"{folder / name}: {found} does not match the manifest's {wanted}; rebuild it with {rebuild_hint('--index', root)}"
            )


class FolderStore:
    """The local store (see `qa._stores.Store`): an index folder on this machine's disk."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)

    def lock(self) -> contextlib.AbstractContextManager[None]:
        return build_lock(self.root)

    def load(self, *, search: bool = True, check: Callable[[Manifest], None] | None = None) -> StoredIndex:
        return load_index(self.root, search=search, check=check)

    def current_name(self) -> str:
        return current_name(self.root)

    def publish(self, data: IndexData, manifest: Manifest, base: StoredIndex | None = None) -> str:
        return write_index(self.root, data, manifest).name  # a folder is written whole

    def collect(self) -> list[str]:
        return collect(self.root)

    def read_manifest(self) -> Manifest:
        return read_manifest(self.root)
