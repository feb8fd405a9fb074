"""The build's embedding step on Ray Data: an actor pool of the ONNX embedder, one per core.

`RayEmbedder` is an `Embedder`, and a `BatchStreamer`: `qa._build` hands it all of a build's
batches as one stream (`embed_span_batches`: one dataset, one actor pool started once) and gets
each batch back in order, as from one machine; Ray runs the texts on a pool of actors that each
load the same model. One text per
model call (`OnnxEmbedder._hidden`) makes a text's vector independent of its batch and of the
node it ran on, so an index built through Ray is bit-identical to a local build. Questions
(`embed_query`) and token counts (chunking) stay on the local embedder. Ray is imported here
only, and only when a build asks for it.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from ._embed import Batch, Embedder, SpanPass, load_embedder
from ._errors import BuildError

BATCH_TEXTS = 32  # texts per actor call: small enough that every actor gets work in a 512-chunk batch
_CONNECT_SECONDS = 5.0


class _EmbedActor:
    """One Ray Data actor: loads the embedder once, then embeds batches of rows."""

    def __init__(self, model: str | None, backend: str) -> None:
        self.embedder = load_embedder(model, backend)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        # Ray hands a column of int lists over as arrays; the spans travel flat (a0, b0, a1, b1...).
        spans = [[(int(a), int(b)) for a, b in np.asarray(s, dtype=np.int64).reshape(-1, 2)] for s in batch["spans"]]
        vectors, passes = self.embedder.embed_spans(texts, spans)
        # Token vectors differ in shape per span: each row's result travels as one pickled value.
        out = [pickle.dumps((vectors[i], passes[i]), protocol=pickle.HIGHEST_PROTOCOL) for i in range(len(texts))]
        return {"row": np.asarray(batch["row"], dtype=np.int64), "out": np.array(out, dtype=object)}


class RayEmbedder:
    """An `Embedder` whose `embed_spans` and `embed` run on Ray Data (see the module docstring)."""

    def __init__(self, address: str = "local", model: str | None = None, backend: str = "onnx") -> None:
        self._local: Embedder = load_embedder(model, backend)
        self.name, self.backend = self._local.name, self._local.backend
        self.dimensions, self.max_tokens = self._local.dimensions, self._local.max_tokens
        self._model, self._backend = model, backend
        self._ray = _start(address)
        self._actors = max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def close(self) -> None:
        """Leave the cluster (a local one started here stops)."""
        self._ray.shutdown()

    def __enter__(self) -> RayEmbedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def embed(self, texts: Sequence[str], progress: Callable[[int], object] | None = None) -> np.ndarray:
        """Each text's vector: the text's own vector from `embed_spans` (the same pooled mean)."""
        vectors, _ = self.embed_spans(texts, [[] for _ in texts], progress)
        return vectors

    def embed_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        progress: Callable[[int], object] | None = None,
    ) -> tuple[np.ndarray, list[SpanPass]]:
        """Text vectors, and span vectors and tokens, from one pass (see `Embedder.embed_spans`)."""
        if len(spans) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(spans)} lists of spans")
        return next(self.embed_span_batches([(texts, spans)], progress))

    def embed_span_batches(
        self, batches: Sequence[Batch], progress: Callable[[int], object] | None = None
    ) -> Iterator[tuple[np.ndarray, list[SpanPass]]]:
        """`embed_spans` of each batch, in order, through one dataset and one actor pool: the
        actors start once for the whole build, and each batch is handed back as soon as its last
        row is (rows come back in order, so the build codes batch by batch as before)."""
        sizes = [len(texts) for texts, _ in batches]
        if not sum(sizes):
            yield from ((np.zeros((n, self.dimensions), dtype=np.float32), []) for n in sizes)
            return
        import ray.data

        items = [
            {"row": i, "text": text, "spans": [int(x) for span in text_spans for x in span]}
            for i, (text, text_spans) in enumerate(
                (text, text_spans) for texts, spans in batches for text, text_spans in zip(texts, spans, strict=True)
            )
        ]
        dataset = ray.data.from_items(items).map_batches(
            _EmbedActor,
            fn_constructor_args=(self._model, self._backend),
            compute=ray.data.ActorPoolStrategy(size=min(self._actors, len(items))),
            batch_size=BATCH_TEXTS,
            batch_format="numpy",
            num_cpus=1,
        )
        rows = iter(dataset.iter_batches(batch_size=None, batch_format="numpy"))
        arrived: dict[int, tuple[np.ndarray, SpanPass]] = {}  # rows not yet handed back, by number
        first = 0
        try:
            for size in sizes:
                # Ray keeps the rows' order (`_start`), so this holds little more than one batch.
                while any(r not in arrived for r in range(first, first + size)):
                    batch = next(rows)
                    for row, out in zip(batch["row"], batch["out"], strict=True):
                        arrived[int(row)] = pickle.loads(out)
                    if progress:
                        progress(len(batch["row"]))
                done = [arrived.pop(r) for r in range(first, first + size)]
                first += size
                vectors = np.zeros((size, self.dimensions), dtype=np.float32)
                for k, (vector, _) in enumerate(done):
                    vectors[k] = vector
                yield vectors, [passed for _, passed in done]
        except StopIteration:
            raise BuildError("Ray returned fewer texts than it was given; this is a bug, please report it") from None
        except ray.exceptions.RayError as exc:
            message = str(exc).strip()
            last = message.splitlines()[-1] if message else type(exc).__name__
            raise BuildError(f"embedding on Ray failed ({last}); the previous index is unchanged") from exc

    def embed_query(self, text: str) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
        """A question is embedded locally: one text is not worth a trip to the cluster."""
        return self._local.embed_query(text)

    def count_tokens(self, text: str) -> int:
        """Token counts (for chunking) come from the local tokenizer, the same as the actors'."""
        return self._local.count_tokens(text)


def _start(address: str) -> Any:
    """`ray`, initialised: a new one-machine cluster for "local" (Ray's own word for it), else
    the cluster at `address` ("auto": the one running on this node).

    A cluster address that does not answer fails in seconds here, not after Ray's own retries
    (a `ray://` client waits 30 s, a GCS address longer).
    """
    if address not in ("local", "auto"):
        _reachable(address)
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise BuildError("`qa build --ray` needs Ray: pip install -e '.[ray]' (or pip install 'ray[data]')") from exc
    env = {k: os.environ[k] for k in ("QA_CACHE", "PYTHONPATH") if k in os.environ}
    try:
        ray.init(
            address=address,
            runtime_env={"env_vars": env} if env else None,
            logging_level=logging.WARNING,
            log_to_driver=False,
            include_dashboard=False if address == "local" else None,
            ignore_reinit_error=True,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BuildError(
            f"cannot start or join the Ray cluster {address!r}: {first}; pass --ray ray://HEAD:10001 "
            "or --ray auto on a node of a running cluster, or --ray alone for a one-machine cluster"
        ) from exc
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # its per-run INFO lines break the build's bar
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the build's own bar counts the texts
    context.print_on_execution_start = False
    # A build's batches stream through one dataset and are coded in order as each completes.
    context.execution_options.preserve_order = True
    return ray


def _reachable(address: str) -> None:
    """BuildError at once unless something listens at the host and port of `address`."""
    parts = urlsplit(address if "://" in address else f"//{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise BuildError(
            f"cannot read the Ray address {address!r}; use ray://HEAD:10001, HOST:6379 (the head's GCS), "
            "auto, or --ray alone for a one-machine cluster"
        )
    try:
        socket.create_connection((host, port), timeout=_CONNECT_SECONDS).close()
    except OSError as exc:
        raise BuildError(
            f"no Ray cluster answers at {address} ({exc.strerror or exc}); start one (`ray start --head`) "
            "or check the address, or pass --ray alone for a one-machine cluster"
        ) from None
