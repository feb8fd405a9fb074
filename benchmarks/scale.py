"""Build and query `qa` on a bulk JSONL corpus: build time, size on disk, peak memory, latency.

    .venv/bin/python benchmarks/scale.py ../shared/data/news/bbc_news_2225.jsonl.gz [--queries 300] [--index DIR]

The build runs as `qa build` in a child process (peak memory is its max RSS). Queries are
article titles, asked through `Engine.ask`; it also prints how often the titled article is
the first one cited (a sanity check, not a quality measure). `--index DIR` queries an index
already built from that file (by `qa build`) instead of building one.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import Report, add_record_flag, run


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("jsonl", type=Path)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--backend", default="onnx")
    parser.add_argument("--index", type=Path, help="query this index, built from the same file, instead of building")
    add_record_flag(parser)
    args = parser.parse_args()
    stem = args.jsonl.name.split(".")[0]
    reuters = stem.startswith("reuters")
    report = Report(
        f"scale_{stem}" + ("_queries" if args.index else ""),
        f"Scale: {args.jsonl.name}" + (" (queries on an index built before)" if args.index else ""),
        args.record,
    )
    with tempfile.TemporaryDirectory() as tmp:
        from qa import Engine

        if args.index:
            engine = Engine(args.index)
            m = engine.index.manifest
            report.line(
                f"{args.jsonl.name}: {m.articles} articles, {m.sentences} sentences, {m.chunks} chunks (index {args.index})"
            )
        else:
            corpus, index = Path(tmp) / "corpus", Path(tmp) / "index"
            corpus.mkdir()
            (corpus / args.jsonl.name).symlink_to(args.jsonl.resolve())
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "qa", "build", "--corpus", str(corpus), "--index", str(index), "--backend", args.backend],
                check=True, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            seconds = time.perf_counter() - start
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            engine = Engine(index)
            m = engine.index.manifest
            report.line(
                f"{args.jsonl.name}: {m.articles} articles, {m.sentences} sentences, {m.chunks} chunks; "
                f"build {seconds:.0f} s (wall, incl. start-up), index {folder_size(index) / 2**20:.0f} MiB, build peak RSS {peak_mb:.0f} MiB"
            )
        opener = gzip.open if args.jsonl.suffix == ".gz" else open
        with opener(args.jsonl, "rt", encoding="utf-8") as lines:
            records = [json.loads(line) for line in lines]
        titled = [r for r in records if r.get("title")]
        step = max(1, len(titled) // args.queries)
        sample = titled[::step][: args.queries]
        latencies, first = [], 0
        for record in sample:
            t = time.perf_counter()
            answer = engine.ask(record["title"])
            latencies.append(time.perf_counter() - t)
            cited = answer.citations or answer.nearest
            first += bool(cited) and cited[0].article_id == str(record["id"])
        latencies.sort()
        p95 = latencies[int(0.95 * (len(latencies) - 1))] * 1000
        report.line()
        report.line(
            f"queries {len(sample)} (titles): p50 {statistics.median(latencies) * 1000:.1f} ms, "
            f"p95 {p95:.1f} ms; titled article cited first {first / len(sample):.2f}"
        )
        if reuters:
            report.line()
            if not args.index:
                report.target("Reuters-21578 full build (s)", seconds, 480, at_least=False)
            report.target("Reuters query p95 (ms)", p95, 20, at_least=False)
        report.save()


if __name__ == "__main__":
    run(main)
