"""The Milvus store: builds kept in Milvus (a Milvus Lite file, or a server every serving node
reaches), so that no serving node reads a local file. The only module that imports pymilvus.

Each build `<id>` is two collections:

    qa_<id>        a row per chunk: its row (primary key), its article's row, date (a timestamp)
                   and source, its dense vector, and its text as qa's own tokenizer leaves it
                   (stemmed, stop words out) feeding Milvus's BM25 function, so that Milvus's
                   full-text search ranks the terms `qa._lexical` does (Milvus Lite has no English
                   analyzer). Retrieval's dense and BM25 candidate chunks come from here.
    qa_<id>_data   the manifest, then the build's tables (articles with texts, sentences with
                   offsets, token codes and projection, sentence types and groups, BM25 of
                   sentences and windows) as the local store writes them, tarred, in pieces.

The alias `qa` names the current build's chunk collection: a build writes both collections
completely, then moves the alias (`create_alias`/`alter_alias`), the one step that publishes it.
A build that fails or is killed before it leaves the previous build current; the next build drops
what it left. After a publication the build before it is kept (a serving node polling the alias
every second swaps to the new one first) and older ones are dropped.
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
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from pymilvus import AnnSearchRequest, DataType, Function, FunctionType, MilvusClient, RRFRanker
from pymilvus.exceptions import MilvusException

from . import _lexical, _store
from ._dates import timestamp
from ._errors import BuildError, IndexCorruptError, IndexNotFoundError, QAError
from ._store import EXACT_LIMIT, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, IndexData, Manifest, StoredIndex

ALIAS = "qa"
_BUILD = re.compile(rf"^{ALIAS}_(\d{{8}}T\d{{6}}_\d+_\d+)(_data)?$")
PIECE_CHARS = 60_000  # base64 characters a data row holds (a VARCHAR holds at most 65,535)
PIECES_READ = 32  # data rows a query reads: about 2 MB, well under gRPC's message limit
ROWS_WRITTEN = 500
KEEP = 1  # builds kept before the current one
SOURCE_CHARS = 512
RESOLVE_ATTEMPTS = 5  # a loader whose build was dropped under it follows the alias again
# pymilvus logs each failed call with its traceback; qa reports the failure itself, on one line.
logging.getLogger("pymilvus").setLevel(logging.CRITICAL)

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


class MilvusStore:
    """An index in Milvus (see the module's docstring); `uri` is a `*.db` path or a server URI."""

    def __init__(self, uri: str, token: str | None = None) -> None:
        self.uri = uri
        self.location = uri
        self._token = token
        self._file = None if re.match(r"^https?://", uri, re.IGNORECASE) else Path(uri)
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
        # A Milvus Lite file is one process's (`_hold_file`); a server's builds are the operator's
        # to run one at a time (Milvus has no lock to take).
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
        found = _BUILD.match(target)
        if found is None or found.group(2):
            raise IndexCorruptError(
                f"alias {ALIAS!r} in {self.uri} names {target!r}, not a qa build; rebuild with `qa build --store {self.uri}`"
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
                return MilvusIndex(self, name, manifest, self._tables(name, manifest, search), search)
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
                f"build {name} in {self.uri} has no manifest; rebuild with `qa build --store {self.uri}`"
            )
        return _store.parse_manifest(self.uri, f"{self.uri} ({_data(name)})", str(rows[0]["data"]))

    def _tables(self, name: str, manifest: Manifest, search: bool) -> IndexData:
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
            except (ValueError, tarfile.TarError) as exc:
                raise IndexCorruptError(
                    f"build {name} in {self.uri} has damaged tables ({exc}); rebuild with `qa build --store {self.uri}`"
                ) from exc
            return _store.read_tables(self.uri, Path(folder), manifest, search, mmap=False)

    def _query(self, collection: str, expression: str, fields: list[str]) -> list[dict[str, Any]]:
        try:
            if collection not in self._loaded:
                self.client.load_collection(collection)  # a collection another process wrote starts released
                self._loaded.add(collection)
            rows: list[dict[str, Any]] = self.client.query(collection, filter=expression, output_fields=fields)
        except MilvusException as exc:
            raise IndexCorruptError(
                f"Milvus at {self.uri} cannot read {collection} ({exc.message}); rebuild with `qa build --store {self.uri}`"
            ) from exc
        return rows

    def publish(self, data: IndexData, manifest: Manifest) -> str:
        client = self.client
        try:
            current = self.current_name()
        except IndexNotFoundError:
            current = None
        # What killed builds left: any build the alias never named, newer than the current one.
        for build in self._builds():
            if current is None or build > current:
                self._drop(build)
        name = _store.build_id().replace("-", "_")
        try:
            self._write_data(name, data, manifest)
            self._write_chunks(name, data, manifest)
            if current is None:
                client.create_alias(_chunks(name), ALIAS)
            else:
                client.alter_alias(_chunks(name), ALIAS)
        except BaseException as exc:
            self._drop(name)
            if isinstance(exc, MilvusException):
                raise BuildError(
                    f"Milvus at {self.uri} refused the build ({exc.message}); the previous build still serves"
                ) from exc
            raise
        return name

    def collect(self) -> list[str]:
        try:
            current = self.current_name()
            older = [b for b in self._builds() if b < current]
        except (QAError, MilvusException):
            return []  # no readable alias: drop nothing
        dropped = older[: max(0, len(older) - KEEP)]
        for build in dropped:
            self._drop(build)
        return dropped

    def _builds(self) -> list[str]:
        names = {m.group(1) for c in self.client.list_collections() if (m := _BUILD.match(c))}
        return sorted(names)

    def _drop(self, name: str) -> None:
        for collection in (_chunks(name), _data(name)):
            with contextlib.suppress(MilvusException):
                self.client.drop_collection(collection)

    def _write_data(self, name: str, data: IndexData, manifest: Manifest) -> None:
        client = self.client
        schema = client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("data", DataType.VARCHAR, max_length=65_535)
        schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
        index = client.prepare_index_params()
        index.add_index("unused", index_type="FLAT", metric_type="L2")
        client.create_collection(_data(name), schema=schema, index_params=index)
        with tempfile.TemporaryDirectory(prefix="qa-milvus-") as folder:
            _store._write_files(Path(folder), data, manifest, vectors=False)
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

    def _write_chunks(self, name: str, data: IndexData, manifest: Manifest) -> None:
        client = self.client
        schema = client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("article", DataType.INT64)
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
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=manifest.dimensions)
        schema.add_function(
            Function(
                name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"], output_field_names=["sparse"]
            )
        )
        index = client.prepare_index_params()
        if manifest.chunks <= EXACT_LIMIT:
            index.add_index("dense", index_type="FLAT", metric_type="IP")
        else:
            index.add_index(
                "dense",
                index_type="HNSW",
                metric_type="IP",
                params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION},
            )
        index.add_index(
            "sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": _lexical.SETTINGS["k1"], "bm25_b": _lexical.SETTINGS["b"]},
        )
        client.create_collection(_chunks(name), schema=schema, index_params=index)
        articles, sentences = data.articles, data.sentences
        for i in range(0, len(data.chunks), ROWS_WRITTEN):
            rows = []
            for j in range(i, min(i + ROWS_WRITTEN, len(data.chunks))):
                a, first, last = (int(v) for v in data.chunks[j])
                article = articles[a]
                text = article.text[int(sentences[first, 1]) : int(sentences[last - 1, 2])]
                when = timestamp(article.date) if article.date else None
                rows.append(
                    {
                        "id": j,
                        "article": a,
                        "date": when if when is not None and math.isfinite(when) else None,
                        "source": (article.source or "")[:SOURCE_CHARS],
                        "terms": " ".join(_lexical.tokenize([text])[0]),
                        "dense": np.asarray(data.chunk_vectors[j], dtype=np.float32).tolist(),
                    }
                )
            client.insert(_chunks(name), rows)
        client.flush(_chunks(name))


def _chunks(name: str) -> str:
    return f"{ALIAS}_{name}"


def _data(name: str) -> str:
    return f"{ALIAS}_{name}_data"


class MilvusIndex(StoredIndex):
    """A build loaded from Milvus: its tables in memory, its chunks searched in Milvus."""

    def __init__(self, store: MilvusStore, name: str, manifest: Manifest, data: IndexData, search: bool) -> None:
        super().__init__(Path(_chunks(name)), manifest, data, None)
        self.name = name
        self.location = f"{store.uri} ({_chunks(name)})"
        self._store = store
        if search:
            try:
                store.client.load_collection(_chunks(name))
            except MilvusException as exc:
                raise IndexCorruptError(f"Milvus at {store.uri} cannot load {_chunks(name)} ({exc.message})") from exc

    def search_chunks(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        expression = self._filter(allowed)
        if expression is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        hits = self._call(
            lambda client: client.search(
                _chunks(self.name or ""),
                data=[np.asarray(vector, dtype=np.float32).tolist()],
                anns_field="dense",
                limit=self._limit(k),
                filter=expression,
                output_fields=["article"],
                search_params=self._dense_params(),
            )
        )
        return (
            np.array([h["id"] for h in hits], dtype=np.int64),
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
                _chunks(self.name or ""),
                requests,
                RRFRanker(),
                limit=limit * len(requests),
                output_fields=["article"],
            )
        )
        return np.unique(np.array([h["id"] for h in hits], dtype=np.int64))

    def _limit(self, k: int) -> int:
        return max(1, min(k, self.manifest.chunks))

    def _dense_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"metric_type": "IP"}
        if self.manifest.chunks > EXACT_LIMIT:
            params["params"] = {"ef": HNSW_EF_SEARCH}
        return params

    def _call(self, search: Callable[[MilvusClient], list[Any]]) -> list[dict[str, Any]]:
        """The hits of one search of this build's chunks, for one query."""
        try:
            result = search(self._store.client)
        except MilvusException as exc:
            raise IndexCorruptError(
                f"Milvus at {self._store.uri} cannot search build {self.name} ({exc.message}); "
                "if a newer build was published meanwhile, ask again"
            ) from exc
        return list(result[0])

    def _filter(self, allowed: np.ndarray | None) -> str | None:
        """The Milvus expression for the chunks `allowed` lets through: as article rows, since a
        filter is rows of this build's articles (`qa._filters`); None if none may be searched."""
        if allowed is None or allowed.all():
            return ""
        if not allowed.any():
            return None
        rows = np.unique(self.chunks[np.asarray(allowed, dtype=bool), 0])
        excluded = np.setdiff1d(np.arange(len(self.articles)), rows)
        if len(excluded) < len(rows):
            return f"article not in {excluded.tolist()}"
        return f"article in {rows.tolist()}"
