"""Build time, per-question latency and citation quality on SQuAD v1.1 dev (all 2,067 paragraphs).

    .venv/bin/python benchmarks/squad_eval.py [--index /tmp/qa-squad-index] [--rebuild] [--limit N]

Builds an index over every paragraph (one article each) unless one is already there, asks
every question through `Engine.ask` (the path users hit), and prints build seconds,
cite@1, cite@3, ans@1, abstain rate and latency p50/p95.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from _results import Report, add_record_flag, run

from qa import Engine, build_index

SQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad" / "dev-v1.1.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=SQUAD)
    parser.add_argument("--index", type=Path, default=Path(tempfile.gettempdir()) / "qa-squad-index")
    parser.add_argument("--rebuild", action="store_true", help="build again from scratch (full), timing it")
    parser.add_argument("--limit", type=int, default=0, help="ask only every k-th question to get about N")
    add_record_flag(parser)
    args = parser.parse_args()
    report = Report(
        "squad_eval", "SQuAD v1.1 dev: build, in-process latency and citations over all paragraphs", args.record
    )
    data = json.loads(args.squad.read_text(encoding="utf-8"))
    records, questions = [], []
    for a in data["data"]:
        for i, p in enumerate(a["paragraphs"]):
            article_id = f"{a['title']}/{i}"
            records.append({"id": article_id, "title": a["title"].replace("_", " "), "text": p["context"]})
            for q in p["qas"]:
                gold = [(x["answer_start"], x["answer_start"] + len(x["text"]), x["text"]) for x in q["answers"]]
                questions.append((article_id, q["question"], gold))
    if args.limit:
        questions = questions[:: max(1, len(questions) // args.limit)]
    if args.rebuild or not (args.index / "CURRENT").exists():
        corpus = args.index.parent / (args.index.name + "-corpus")
        corpus.mkdir(parents=True, exist_ok=True)
        with open(corpus / "squad.jsonl", "w", encoding="utf-8") as out:
            out.writelines(json.dumps(r) + "\n" for r in records)
        built = build_index(corpus, args.index, full=True)  # --rebuild times a whole build
        report.line(
            f"build: {built.seconds:.1f} s for {built.articles} articles, {built.sentences} sentences, {built.chunks} chunks"
        )
    engine = Engine(args.index)
    report.line(f"index built in {engine.index.manifest.build_seconds:.1f} s ({engine.index.manifest.built_at})")
    texts = {r["id"]: r["text"] for r in records}
    cite1 = cite3 = ans1 = abstained = 0
    latencies = []
    for article_id, question, gold in questions:
        start = time.perf_counter()
        answer = engine.ask(question)
        latencies.append(time.perf_counter() - start)
        cited = answer.citations  # an abstention cites nothing: a miss, as a user sees it
        abstained += answer.abstained
        for c in (*answer.citations, *answer.nearest):
            assert c.sentence == texts[c.article_id][c.start : c.end]
        ok = [c.article_id == article_id and any(c.start < e and s < c.end for s, e, _ in gold) for c in cited]
        cite1 += bool(ok) and ok[0]
        cite3 += any(ok[:3])
        ans1 += bool(cited) and cited[0].article_id == article_id and any(t in cited[0].sentence for _, _, t in gold)
    n = len(questions)
    latencies.sort()
    p50, p95 = statistics.median(latencies) * 1000, latencies[int(0.95 * (n - 1))] * 1000
    report.line()
    report.line("cite@k and ans@1 count an abstention as a miss.")
    report.line()
    report.line("| questions | cite@1 | cite@3 | ans@1 | abstained | latency p50 | latency p95 |")
    report.line("| --- | --- | --- | --- | --- | --- | --- |")
    report.line(
        f"| {n} | {cite1 / n:.3f} | {cite3 / n:.3f} | {ans1 / n:.3f} | {abstained / n:.3f} | {p50:.1f} ms | {p95:.1f} ms |"
    )
    report.line()
    report.target("query p50 in process (ms)", p50, 5, at_least=False)
    report.save()


if __name__ == "__main__":
    run(main)
