"""Rows and seconds of a one-article incremental build into Milvus Lite, on SQuAD v1.1 dev.

    .venv/bin/python benchmarks/milvus_incremental.py [--before DIR] [--builds 3] [--questions 300] [--work DIR]

It builds every SQuAD dev paragraph (an article each) into a Milvus Lite file and into an index
folder, then `--builds` times changes one article (a sentence appended to a different paragraph
each time) and builds both again, incrementally. It counts the rows each Milvus build writes
(inserted, upserted, deleted: pymilvus's client calls, by collection), times the builds, and
asks `--questions` SQuAD questions of both stores after the last one, counting the identical
answers (citations, scores and all): the rows that no longer match the current generation are
still in the collection then, and must change nothing.

With `--before DIR` (the `qa` package of an older commit, e.g. `git archive c5bc96b qa | tar -x -C DIR`)
the same run is made on that code first, in a process of its own, and the figures are set side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _results import ROOT, SHARED, Report, add_record_flag, run, squad_corpus


def measure(squad: Path, work: Path, builds: int, questions: int) -> dict[str, Any]:
    """The figures of one run on the `qa` this process imports."""
    from pymilvus import MilvusClient

    from qa import Engine, build_index

    written: Counter[str] = Counter()

    def counting(method: str) -> None:
        original = getattr(MilvusClient, method)

        def call(self: MilvusClient, collection_name: str, *args: Any, **kwargs: Any) -> Any:
            result = original(self, collection_name, *args, **kwargs)
            kind = "data" if collection_name.endswith("_data") else "chunks"
            if method == "delete":
                written[f"{kind} deleted"] += int(result.get("delete_count", 0)) if isinstance(result, dict) else 0
            else:
                data = kwargs.get("data", args[0] if args else [])
                written[f"{kind} {method}ed"] += len(data) if isinstance(data, list) else 1
            return result

        setattr(MilvusClient, method, call)

    for method in ("insert", "upsert", "delete"):
        counting(method)
    corpus = work / "corpus"
    squad_corpus(squad, corpus)
    lite, folder = str(work / "qa.db"), work / "index"
    started = time.perf_counter()
    build_index(corpus, lite)
    full_milvus = time.perf_counter() - started
    full_rows = dict(written)
    build_index(corpus, folder)
    path = corpus / "squad.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    seconds, per_build = [], []
    for b in range(builds):
        rows[1 + 500 * b]["text"] += " The paragraph was revised in a later edition."
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        written.clear()
        started = time.perf_counter()
        report = build_index(corpus, lite)
        seconds.append(time.perf_counter() - started)
        per_build.append(dict(written))
        assert report.incremental and report.embedded == 1, report
        build_index(corpus, folder)
    data = json.loads(squad.read_text(encoding="utf-8"))
    asked = [q["question"] for a in data["data"] for p in a["paragraphs"] for q in p["qas"]]
    asked = asked[:: max(1, len(asked) // questions)][:questions]
    local, milvus = Engine(folder, reload_every=None), Engine(store=lite, reload_every=None)
    same = sum(local.ask(q) == milvus.ask(q) for q in asked)
    return {
        "chunks": milvus.index.manifest.chunks,
        "articles": milvus.index.manifest.articles,
        "full build s": full_milvus,
        "full build rows": full_rows,
        "incremental s": seconds,
        "incremental rows": per_build,
        "same": same,
        "asked": len(asked),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=SHARED / "squad" / "dev-v1.1.json")
    parser.add_argument("--builds", type=int, default=3)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--before", type=Path, help="an older commit's `qa` package folder's parent, run first")
    parser.add_argument("--work", type=Path, help="default: a temporary folder")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only (for --before)")
    add_record_flag(parser)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="qa-milvus-incremental-"))
    runs: dict[str, dict[str, Any]] = {}
    if args.before:
        command = [sys.executable, __file__, "--json", "--no-record", "--work", str(work / "before")]
        command += ["--squad", str(args.squad), "--builds", str(args.builds), "--questions", str(args.questions)]
        env = {**os.environ, "PYTHONPATH": f"{args.before}{os.pathsep}{ROOT / 'benchmarks'}"}
        done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
        runs["before"] = json.loads(done.stdout.strip().splitlines()[-1])
    try:
        runs["this commit"] = measure(args.squad, work / "after", args.builds, args.questions)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(runs["this commit"]))
        return
    report = Report(
        "milvus_incremental", "Milvus Lite: a one-article incremental build, SQuAD v1.1 dev (issue 15)", args.record
    )
    first = runs["this commit"]
    report.line(
        f"{first['articles']} articles, {first['chunks']} chunks; {args.builds} incremental builds, each changing "
        "one article (a sentence appended), into a Milvus Lite file and an index folder"
    )
    report.line()
    report.line(
        "| code | full build s | incremental build s, median | chunk rows written per incremental build "
        "| data rows written | answers identical to the folder |"
    )
    report.line("|---|---|---|---|---|---|")
    for label, figures in runs.items():
        chunk_rows = [
            sum(v for k, v in rows.items() if k.startswith("chunks") and not k.endswith("deleted"))
            for rows in figures["incremental rows"]
        ]
        data_rows = [rows.get("data inserted", 0) for rows in figures["incremental rows"]]
        report.line(
            f"| {label} | {figures['full build s']:.1f} | {statistics.median(figures['incremental s']):.2f} "
            f"({', '.join(f'{s:.2f}' for s in figures['incremental s'])}) | {statistics.median(chunk_rows):g} "
            f"| {statistics.median(data_rows):g} | {figures['same']} of {figures['asked']} |"
        )
    report.line()
    for label, figures in runs.items():
        report.line(f"- {label}, rows by call of each incremental build: {figures['incremental rows']}")
    report.save()


if __name__ == "__main__":
    run(main)
