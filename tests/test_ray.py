"""`qa build --ray`: the build's embedding on Ray Data (a real local cluster, the real model).

One Ray cluster serves the module: started here, joined by each `qa build --ray ADDRESS`
subprocess, and shut down at the end. An index built through Ray must hold the same bits as one
built on this machine alone, so `qa ask --json` answers identically from both.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from tests.conftest import SEED

if TYPE_CHECKING:
    from qa._store import Manifest

try:
    import ray
except ImportError:
    if os.environ.get("CI") == "true":
        raise  # CI installs the [ray] extra (make test): its absence is a failure there
    pytest.skip("the Ray build needs `pip install -e '.[ray]'`", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = (
    "what guarantees did Russia demand?",
    "How many Ukrainian drones did Russia say it destroyed?",
    "Who is Witkoff?",
    "What is the capital of France?",  # abstains: its nearest sentences are compared too
)


def qa(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "qa", *args], capture_output=True, text=True, timeout=600, env=env, check=False
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A one-machine Ray cluster for the module; its GCS address, which `--ray` joins."""
    os.environ.setdefault("PYTHONPATH", str(ROOT))  # the actors import qa from this checkout
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield str(ray.get_runtime_context().gcs_address)
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ray-corpus")
    (folder / SEED.name).write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def local_answers(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The index built without Ray, and its `qa ask --json` lines for QUESTIONS."""
    index = tmp_path_factory.mktemp("ray-local") / "index"
    built = qa("build", "--corpus", str(corpus), "--index", str(index))
    assert built.returncode == 0, built.stderr
    return index, _ask(index)


def _ask(where: Path) -> list[str]:
    questions = where.parent / "questions.txt"
    questions.write_text("\n".join(QUESTIONS) + "\n", encoding="utf-8")
    asked = qa("ask", "--index", str(where), "--json", "--file", str(questions))
    assert asked.returncode == 0, asked.stderr
    lines = asked.stdout.splitlines()
    assert len(lines) == len(QUESTIONS)
    return lines


def _same_bits(ours: Path, theirs: Path) -> tuple[Manifest, Manifest]:
    """Assert that two index folders hold the same vectors and token codes; their manifests."""
    from qa import Engine

    with closing(Engine(ours)) as a, closing(Engine(theirs)) as b:
        for table in ("chunk_vectors", "sentence_vectors", "token_codes", "token_scale"):
            assert np.array_equal(np.asarray(getattr(a.index, table)), np.asarray(getattr(b.index, table))), table
        return a.index.manifest, b.index.manifest


def test_a_ray_build_holds_the_same_bits_and_answers_identically(
    cluster: str, corpus: Path, local_answers: tuple[Path, list[str]], tmp_path: Path
) -> None:
    index = tmp_path / "index"
    built = qa("build", "--corpus", str(corpus), "--index", str(index), "--ray", cluster)
    assert built.returncode == 0, built.stderr
    assert "Traceback" not in built.stderr
    assert _ask(index) == local_answers[1]
    _same_bits(index, local_answers[0])


def test_a_ray_build_into_milvus_lite_answers_as_the_local_build(
    cluster: str, corpus: Path, local_answers: tuple[Path, list[str]], tmp_path: Path
) -> None:
    pytest.importorskip("pymilvus", reason="the Milvus store needs `pip install -e '.[milvus]'`")
    store = tmp_path / "qa.db"
    built = qa("build", "--corpus", str(corpus), "--store", str(store), "--ray", cluster)
    assert built.returncode == 0, built.stderr
    assert _ask(store) == local_answers[1]


def test_a_ray_build_with_mpnet_holds_the_local_build_s_bits(cluster: str, corpus: Path, tmp_path: Path) -> None:
    """Each actor puts all-mpnet-base-v2 together (or finds it in QA_CACHE) and embeds as a local build does."""
    local, distributed = tmp_path / "local" / "index", tmp_path / "ray" / "index"
    for where, extra in ((local, ()), (distributed, ("--ray", cluster))):
        built = qa("build", "--corpus", str(corpus), "--index", str(where), "--model", "mpnet", *extra)
        assert built.returncode == 0 and "all-mpnet-base-v2, onnx" in built.stdout, built.stderr
    assert _ask(distributed) == _ask(local)
    ours, theirs = _same_bits(distributed, local)
    assert ours.model == theirs.model and ours.dimensions == 768


def test_batches_stream_through_one_dataset_whole_in_order_and_bit_identical(cluster: str) -> None:
    """A build hands all its batches to Ray at once (one dataset, one actor pool); each comes back
    whole and in order, with the bits the local embedder gives batch by batch."""
    from qa._embed import embed_span_batches, load_embedder
    from qa._ray import RayEmbedder

    words = SEED.read_text(encoding="utf-8").split()
    texts = [" ".join(words[i : i + 30]) for i in range(0, min(len(words), 30 * 16), 30)]
    spans = [[(0, len(t) // 2), (len(t) // 2, len(t))] for t in texts]
    cuts = [0, 3, 10, 11, len(texts)]  # uneven batches, one of a single text
    batches = [(texts[a:b], spans[a:b]) for a, b in itertools.pairwise(cuts)]
    local = list(embed_span_batches(load_embedder(None, "onnx"), batches))
    seen: list[int] = []
    # Not closed: its `ray.shutdown` would stop the module's cluster, which it joined.
    streamed = list(RayEmbedder(cluster).embed_span_batches(batches, progress=seen.append))
    assert sum(seen) == len(texts) and len(streamed) == len(batches)
    for (ours, our_passes), (theirs, their_passes), (batch, _) in zip(streamed, local, batches, strict=True):
        assert ours.shape == (len(batch), 384) and np.array_equal(ours, theirs)
        for mine, other in zip(our_passes, their_passes, strict=True):
            assert np.array_equal(mine.vectors, other.vectors)
            assert all(np.array_equal(a, b) for a, b in zip(mine.tokens, other.tokens, strict=True))


@pytest.mark.parametrize("address", ["ray://127.0.0.1:{port}", "127.0.0.1:{port}", "not an address"])
def test_a_bad_ray_address_is_one_line_and_leaves_the_index(
    address: str, corpus: Path, local_answers: tuple[Path, list[str]]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free once closed: nothing listens there
    index = local_answers[0]
    built = qa("build", "--corpus", str(corpus), "--index", str(index), "--full", "--ray", address.format(port=port))
    assert built.returncode == 1
    lines = [line for line in built.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("qa: error: "), built.stderr
    assert "Ray" in lines[0] and "--ray" in lines[0]
    assert _ask(index) == local_answers[1]
