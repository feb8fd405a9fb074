"""Both embedding backends with the real bundled model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa import ModelError
from qa._embed import (
    DEFAULT_MODEL,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    _model_key,
    cache_dir,
    load_embedder,
    pool_spans,
    query_tokens,
    unit_rows,
)
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


def test_a_question_pass_gives_its_vector_and_content_token_vectors_on_both_backends() -> None:
    question = "What guarantees did Moscow demand?"
    onnx, torch = OnnxEmbedder(), SentenceTransformerEmbedder()
    vector, tokens, spans = onnx.embed_query(question)
    assert np.array_equal(vector, onnx.embed([question])[0])
    # "What", "guarantees", "did", "Moscow", "demand": every word piece but "?" and the special tokens.
    words = onnx._counter.encode(question, add_special_tokens=False)
    assert len(tokens) == len([t for t in words.tokens if t != "?"]) and tokens.shape[1] == 384
    assert np.allclose(np.linalg.norm(tokens, axis=1), 1.0, atol=1e-5)
    assert [question[a:b] for a, b in spans] == ["What", "guarantees", "did", "Moscow", "demand"]
    torch_vector, torch_tokens, torch_spans = torch.embed_query(question)
    assert torch_spans == spans
    assert float(vector @ torch_vector) >= 0.98
    assert torch_tokens.shape == tokens.shape and (torch_tokens * tokens).sum(axis=1).min() >= 0.95
    assert onnx.embed_query("?")[1].shape == (0, 384)


def test_one_pass_gives_chunk_and_sentence_vectors() -> None:
    text = SEED.read_text(encoding="utf-8")
    spans = split_sentences(text)[:4]
    offset = spans[0].start
    chunk = text[offset : spans[-1].end]
    local = [(s.start - offset, s.end - offset) for s in spans]
    onnx, torch = OnnxEmbedder(), SentenceTransformerEmbedder()
    vectors, [passed] = onnx.embed_spans([chunk], [local])
    pooled = passed.vectors
    assert np.array_equal(vectors, onnx.embed([chunk]))
    assert pooled.shape == (4, 384) and np.allclose(np.linalg.norm(pooled, axis=1), 1.0, atol=1e-4)
    # Each sentence's token vectors: one per word piece, the same pass's, each of length one.
    assert [len(t) for t in passed.tokens] == [onnx.count_tokens(chunk[a:b]) for a, b in local]
    for tokens, row in zip(passed.tokens, pooled, strict=True):
        assert tokens.dtype == np.float32 and np.allclose(np.linalg.norm(tokens, axis=1), 1, atol=1e-5)
        assert float(unit_rows(tokens.mean(axis=0, keepdims=True))[0] @ row) > 0.95
    # A span over the whole chunk is the chunk's own mean, less the [CLS] and [SEP] tokens.
    _, [whole] = onnx.embed_spans([chunk], [[(0, len(chunk))]])
    assert float(whole.vectors[0] @ vectors[0]) >= 0.95
    # Both backends pool the same tokens.
    torch_vectors, [torch_passed] = torch.embed_spans([chunk], [local])
    assert (torch_vectors * vectors).sum() >= 0.98
    assert (torch_passed.vectors * pooled).sum(axis=1).min() >= 0.97
    assert [len(t) for t in torch_passed.tokens] == [len(t) for t in passed.tokens]


def test_pool_spans_skips_special_tokens_and_handles_cut_words() -> None:
    hidden = np.array([[9.0, 9.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [9.0, -9.0]], dtype=np.float32)
    offsets = [(0, 0), (0, 3), (4, 7), (7, 9), (0, 0)]  # [CLS] "one" "two" "##s" [SEP]
    passed = pool_spans(hidden, offsets, [(0, 3), (4, 9), (5, 8)])
    pooled = passed.vectors
    assert np.allclose(pooled[0], [1.0, 0.0])
    assert np.allclose(pooled[1], np.array([1.0, 2.0]) / np.sqrt(5))
    assert np.allclose(pooled[2], pooled[1])  # a span cutting words takes the tokens it overlaps
    assert [len(t) for t in passed.tokens] == [1, 2, 2]
    assert np.allclose(passed.tokens[1], [[0.0, 1.0], [np.sqrt(0.5), np.sqrt(0.5)]], atol=1e-3)


def test_query_tokens_keep_word_pieces_with_letters_or_digits() -> None:
    hidden = np.array([[9.0, 9.0], [3.0, 4.0], [1.0, 0.0], [0.0, 2.0], [9.0, -9.0]], dtype=np.float32)
    offsets = [(0, 0), (0, 3), (3, 4), (4, 6), (0, 0)]  # [CLS] "Who" "?" "42" [SEP]
    tokens, spans = query_tokens(hidden, offsets, "Who?42")
    assert np.allclose(tokens, [[0.6, 0.8], [0.0, 1.0]]) and spans == [(0, 3), (4, 6)]
    assert query_tokens(hidden, [*offsets[:1], (3, 4)], "Who?42")[0].shape == (0, 2)


def test_export_is_cached_and_reused() -> None:
    OnnxEmbedder()
    # The suite shares one cache, which other tests may have exported other models into.
    folder = cache_dir() / "onnx" / _model_key(DEFAULT_MODEL)
    assert (folder / "meta.json").is_file()
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


def test_an_int8_copy_that_strays_on_this_cpu_is_kept_as_float32(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from qa import _onnx_export

    OnnxEmbedder()  # the suite's own export, checked and kept as int8
    int8 = json.loads((cache_dir() / "onnx" / _model_key(DEFAULT_MODEL) / "meta.json").read_text())
    assert int8["weights"] == "int8" and int8["int8_agreement"] >= _onnx_export.MIN_AGREEMENT
    monkeypatch.setattr(_onnx_export, "MIN_AGREEMENT", 1.01)  # no int8 copy agrees that well
    monkeypatch.setenv("QA_CACHE", str(tmp_path))
    floats = OnnxEmbedder()  # exported again into the empty cache
    meta = json.loads((tmp_path / "onnx" / _model_key(DEFAULT_MODEL) / "meta.json").read_text())
    assert meta["weights"] == "float32" and meta["int8_agreement"] == int8["int8_agreement"]
    texts = seed_sentences()[:8]
    assert np.abs(floats.embed(texts) - SentenceTransformerEmbedder().embed(texts)).max() < 1e-4


def test_the_one_text_graph_gives_the_bits_of_the_masked_one(tmp_path: Path) -> None:
    import onnx
    import onnxruntime as ort

    from qa._embed import _load
    from qa._onnx_export import export

    embedder = OnnxEmbedder()
    export(_load(embedder.name), embedder.name, tmp_path / "masked", one_text=False)
    masked_path = str(tmp_path / "masked" / "model.onnx")
    ours, masked = onnx.load(embedder._model_path).graph, onnx.load(masked_path).graph
    assert [i.name for i in ours.input] == ["input_ids"]
    assert [i.name for i in masked.input] == ["input_ids", "attention_mask", "token_type_ids"]
    # Four reshapes in each of the six attention layers take a constant shape now, not one
    # computed at run time.
    fixed = [
        sum(n.op_type == "Reshape" and n.input[1] in {t.name for t in g.initializer} for n in g.node)
        for g in (ours, masked)
    ]
    assert fixed[0] - fixed[1] >= 24, fixed
    session = ort.InferenceSession(masked_path, providers=["CPUExecutionProvider"])
    for text in [*seed_sentences()[:5], "Why?", "word " * 600]:
        ids = np.asarray([embedder._tokenizer.encode(text).ids], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        expected = session.run(None, feeds)[0][0]
        assert np.array_equal(embedder._hidden(text, embedder._question_session)[0], expected)
