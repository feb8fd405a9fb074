"""Live reload on a real corpus: how long until a published build is served, what asks cost meanwhile, disk.

    .venv/bin/python benchmarks/reload.py [../shared/data/news/bbc_news_2225.jsonl.gz] [--index DIR] [--rounds 3]

Builds the corpus into `--index` (reusing it when it already holds this corpus), starts an
`Engine` that follows it, and keeps one thread asking article titles. Each round then publishes
the corpus plus one new article (an incremental build in this process, as an operator's
`qa build` would run beside `qa serve`), and prints: the seconds from the publication to the
first answer from the new build, ask latency p50/p95 before and during that window, and the
index folder's size while both builds are on disk and once the old one is released.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from _results import Report, add_record_flag, folder_mib, run

from qa import Engine
from qa._build import build_corpus
from qa._corpus import Corpus, read_corpus
from qa._embed import load_embedder
from qa._store import BUILDS, read_manifest
from qa._types import Article

BBC = Path(__file__).resolve().parents[2] / "shared" / "data" / "news" / "bbc_news_2225.jsonl.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("jsonl", type=Path, nargs="?", default=BBC)
    parser.add_argument("--index", type=Path, default=Path(tempfile.gettempdir()) / "reload-bench-index")
    parser.add_argument("--rounds", type=int, default=3)
    add_record_flag(parser)
    args = parser.parse_args()
    report = Report(f"reload_{args.jsonl.name.split('.')[0]}", f"Live reload: {args.jsonl.name}", args.record)
    corpus = read_corpus(args.jsonl)
    embedder = load_embedder()
    try:
        fresh = read_manifest(args.index).corpus_hash != corpus.hash
    except Exception:
        fresh = True
    if fresh:
        started = time.perf_counter()
        build_corpus(corpus, args.index, embedder=embedder)
        report.line(f"- initial build: {time.perf_counter() - started:.0f} s")
    engine = Engine(args.index, embedder=embedder)
    titles = [a.title for a in corpus.articles[:: max(1, len(corpus.articles) // 200)]]
    latencies: list[tuple[float, float]] = []  # (finished at, seconds)
    stop = threading.Event()

    def ask() -> None:
        n = 0
        while not stop.is_set():
            began = time.perf_counter()
            engine.ask(titles[n % len(titles)])
            latencies.append((time.perf_counter(), time.perf_counter() - began))
            n += 1

    asker = threading.Thread(target=ask, daemon=True)
    asker.start()
    articles = list(corpus.articles)
    report.line(f"- {len(articles):,} articles; one asker thread; Engine reload_every {engine._reload_every} s")
    report.line("")
    report.line(
        "| round | build s | seen after s | ask p50 / p95 ms before | during | index MiB with both builds | after release |"
    )
    report.line("| --- | --- | --- | --- | --- | --- | --- |")
    try:
        for r in range(args.rounds):
            time.sleep(3.0)  # a steady stretch to compare with
            town = f"Velmora{r}"
            text = f"{town} opens a tidal power station. The station at {town} will supply 4,000 homes."
            articles.append(Article(id=f"{town}.txt", title=f"{town} opens a tidal power station", text=text))
            began = time.perf_counter()
            build_corpus(Corpus(tuple(articles), corpus.skipped), args.index, embedder=embedder)
            published = time.perf_counter()
            both = folder_mib(args.index)
            while engine.index.manifest.articles != len(articles):
                engine.ask(titles[0])
                time.sleep(0.01)
            seen = time.perf_counter()
            answer = engine.ask(f"How many homes will the {town} station supply?")
            assert answer.citations and answer.citations[0].article_id == f"{town}.txt", answer
            time.sleep(0.5)
            before = [s for t, s in latencies if began - 3.0 <= t < began]
            during = [s for t, s in latencies if published <= t <= seen]
            folders = len(list((args.index / BUILDS).iterdir()))

            def p(values: list[float]) -> str:
                if len(values) < 2:
                    return f"{1000 * values[0]:.1f} (1 ask)" if values else "-"
                q = statistics.quantiles(values, n=20)
                return f"{1000 * statistics.median(values):.1f} / {1000 * q[18]:.1f}"

            report.line(
                f"| {r + 1} | {published - began:.1f} | {seen - published:.2f} | {p(before)} | {p(during)} | "
                f"{both:.0f} | {folder_mib(args.index):.0f} ({folders} build{'s' if folders > 1 else ''}) |"
            )
    finally:
        stop.set()
        asker.join()
    report.save()


if __name__ == "__main__":
    run(main)
