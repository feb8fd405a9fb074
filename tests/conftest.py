"""Shared fixtures: a fake embedder for fast layer tests, and real built indexes."""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import shutil
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
# suite exercises the export and never depends on a developer's ~/.cache. It holds all-mpnet-base-v2
# once put together (0.5 GB), so it goes when the session ends. A subprocess that imports this
# module keeps the folder it inherits: the tests that SIGKILL their children would otherwise leave
# one empty folder in /tmp for each child, and a child must not delete its parent's on exit.
_TEST_CACHE = "qa-test-cache-"
if not Path(os.environ.get("QA_CACHE", "")).name.startswith(_TEST_CACHE):
    os.environ["QA_CACHE"] = tempfile.mkdtemp(prefix=_TEST_CACHE)
    atexit.register(shutil.rmtree, os.environ["QA_CACHE"], True)


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
def eval_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """qa eval's cache (`qa._eval.CACHE`), this test's alone: in the shared one, concurrent runs
    remove each other's indexes and a killed run leaves its own behind."""
    cache = tmp_path / "cache"
    monkeypatch.setattr("qa._eval.CACHE", cache)
    return cache


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


# A dated corpus from two sources: six Wire stories (Reuters-style dates, January 2024) say Alice
# Smith will lead Acme Corp; one Daily Planet story (an RSS date, March 2025) says Bob Jones will.
# Unfiltered, the six Wire stories fill the best articles, so the Planet one is only found if a
# filter acts inside retrieval.
ACME = "Who will lead Acme Corp as chief executive?"
WIRE_STORIES = (
    "Acme Corp said on Monday that Alice Smith will lead the company as chief executive. Smith previously ran the group's European business.",
    "Alice Smith will lead Acme Corp as chief executive, the company said on Monday. The board approved her appointment unanimously.",
    "Acme Corp named Alice Smith to lead the company as its chief executive on Monday. Shares rose 3 percent on the news.",
    "Shareholders welcomed the news that Alice Smith will lead Acme Corp as chief executive. Analysts called her a safe choice.",
    "Acme Corp confirmed that Alice Smith will lead the company as chief executive from next month. She replaces the founder.",
    "Alice Smith, a veteran of the industry, will lead Acme Corp as chief executive, a spokesman said. Her pay was not disclosed.",
)
PLANET = "The board of Acme Corp picked Bob Jones to run the company as its new chief executive."


def write_dated_corpus(folder: Path) -> Path:
    """The dated corpus above, as a JSONL file and two Markdown files (one with a bad date)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "id": f"wire-{i}",
            "title": f"Acme picks Smith ({i})",
            "text": text,
            "date": f"{10 + i}-JAN-2024 09:0{i}:00.00 RM",
            "source": "Wire",
        }
        for i, text in enumerate(WIRE_STORIES, 1)
    ]
    rows.append(
        {"id": "storm", "title": "Storm", "text": "A storm brought heavy rain to the coast on Tuesday. Roads were closed for hours.",
         "date": "2024-06-01", "source": "Wire"}
    )  # fmt: skip
    (folder / "wire.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    (folder / "planet.md").write_text(
        "---\ntitle: Acme turns to Jones\ndate: Tue, 04 Mar 2025 09:30:00 GMT\nsource: Daily Planet\n---\n"
        f"{PLANET} Jones joins from a rival maker of rockets.\n",
        encoding="utf-8",
    )
    (folder / "cup.md").write_text(
        "---\ntitle: Cup final\ndate: sometime last week\nsource: Daily Planet\n---\n"
        "The home side won the cup final by two goals to one. The winning goal came in extra time.\n",
        encoding="utf-8",
    )
    return folder


@pytest.fixture(scope="session")
def dated_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dated corpus, built with the bundled model."""
    from qa import build_index

    root = tmp_path_factory.mktemp("dated")
    build_index(write_dated_corpus(root / "corpus"), root / "index")
    return root / "index"


@pytest.fixture(scope="session")
def dated_engine(dated_index: Path):  # type: ignore[no-untyped-def]
    from qa import Engine

    return Engine(dated_index)


def squad_articles() -> list[dict[str, str]]:
    """SQuAD v1.1 dev paragraphs as corpus records: one article per paragraph."""
    data = json.loads(shared_file(SQUAD_V1).read_text(encoding="utf-8"))
    return [
        {"id": f"{a['title']}/{i}", "title": a["title"].replace("_", " "), "text": p["context"]}
        for a in data["data"]
        for i, p in enumerate(a["paragraphs"])
    ]


# A tiny news question set written the same way as news_dev.json, over the seed article.
NEWS_QUESTIONS = {
    "about": "a tiny set written the same way as news_dev.json",
    "corpora": {"seed": "data/news/seed.jsonl"},
    "cases": [
        {
            "corpus": "seed",
            "q": "Which media outlet did the Russian deputy foreign minister tell about the security guarantees?",
            "expect": ["Grushko told Russian media outlet Izvestia"],
            "articles": ["seed"],
            "kind": "who",
        },
        {"corpus": "seed", "q": "How much did Apple charge for the first iPhone?", "abstain": True},
    ],
    "followups": [
        {
            "corpus": "seed",
            "turns": ["What did Grushko say Moscow will demand?", "Which outlet did he tell that to?"],
            "expect": ["Izvestia"],
            "articles": ["seed"],
        }
    ],
}


def write_news_set(folder: Path) -> Path:
    """NEWS_QUESTIONS and their corpus (the seed article as JSONL) in `folder`, laid out like
    shared/data: the questions name their corpus by a path relative to it. The question file's path."""
    (folder / "data" / "news").mkdir(parents=True)
    (folder / "data" / "news_qa").mkdir()
    record = {"id": "seed", "title": "Trump to speak to Putin", "text": SEED.read_text(encoding="utf-8")}
    (folder / "data" / "news" / "seed.jsonl").write_text(json.dumps(record) + "\n")
    path = folder / "data" / "news_qa" / "mini.json"
    path.write_text(json.dumps(NEWS_QUESTIONS))
    return path
