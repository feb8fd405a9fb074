"""Both embedding backends with the real bundled model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa import ModelError
from qa._embed import OnnxEmbedder, SentenceTransformerEmbedder, cache_dir, load_embedder
from qa._segment import split_sentences
from tests.conftest import SEED


def seed_sentences() -> list[str]:
    text = SEED.read_text(encoding="utf-8")
    return [text[s.start : s.end] for s in split_sentences(text)]


def test_onnx_int8_matches_torch() -> None:
    texts = [*seed_sentences(), SEED.read_text(encoding="utf-8")]
    onnx, torch = OnnxEmbedder(), SentenceTransformerEmbedder()
    a, b = onnx.embed(texts), torch.embed(texts)
    assert a.shape == b.shape == (len(texts), 384) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
    cosine = (a * b).sum(axis=1)
    assert cosine.min() >= 0.98, cosine
    assert (onnx.name, onnx.dimensions, onnx.max_tokens) == (torch.name, torch.dimensions, torch.max_tokens)
    for text in texts:
        assert onnx.count_tokens(text) == torch.count_tokens(text)
    # Dynamic int8 quantizes activations per batch, so a text's vector moves a little with its
    # batch; the same batch gives the same bits, and a question is always embedded alone.
    assert np.array_equal(onnx.embed(texts), a)
    alone = np.vstack([onnx.embed([t]) for t in texts])
    assert (alone * a).sum(axis=1).min() >= 0.98


def test_export_is_cached_and_reused() -> None:
    OnnxEmbedder()
    [folder] = [p for p in (cache_dir() / "onnx").iterdir() if not p.name.startswith(".")]
    stamp = (folder / "model.onnx").stat().st_mtime_ns
    OnnxEmbedder()
    assert (folder / "model.onnx").stat().st_mtime_ns == stamp


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="unknown backend 'tpu'"):
        load_embedder(None, "tpu")


def test_a_question_on_the_onnx_backend_never_imports_torch(seed_index: Path) -> None:
    code = (
        "import sys, qa; e = qa.Engine(sys.argv[1]); a = e.ask('what guarantees did Russia demand?');"
        "print(e.index.manifest.backend, a.abstained, sorted(m for m in ('torch', 'sentence_transformers') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code, str(seed_index)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["onnx", "False", "[]"]
