"""Where an index lives: one interface, and `open_store`, the one place that picks its implementation.

A store keeps complete builds and names one of them current. `qa._store.FolderStore` keeps them
in a folder on this machine (the default); `qa._milvus.MilvusStore` keeps them in Milvus (a Milvus
Lite file, or a server every serving node reaches), so no serving node needs a local file. The
build writes through `lock`, `load(search=False)` (vectors to reuse), `publish` and `collect`;
the engine reads through `load`, follows `current_name`, and calls `collect` when it lets an old
build go. Only the store modules import FAISS or pymilvus.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ._errors import IndexNotFoundError

if TYPE_CHECKING:
    from ._store import IndexData, Manifest, StoredIndex

_URI = re.compile(r"^https?://", re.IGNORECASE)


@runtime_checkable
class Store(Protocol):
    """A place that holds builds of an index and names one of them current."""

    location: str  # for messages: `qa build --corpus <its corpus> --index <location>` rebuilds it

    def lock(self) -> AbstractContextManager[None]:
        """Held by a build while it writes, so two builds never interleave their publications."""
        ...

    def load(self, *, search: bool = True, check: Callable[[Manifest], None] | None = None) -> StoredIndex:
        """The current build, held until its `close`. `check` sees the manifest before anything
        else is read; without `search`, only what a build reuses is read."""
        ...

    def current_name(self) -> str:
        """The name of the current build (IndexNotFoundError if there is none)."""
        ...

    def publish(self, data: IndexData, manifest: Manifest, base: StoredIndex | None = None) -> str:
        """Write a complete build and make it current in one atomic step; its name. A build that
        fails or is killed before that step leaves the previous one current. `base` is the
        current build this one reused the vectors of (None if it embedded everything): a store
        may then write only what changed since it."""
        ...

    def collect(self) -> list[str]:
        """Remove builds no reader needs any more; their names."""
        ...

    def read_manifest(self) -> Manifest:
        """The current build's manifest."""
        ...


def is_server(where: str) -> bool:
    """Whether `where` names a Milvus server (an `http(s)://` URI) rather than a local file or folder."""
    return _URI.match(where) is not None


def open_store(where: str | Path | Store) -> Store:
    """The store `where` names: an `http(s)://host:port` URI is a Milvus server (its token, if
    any, from QA_STORE_TOKEN), a path ending in `.db` a Milvus Lite file, anything else an index
    folder."""
    if isinstance(where, Store):
        return where
    text = str(where)
    if is_server(text) or text.lower().endswith(".db"):
        from ._milvus import MilvusStore  # pymilvus loads only for a Milvus store

        return MilvusStore(text, token=os.environ.get("QA_STORE_TOKEN") or None)
    from ._store import FolderStore

    path = Path(text)
    if path.exists() and not path.is_dir():
        raise IndexNotFoundError(
            f"{text!r} is a file, not an index folder; pass --index a folder (or a name ending in .db for Milvus Lite)"
        )
    return FolderStore(path)
