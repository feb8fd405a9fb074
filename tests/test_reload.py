"""Serving an index that changes: loads never race publications, engines and `qa serve` follow new
builds without a restart, old builds go once released, and damaged files are one clear line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from qa import Engine, IndexCorruptError, ModelError, QAError, build_index
from qa._embed import load_embedder
from qa._store import BUILDS, collect, current_name, load_index, resolve
from tests._http import free_port, plain_call, wait_until_up
from tests.conftest import FakeEmbedder
from tests.test_cli import qa

# Each round publishes an article about a town no earlier build mentions.
TOWNS = ("Velmora", "Quistead", "Ostrevik", "Brannoch")


def town_article(town: str) -> str:
    return (
        f"{town} opens a tidal power station\n\n"
        f"The coastal town of {town} opened a tidal power station on Tuesday, its mayor said. "
        f"The station at {town} will supply 4,000 homes with electricity from the estuary."
    )


def town_question(town: str) -> str:
    return f"How many homes will the {town} tidal power station supply?"


def builds(index: Path) -> list[str]:
    return sorted(p.name for p in (index / BUILDS).iterdir())


def run_threads(count: int, work: Callable[[], None], stop: threading.Event) -> list[threading.Thread]:
    def loop() -> None:
        while not stop.is_set():
            work()

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def publish_while(
    work: Callable[[], None], threads: int, corpus: Path, index: Path, count: int, pause: float = 0.0
) -> None:
    """Run `work` on `threads` threads while `count` builds, each adding an article, publish."""
    stop = threading.Event()
    running = run_threads(threads, work, stop)
    try:
        for n in range(count):
            (corpus / f"extra{n}.txt").write_text(f"Extra story {n}. It has two sentences.", encoding="utf-8")
            build_index(corpus, index, embedder=FakeEmbedder())
            time.sleep(pause)
    finally:
        stop.set()
        for thread in running:
            thread.join()


def test_loads_never_fail_while_builds_publish(seed_corpus: Path, tmp_path: Path) -> None:
    """The issue's race: loads resolved CURRENT twice, and a build deleted the build it replaced."""
    index = tmp_path / "index"
    build_index(seed_corpus, index, embedder=FakeEmbedder())
    failures: list[str] = []
    loads = [0]

    def load() -> None:
        try:
            stored = load_index(index)
            assert stored.manifest.articles >= 1 and len(stored.sentences) == stored.manifest.sentences
            stored.close()
            loads[0] += 1
        except Exception as exc:  # any failure is the bug this test is about
            failures.append(f"{type(exc).__name__}: {exc}")

    publish_while(load, 3, seed_corpus, index, count=25)
    assert failures == [] and loads[0] > 25
    # A loader may still have held the build the last publication replaced; once every reader
    # has let go, a collector (the next build, or an engine letting go) leaves only the current.
    collect(index)
    assert builds(index) == [current_name(index)]


def test_engine_follows_builds_and_lets_old_ones_go(seed_corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    embedder = load_embedder()
    build_index(seed_corpus, index, embedder=embedder)
    engine = Engine(index, embedder=embedder, reload_every=0.05)
    failures: list[str] = []

    def ask() -> None:
        try:
            answer = engine.ask("what guarantees did Russia demand?")
            assert not answer.abstained and "Grushko" in answer.answer
        except Exception as exc:
            failures.append(f"{type(exc).__name__}: {exc}")

    stop = threading.Event()
    askers = run_threads(4, ask, stop)
    try:
        for town in TOWNS:
            (seed_corpus / f"{town}.txt").write_text(town_article(town), encoding="utf-8")
            report = build_index(seed_corpus, index, embedder=embedder)
            assert report.incremental and report.embedded == 1
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                answer = engine.ask(town_question(town))
                if answer.citations and answer.citations[0].article_id == f"{town}.txt":
                    break
                time.sleep(0.05)
            assert answer.citations and answer.citations[0].article_id == f"{town}.txt", answer
            assert "4,000 homes" in answer.citations[0].sentence
    finally:
        stop.set()
        for thread in askers:
            thread.join()
    assert failures == []
    current = resolve(index)
    assert engine.index.path == current
    # The replaced builds were closed once their last ask finished: no folder left on disk, and
    # no memory map of their token codes left in this process.
    assert builds(index) == [current.name]
    maps = Path(f"/proc/{os.getpid()}/maps").read_text()
    mapped = {line.split()[-1] for line in maps.splitlines() if "token_codes.npy" in line and str(index) in line}
    assert mapped == {str(current / "token_codes.npy")}


def test_a_watched_engine_swaps_in_a_new_build_with_no_ask(seed_corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    embedder = load_embedder()
    build_index(seed_corpus, index, embedder=embedder)
    first = current_name(index)
    watched = Engine(index, embedder=embedder, reload_every=0.05)
    watched.watch()
    idle = Engine(index, embedder=embedder, reload_every=0.05)
    (seed_corpus / f"{TOWNS[0]}.txt").write_text(town_article(TOWNS[0]), encoding="utf-8")
    build_index(seed_corpus, index, embedder=embedder)
    deadline = time.monotonic() + 60
    while watched.index.name == first and time.monotonic() < deadline:
        time.sleep(0.05)
    # Nothing asked either engine: the watched one loaded the new build; the other still holds
    # the first, so its folder stays until that engine is asked or closed.
    assert watched.index.name == current_name(index) != first
    assert idle.index.name == first and set(builds(index)) == {first, current_name(index)}
    idle.close()
    assert builds(index) == [current_name(index)]
    # A closed engine's watch loads nothing more and ends; its build is let go.
    watched.close()
    (seed_corpus / f"{TOWNS[1]}.txt").write_text(town_article(TOWNS[1]), encoding="utf-8")
    build_index(seed_corpus, index, embedder=embedder)
    time.sleep(0.5)
    assert watched.index.name != current_name(index) and builds(index) == [current_name(index)]
    # The watch ends with its engine: it holds it weakly.
    del watched
    deadline = time.monotonic() + 10
    while any(t.name == "qa-watch" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(t.name == "qa-watch" for t in threading.enumerate())


def test_a_build_in_use_is_kept_until_the_engine_lets_it_go(seed_corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index(seed_corpus, index, embedder=FakeEmbedder())
    engine = Engine(index, embedder=FakeEmbedder(), reload_every=None)
    first = resolve(index)
    (seed_corpus / "extra.txt").write_text("An extra story about a harbour.", encoding="utf-8")
    build_index(seed_corpus, index, embedder=FakeEmbedder())
    second = resolve(index)
    assert builds(index) == sorted([first.name, second.name])  # the engine still reads the first
    assert engine.index.path == first and engine.ask("harbour?") is not None
    assert engine.refresh() and engine.index.path == second and not engine.refresh()
    assert builds(index) == [second.name]
    with pytest.raises(KeyError):
        Engine(index, embedder=FakeEmbedder(), reload_every=None).article("nothing")
    # A build made with another model is not served by a running engine; the old one stays.
    build_index(seed_corpus, index, embedder=type("Other", (FakeEmbedder,), {"name": "other-model"})())
    with pytest.raises(QAError, match="other-model"):
        engine.refresh()
    assert engine.index.path == second and engine.ask("harbour?") is not None


def ask_http(url: str, question: str) -> dict[str, object]:
    event, data = plain_call(url, "ask", [question, 3], timeout=120)
    if event != "complete":
        raise RuntimeError(f"{question!r}: {event} {data}")
    answer: dict[str, object] = data[0]
    return answer


def test_qa_serve_follows_qa_build_under_concurrent_clients(seed_corpus: Path, tmp_path: Path) -> None:
    """A real `qa serve` answering 16 clients while a real `qa build` publishes three times."""
    index = tmp_path / "index"
    assert qa("build", "--corpus", str(seed_corpus), "--index", str(index)).returncode == 0
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tmp_path / "serve.log"
    with open(log, "w") as err:
        server = subprocess.Popen(
            [sys.executable, "-m", "qa", "serve", "--index", str(index), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        wait_until_up(url, server, log.read_text)
        failures: list[str] = []
        answered = [0]

        def client() -> None:
            try:
                answer = ask_http(url, "what guarantees did Russia demand?")
                assert answer["abstained"] is False, answer
                answered[0] += 1
            except Exception as exc:
                failures.append(f"{type(exc).__name__}: {exc}")

        stop = threading.Event()
        clients = run_threads(16, client, stop)
        try:
            for town in TOWNS[:3]:
                (seed_corpus / f"{town}.txt").write_text(town_article(town), encoding="utf-8")
                built = qa("build", "--corpus", str(seed_corpus), "--index", str(index))
                assert built.returncode == 0 and "embedded 1 new or changed article" in built.stdout, built.stderr
                deadline = time.monotonic() + 60
                while True:
                    answer = ask_http(url, town_question(town))
                    cited = answer["citations"]
                    assert isinstance(cited, list)
                    if cited and cited[0]["article_id"] == f"{town}.txt":
                        break
                    assert time.monotonic() < deadline, answer
                    time.sleep(0.2)
        finally:
            stop.set()
            for thread in clients:
                thread.join()
        assert failures == [] and answered[0] > 16
        assert builds(index) == [current_name(index)]  # the server let every replaced build go
        assert log.read_text().count("qa serve: serving build") == 3
    finally:
        server.terminate()
        server.wait(timeout=30)


def damage_faiss(folder: Path) -> str:
    (folder / "chunks.faiss").write_bytes(b"not a faiss index at all")
    return "chunks.faiss"


def truncate_faiss(folder: Path) -> str:
    path = folder / "chunks.faiss"
    path.write_bytes(path.read_bytes()[:100])
    return "chunks.faiss"


def truncate_npy(folder: Path) -> str:
    path = folder / "sentence_vectors.npy"
    path.write_bytes(path.read_bytes()[:200])
    return "sentence_vectors.npy"


def garbage_manifest(folder: Path) -> str:
    (folder / "manifest.json").write_text("[1, 2, 3]")
    return "manifest.json"


def damage_bm25(folder: Path) -> str:
    (folder / "bm25_sentences" / "vocab.index.json").write_text("{oops")
    return "bm25_sentences"


@pytest.mark.parametrize(
    ("damage", "reused"),
    [
        (damage_faiss, True),
        (truncate_faiss, True),
        (damage_bm25, True),
        (truncate_npy, False),
        (garbage_manifest, False),
    ],
)
def test_a_damaged_file_is_one_line_naming_it_and_a_plain_build_recovers(
    damage: Callable[[Path], str], reused: bool, seed_index: Path, seed_corpus: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    name = damage(resolve(index))
    result = qa("ask", "what guarantees did Russia demand?", "--index", str(index))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("qa: error: ") and name in result.stderr and "qa build" in result.stderr
    assert ".cpp" not in result.stderr and "faiss::" not in result.stderr  # the reason, not FAISS's source line
    with pytest.raises(IndexCorruptError, match=name):
        load_index(index)

    rebuilt = qa("build", "--corpus", str(seed_corpus), "--index", str(index))
    assert rebuilt.returncode == 0, rebuilt.stderr
    # What could be read is reused (FAISS and BM25 are written anew from the stored vectors and
    # texts); a damaged table or manifest means embedding everything again.
    assert ("Incremental: embedded 0 new or changed articles, reused 1" in rebuilt.stdout) == reused, rebuilt.stdout
    # Embedding everything again says why, naming the file.
    why = [line for line in rebuilt.stdout.splitlines() if line.startswith("Embedded every article:")]
    assert (why == []) == reused, rebuilt.stdout
    assert reused or (name in why[0] and "could not be read" in why[0] and "rebuild with" not in why[0]), why
    again = qa("ask", "what guarantees did Russia demand?", "--index", str(index), "--json")
    assert again.returncode == 0, again.stderr
    assert "Grushko" in json.loads(again.stdout)["answer"]


def test_a_manifest_naming_a_model_not_on_this_machine_fails_at_once(seed_index: Path, tmp_path: Path) -> None:
    for backend in ("onnx", "torch"):
        index = tmp_path / backend
        shutil.copytree(seed_index, index)
        path = resolve(index) / "manifest.json"
        manifest = json.loads(path.read_text())
        path.write_text(json.dumps({**manifest, "model": "nobody/no-such-model-here", "backend": backend}))
        started = time.monotonic()
        with pytest.raises(ModelError, match="'nobody/no-such-model-here' is not on this machine"):
            Engine(index)
        assert time.monotonic() - started < 10  # no hub retries (they took 78 s)
    result = qa("ask", "what guarantees did Russia demand?", "--index", str(tmp_path / "onnx"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("qa: error: model 'nobody/no-such-model-here' is not on this machine")


def test_build_reports_and_reuses_past_a_damaged_faiss_in_process(seed_corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index(seed_corpus, index, embedder=FakeEmbedder())
    before = load_index(index)
    vectors = np.array(before.chunk_vectors)
    before.close()
    damage_faiss(resolve(index))
    report = build_index(seed_corpus, index, embedder=FakeEmbedder())
    assert report.incremental and report.reused == 1 and report.embedded == 0
    after = load_index(index)
    assert np.array_equal(after.chunk_vectors, vectors) and after.search_chunks(vectors[0], 1)[0][0] == 0
    after.close()


def test_what_a_page_reads_of_the_served_build_is_one_build(seed_corpus: Path, tmp_path: Path) -> None:
    """A page's line, filters and examples come from `Engine.served()`: read while builds are
    swapped in, its summary, filters and articles always belong to the same build."""
    index = tmp_path / "index"
    build_index(seed_corpus, index, embedder=FakeEmbedder())
    engine = Engine(index, embedder=FakeEmbedder(), reload_every=0.01)
    engine.watch()
    seen: set[int] = set()
    mixed: list[tuple[int, int, int]] = []

    def read() -> None:
        served = engine.served()
        counts = (served.summary.articles, len(served.articles), len(served.filters.times))
        seen.add(counts[0])
        if len(set(counts)) != 1:
            mixed.append(counts)

    try:
        publish_while(read, 2, seed_corpus, index, count=12, pause=0.03)
    finally:
        engine.close()
    assert mixed == [] and len(seen) > 3
