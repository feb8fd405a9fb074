"""The local folder store against Milvus Lite embedded, side by side in one run: answer quality
as `qa eval` measures it, build time and query latency in process, on SQuAD v1.1 dev and BBC.

    .venv/bin/python benchmarks/stores.py [--corpus squad --corpus bbc] [--limit 2000] [--work /tmp/qa-stores]

For each corpus it builds the same articles into an index folder and into a Milvus Lite file
(full builds, timed), then asks the same questions of an engine over each, alternating stores
question by question so that the machine's noise falls on both alike:

- SQuAD v1.1 dev (every paragraph an article): `--limit` answerable questions evenly spread, as
  `qa eval --squad --limit` picks them, scored by `qa eval`'s own code (held-out cite@1 / @3);
- BBC: every case of the news dev file, scored by `qa eval --news`'s own code (answered@1/@2/@3,
  out of corpus refused), and its questions asked again, alternately, for latency.

It prints build seconds, query p50/p95, the share of answers identical (citations, scores and
all), the candidate chunks Milvus's one `hybrid_search` returns against the union of a dense and
a BM25 search (with and without filters) and the time of each (and of whole asks made each way),
and what each build holds per sentence (the figures behind docs/scale-out.md's sizing plan). `qa eval` itself takes an index
folder only (`--index`), hence this script goes through the library.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from _results import SHARED, Report, add_record_flag, run, squad_corpus

from qa import Answer, Engine, _lexical
from qa._build import build_corpus
from qa._corpus import Corpus, read_articles
from qa._eval import Question, _ask, _metrics, _Row, _sample
from qa._eval_news import NewsSet, evaluate_corpus, load_news
from qa._retrieve import CANDIDATE_CHUNKS
from qa._store import StoredIndex
from qa._types import Article

T = TypeVar("T")
STORES = ("folder", "Milvus Lite")
FILTERS = (1.0, 0.3, 0.02)  # share of articles a filter lets through, for the candidate check
# What the build's files hold, by what a serving node reads them for (docs/scale-out.md, sizing).
PARTS = {
    "chunk vectors and FAISS": ("chunk_vectors.npy", "chunks.faiss"),
    "sentence vectors": ("sentence_vectors.npy",),
    "token codes and scales": ("token_codes.npy", "token_scale.npy", "token_mean.npy", "token_projection.npy"),
    "sentences, offsets, chunks, types, groups": (
        "sentences.npy",
        "sentence_tokens.npy",
        "chunks.npy",
        "sentence_types.npy",
        "sentence_groups.npy",
    ),
    "BM25 (chunks, sentences, windows)": ("bm25_chunks", "bm25_sentences", "bm25_windows"),
    "articles (texts)": ("articles.jsonl",),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", action="append", choices=("squad", "bbc"), help="default: both")
    parser.add_argument("--squad", type=Path, default=SHARED / "squad" / "dev-v1.1.json")
    parser.add_argument("--news", type=Path, default=SHARED / "news_qa" / "news_dev.json")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "qa-stores")
    parser.add_argument("--limit", type=int, default=2000, help="SQuAD questions asked, evenly spread")
    add_record_flag(parser)
    args = parser.parse_args()
    corpora = args.corpus or ["squad", "bbc"]
    report = Report(
        "stores",
        "Stores: the local folder against Milvus Lite embedded, SQuAD v1.1 dev and BBC (issue 15)",
        args.record,
    )
    shutil.rmtree(args.work, ignore_errors=True)
    for name in corpora:
        if name == "squad":
            squad = squad_corpus(args.squad, args.work / "squad-corpus")
            engines = _build(report, "SQuAD v1.1 dev", squad.articles, args.work / "squad")
            _squad(report, engines, _sample([q for q in squad.questions if not q.impossible], args.limit))
            probes = [q.question for q in squad.questions]
            probes = probes[:: max(1, len(probes) // 300)][:300]
        else:
            news = load_news(args.news)
            articles = read_articles(Path(news.corpora["bbc"]))
            engines = _build(report, "BBC", articles, args.work / "bbc")
            _bbc(report, engines, news)
            probes = [c.question for c in news.cases if c.corpus == "bbc"]
        report.line()
        _candidates(report, engines["Milvus Lite"], probes)
        report.line()
        _sizes(report, engines["folder"], args.work / name)
        for engine in engines.values():
            engine.close()
        report.line()
    report.save()


def _build(report: Report, title: str, articles: Sequence[Article], work: Path) -> dict[str, Engine]:
    """Full builds of `articles` in each store, timed; an engine over each."""
    places = {"folder": work / "index", "Milvus Lite": work / "qa.db"}
    built = {name: build_corpus(Corpus(tuple(articles), ()), str(place), full=True) for name, place in places.items()}
    first = built["folder"]
    report.line(f"#### {title}: {first.articles} articles, {first.sentences} sentences, {first.chunks} chunks")
    report.line()
    report.line(
        "builds (s): "
        + ", ".join(f"{name} {b.seconds:.1f}" for name, b in built.items())
        + f"; ratio Milvus Lite / folder {built['Milvus Lite'].seconds / first.seconds:.2f}"
    )
    report.line()
    return {name: Engine(store=str(place)) for name, place in places.items()}


def _alternate(
    engines: dict[str, Engine], items: Sequence[T], ask: Callable[[str, Engine, T], Answer]
) -> tuple[dict[str, list[float]], int]:
    """Each item asked of every store, the order flipped item by item: milliseconds per store, and
    how many answers were identical across the stores."""
    for engine in engines.values():
        ask("", engine, items[0])  # lazy set-up and a first read of the tables; not timed
    times: dict[str, list[float]] = {name: [] for name in engines}
    same = 0
    for k, item in enumerate(items):
        answers = {}
        for name in list(engines) if k % 2 == 0 else list(reversed(engines)):
            started = time.perf_counter()
            answers[name] = json.dumps(ask(name, engines[name], item).to_dict())
            times[name].append((time.perf_counter() - started) * 1000)
        same += len(set(answers.values())) == 1
    return times, same


def _latency(report: Report, times: dict[str, list[float]], same: int, asked: int) -> None:
    report.line("| store | query p50 ms | query p95 ms |")
    report.line("| --- | --- | --- |")
    for name, values in times.items():
        report.line(f"| {name} | {statistics.median(values):.1f} | {_p95(values):.1f} |")
    folder, milvus = (statistics.median(times[name]) for name in STORES)
    report.line()
    report.line(f"- query p50 ratio Milvus Lite / folder: {milvus / folder:.2f}")
    report.line(f"- identical answers (citations, scores and all): {same} of {asked} ({same / asked:.3f})")


def _squad(report: Report, engines: dict[str, Engine], questions: Sequence[Question]) -> None:
    rows: dict[str, list[_Row]] = {name: [] for name in engines}

    def ask(name: str, engine: Engine, q: Question) -> Answer:
        row, answer, _ = _ask(engine, q)  # `qa eval`'s own scoring of one question
        if name:  # not the untimed first ask
            rows[name].append(row)
        return answer

    times, same = _alternate(engines, questions, ask)
    report.line(
        f"{len(questions)} answerable questions (as `qa eval --limit {len(questions)}` picks them), alternating"
    )
    report.line()
    report.line("| store | held-out questions | cite@1 | cite@3 | ans@1 | abstained |")
    report.line("| --- | --- | --- | --- | --- | --- |")
    for name, kept in rows.items():
        held = _metrics([r for r in kept if not r.question.tuning])
        report.line(
            f"| {name} | {held.questions} | {held.cite_at_1:.3f} | {held.cite_at_3:.3f} | {held.ans_at_1:.3f} | "
            f"{held.abstained:.3f} |"
        )
    report.line()
    _latency(report, times, same, len(questions))


def _bbc(report: Report, engines: dict[str, Engine], news: NewsSet) -> None:
    report.line(f"news dev cases of BBC ({news.file}), scored by `qa eval --news`'s code")
    report.line()
    report.line("| store | questions | answered@1 / @2 / @3 | abstained | out-of-corpus refused | follow-ups @2 |")
    report.line("| --- | --- | --- | --- | --- | --- |")
    for name, engine in engines.items():
        m = evaluate_corpus(engine, news, "bbc")
        report.line(
            f"| {name} | {m.questions} | {m.answered['@1']:.3f} / {m.answered['@2']:.3f} / {m.answered['@3']:.3f} | "
            f"{m.abstained_in_corpus:.3f} | {m.abstained_out_of_corpus:.3f} of {m.out_of_corpus} | "
            f"{m.followups_answered['@2']:.3f} of {m.followups} |"
        )
    report.line()
    questions = [c.question for c in news.cases if c.corpus == "bbc"]
    report.line(f"{len(questions)} BBC questions (answerable and not) asked alternately for latency")
    report.line()
    times, same = _alternate(engines, questions, lambda _, engine, q: engine.ask(q, top=3))
    _latency(report, times, same, len(questions))


def _candidates(report: Report, engine: Engine, questions: Sequence[str]) -> None:
    """Milvus's one `hybrid_search` (what retrieval calls) against a dense and a BM25 `search`:
    the same candidate chunks? And the time of each, alternating."""
    index = engine.index
    rng = np.random.default_rng(0)
    masks = {share: rng.random(len(index.articles)) < share for share in FILTERS}
    same = asked = 0
    times: dict[str, list[float]] = {"one hybrid_search": [], "two searches": []}
    asks: dict[str, list[float]] = {label: [] for label in times}
    milvus: Any = index  # the engine's own index, which asks with two searches while `search_candidates` is replaced
    sizes: list[int] = []
    for k, question in enumerate(questions):
        vector = engine._embedder.embed_query(question)[0]
        tokens = _lexical.tokenize([question])[0]
        for label in list(asks) if k % 2 == 0 else list(reversed(asks)):
            if label == "two searches":
                milvus.search_candidates = lambda v, t, _, a: _separate(index, v, t, a)
            started = time.perf_counter()
            engine.ask(question)
            asks[label].append((time.perf_counter() - started) * 1000)
            if label == "two searches":
                del milvus.search_candidates
        for share, mask in masks.items():
            allowed = None if share == 1.0 else mask[index.chunks[:, 0]]
            if allowed is not None and not allowed.any():
                continue
            results: dict[str, np.ndarray] = {}
            for label in list(times) if k % 2 == 0 else list(reversed(times)):
                started = time.perf_counter()
                if label == "two searches":
                    results[label] = _separate(index, vector, tokens, allowed)
                else:
                    found = index.search_candidates(vector, tokens, CANDIDATE_CHUNKS, allowed)
                    results[label] = np.zeros(0, np.int64) if found is None else found
                if share == 1.0:
                    times[label].append((time.perf_counter() - started) * 1000)
            asked += 1
            same += np.array_equal(results["one hybrid_search"], results["two searches"])
            sizes.append(len(results["one hybrid_search"]))
    report.line(
        f"Candidate chunks in Milvus Lite, {len(questions)} questions x {len(FILTERS)} filters (all articles, "
        f"a random {FILTERS[1]:.0%}, a random {FILTERS[2]:.0%} of them): one `hybrid_search` (dense {CANDIDATE_CHUNKS} "
        f"+ BM25 {CANDIDATE_CHUNKS}, RRF, limit {2 * CANDIDATE_CHUNKS}) returns the union of a dense and a BM25 "
        f"`search` for {same} of {asked}; union size median {statistics.median(sizes):.0f} "
        f"(min {min(sizes)}, max {max(sizes)})"
    )
    report.line()
    report.line("| Milvus Lite, no filter, alternating | candidates p50 ms | p95 ms | whole ask p50 ms | p95 ms |")
    report.line("| --- | --- | --- | --- | --- |")
    for label, values in times.items():
        report.line(
            f"| {label} | {statistics.median(values):.1f} | {_p95(values):.1f} | "
            f"{statistics.median(asks[label]):.1f} | {_p95(asks[label]):.1f} |"
        )


def _separate(index: StoredIndex, vector: np.ndarray, tokens: list[str], allowed: np.ndarray | None) -> np.ndarray:
    """The union of a dense and a BM25 Milvus `search`: what retrieval asked before `hybrid_search`."""
    dense, _ = index.search_chunks(vector, CANDIDATE_CHUNKS, allowed)
    if not tokens:
        return np.unique(dense)
    milvus: Any = index  # a MilvusIndex: its store's client, collection, filter and key-to-row map
    hits = milvus._store.client.search(
        milvus._collection,
        data=[" ".join(tokens)],
        anns_field="sparse",
        limit=min(CANDIDATE_CHUNKS, index.manifest.chunks),
        filter=milvus._filter(allowed),
        output_fields=["article"],
        search_params={"metric_type": "BM25"},
    )[0]
    return np.union1d(dense, milvus._rows([h["id"] for h in hits]))


def _sizes(report: Report, engine: Engine, work: Path) -> None:
    """What the folder build holds per sentence, by part; the Milvus Lite file's size."""
    manifest = engine.index.manifest
    build = Path(engine.index.path)
    report.line(
        f"Build per sentence ({manifest.sentences} sentences, {manifest.chunks} chunks: "
        f"{manifest.sentences / manifest.chunks:.2f} sentences a chunk)"
    )
    report.line()
    report.line("| part (folder build) | MiB | bytes per sentence |")
    report.line("| --- | --- | --- |")
    total = 0
    for part, names in PARTS.items():
        size = sum(_size(build / n) for n in names)
        total += size
        report.line(f"| {part} | {size / 2**20:.1f} | {size / manifest.sentences:.0f} |")
    report.line(f"| all | {total / 2**20:.1f} | {total / manifest.sentences:.0f} |")
    lite = _size(work / "qa.db")
    report.line()
    report.line(f"- Milvus Lite file: {lite / 2**20:.1f} MiB ({lite / manifest.sentences:.0f} bytes per sentence)")


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def _p95(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


if __name__ == "__main__":
    run(main)
