"""The index store: manifest checks, atomic swaps, and failures that leave the old index serving."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import faiss
import numpy as np
import pytest

from qa import BuildError, CorpusError, Engine, IndexCorruptError, IndexMismatchError, IndexNotFoundError, build_index
from qa._store import CURRENT, FORMAT_VERSION, load_index, read_manifest, resolve
from tests.conftest import FakeEmbedder, squad_articles


def fake_build(corpus: Path, index: Path) -> None:
    build_index(corpus, index, embedder=FakeEmbedder())


def test_build_writes_a_manifest_and_loads(seed_corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    fake_build(seed_corpus, index)
    manifest = read_manifest(index)
    assert manifest.format_version == FORMAT_VERSION
    assert manifest.model == "fake-bag-of-words" and manifest.dimensions == 64
    assert manifest.chunking["overlap_sentences"] == 1 and manifest.chunking["chunk_size"] == 200
    assert manifest.articles == 1 and manifest.sentences == 21 and manifest.chunks >= 2
    assert len(manifest.corpus_hash) == 64
    stored = load_index(index)
    assert stored.sentence_vectors.shape == (21, 64)
    threads = faiss.omp_get_max_threads()
    ids, scores = stored.search_chunks(stored.chunk_vectors[1], 3)
    assert ids[0] == 1 and scores[0] == pytest.approx(1.0, abs=1e-5)
    assert faiss.omp_get_max_threads() == threads  # searched on one thread, then put back


def test_rebuild_swaps_and_keeps_one_build(seed_corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    fake_build(seed_corpus, index)
    first = resolve(index)
    (seed_corpus / "extra.txt").write_text("An extra article about something else entirely.", encoding="utf-8")
    fake_build(seed_corpus, index)
    second = resolve(index)
    assert second != first and not first.exists()
    assert read_manifest(index).articles == 2
    assert [p.name for p in (index / "builds").iterdir()] == [second.name]


def test_failed_build_leaves_previous_index(seed_corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    fake_build(seed_corpus, index)
    before = read_manifest(index)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError):
        fake_build(empty, index)

    class Exploding(FakeEmbedder):
        def embed(self, texts, progress=None):  # type: ignore[no-untyped-def]
            raise MemoryError("simulated out of memory")

    with pytest.raises(BuildError, match=r"previous index .* is unchanged"):
        build_index(seed_corpus, index, embedder=Exploding(), full=True)
    assert read_manifest(index) == before
    assert not any(p.name.startswith(".tmp-") for p in (index / "builds").iterdir())


def test_missing_and_damaged_indexes_are_clear_errors(seed_corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="qa build"):
        read_manifest(tmp_path / "nothing")
    index = tmp_path / "index"
    fake_build(seed_corpus, index)
    folder = resolve(index)
    (folder / "sentences.npy").unlink()
    # The hint names the corpus: a bare `qa build` reads ./corpus and would replace this index.
    with pytest.raises(
        IndexCorruptError, match=re.escape(f"rebuild with `qa build --corpus <its corpus> --index {index}`")
    ):
        load_index(index)
    (index / CURRENT).write_text("no-such-build\n")
    with pytest.raises(IndexCorruptError, match="missing"):
        read_manifest(index)


def test_mismatched_manifest_says_how_to_rebuild(seed_corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    fake_build(seed_corpus, index)
    path = resolve(index) / "manifest.json"
    original = json.loads(path.read_text())

    path.write_text(json.dumps({**original, "format_version": FORMAT_VERSION + 1}))
    with pytest.raises(IndexMismatchError, match=r"format version .* rebuild it with `qa build"):
        read_manifest(index)

    path.write_text(json.dumps({**original, "dimensions": 32}))
    with pytest.raises(IndexMismatchError, match="rebuild"):
        load_index(index)

    path.write_text(json.dumps(original))
    with pytest.raises(IndexMismatchError, match=r"built with model 'fake-bag-of-words', not 'other-model'"):
        Engine(index, model="other-model")


def test_concurrent_build_is_refused(seed_corpus: Path, tmp_path: Path) -> None:
    from qa._store import build_lock

    index = tmp_path / "index"
    with build_lock(index), pytest.raises(BuildError, match="another `qa build`"):
        fake_build(seed_corpus, index)


def test_killed_build_leaves_the_old_index_serving(seed_index: Path, tmp_path: Path) -> None:
    """A real `qa build` over a large corpus, killed mid-embedding, changes nothing."""
    index = tmp_path / "index"
    # Start from a copy of the real seed index, so the killed build has something to protect.
    import shutil

    shutil.copytree(seed_index, index)
    before = read_manifest(index)
    corpus = tmp_path / "big"
    corpus.mkdir()
    with open(corpus / "squad.jsonl", "w", encoding="utf-8") as out:
        for record in squad_articles()[:400]:
            out.write(json.dumps(record) + "\n")
    proc = subprocess.Popen(
        # torch is the slower backend, so the build is surely still embedding when it is killed.
        [sys.executable, "-m", "qa", "build", "--corpus", str(corpus), "--index", str(index), "--backend", "torch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180
    assert proc.stderr is not None
    seen = ""
    while time.monotonic() < deadline and "Embedding" not in seen:
        seen += os.read(proc.stderr.fileno(), 4096).decode(errors="replace")
    assert "Embedding" in seen, seen
    time.sleep(1.0)
    assert proc.poll() is None, "the build finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    assert read_manifest(index) == before
    answer = Engine(index).ask("what guarantees did Russia demand?")
    assert not answer.abstained and "Grushko" in answer.answer
    # The next build clears the killed build's leftovers.
    fake_build(corpus, index)
    assert not any(p.name.startswith(".tmp-") for p in (index / "builds").iterdir())


def test_large_indexes_get_hnsw_with_the_same_answers(
    seed_corpus: Path, tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above EXACT_LIMIT chunks a build writes an HNSW index; on a real index it finds what exact search finds."""
    import qa._store

    monkeypatch.setattr(qa._store, "EXACT_LIMIT", 0)
    index = tmp_path / "index"
    build_index(seed_corpus, index)
    hnsw = Engine(index)
    assert hnsw.index.manifest.vector_index == "hnsw" and engine.index.manifest.vector_index == "flat"
    assert type(hnsw.index._faiss).__name__ == "IndexHNSWFlat"
    for vector in hnsw.index.chunk_vectors:
        exact, _ = engine.index.search_chunks(vector, 10)
        approximate, _ = hnsw.index.search_chunks(vector, 10)
        assert approximate.tolist() == exact.tolist()
    for question in ("what guarantees did Russia demand?", "Who is Alexander Grushko?", "what is the capital of Peru?"):
        assert hnsw.ask(question) == engine.ask(question)


def test_manifests_from_before_the_vector_index_field_load_as_flat(seed_corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    fake_build(seed_corpus, index)
    path = resolve(index) / "manifest.json"
    raw = json.loads(path.read_text())
    del raw["vector_index"]
    path.write_text(json.dumps(raw))
    assert read_manifest(index).vector_index == "flat" and load_index(index).search_chunks(np.ones(64), 1)[0].size == 1


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_a_chunk_filter_searches_only_the_allowed_chunks(
    seed_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    import qa._store

    monkeypatch.setattr(qa._store, "EXACT_LIMIT", 0 if kind == "hnsw" else 10**9)
    index = tmp_path / "index"
    fake_build(seed_corpus, index)
    stored = load_index(index)
    assert stored.manifest.vector_index == kind
    vectors = stored.chunk_vectors
    allowed = np.zeros(len(vectors), dtype=bool)
    allowed[1::3] = True
    for vector in vectors:
        ids, scores = stored.search_chunks(vector, 3, allowed)
        # The best allowed chunks, however few of the nearest overall are allowed.
        expected = np.flatnonzero(allowed)[np.argsort(-(vectors[allowed] @ vector), kind="stable")][:3]
        assert allowed[ids].all() and len(ids) == min(3, int(allowed.sum()))
        assert np.allclose(scores, vectors[expected] @ vector, atol=1e-5)
