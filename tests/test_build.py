"""Incremental builds: only new or changed articles are embedded; the result equals a full build."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from qa import BuildError, Skipped, _chunk, build_index
from qa._build import BuildSettings
from qa._embed import SpanPass
from qa._late import dequantize
from qa._segment import SEGMENTER
from qa._store import load_index
from tests.conftest import FakeEmbedder


class CountingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str], progress: Callable[[int], object] | None = None) -> np.ndarray:
        self.texts += texts
        return super().embed(texts, progress)


ARTICLES = {
    "a.txt": "Alpha council met on Monday. It approved the harbour budget.\nThe mayor praised the vote.",
    "b.txt": "Bravo storm closed the airport. Flights resumed on Tuesday.",
    "c.txt": "Charlie team won the final. The coach thanked the fans.",
}


def write(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def tables(index: Path) -> tuple[object, ...]:
    stored = load_index(index)
    return (
        [a.id for a in stored.articles],
        stored.sentences.tolist(),
        stored.chunks.tolist(),
        stored.sentence_vectors,
        stored.chunk_vectors,
        stored.sentence_tokens.tolist(),
        np.asarray(stored.token_codes),
        stored.token_scale,
    )


def test_only_changed_articles_are_embedded(tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write(corpus, ARTICLES)
    first = build_index(corpus, index, embedder=CountingEmbedder())
    assert not first.incremental and first.embedded == 3

    changed = {**ARTICLES, "b.txt": "Bravo storm closed the airport. Flights resumed on Wednesday."}
    del changed["a.txt"]
    changed["d.txt"] = "Delta bridge reopened after repairs."
    write(corpus, changed)
    counting = CountingEmbedder()
    report = build_index(corpus, index, embedder=counting)
    assert (report.incremental, report.embedded, report.reused, report.removed) == (True, 2, 1, 1)
    assert all("Charlie" not in t and "Alpha" not in t for t in counting.texts)
    assert any("Wednesday" in t for t in counting.texts) and any("Delta" in t for t in counting.texts)

    # The incremental index is the one a full build makes.
    full = tmp_path / "full"
    build_index(corpus, full, embedder=FakeEmbedder())
    for incremental_part, full_part in zip(tables(index), tables(full), strict=True):
        if isinstance(full_part, np.ndarray):
            assert np.allclose(incremental_part, full_part)
        else:
            assert incremental_part == full_part


def test_full_and_changed_settings_embed_everything(tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write(corpus, ARTICLES)
    build_index(corpus, index, embedder=FakeEmbedder())
    counting = CountingEmbedder()
    report = build_index(corpus, index, embedder=counting, full=True)
    assert not report.incremental and report.embedded == 3 and len(counting.texts) > 3
    assert report.fresh == ""  # asked for: no reason to give
    report = build_index(corpus, index, embedder=FakeEmbedder(), settings=BuildSettings(chunk_tokens=8))
    assert not report.incremental and report.embedded == 3
    assert report.fresh == "the index there was built with other chunking settings"
    report = build_index(corpus, index, embedder=FakeEmbedder(), settings=BuildSettings(chunk_tokens=8))
    assert report.incremental and report.reused == 3 and report.embedded == 0 and report.fresh == ""

    class OtherModel(FakeEmbedder):
        name = "another-fake"

    report = build_index(corpus, index, embedder=OtherModel(), settings=BuildSettings(chunk_tokens=8))
    assert not report.incremental and report.fresh == "the index there was built with model 'fake-bag-of-words'"


def test_an_index_split_into_sentences_another_way_is_embedded_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write(corpus, ARTICLES)
    monkeypatch.setattr(_chunk, "SEGMENTER", "pysbd-0.3.4")  # as qa split before it joined rests
    build_index(corpus, index, embedder=FakeEmbedder())
    assert load_index(index).manifest.chunking["segmenter"] == "pysbd-0.3.4"
    monkeypatch.undo()
    report = build_index(corpus, index, embedder=FakeEmbedder())
    assert not report.incremental and report.embedded == 3
    assert report.fresh == "the index there was built with other chunking settings"
    assert load_index(index).manifest.chunking["segmenter"] == SEGMENTER


def test_sentence_vectors_are_pooled_from_the_chunk_pass(tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write(corpus, ARTICLES)

    class Marking(FakeEmbedder):
        """Each chunk's pooled sentence rows differ, so a sentence in two chunks gets their mean."""

        def embed_spans(self, texts, spans, progress=None):  # type: ignore[no-untyped-def]
            vectors, passes = super().embed_spans(texts, spans, progress)
            marked = []
            for i, (text_spans, passed) in enumerate(zip(spans, passes, strict=True)):
                rows = np.zeros((len(text_spans), self.dimensions), dtype=np.float32)
                rows[:, i % self.dimensions] = 1.0
                marked.append(SpanPass(rows, passed.tokens))
            return vectors, marked

    settings = BuildSettings(chunk_tokens=8)  # several overlapping chunks per article
    build_index(corpus, index, embedder=Marking(), settings=settings)
    stored = load_index(index)
    assert stored.manifest.chunking["sentence_vectors"] == "pooled"
    for s in range(len(stored.sentences)):
        holders = [c for c, (_, first, last) in enumerate(stored.chunks.tolist()) if first <= s < last]
        expected = np.zeros(64, dtype=np.float32)
        expected[holders] = 1.0
        assert np.allclose(stored.sentence_vectors[s], expected / np.linalg.norm(expected))


def test_separate_sentence_vectors_embed_each_sentence_alone(tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write(corpus, ARTICLES)
    counting = CountingEmbedder()
    build_index(corpus, index, embedder=counting, settings=BuildSettings(sentence_vectors="separate"))
    stored = load_index(index)
    sentences = [stored.articles[a].text[s:e] for a, s, e in stored.sentences.tolist()]
    assert set(sentences) <= set(counting.texts)
    assert np.allclose(stored.sentence_vectors, FakeEmbedder().embed(sentences))
    with pytest.raises(BuildError, match="sentence_vectors must be"):
        build_index(corpus, index, embedder=FakeEmbedder(), settings=BuildSettings(sentence_vectors="twice"))


def test_each_sentence_keeps_its_token_vectors(tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write(corpus, ARTICLES)
    build_index(corpus, index, embedder=FakeEmbedder(), settings=BuildSettings(chunk_tokens=8))
    stored = load_index(index)
    offsets = stored.sentence_tokens
    assert stored.manifest.tokens == offsets[-1] == len(stored.token_codes) and offsets[0] == 0
    fake = FakeEmbedder()
    for s, (a, start, end) in enumerate(stored.sentences.tolist()):
        expected = stored.projection.apply(fake._tokens(stored.articles[a].text[start:end]))
        found = dequantize(
            stored.token_codes[offsets[s] : offsets[s + 1]], stored.token_scale[offsets[s] : offsets[s + 1]]
        )
        assert found.shape == expected.shape and (found * expected).sum(axis=1).min() > 0.999
    assert stored.projection.dims == 64  # the fake model has fewer than the 128 kept by default
    with pytest.raises(BuildError, match="token_dims must be at least 1"):
        build_index(corpus, index, embedder=FakeEmbedder(), settings=BuildSettings(token_dims=0))


def test_tokens_are_coded_batch_by_batch_after_a_spread_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import qa._build

    monkeypatch.setattr(qa._build, "_SAMPLE_CHUNKS", 2)
    monkeypatch.setattr(qa._build, "_BATCH_CHUNKS", 2)
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write(corpus, {f"{n}.txt": f"{text} Story number {n} ends here." for n, text in enumerate(ARTICLES.values())})
    build_index(corpus, index, embedder=FakeEmbedder(), settings=BuildSettings(chunk_tokens=8, token_dims=4))
    stored = load_index(index)
    assert stored.projection.dims == 4 and len(stored.chunks) > 6
    offsets, fake = stored.sentence_tokens, FakeEmbedder()
    for s, (a, start, end) in enumerate(stored.sentences.tolist()):
        expected = stored.projection.apply(fake._tokens(stored.articles[a].text[start:end]))
        found = dequantize(
            stored.token_codes[offsets[s] : offsets[s + 1]], stored.token_scale[offsets[s] : offsets[s + 1]]
        )
        assert found.shape == expected.shape and (found * expected).sum(axis=1).min() > 0.99


@pytest.mark.parametrize("inside", [".", "index", "sub/x.db", "loop/x"])
def test_an_index_inside_its_own_corpus_is_refused_and_nothing_is_written(tmp_path: Path, inside: str) -> None:
    corpus = tmp_path / "corpus"
    write(corpus, ARTICLES)
    (corpus / "sub").mkdir()
    (corpus / "loop").symlink_to("loop")
    before = sorted(p.relative_to(corpus) for p in corpus.rglob("*"))
    refused = "a place outside the corpus" if inside != "loop/x" else "build failed .*symbolic links"
    with pytest.raises(BuildError, match=refused):  # a symlink loop is the build's own one line
        build_index(corpus, corpus / inside, embedder=FakeEmbedder())
    assert sorted(p.relative_to(corpus) for p in corpus.rglob("*")) == before
    build_index(corpus, tmp_path / "corpus-index", embedder=FakeEmbedder())  # beside it, though its name starts alike
    assert (tmp_path / "corpus-index" / "CURRENT").is_file()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB file system (tmpfs), where mounting one is allowed."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here ({mounted.stderr.decode().strip()})")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "--lazy", str(disk)], check=True)  # open files of a failed test let go later


def test_a_build_that_fills_the_disk_says_so_and_the_previous_index_serves(tmp_path: Path, small_disk: Path) -> None:
    corpus, index = tmp_path / "corpus", small_disk / "index"
    write(corpus, ARTICLES)
    build_index(corpus, index, embedder=FakeEmbedder())
    first = (index / "CURRENT").read_text()
    story = " ".join(f"Report {n} says the council met on day {n} to discuss the harbour works." for n in range(40))
    write(corpus, {f"more-{n}.txt": f"{story} Story {n} ends." for n in range(200)})
    with pytest.raises(BuildError, match=r"the disk holding .* is full .* free space there and build again"):
        build_index(corpus, index, embedder=FakeEmbedder())
    assert (index / "CURRENT").read_text() == first
    assert os.listdir(index / "builds") == [first.strip()]  # the failed build's files are gone
    assert len(load_index(index).articles) == len(ARTICLES)


@pytest.mark.parametrize("place", ["index", "qa.db"])
def test_a_symlink_in_the_corpus_to_its_index_is_skipped_not_read_as_articles(tmp_path: Path, place: str) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / place
    write(corpus, ARTICLES)
    build_index(corpus, index, embedder=FakeEmbedder())
    (corpus / "archive").symlink_to(index)  # the folder store's articles.jsonl holds every article
    report = build_index(corpus, index, embedder=FakeEmbedder())
    assert report.articles == len(ARTICLES)
    assert [s for s in report.skipped if s.path.startswith("archive")] == [
        Skipped("archive/", "the index this build writes, not articles; remove the link to it")
    ]


def test_a_corpus_inside_its_index_is_refused_and_kept(tmp_path: Path) -> None:
    index = tmp_path / "index"
    write(tmp_path / "first", ARTICLES)
    build_index(tmp_path / "first", index, embedder=FakeEmbedder())
    corpus = index / "builds" / "notes"  # where a build would remove it with the old builds
    write(corpus, ARTICLES)
    with pytest.raises(BuildError, match=r"is inside the index .* move the corpus out of the index folder"):
        build_index(corpus, index, embedder=FakeEmbedder())
    assert sorted(p.name for p in corpus.iterdir()) == sorted(ARTICLES)
