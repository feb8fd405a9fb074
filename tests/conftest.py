"""Shared fixtures: a fake embedder for fast layer tests, and real built indexes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from qa._embed import SpanPass

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SEED = ROOT / "corpus" / "000_c4ab675d8fef6c70.txt"
SQUAD_V1 = SHARED / "data" / "squad" / "dev-v1.1.json"

# Exported ONNX models go to a fresh folder per test session (subprocesses inherit it), so the
# suite exercises the export and never depends on a developer's ~/.cache.
os.environ["QA_CACHE"] = tempfile.mkdtemp(prefix="qa-test-cache-")


def shared_file(path: Path) -> Path:
    """A file from ../shared; missing data fails in CI (and skips on a bare developer machine)."""
    if not path.exists():
        message = f"{path} is missing: clone the project next to shared/ (it holds the evaluation data)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


class FakeEmbedder:
    """Hashed bag of words: deterministic, instant, and similar texts get similar vectors."""

    name = "fake-bag-of-words"
    backend = "fake"
    dimensions = 64
    max_tokens = 256

    def embed(self, texts: Sequence[str], progress: Callable[[int], object] | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimensions] += 1.0
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        if progress:
            progress(len(texts))
        return out

    def embed_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        progress: Callable[[int], object] | None = None,
    ) -> tuple[np.ndarray, list[SpanPass]]:
        passes = [
            SpanPass(
                self.embed([text[a:b] for a, b in text_spans]),
                [self._tokens(text[a:b]).astype(np.float32) for a, b in text_spans],
            )
            for text, text_spans in zip(texts, spans, strict=True)
        ]
        return self.embed(texts, progress), passes

    def embed_query(self, text: str) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
        spans = [m.span() for m in re.finditer(r"\w+", text)]
        return self.embed([text])[0], self._tokens(text), spans

    def _tokens(self, text: str) -> np.ndarray:
        """Each word's own hashed one-hot row: a word matches only itself."""
        return self.embed(re.findall(r"\w+", text.lower()))

    def count_tokens(self, text: str) -> int:
        return len(text.split())


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def seed_corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / SEED.name).write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one real index of the suite: the seed corpus, built with the bundled model."""
    from qa import build_index

    index = tmp_path_factory.mktemp("seed") / "index"
    build_index(SEED.parent, index)
    return index


@pytest.fixture(scope="session")
def engine(seed_index: Path):  # type: ignore[no-untyped-def]
    from qa import Engine

    return Engine(seed_index)


def squad_articles() -> list[dict[str, str]]:
    """SQuAD v1.1 dev paragraphs as corpus records: one article per paragraph."""
    data = json.loads(shared_file(SQUAD_V1).read_text(encoding="utf-8"))
    return [
        {"id": f"{a['title']}/{i}", "title": a["title"].replace("_", " "), "text": p["context"]}
        for a in data["data"]
        for i, p in enumerate(a["paragraphs"])
    ]
