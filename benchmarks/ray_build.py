"""`qa build --ray` against `qa build` on one machine: wall time and identical vectors, on SQuAD
v1.1 dev (all paragraphs, one article each).

    .venv/bin/python benchmarks/ray_build.py [--runs 2] [--work /tmp/qa-ray-build]

Runs full builds of the same corpus through the CLI, as a user does, alternating with and
without `--ray` (a one-machine Ray cluster started by each build, one ONNX actor per core), and
prints the median wall seconds of each (process start-up, and Ray's, included), their ratio, and
whether the two indexes hold bit-identical vectors and token codes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _results import ROOT, Report, add_record_flag, run, squad_corpus

from qa import Engine

SQUAD = ROOT.parent / "shared" / "data" / "squad" / "dev-v1.1.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=SQUAD)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "qa-ray-build")
    parser.add_argument("--runs", type=int, default=2, help="builds of each kind, alternating")
    add_record_flag(parser)
    args = parser.parse_args()
    report = Report(
        "ray_build", "Ray build: `qa build --ray` against `qa build`, SQuAD v1.1 dev (issue 15)", args.record
    )
    shutil.rmtree(args.work, ignore_errors=True)
    corpus = args.work / "corpus"
    squad_corpus(args.squad, corpus)
    kinds = {"local": [], "--ray": ["--ray"]}
    seconds: dict[str, list[float]] = {kind: [] for kind in kinds}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for k in range(args.runs):
        for kind in kinds if k % 2 == 0 else reversed(list(kinds)):
            index = args.work / ("index-ray" if kind == "--ray" else "index")
            command = [sys.executable, "-m", "qa", "build", "--full", "--corpus", str(corpus), "--index", str(index)]
            started = time.perf_counter()
            subprocess.run([*command, *kinds[kind]], env=env, check=True, capture_output=True, timeout=3600)
            seconds[kind].append(time.perf_counter() - started)
            print(f"{kind}: {seconds[kind][-1]:.1f} s", file=sys.stderr)
    local, ray = Engine(args.work / "index").index, Engine(args.work / "index-ray").index
    tables = ("chunk_vectors", "sentence_vectors", "token_codes", "token_scale")
    same = all(np.array_equal(np.asarray(getattr(local, t)), np.asarray(getattr(ray, t))) for t in tables)
    manifest = local.manifest
    report.line(
        f"{manifest.articles} articles, {manifest.sentences} sentences, {manifest.chunks} chunks; "
        f"{args.runs} full builds of each, alternating; wall time of the whole `qa build` process"
    )
    report.line()
    report.line("| build | median s | runs s |")
    report.line("| --- | --- | --- |")
    for kind, runs in seconds.items():
        label = " ".join(["qa build", *kinds[kind]])
        report.line(f"| `{label}` | {statistics.median(runs):.1f} | {', '.join(f'{s:.1f}' for s in runs)} |")
    report.line()
    ratio = statistics.median(seconds["--ray"]) / statistics.median(seconds["local"])
    report.line(f"- wall ratio --ray / local: {ratio:.2f}")
    report.line(f"- chunk and sentence vectors, token codes and scales bit-identical: {'yes' if same else 'NO'}")
    report.save()


if __name__ == "__main__":
    run(main)
