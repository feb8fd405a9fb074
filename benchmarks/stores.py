"""The local folder store against Milvus Lite embedded: build time, query latency in process and
answer agreement, on SQuAD v1.1 dev (all paragraphs, one article each).

    .venv/bin/python benchmarks/stores.py [--limit 300] [--work /tmp/qa-stores]

Builds the same corpus into an index folder and into a Milvus Lite file (full builds, timed),
then asks the same questions of an engine over each, alternating stores question by question so
that the machine's noise falls on both alike, and prints build seconds, query p50/p95 and the
share of answers that are identical (citations, scores and all).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from _results import Report, add_record_flag, run, squad_corpus

from qa import Engine, build_index

SQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad" / "dev-v1.1.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=SQUAD)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "qa-stores")
    parser.add_argument("--limit", type=int, default=300, help="questions asked, evenly spread")
    add_record_flag(parser)
    args = parser.parse_args()
    report = Report(
        "stores", "Stores: the local folder against Milvus Lite embedded, SQuAD v1.1 dev (issue 15)", args.record
    )
    shutil.rmtree(args.work, ignore_errors=True)
    corpus = args.work / "corpus"
    questions = [q.question for q in squad_corpus(args.squad, corpus).questions]
    questions = questions[:: max(1, len(questions) // args.limit)][: args.limit]
    stores = {"folder": str(args.work / "index"), "Milvus Lite": str(args.work / "qa.db")}
    built = {name: build_index(corpus, where, full=True) for name, where in stores.items()}
    engines = {name: Engine(store=where) for name, where in stores.items()}
    for engine in engines.values():
        engine.ask(questions[0])  # the first question pays for lazy set-up; not timed
    times: dict[str, list[float]] = {name: [] for name in stores}
    answers: dict[str, list[str]] = {name: [] for name in stores}
    for k, question in enumerate(questions):
        order = list(stores) if k % 2 == 0 else list(reversed(stores))
        for name in order:
            started = time.perf_counter()
            answer = engines[name].ask(question)
            times[name].append((time.perf_counter() - started) * 1000)
            answers[name].append(json.dumps(answer.to_dict()))
    first = next(iter(built.values()))
    report.line(
        f"{first.articles} articles, {first.sentences} sentences, {first.chunks} chunks; "
        f"{len(questions)} questions asked of each store, alternating"
    )
    report.line()
    report.line("| store | build s | query p50 ms | query p95 ms |")
    report.line("| --- | --- | --- | --- |")
    for name in stores:
        p50 = statistics.median(times[name])
        p95 = statistics.quantiles(times[name], n=20)[-1]
        report.line(f"| {name} | {built[name].seconds:.1f} | {p50:.1f} | {p95:.1f} |")
    same = sum(a == b for a, b in zip(*answers.values(), strict=True))
    report.line()
    report.line(
        f"- identical answers (citations, scores and all): {same} of {len(questions)} ({same / len(questions):.3f})"
    )
    folder_p50, milvus_p50 = (statistics.median(times[name]) for name in stores)
    report.line(f"- query p50 ratio Milvus Lite / folder: {milvus_p50 / folder_p50:.2f}")
    report.line(f"- build ratio Milvus Lite / folder: {built['Milvus Lite'].seconds / built['folder'].seconds:.2f}")
    report.save()


if __name__ == "__main__":
    run(main)
