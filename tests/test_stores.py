"""The store contract: the same cases against every store, with the real bundled model.

Stores: the local index folder, Milvus Lite embedded (a `*.db` in tmp), and a `milvus-lite
server` this module starts on a free 127.0.0.1 port (the network path a Milvus cluster takes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from qa import Answer, BuildError, Engine, IndexCorruptError, QAError, build_index
from qa._eval_news import evaluate_news
from qa._stores import open_store
from tests._http import free_port, plain_call, wait_until_up
from tests.conftest import (
    ACME,
    SEED,
    SQUAD_V1,
    FakeEmbedder,
    shared_file,
    squad_articles,
    write_dated_corpus,
    write_news_set,
)

try:
    import pymilvus  # noqa: F401
except ImportError:
    if os.environ.get("CI") == "true":
        raise  # CI installs the [milvus] extra (make test): its absence is a failure there
    pytest.skip("the Milvus store needs `pip install -e '.[milvus]'`", allow_module_level=True)

KINDS = ("folder", "lite", "server")
SEED_QUESTIONS = (
    "what guarantees did Russia demand?",
    "How many Ukrainian drones did Russia say it destroyed?",
    "Who is Witkoff?",
    "What is the capital of France?",  # abstains: its nearest sentences are compared too
)
SQUAD_PARAGRAPHS = 200  # about 240 chunks: more than the 100 candidates each retriever returns


def _server(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A `milvus-lite server` on a free port, ready to answer; (process, URI)."""
    from pymilvus import MilvusClient

    port = free_port()
    command = [str(Path(sys.executable).parent / "milvus-lite"), "server", "--data-dir", str(data)]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            MilvusClient(uri, timeout=2).list_collections()
            return process, uri
        except Exception as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(
                    f"milvus-lite server did not start: {process.stderr.read() if process.stderr else ''!r}"
                ) from exc
            time.sleep(0.2)


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """Where a store of each kind goes: `place(kind)` is a fresh folder, Lite file or server URI."""
    servers: list[subprocess.Popen[bytes]] = []

    def place(kind: str) -> str:
        root = tmp_path_factory.mktemp(kind)
        if kind == "folder":
            return str(root / "index")
        if kind == "lite":
            return str(root / "qa.db")
        process, uri = _server(root / "server")
        servers.append(process)
        return uri

    yield place
    for process in servers:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def seed_stores(places: Callable[[str], str]) -> dict[str, Engine]:
    """The seed corpus built into each kind of store, and an engine over each."""
    engines = {}
    for kind in KINDS:
        where = places(kind)
        build_index(SEED.parent, where)
        engines[kind] = Engine(store=where)
    return engines


@pytest.fixture(scope="module")
def dated_stores(places: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Engine]:
    corpus = write_dated_corpus(tmp_path_factory.mktemp("dated") / "corpus")
    engines = {}
    for kind in KINDS:
        where = places(kind)
        build_index(corpus, where)
        engines[kind] = Engine(store=where)
    return engines


def assert_verbatim(engine: Engine, answer: Answer) -> None:
    cited = (*answer.citations, *answer.nearest)
    assert cited
    for c in cited:
        assert c.sentence == engine.article(c.article_id).text[c.start : c.end]


@pytest.mark.parametrize("kind", KINDS)
def test_the_store_kind_is_picked_from_where(kind: str, seed_stores: dict[str, Engine]) -> None:
    index = seed_stores[kind].index
    assert type(index).__name__ == ("StoredIndex" if kind == "folder" else "MilvusIndex")
    assert seed_stores[kind].summary().articles == 1 and index.name


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("question", SEED_QUESTIONS)
def test_citations_are_verbatim_and_repeatable(kind: str, question: str, seed_stores: dict[str, Engine]) -> None:
    engine = seed_stores[kind]
    answer = engine.ask(question)
    assert_verbatim(engine, answer)
    assert engine.ask(question) == answer


@pytest.mark.parametrize("kind", ["lite", "server"])
def test_milvus_answers_the_seed_questions_as_the_folder_does(kind: str, seed_stores: dict[str, Engine]) -> None:
    for question in SEED_QUESTIONS:
        assert seed_stores[kind].ask(question) == seed_stores["folder"].ask(question), question
    russia = seed_stores[kind].ask(SEED_QUESTIONS[0])
    assert not russia.abstained and any("Grushko" in c.sentence for c in russia.citations)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "filters",
    [{"sources": ["Daily Planet"]}, {"since": "2025-01-01"}, {"since": "2025-03-01", "until": "2025-03-31"}],
)
def test_filters_act_inside_retrieval(kind: str, filters: dict[str, object], dated_stores: dict[str, Engine]) -> None:
    engine = dated_stores[kind]
    answer = engine.ask(ACME, **filters)  # type: ignore[arg-type]
    assert not answer.abstained and "Bob Jones" in answer.citations[0].sentence
    assert answer.citations[0].article_id == "planet.md"
    assert_verbatim(engine, answer)
    assert answer == dated_stores["folder"].ask(ACME, **filters)  # type: ignore[arg-type]
    unfiltered = engine.ask(ACME)
    assert "Alice Smith" in unfiltered.citations[0].sentence and unfiltered == dated_stores["folder"].ask(ACME)
    # A range with only some Wire stories: every citation comes from inside it.
    january = engine.ask(ACME, since="2024-01-12", until="2024-01-13", top=5)
    assert {c.article_id for c in (*january.citations, *january.nearest)} <= {"wire-2", "wire-3"}
    # Most articles allowed (Milvus is told which to leave out): the Planet and the undated cup story.
    wire = engine.ask("Who won the cup final?", until="2024-12-31", top=5)
    assert not {c.article_id for c in (*wire.citations, *wire.nearest)} & {"planet.md", "cup.md"}
    assert wire == dated_stores["folder"].ask("Who won the cup final?", until="2024-12-31", top=5)


@pytest.fixture(scope="module")
def squad_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The first SQuAD dev paragraphs as a corpus, and questions about them."""
    shared_file(SQUAD_V1)
    articles = squad_articles()[:SQUAD_PARAGRAPHS]
    folder = tmp_path_factory.mktemp("squad") / "corpus"
    folder.mkdir()
    (folder / "squad.jsonl").write_text("\n".join(json.dumps(a) for a in articles) + "\n", encoding="utf-8")
    data = json.loads(SQUAD_V1.read_text(encoding="utf-8"))
    questions = [q["question"] for p in data["data"][0]["paragraphs"][:SQUAD_PARAGRAPHS] for q in p["qas"]]
    return folder, questions[::4]


def test_milvus_lite_ranks_more_chunks_than_it_returns_as_the_folder_does(
    squad_corpus: tuple[Path, list[str]], places: Callable[[str], str]
) -> None:
    """Over more chunks than the 100 candidates per retriever, Milvus's dense and BM25 top
    chunks are the folder's, so the answers are the same."""
    corpus, questions = squad_corpus
    folder, lite = places("folder"), places("lite")
    build_index(corpus, folder)
    build_index(corpus, lite)
    local, milvus = Engine(folder), Engine(lite)
    assert milvus.index.manifest.chunks > 100
    same = sum(local.ask(q) == milvus.ask(q) for q in questions)
    assert same == len(questions), f"{same} of {len(questions)} answers agree"


@pytest.mark.parametrize("kind", KINDS)
def test_a_failed_build_leaves_the_previous_build_serving(kind: str, places: Callable[[str], str]) -> None:
    where = places(kind)
    build_index(SEED.parent, where, embedder=FakeEmbedder())
    store = open_store(where)
    before = store.current_name()
    engine = Engine(store=where, embedder=FakeEmbedder())
    answer = engine.ask("what guarantees did Russia demand?")

    class Exploding(FakeEmbedder):
        def embed_spans(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise MemoryError("simulated out of memory")

    with pytest.raises(BuildError, match="unchanged"):
        build_index(SEED.parent, where, embedder=Exploding(), full=True)
    assert store.current_name() == before
    assert Engine(store=where, embedder=FakeEmbedder()).ask("what guarantees did Russia demand?") == answer


# A build killed after it has written part of the new build: the step that writes the chunk
# search data (the FAISS file; the chunk collection) ends the process half way.
# Formatted with `root`, `kind` and `full`; run with the corpus and the store as arguments.
_KILLED_BUILD = """
import os, signal, sys
sys.path.insert(0, {root!r})
from tests.conftest import FakeEmbedder
import qa._store, qa._milvus
from qa import build_index

def die(*args, **kwargs):
    original(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)

if {kind!r} == "folder":
    original = qa._store._write_files
    qa._store._write_files = die
else:
    original = qa._milvus.MilvusStore._write_chunks
    qa._milvus.MilvusStore._write_chunks = die
build_index(sys.argv[1], sys.argv[2], embedder=FakeEmbedder(), full={full!r})
"""


def _build_in_process(corpus: Path, where: str) -> None:
    """A build in a process of its own (a Milvus Lite file is one process's at a time)."""
    root = str(Path(__file__).resolve().parents[1])
    subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {root!r})\n"
         "from tests.conftest import FakeEmbedder\nfrom qa import build_index\n"
         "build_index(sys.argv[1], sys.argv[2], embedder=FakeEmbedder())", str(corpus), where],
        check=True, timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_a_killed_build_leaves_the_previous_build_serving(
    kind: str, places: Callable[[str], str], tmp_path: Path
) -> None:
    where = places(kind)
    corpus = write_dated_corpus(tmp_path / "corpus")
    root = str(Path(__file__).resolve().parents[1])
    _build_in_process(corpus, where)
    (corpus / "late.md").write_text("A late story about the harbour opening again.\n", encoding="utf-8")
    code = _KILLED_BUILD.format(root=root, kind=kind, full=True)
    killed = subprocess.run([sys.executable, "-c", code, str(corpus), where], timeout=300)
    assert killed.returncode == -9, "the build was to be killed half way"
    store = open_store(where)
    engine = Engine(store=where, embedder=FakeEmbedder())
    assert engine.summary().articles == 9  # the first build's articles: the killed one added none
    answer = engine.ask(ACME, sources=["Daily Planet"])
    # The fake embedder's vectors decide nothing about answering, only what is found.
    assert (answer.citations or answer.nearest)[0].article_id == "planet.md"
    engine.close()
    # The next build publishes, and clears what the killed one left.
    build_index(corpus, where, embedder=FakeEmbedder())
    assert open_store(where).read_manifest().articles == 10
    if kind != "folder":
        client = store.client  # type: ignore[attr-defined]
        builds = {name.removesuffix("_data") for name in client.list_collections()}
        assert len(builds) == 2, builds  # the current build and the one before it, nothing half-written


_HOLDING_BUILD = """
import sys, time
sys.path.insert(0, {root!r})
from tests.conftest import FakeEmbedder
from qa import build_index
build_index(sys.argv[1], sys.argv[2], embedder=FakeEmbedder())
print("holding", flush=True)
time.sleep(120)
"""


def test_a_build_refuses_a_milvus_lite_file_another_process_holds_before_embedding(tmp_path: Path) -> None:
    corpus = write_dated_corpus(tmp_path / "corpus")
    where = str(tmp_path / "held.db")
    code = _HOLDING_BUILD.format(root=str(Path(__file__).resolve().parents[1]))
    holder = subprocess.Popen([sys.executable, "-c", code, str(corpus), where], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        embedded: list[int] = []

        class Counting(FakeEmbedder):
            def embed(self, texts, progress=None):  # type: ignore[no-untyped-def]
                embedded.append(len(texts))
                return super().embed(texts, progress)

            def embed_spans(self, *args, **kwargs):  # type: ignore[no-untyped-def]
                embedded.append(1)
                return super().embed_spans(*args, **kwargs)

        with pytest.raises(QAError, match=r"another qa process has .*held\.db open"):
            build_index(corpus, where, embedder=Counting(), full=True)
        assert embedded == []  # refused before any text was embedded, not when publishing
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("kind", KINDS)
def test_an_incremental_build_reuses_vectors_and_the_engine_follows_it(
    kind: str, places: Callable[[str], str], tmp_path: Path
) -> None:
    where = places(kind)
    corpus = write_dated_corpus(tmp_path / "corpus")
    build_index(corpus, where, embedder=FakeEmbedder())
    engine = Engine(store=where, embedder=FakeEmbedder(), reload_every=None)
    first = engine.index.name
    assert engine.ask("Where did the storm bring rain?").citations[0].article_id == "storm"
    (corpus / "harbour.md").write_text("The harbour reopened on Friday after the storm damage was repaired.\n")
    (corpus / "cup.md").unlink()
    report = build_index(corpus, where, embedder=FakeEmbedder())
    assert (report.incremental, report.reused, report.embedded, report.removed) == (True, 8, 1, 1)
    assert engine.refresh() and engine.index.name != first and not engine.refresh()
    answer = engine.ask("When did the harbour reopen?")
    assert answer.citations[0].article_id == "harbour.md"
    assert_verbatim(engine, answer)
    assert "cup.md" not in {c.article_id for c in engine.ask("Who won the cup final?").nearest}


def _plain_ask(base: str, question: str) -> dict[str, object]:
    """The /ask endpoint over plain HTTP, as curl users call it: the answer's JSON."""
    event, data = plain_call(base, "ask", [question])
    assert event == "complete", data
    answer: dict[str, object] = data[0]
    return answer


@pytest.mark.parametrize("kind", ["lite", "server"])
def test_qa_build_and_qa_serve_over_milvus_answer_as_the_folder_does(
    kind: str, places: Callable[[str], str], seed_stores: dict[str, Engine], tmp_path: Path
) -> None:
    """`QA_STORE=... qa build` then `QA_STORE=... qa serve`, each in its own process; through a
    server, a build published while `qa serve` runs is served within seconds."""
    where = places(kind)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "QA_STORE": where, "PYTHONPATH": str(root), "GRADIO_TEMP_DIR": str(tmp_path / "gradio")}
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / SEED.name).write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    qa = [sys.executable, "-m", "qa"]
    subprocess.run([*qa, "build", "--corpus", str(corpus)], env=env, check=True, timeout=300, capture_output=True)
    port = free_port()
    with (tmp_path / "stderr.txt").open("w") as err:
        process = subprocess.Popen([*qa, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=err)
    base = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(base, process, (tmp_path / "stderr.txt").read_text)
        for question in SEED_QUESTIONS:
            local = json.loads(json.dumps(seed_stores["folder"].ask(question).to_dict()))
            assert _plain_ask(base, question) == local, question
        if kind == "server":
            (corpus / "harbour.md").write_text("The harbour reopened on Friday after the storm damage was repaired.\n")
            subprocess.run(
                [*qa, "build", "--corpus", str(corpus)], env=env, check=True, timeout=300, capture_output=True
            )
            deadline = time.monotonic() + 30
            while _plain_ask(base, "When did the harbour reopen?")["abstained"]:
                assert time.monotonic() < deadline, "qa serve did not follow the published build"
                time.sleep(0.5)
            assert "serving build" in (tmp_path / "stderr.txt").read_text()
    finally:
        process.terminate()
        process.wait(timeout=30)


# Incremental builds into Milvus write only what changed (docs/scale-out.md): the questions below
# touch the added, the changed, the deleted and an unchanged article, with and without filters.
CHANGE_QUESTIONS: tuple[tuple[str, dict[str, object]], ...] = (
    ("Where did the storm bring rain?", {}),
    ("What did the storm bring to the hills?", {}),
    ("When did the harbour reopen?", {}),
    ("Who won the cup final?", {}),
    ("Who won the cup final?", {"until": "2024-12-31", "top": 5}),
    (ACME, {}),
    (ACME, {"sources": ["Daily Planet"]}),
)


def _change(corpus: Path) -> None:
    """One article added (harbour), one changed (storm), one deleted (cup)."""
    (corpus / "harbour.md").write_text("The harbour reopened on Friday after the storm damage was repaired.\n")
    wire = corpus / "wire.jsonl"
    rows = [json.loads(line) for line in wire.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        if row["id"] == "storm":
            row["text"] = "A storm brought heavy snow to the hills on Wednesday. Schools stayed shut."
    wire.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    (corpus / "cup.md").unlink()


def _answers(engine: Engine) -> list[Answer]:
    return [engine.ask(q, **filters) for q, filters in CHANGE_QUESTIONS]  # type: ignore[arg-type]


def _rows(where: str, expression: str) -> int:
    """Rows of the store's chunk collection matching `expression`."""
    store = open_store(where)
    index = store.load(search=False)
    return len(store._query(index._collection, expression, ["id"]))  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["lite", "server"])
def test_an_incremental_milvus_build_answers_as_a_folder_built_the_same_way(
    kind: str, places: Callable[[str], str], tmp_path: Path
) -> None:
    """It adds, changes and deletes articles by writing their rows only; a serving engine still
    on the previous generation answers from it all the while, as a folder's previous build does."""
    from qa._milvus import LIVE

    corpus = write_dated_corpus(tmp_path / "corpus")
    folder, milvus = places("folder"), places(kind)
    build_index(corpus, folder)
    build_index(corpus, milvus)
    old_folder, old_milvus = Engine(folder, reload_every=None), Engine(store=milvus, reload_every=None)
    before = _answers(old_folder)
    assert _answers(old_milvus) == before
    first_chunks = old_milvus.index.manifest.chunks
    _change(corpus)
    build_index(corpus, folder)
    report = build_index(corpus, milvus)
    assert (report.incremental, report.reused, report.embedded, report.removed) == (True, 7, 2, 1)
    # The engine holding generation 1 answers from it, with the written rows of generation 2 in
    # its collection: the cup story and the storm's rain are still there.
    assert _answers(old_milvus) == before
    assert any(c.article_id == "cup.md" for c in old_milvus.ask("Who won the cup final?").citations)
    new_folder, new_milvus = Engine(folder, reload_every=None), Engine(store=milvus, reload_every=None)
    after = _answers(new_folder)
    assert _answers(new_milvus) == after and after != before
    assert after[2].citations[0].article_id == "harbour.md"
    assert not any(c.article_id == "cup.md" for a in after for c in (*a.citations, *a.nearest))
    # One collection, which gained only the rows of the two written articles.
    assert new_milvus.index.path == old_milvus.index.path
    changed = sum(
        1 for a, _, _ in new_milvus.index.chunks.tolist() if new_milvus.index.articles[a].id in ("harbour.md", "storm")
    )
    assert _rows(milvus, "id >= 0") == first_chunks + changed
    assert _rows(milvus, f"died == {LIVE}") == new_milvus.index.manifest.chunks
    # A third build drops generation 1, and with it the rows only generation 1 saw: an engine
    # still holding it is told so, rather than searching what is left of them.
    for engine in (old_folder, new_folder, new_milvus):
        engine.close()
    (corpus / "late.md").write_text("A late story about the ferry timetable.\n", encoding="utf-8")
    build_index(corpus, milvus)
    assert _rows(milvus, f"died != {LIVE}") == 0
    with pytest.raises(IndexCorruptError, match="no longer holds"):
        old_milvus.index.search_candidates(old_milvus.index.chunk_vectors[0], ["storm"], 10)
    old_milvus.close()


@pytest.mark.parametrize("kind", ["lite", "server"])
def test_a_killed_incremental_build_leaves_its_generation_unseen_and_the_next_build_clears_it(
    kind: str, places: Callable[[str], str], tmp_path: Path
) -> None:
    from qa._milvus import LIVE

    where, folder = places(kind), places("folder")
    corpus = write_dated_corpus(tmp_path / "corpus")
    root = str(Path(__file__).resolve().parents[1])
    build_index(corpus, folder, embedder=FakeEmbedder())
    _build_in_process(corpus, where)
    _change(corpus)
    code = _KILLED_BUILD.format(root=root, kind=kind, full=False)
    killed = subprocess.run([sys.executable, "-c", code, str(corpus), where], timeout=300)
    assert killed.returncode == -9, "the build was to be killed half way"
    # Its rows and its marks are in the collection, and the first generation sees none of them.
    assert _rows(where, "born > 1") > 0 and _rows(where, "died == 2") > 0
    engine = Engine(store=where, embedder=FakeEmbedder(), reload_every=None)
    assert _answers(engine) == _answers(Engine(folder, embedder=FakeEmbedder(), reload_every=None))
    engine.close()
    build_index(corpus, folder, embedder=FakeEmbedder())
    report = build_index(corpus, where, embedder=FakeEmbedder())
    assert report.incremental and report.embedded == 2
    # The next build cleared what the killed one left, then wrote generation 2 itself.
    engine = Engine(store=where, embedder=FakeEmbedder(), reload_every=None)
    assert _answers(engine) == _answers(Engine(folder, embedder=FakeEmbedder(), reload_every=None))
    assert _rows(where, "born > 2") == 0 and _rows(where, f"died == {LIVE}") == engine.index.manifest.chunks
    builds = {name.removesuffix("_data") for name in open_store(where).client.list_collections()}  # type: ignore[attr-defined]
    assert len(builds) == 2, builds  # the first build (its data and the shared chunks) and the second's data


# A build killed while Milvus Lite writes a segment's index file (its `.idx` beside the rows):
# the file is cut short after its header, as a kill half way through `np.save` leaves it. The
# first file written of vectors of `dimensions` is cut: 2, a data collection's placeholder; the
# fake embedder's 64, the chunk collection's vectors.
_KILLED_INDEX_WRITE = """
import io, os, signal, sys
sys.path.insert(0, {root!r})
from tests.conftest import FakeEmbedder
import numpy as np
from milvus_lite.engine.collection import Collection
from milvus_lite.index.brute_force import BruteForceIndex
from qa import build_index

# Lite builds a flushed segment's index on a background thread, which could reach the write
# only after the build had moved the alias (seen once on a busy machine). Run it on the flushing
# thread, so the kill lands in the build, before it publishes.
Collection._schedule_bg_maintenance = Collection._bg_compact_and_index

def save(self, path):
    if self._vectors.shape[1] != {dimensions}:
        return original(self, path)
    whole = io.BytesIO()
    np.save(whole, self._vectors, allow_pickle=False)
    with open(path, "wb") as f:
        f.write(whole.getvalue()[: 128])
    os.kill(os.getpid(), signal.SIGKILL)

original, BruteForceIndex.save = BruteForceIndex.save, save
build_index(sys.argv[1], sys.argv[2], embedder=FakeEmbedder())
"""


@pytest.mark.parametrize("dimensions", [2, FakeEmbedder.dimensions])
def test_a_build_killed_while_milvus_lite_writes_an_index_file_leaves_the_previous_build_serving(
    dimensions: int, places: Callable[[str], str], tmp_path: Path
) -> None:
    """Milvus Lite writes a segment's index file in place; the serving build's chunk collection,
    which an incremental build writes into, must still load after a kill cuts that file short."""
    where, folder = places("lite"), places("folder")
    corpus = write_dated_corpus(tmp_path / "corpus")
    build_index(corpus, folder, embedder=FakeEmbedder())
    _build_in_process(corpus, where)
    _change(corpus)
    code = _KILLED_INDEX_WRITE.format(root=str(Path(__file__).resolve().parents[1]), dimensions=dimensions)
    killed = subprocess.run([sys.executable, "-c", code, str(corpus), where], timeout=300)
    assert killed.returncode == -9, "the build was to be killed writing an index file"
    engine = Engine(store=where, embedder=FakeEmbedder(), reload_every=None)
    assert _answers(engine) == _answers(Engine(folder, embedder=FakeEmbedder(), reload_every=None))
    engine.close()
    build_index(corpus, folder, embedder=FakeEmbedder())
    assert build_index(corpus, where, embedder=FakeEmbedder()).incremental
    engine = Engine(store=where, embedder=FakeEmbedder(), reload_every=None)
    assert _answers(engine) == _answers(Engine(folder, embedder=FakeEmbedder(), reload_every=None))


def test_a_milvus_lite_server_killed_writing_index_files_serves_again_once_restarted(tmp_path: Path) -> None:
    corpus, folder, data = write_dated_corpus(tmp_path / "corpus"), str(tmp_path / "index"), tmp_path / "server"
    build_index(corpus, folder, embedder=FakeEmbedder())
    process, uri = _server(data)
    try:
        build_index(corpus, uri, embedder=FakeEmbedder())
        Engine(store=uri, embedder=FakeEmbedder(), reload_every=None).close()  # loading writes the index files
    finally:
        process.kill()
        process.wait(timeout=30)
    files = sorted(data.rglob("*.idx"))
    assert files, "the server was to have written index files"
    for path in files:  # as a kill half way through writing them leaves them: the header alone
        os.truncate(path, 128)
    process, uri = _server(data)
    try:
        engine = Engine(store=uri, embedder=FakeEmbedder(), reload_every=None)
        assert _answers(engine) == _answers(Engine(folder, embedder=FakeEmbedder(), reload_every=None))
        engine.close()
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize("kind", KINDS)
def test_qa_eval_indexes_into_any_store_and_keeps_another_corpus_there(
    kind: str, places: Callable[[str], str], tmp_path: Path
) -> None:
    news_file = write_news_set(tmp_path)
    where = places(kind)
    m = evaluate_news(news_file, index=where).corpora["seed"]
    assert (m.articles, m.answered["@3"], m.abstained_out_of_corpus, m.followups_answered["@3"]) == (1, 1.0, 1.0, 1.0)
    build_index(SEED.parent, where)  # an operator's own build of another corpus, in the same place
    current = open_store(where).current_name()
    with pytest.raises(QAError, match="holds the index of another corpus"):
        evaluate_news(news_file, index=where)
    assert open_store(where).current_name() == current
