"""The Milvus store: builds kept in Milvus (a Milvus Lite file, or a server every serving node
reaches), so that no serving node reads a local file. The only module that imports pymilvus.

A build `<id>` is its tables, in `qa_<id>_data`, and the rows of one chunk collection that
incremental builds share, `qa_<first>` (named after the full build that made it):

    qa_<first>     a row per chunk of an article version: its key (`id`: the version's number
                   times 2**24 plus the chunk's place in the article), the version's number
                   (`article`), the generations it is live in (`born <= g < died`; `died` is LIVE
                   until a build drops or changes the article), date (a timestamp) and source,
                   its dense vector, and its text as qa's own tokenizer leaves it (stemmed, stop
                   words out) feeding Milvus's BM25 function, so that Milvus's full-text search
                   ranks the terms `qa._lexical` does (Milvus Lite has no English analyzer).
    qa_<id>_data   the manifest (row 0), then the build's tables (articles with texts, sentences
                   with offsets, token codes and projection, sentence types and groups, BM25 of
                   sentences and windows, and each article row's version number) as the local
                   store writes them, tarred, in pieces. Its property `qa.build` says which chunk
                   collection, and which generation of it, the build searches.

A full build (the first one, `--full`, another model or settings) makes a new chunk collection,
generation 1. An incremental build g + 1 writes only what changed: rows for its new and changed
articles, born g + 1, and `died = g + 1` on the rows of changed and deleted ones. A node serving
build g searches `born <= g and died > g`, so none of that is visible to it; and it maps a hit's
key to a chunk row of its own tables through the version numbers those tables hold.

The alias `qa` names the current build's data collection: a build writes its rows, then moves
the alias (`create_alias`/`alter_alias`), the one step that publishes it. A build that fails or is
killed before it leaves the previous build current; the next build drops what it left (its data
collection, a chunk collection no build names, rows born after the current generation) and makes
live again the rows it marked dead. After a publication the build before it is kept (a serving
node polling the alias every second swaps to the new one first); older ones are dropped, and so
are the rows no kept generation sees.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import io
import json
import logging
import math
import os
import re
import tarfile
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from pymilvus import AnnSearchRequest, DataType, Function, FunctionType, MilvusClient, RRFRanker
from pymilvus.exceptions import MilvusException

from . import _lexical, _store
from ._corpus import article_hash
from ._dates import timestamp
from ._errors import BuildError, IndexCorruptError, IndexNotFoundError, QAError, rebuild_hint
from ._store import EXACT_LIMIT, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, IndexData, Manifest, StoredIndex
from ._stores import is_server

ALIAS = "qa"
_BUILD = re.compile(rf"^{ALIAS}_(\d{{8}}T\d{{6}}_\d+_\d+)(_data)?$")
PIECE_CHARS = 60_000  # base64 characters a data row holds (a VARCHAR holds at most 65,535)
PIECES_READ = 32  # data rows a query reads: about 2 MB, well under gRPC's message limit
ROWS_WRITTEN = 500
KEEP = 1  # builds kept before the current one
SOURCE_CHARS = 512
RESOLVE_ATTEMPTS = 5  # a loader whose build was dropped under it follows the alias again
LIVE = 2**62  # `died` of a row no build has dropped yet
CHUNK_BITS = 24  # a chunk row's key: its article version's number << CHUNK_BITS | its place in the article
KEYS_CHANGED = 2_000  # keys named in one expression, or given new `died` in one upsert
NUMBERS_FILE = "milvus_articles.npy"  # in the tables: each article row's version number
PROPERTY = "qa.build"  # the data collection's property that says where its chunks are (`_Build`)
# pymilvus logs each failed call with its traceback; qa reports the failure itself, on one line.
logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)  # its embedded server logs them too

_locks: dict[str, int] = {}  # Milvus Lite files this process holds (see `_hold_file`)
_locks_guard = threading.Lock()


def _hold_file(path: Path) -> None:
    """Hold `path` (a Milvus Lite file) for this process. Milvus Lite runs inside the process that
    opens the file, so two processes on one file would each write it as if alone."""
    key = str(path.resolve())
    with _locks_guard:
        if key in _locks:
            return
        fd = os.open(key + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise QAError(
                f"another qa process has {path} open, and a Milvus Lite file serves one process at a time; "
                "stop it, or run `milvus-lite server` and pass its URI (http://127.0.0.1:PORT) to both"
            ) from None
        _locks[key] = fd  # held until the process exits


@dataclass(frozen=True)
class _Build:
    """Where a build's chunks are: `chunks` names the collection `qa_<chunks>`, and the build sees
    its rows of `generation` (None: a build written before generations, whose collection is its
    own and keyed by chunk row). `next_article` numbers the next new article version."""

    chunks: str
    generation: int | None
    next_article: int = 0
    vector_index: str = ""
    dimensions: int = 0


class MilvusStore:
    """An index in Milvus (see the module's docstring); `uri` is a `*.db` path or a server URI."""

    def __init__(self, uri: str, token: str | None = None) -> None:
        self.uri = uri
        self.location = uri
        self._token = token
        self._file = None if is_server(uri) else Path(uri)
        self._client: MilvusClient | None = None
        self._loaded: set[str] = set()

    @property
    def client(self) -> MilvusClient:
        if self._client is None:
            try:
                if self._file is not None:
                    _hold_file(self._file)
                    self._client = MilvusClient(str(self._file))
                else:
                    self._client = MilvusClient(self.uri, token=self._token or "")
            except MilvusException as exc:
                raise IndexNotFoundError(
                    f"cannot reach Milvus at {self.uri} ({exc.message}); start it, or check QA_STORE and QA_STORE_TOKEN"
                ) from exc
        return self._client

    def _exists(self) -> None:
        if self._file is not None and not self._file.exists():
            raise IndexNotFoundError(f"no index in {self.uri!r}; build one with `qa build --store {self.uri}`")

    def lock(self) -> contextlib.AbstractContextManager[None]:
        # A Milvus Lite file is one process's (`_hold_file`): taken here, so a build refuses a
        # file another process serves before it embeds anything, not when it publishes. A
        # server's builds are the operator's to run one at a time (Milvus has no lock to take).
        if self._file is not None:
            _hold_file(self._file)
        return contextlib.nullcontext()

    def current_name(self) -> str:
        self._exists()
        try:
            aliases = self.client.list_aliases()["aliases"]
            target = self.client.describe_alias(ALIAS)["collection_name"] if ALIAS in aliases else None
        except MilvusException as exc:
            raise IndexCorruptError(f"Milvus at {self.uri} cannot name the current build ({exc.message})") from exc
        if target is None:
            raise IndexNotFoundError(f"no index in {self.uri!r}; build one with `qa build --store {self.uri}`")
        # The alias names a build's data collection (a build written before generations: its chunks).
        found = _BUILD.match(target)
        if found is None:
            raise IndexCorruptError(
                f"alias {ALIAS!r} in {self.uri} names {target!r}, not a qa build; rebuild with {rebuild_hint('--store', self.uri)}"
            )
        return found.group(1)

    def read_manifest(self) -> Manifest:
        return self._manifest(self.current_name())

    def load(self, *, search: bool = True, check: Callable[[Manifest], None] | None = None) -> StoredIndex:
        for _ in range(RESOLVE_ATTEMPTS):
            name = self.current_name()
            try:
                manifest = self._manifest(name)
                if check is not None:
                    check(manifest)
                build = self._info(name)
                data, numbers = self._tables(name, manifest, search)
                return MilvusIndex(self, name, manifest, data, search, build, numbers)
            except IndexCorruptError:
                if self.current_name() == name:
                    raise
                # Dropped after newer builds were published: follow the alias again.
        raise IndexCorruptError(
            f"the current build in {self.uri} changed {RESOLVE_ATTEMPTS} times while it was being read; "
            "wait for the builds writing it to finish, then try again"
        )

    def _manifest(self, name: str) -> Manifest:
        rows = self._query(_data(name), "id == 0", ["data"])
        if not rows:
            raise IndexCorruptError(
                f"build {name} in {self.uri} has no manifest; rebuild with {rebuild_hint('--store', self.uri)}"
            )
        return _store.parse_manifest(self.uri, f"{self.uri} ({_data(name)})", str(rows[0]["data"]))

    def _info(self, name: str) -> _Build:
        # A collection property, read without loading the collection (its rows are the tables).
        try:
            properties = self.client.describe_collection(_data(name)).get("properties") or {}
        except MilvusException as exc:
            raise IndexCorruptError(
                f"Milvus at {self.uri} cannot read {_data(name)} ({exc.message}); rebuild with {rebuild_hint('--store', self.uri)}"
            ) from exc
        if PROPERTY not in properties:
            return _Build(chunks=name, generation=None)
        try:
            return _Build(**json.loads(str(properties[PROPERTY])))
        except (ValueError, TypeError) as exc:
            raise IndexCorruptError(
                f"build {name} in {self.uri} does not say where its chunks are ({exc}); "
                f"rebuild with {rebuild_hint('--store', self.uri, full=True)}"
            ) from exc

    def _tables(self, name: str, manifest: Manifest, search: bool) -> tuple[IndexData, np.ndarray]:
        """The build's tables, and each article row's version number."""
        pieces: list[str] = []
        while True:
            first = 1 + len(pieces)
            rows = self._query(_data(name), f"id >= {first} and id < {first + PIECES_READ}", ["id", "data"])
            pieces += [str(r["data"]) for r in sorted(rows, key=lambda r: int(r["id"]))]
            if len(rows) < PIECES_READ:
                break
        # bm25s reads only from a folder: the tables pass through a private one, gone when read.
        with tempfile.TemporaryDirectory(prefix="qa-milvus-") as folder:
            try:
                raw = io.BytesIO(base64.b64decode("".join(pieces)))
                with tarfile.open(fileobj=raw, mode="r:") as archive:
                    archive.extractall(folder, filter="data")
                numbers_file = Path(folder) / NUMBERS_FILE
                numbers = (
                    np.load(numbers_file).astype(np.int64)
                    if numbers_file.exists()
                    else np.arange(manifest.articles, dtype=np.int64)
                )
            except (ValueError, OSError, tarfile.TarError) as exc:
                raise IndexCorruptError(
                    f"build {name} in {self.uri} has damaged tables ({exc}); rebuild with {rebuild_hint('--store', self.uri)}"
                ) from exc
            if numbers.shape != (manifest.articles,):
                raise IndexCorruptError(
                    f"build {name} in {self.uri} numbers {len(numbers)} articles, not its manifest's "
                    f"{manifest.articles}; rebuild with {rebuild_hint('--store', self.uri, full=True)}"
                )
            return _store.read_tables(self.uri, Path(folder), manifest, search, mmap=False), numbers

    def _query(self, collection: str, expression: str, fields: list[str]) -> list[dict[str, Any]]:
        try:
            self._load(collection)
            rows: list[dict[str, Any]] = self.client.query(collection, filter=expression, output_fields=fields)
        except MilvusException as exc:
            raise IndexCorruptError(
                f"Milvus at {self.uri} cannot read {collection} ({exc.message}); rebuild with {rebuild_hint('--store', self.uri)}"
            ) from exc
        return rows

    def _load(self, collection: str) -> None:
        # A collection another process wrote starts released, and Milvus neither queries nor
        # deletes by expression in a released one.
        if collection in self._loaded:
            return
        try:
            self.client.load_collection(collection)
        except MilvusException:
            if not self._lite():
                raise
            # Milvus Lite writes each segment's vector index file in place, when a collection is
            # loaded or a loaded one flushed: a process killed meanwhile (a build, a node, a Lite
            # server) leaves it cut short, and the collection never loads again. The files are
            # made from the rows, so make them anew.
            self._reindex(collection)
            self.client.load_collection(collection)
        self._loaded.add(collection)

    def _lite(self) -> bool:
        """Whether this is Milvus Lite: a file, or a `milvus-lite server` (a cluster keeps its
        index files itself, and rebuilding an index there is the operator's call)."""
        if self._file is not None:
            return True
        with contextlib.suppress(MilvusException):
            return str(self.client.get_server_version()).startswith("milvus_lite")
        return False

    def _reindex(self, collection: str) -> None:
        """Drop the collection's vector indexes (Milvus Lite deletes their files) and create them
        again as they were; the next load writes the files from the rows."""
        client = self.client
        index = client.prepare_index_params()
        dropped = []
        for name in client.list_indexes(collection):
            info = client.describe_index(collection, name)
            if info["index_type"] == "SPARSE_INVERTED_INDEX":
                continue  # BM25's index is made in memory at search time: no file to be cut short
            _add_vector_index(index, info["field_name"], info["index_type"], info["metric_type"])
            dropped.append(name)
        if not dropped:
            return
        client.release_collection(collection)
        for name in dropped:
            client.drop_index(collection, name)
        client.create_index(collection, index)

    def publish(self, data: IndexData, manifest: Manifest, base: StoredIndex | None = None) -> str:
        client = self.client
        try:
            current = self.current_name()
        except IndexNotFoundError:
            current = None
        try:
            previous = self._info(current) if current is not None else None
        except QAError:
            previous = None  # unreadable: this build writes a chunk collection of its own
        try:
            self._clear(current, previous)
        except MilvusException as exc:
            raise BuildError(
                f"Milvus at {self.uri} refused the build ({exc.message}); the previous build still serves"
            ) from exc
        name = _store.build_id().replace("-", "_")
        # Rows are reused only from the build this one reused vectors of (`base`), while current,
        # and only into a collection of the same vector index.
        incremental = (
            isinstance(base, MilvusIndex)
            and base.name == current
            and previous is not None
            and previous.generation is not None
            and (previous.vector_index, previous.dimensions) == (manifest.vector_index, manifest.dimensions)
        )
        if incremental and isinstance(base, MilvusIndex) and previous is not None and previous.generation is not None:
            numbers, fresh, dying, following = _changes(base, data, previous.next_article)
            build = replace(previous, generation=previous.generation + 1, next_article=following)
        else:
            numbers = np.arange(len(data.articles), dtype=np.int64)
            fresh, dying = list(range(len(data.articles))), []
            build = _Build(name, 1, len(data.articles), manifest.vector_index, manifest.dimensions)
        try:
            self._write_data(name, data, manifest, build, numbers)
            self._write_chunks(build, data, numbers, fresh, dying)
            if current is None:
                client.create_alias(_data(name), ALIAS)
            else:
                client.alter_alias(_data(name), ALIAS)
        except BaseException as exc:
            self._drop(_data(name))
            if not incremental:
                self._drop(_chunks(name))
            elif build.generation is not None:
                with contextlib.suppress(MilvusException):
                    self._restore(build.chunks, build.generation - 1)
            if isinstance(exc, MilvusException):
                raise BuildError(
                    f"Milvus at {self.uri} refused the build ({exc.message}); the previous build still serves"
                ) from exc
            raise
        return name

    def _clear(self, current: str | None, info: _Build | None) -> None:
        """Drop what builds killed after `current` (whose `info` it is) left: their data
        collections, chunk collections no build names, rows born after `current`'s generation;
        make live again the rows they marked dead."""
        for build in self._builds():
            if current is None or build > current:
                self._drop(_data(build))
        self._drop_unnamed()
        if info is not None and info.generation is not None:
            self._restore(info.chunks, info.generation)

    def _restore(self, chunks: str, generation: int) -> None:
        """The chunk rows as build `generation` left them: none born later, none died later."""
        collection = _chunks(chunks)
        self._load(collection)
        self.client.delete(collection, filter=f"born > {generation}")
        rows = self._query(collection, f"died > {generation} and died < {LIVE}", ["id"])
        self._set_died(collection, [int(r["id"]) for r in rows], LIVE)

    def _set_died(self, collection: str, keys: list[int], died: int) -> None:
        # A partial upsert: only the key and `died` travel, and the row keeps its vector and terms.
        for i in range(0, len(keys), KEYS_CHANGED):
            rows = [{"id": key, "died": died} for key in keys[i : i + KEYS_CHANGED]]
            self.client.upsert(collection, rows, partial_update=True)

    def collect(self) -> list[str]:
        try:
            current = self.current_name()
            builds = self._builds()
            older = [b for b in builds if b < current]
        except (QAError, MilvusException):
            return []  # no readable alias: drop nothing
        dropped = older[: max(0, len(older) - KEEP)]
        for build in dropped:
            self._drop(_data(build))
        with contextlib.suppress(QAError, MilvusException):
            # Rows no kept build sees: dead in the oldest generation still kept.
            oldest: dict[str, int] = {}
            for info in self._drop_unnamed() or []:
                if info.generation is not None:
                    oldest[info.chunks] = min(oldest.get(info.chunks, info.generation), info.generation)
            for chunks, generation in oldest.items():
                self._load(_chunks(chunks))
                self.client.delete(_chunks(chunks), filter=f"died <= {generation}")
        return dropped

    def _drop_unnamed(self) -> list[_Build] | None:
        """Drop the chunk collections no build names; every build's `_Build`. A build that cannot
        be read might name any: then nothing is dropped, and None returned."""
        try:
            infos = [self._info(build) for build in self._builds()]
        except QAError:
            return None
        named = {info.chunks for info in infos}
        for collection in self.client.list_collections():
            found = _BUILD.match(collection)
            if found and not found.group(2) and found.group(1) not in named:
                self._drop(collection)
        return infos

    def _builds(self) -> list[str]:
        """The builds with a data collection, oldest first."""
        names = {m.group(1) for c in self.client.list_collections() if (m := _BUILD.match(c)) and m.group(2)}
        return sorted(names)

    def _drop(self, collection: str) -> None:
        with contextlib.suppress(MilvusException):
            self.client.drop_collection(collection)
        self._loaded.discard(collection)

    def _write_data(self, name: str, data: IndexData, manifest: Manifest, build: _Build, numbers: np.ndarray) -> None:
        client = self.client
        schema = client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("data", DataType.VARCHAR, max_length=65_535)
        schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
        index = client.prepare_index_params()
        _add_vector_index(index, "unused", "FLAT", "L2")
        properties = {PROPERTY: json.dumps(asdict(build))}
        client.create_collection(_data(name), schema=schema, index_params=index, properties=properties)
        with tempfile.TemporaryDirectory(prefix="qa-milvus-") as folder:
            _store._write_files(Path(folder), data, manifest, vectors=False)
            np.save(Path(folder) / NUMBERS_FILE, numbers.astype(np.int64))
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w:") as archive:
                for path in sorted(Path(folder).rglob("*")):
                    if path.is_file() and path.name not in ("manifest.json", _store.LEASE):
                        archive.add(path, arcname=str(path.relative_to(folder)))
        text = base64.b64encode(buffer.getvalue()).decode("ascii")
        rows = [{"id": 0, "data": json.dumps(asdict(manifest)), "unused": [0.0, 0.0]}]
        rows += [
            {"id": 1 + k, "data": text[i : i + PIECE_CHARS], "unused": [0.0, 0.0]}
            for k, i in enumerate(range(0, len(text), PIECE_CHARS))
        ]
        for i in range(0, len(rows), PIECES_READ):
            client.insert(_data(name), rows[i : i + PIECES_READ])

    def _write_chunks(
        self, build: _Build, data: IndexData, numbers: np.ndarray, fresh: list[int], dying: list[int]
    ) -> None:
        """Rows for the chunks of article rows `fresh`, born in `build`'s generation, and that
        generation as `died` for the rows of article versions `dying`."""
        client = self.client
        collection = _chunks(build.chunks)
        generation = build.generation or 1
        if generation == 1:
            self._create_chunks(collection, build)
        articles, sentences, chunks = data.articles, data.sentences, data.chunks
        bounds = np.searchsorted(chunks[:, 0], np.arange(len(articles) + 1))
        rows: list[dict[str, Any]] = []
        for a in fresh:
            article = articles[a]
            when = timestamp(article.date) if article.date else None
            if bounds[a + 1] - bounds[a] >= 2**CHUNK_BITS:
                raise BuildError(f"article {article.id!r} has more than {2**CHUNK_BITS} chunks; split it into several")
            for j in range(int(bounds[a]), int(bounds[a + 1])):
                _, first, last = (int(v) for v in chunks[j])
                text = article.text[int(sentences[first, 1]) : int(sentences[last - 1, 2])]
                rows.append(
                    {
                        "id": int(numbers[a]) << CHUNK_BITS | (j - int(bounds[a])),
                        "article": int(numbers[a]),
                        "born": generation,
                        "died": LIVE,
                        "date": when if when is not None and math.isfinite(when) else None,
                        "source": (article.source or "")[:SOURCE_CHARS],
                        "terms": " ".join(_lexical.tokenize([text])[0]),
                        "dense": np.asarray(data.chunk_vectors[j], dtype=np.float32).tolist(),
                    }
                )
            if len(rows) >= ROWS_WRITTEN:
                self._put(collection, rows, generation)
                rows = []
        if rows:
            self._put(collection, rows, generation)
        for i in range(0, len(dying), KEYS_CHANGED):
            named = dying[i : i + KEYS_CHANGED]
            found = self._query(collection, f"article in {named} and died == {LIVE}", ["id"])
            self._set_died(collection, [int(r["id"]) for r in found], generation)
        client.flush(collection)

    def _put(self, collection: str, rows: list[dict[str, Any]], generation: int) -> None:
        # Into an existing collection, an upsert: a key a killed build left is replaced, not doubled.
        if generation == 1:
            self.client.insert(collection, rows)
        else:
            self.client.upsert(collection, rows)

    def _create_chunks(self, collection: str, build: _Build) -> None:
        client = self.client
        schema = client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("article", DataType.INT64)
        schema.add_field("born", DataType.INT64)
        schema.add_field("died", DataType.INT64)
        schema.add_field("date", DataType.DOUBLE, nullable=True)
        schema.add_field("source", DataType.VARCHAR, max_length=SOURCE_CHARS)
        # Already qa's terms, space-separated: the standard tokenizer splits them back unchanged.
        schema.add_field(
            "terms",
            DataType.VARCHAR,
            max_length=65_535,
            enable_analyzer=True,
            analyzer_params={"tokenizer": "standard"},
        )
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=build.dimensions)
        schema.add_function(
            Function(
                name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"], output_field_names=["sparse"]
            )
        )
        index = client.prepare_index_params()
        _add_vector_index(index, "dense", "FLAT" if build.vector_index == "flat" else "HNSW", "IP")
        index.add_index(
            "sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": _lexical.SETTINGS["k1"], "bm25_b": _lexical.SETTINGS["b"]},
        )
        # Strong: a node that follows the alias at once sees every row written before the swap.
        client.create_collection(collection, schema=schema, index_params=index, consistency_level="Strong")


def _add_vector_index(index: Any, field: str, kind: str, metric: str) -> None:
    """`kind` ("FLAT" or "HNSW") on `field` of the index parameters `index`; HNSW with the
    graph settings the local store's FAISS index uses."""
    params = {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION} if kind == "HNSW" else {}
    index.add_index(field, index_type=kind, metric_type=metric, params=params)


def _changes(base: MilvusIndex, data: IndexData, following: int) -> tuple[np.ndarray, list[int], list[int], int]:
    """What an incremental build changes against `base`, the current build it reused vectors of:
    each new article row's version number, the rows that need chunk rows written (new or changed
    articles), the version numbers that die (changed or deleted articles), and the next free
    number. An unchanged article (the same content hash) keeps its number, and so its rows."""
    old: dict[str, list[int]] = {}
    for article, number in zip(base.articles, base.numbers.tolist(), strict=True):
        old.setdefault(article_hash(article), []).append(int(number))
    numbers = np.zeros(len(data.articles), dtype=np.int64)
    fresh: list[int] = []
    for a, article in enumerate(data.articles):
        kept = old.get(article_hash(article))
        if kept:
            numbers[a] = kept.pop(0)
        else:
            numbers[a], following = following, following + 1
            fresh.append(a)
    dying = sorted(n for left in old.values() for n in left)
    return numbers, fresh, dying, following


def _chunks(name: str) -> str:
    return f"{ALIAS}_{name}"


def _data(name: str) -> str:
    return f"{ALIAS}_{name}_data"


class MilvusIndex(StoredIndex):
    """A build loaded from Milvus: its tables in memory, its chunks searched in Milvus, among the
    rows of its generation."""

    def __init__(
        self,
        store: MilvusStore,
        name: str,
        manifest: Manifest,
        data: IndexData,
        search: bool,
        build: _Build | None = None,
        numbers: np.ndarray | None = None,
    ) -> None:
        build = build or _Build(chunks=name, generation=None)
        super().__init__(Path(_chunks(build.chunks)), manifest, data, None)
        self.name = name
        self.location = f"{store.uri} ({_data(name)})"
        self.numbers = np.arange(len(data.articles), dtype=np.int64) if numbers is None else numbers
        self._store = store
        self._collection = _chunks(build.chunks)
        generation = build.generation
        self._live = "" if generation is None else f"born <= {generation} and died > {generation}"
        # Each chunk row's key in the collection, sorted, to map hits back to this build's rows.
        if generation is None:
            keys = np.arange(len(self.chunks), dtype=np.int64)
        else:
            of = self.chunks[:, 0].astype(np.int64)
            place = np.arange(len(of), dtype=np.int64) - np.searchsorted(of, of)
            keys = (self.numbers[of] << CHUNK_BITS) | place
        self._order = np.argsort(keys, kind="stable")
        self._keys = keys[self._order]
        if search:
            try:
                store._load(self._collection)
            except MilvusException as exc:
                raise IndexCorruptError(
                    f"Milvus at {store.uri} cannot load {self._collection} ({exc.message})"
                ) from exc

    def search_chunks(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        expression = self._filter(allowed)
        if expression is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        hits = self._call(
            lambda client: client.search(
                self._collection,
                data=[np.asarray(vector, dtype=np.float32).tolist()],
                anns_field="dense",
                limit=self._limit(k),
                filter=expression,
                output_fields=["article"],
                search_params=self._dense_params(),
            )
        )
        return (
            self._rows([h["id"] for h in hits]),
            np.array([h["distance"] for h in hits], dtype=np.float32),
        )

    def search_candidates(
        self, vector: np.ndarray, tokens: list[str], k: int, allowed: np.ndarray | None = None
    ) -> np.ndarray:
        expression = self._filter(allowed)
        if expression is None:
            return np.zeros(0, dtype=np.int64)
        limit = self._limit(k)
        requests = [
            AnnSearchRequest(
                data=[np.asarray(vector, dtype=np.float32).tolist()],
                anns_field="dense",
                param=self._dense_params(),
                limit=limit,
                expr=expression,
            )
        ]
        if tokens:
            requests.append(
                AnnSearchRequest(
                    data=[" ".join(tokens)],
                    anns_field="sparse",
                    param={"metric_type": "BM25"},
                    limit=limit,
                    expr=expression,
                )
            )
        # One round trip for both searches. The ranker only merges them here: with room for every
        # hit of each request, the result is exactly their union, which retrieval scores itself as
        # it does the folder's (a Milvus ranker would score only its top-k, and not as qa does).
        hits = self._call(
            lambda client: client.hybrid_search(
                self._collection,
                requests,
                RRFRanker(),
                limit=limit * len(requests),
                output_fields=["article"],
            )
        )
        return np.unique(self._rows([h["id"] for h in hits]))

    def _rows(self, keys: list[int]) -> np.ndarray:
        """This build's chunk rows for the keys of hits."""
        wanted = np.asarray(keys, dtype=np.int64)
        at = np.minimum(np.searchsorted(self._keys, wanted), max(0, len(self._keys) - 1))
        if len(wanted) and (not len(self._keys) or (self._keys[at] != wanted).any()):
            raise IndexCorruptError(
                f"Milvus at {self._store.uri} returned chunks build {self.name} does not hold; "
                f"rebuild with {rebuild_hint('--store', self._store.uri, full=True)}"
            )
        return np.asarray(self._order[at], dtype=np.int64)

    def _limit(self, k: int) -> int:
        return max(1, min(k, self.manifest.chunks))

    def _dense_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"metric_type": "IP"}
        if self.manifest.chunks > EXACT_LIMIT:
            params["params"] = {"ef": HNSW_EF_SEARCH}
        return params

    def _call(self, search: Callable[[MilvusClient], list[Any]]) -> list[dict[str, Any]]:
        """The hits of one search of this build's chunks, for one query."""
        client = self._store.client
        try:
            result = search(client)
            # Rows this generation sees are deleted only after its data collection is dropped
            # (`collect`): if that is still there after the search, the search saw them all.
            gone = self._live and not client.has_collection(_data(self.name or ""))
        except MilvusException as exc:
            raise IndexCorruptError(
                f"Milvus at {self._store.uri} cannot search build {self.name} ({exc.message}); "
                "if a newer build was published meanwhile, ask again"
            ) from exc
        if gone:
            raise IndexCorruptError(
                f"Milvus at {self._store.uri} no longer holds build {self.name}; a newer build was published, ask again"
            )
        return list(result[0])

    def _filter(self, allowed: np.ndarray | None) -> str | None:
        """The Milvus expression for this build's rows that `allowed` lets through: as article
        version numbers, since a filter is rows of this build's articles (`qa._filters`); None if
        none may be searched."""
        if allowed is not None and not allowed.any():
            return None
        choice = ""
        if allowed is not None and not allowed.all():
            rows = np.unique(self.chunks[np.asarray(allowed, dtype=bool), 0])
            excluded = np.setdiff1d(np.arange(len(self.articles)), rows)
            if len(excluded) < len(rows):
                choice = f"article not in {self.numbers[excluded].tolist()}"
            else:
                choice = f"article in {self.numbers[rows].tolist()}"
        return " and ".join(part for part in (self._live, choice) if part)
