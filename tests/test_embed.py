"""Both embedding backends with the real bundled model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa import ModelError
from qa._embed import OnnxEmbedder, SentenceTransformerEmbedder, cache_dir, load_embedder, pool_spans
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
    # One text per model call: a text's vector is the same bits whatever else is embedded with it.
    assert np.array_equal(onnx.embed(texts), a)
    assert np.array_equal(np.vstack([onnx.embed([t]) for t in texts]), a)


def test_wordpieces_are_the_models_input_embeddings_on_both_backends() -> None:
    texts = ["Moscow demands guarantees.", "moscow", ""]
    onnx, torch = OnnxEmbedder(), SentenceTransformerEmbedder()
    a, b = onnx.wordpieces(texts), torch.wordpieces(texts)
    assert [len(x) for x in a] == [len(x) for x in b] == [onnx.count_tokens(t) for t in texts]
    assert np.allclose(np.linalg.norm(a[0], axis=1), 1.0, atol=1e-5) and a[0].shape[1] == 384
    assert np.array_equal(a[1][0], a[0][0])  # the same word piece, the same static vector
    # onnx stores the table quantized to 8 bits; dequantized it stays close to torch's.
    assert min(float(x @ y) for x, y in zip(a[0], b[0], strict=True)) >= 0.99
    # The dequantized table is saved beside the model, and a new embedder reads the same one.
    assert Path(onnx._model_path).with_name("wordpieces.npy").is_file()
    assert all(np.array_equal(x, y) for x, y in zip(OnnxEmbedder().wordpieces(texts), a, strict=True))


def test_one_pass_gives_chunk_and_sentence_vectors() -> None:
    text = SEED.read_text(encoding="utf-8")
    spans = split_sentences(text)[:4]
    offset = spans[0].start
    chunk = text[offset : spans[-1].end]
    local = [(s.start - offset, s.end - offset) for s in spans]
    onnx, torch = OnnxEmbedder(), SentenceTransformerEmbedder()
    vectors, [pooled] = onnx.embed_spans([chunk], [local])
    assert np.array_equal(vectors, onnx.embed([chunk]))
    assert pooled.shape == (4, 384) and np.allclose(np.linalg.norm(pooled, axis=1), 1.0, atol=1e-4)
    # A span over the whole chunk is the chunk's own mean, less the [CLS] and [SEP] tokens.
    _, [whole] = onnx.embed_spans([chunk], [[(0, len(chunk))]])
    assert float(whole[0] @ vectors[0]) >= 0.95
    # Both backends pool the same tokens.
    torch_vectors, [torch_pooled] = torch.embed_spans([chunk], [local])
    assert (torch_vectors * vectors).sum() >= 0.98
    assert (torch_pooled * pooled).sum(axis=1).min() >= 0.97


def test_pool_spans_skips_special_tokens_and_handles_cut_words() -> None:
    hidden = np.array([[9.0, 9.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [9.0, -9.0]], dtype=np.float32)
    offsets = [(0, 0), (0, 3), (4, 7), (7, 9), (0, 0)]  # [CLS] "one" "two" "##s" [SEP]
    pooled = pool_spans(hidden, offsets, [(0, 3), (4, 9), (5, 8)])
    assert np.allclose(pooled[0], [1.0, 0.0])
    assert np.allclose(pooled[1], np.array([1.0, 2.0]) / np.sqrt(5))
    assert np.allclose(pooled[2], pooled[1])  # a span cutting words takes the tokens it overlaps


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
