"""An independent probe on BBC News: questions no fit or design choice has seen, asked as users ask.

    .venv/bin/python benchmarks/news_probe.py [--before REF ...] [--no-record]

`benchmarks/news_probe.json` holds 50 answerable questions on BBC articles the news dev set does
not use, 15 the corpus does not answer and 8 two-turn follow-ups, written by a helper session
from the articles alone, by the dev set's rules (see its `about`). It stores no article text:
each expected answer is a span of its article in ../shared, read back (`_spans.materialize`)
into a question file in news_dev.json's format, which `qa eval --news`'s own code then asks.

The ranker is fitted on the dev set only, so these are the figures of questions it has never
seen, as the held-out set will be. Keep it so: check a change against it; never fit, tune or
choose features on it, or its figures become as optimistic as the dev set's.

`--before REF` asks the same file with an older commit's qa in the same run (a git worktree of
REF, its own ranker.json, its own index in qa eval's cache), as the peer; repeatable.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from _results import ROOT, Report, add_record_flag, model_section, run
from _spans import corpus_name, materialize

from qa import QAError
from qa._eval import CACHE
from qa._eval_news import evaluate_news, format_news

PROBE = ROOT / "benchmarks" / "news_probe.json"
# Every set no fit may see: the probe and the check sets (`--probe FILE` asks one).
UNSEEN = (PROBE, *(ROOT / "benchmarks" / f"news_check{part}.json" for part in ("", "_fgh", "_ijk", "_reuters")))
EVAL = (sys.executable, "-c", "from qa.cli import main; main()", "eval")  # the imported qa's CLI, not `-m`'s cwd
TARGETS = (("answered@1", 0.55), ("answered@2", 0.70), ("out-of-corpus refused", 0.85), ("follow-ups@2", 0.75))


def figures(metrics: dict[str, Any]) -> dict[str, float]:
    """The figures a user sees, from `NewsMetrics` as JSON."""
    return {
        "answered@1": metrics["answered"]["@1"],
        "answered@2": metrics["answered"]["@2"],
        "answered@3": metrics["answered"]["@3"],
        "ranked@1": metrics["ranking"]["@1"],
        "ranked@2": metrics["ranking"]["@2"],
        "ranked@3": metrics["ranking"]["@3"],
        "article@1": metrics["article_at"]["@1"],
        "out-of-corpus refused": metrics["abstained_out_of_corpus"],
        "follow-ups@2": metrics["followups_answered"]["@2"],
    }


def before(ref: str, questions: Path, corpus: str, work: Path) -> dict[str, float]:
    """The probe's figures with commit `ref`'s qa: a worktree on PYTHONPATH, run outside this
    checkout (so its own qa is the one imported), with an index of its own in qa eval's cache."""
    sha = subprocess.run(["git", "rev-parse", "--short", ref], cwd=ROOT, capture_output=True, text=True, check=True)
    tree = work / f"qa-{sha.stdout.strip()}"
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), ref], cwd=ROOT, capture_output=True, check=True)
    try:
        index = CACHE / f"news-probe-before-{sha.stdout.strip()}"
        result = subprocess.run(
            [*EVAL, "--news", str(questions), "--index", str(index), "--json"],
            cwd=work, env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True,
        )  # fmt: skip
        if result.returncode != 0:
            raise QAError(f"qa at {ref} failed on the probe: {result.stderr.strip().splitlines()[-1:]}")
        return figures(json.loads(result.stdout)["corpora"][corpus])
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probe", type=Path, default=PROBE)
    parser.add_argument("--before", action="append", default=[], help="an older commit to ask too (repeatable)")
    parser.add_argument(
        "--index", default=None, help="ask this index of the corpus (one built with another --model, say)"
    )
    add_record_flag(parser)
    args = parser.parse_args()
    # Each question set keeps its own section of RESULTS.md, named by its file (news_check, ...).
    title = "Independent probe" if args.probe == PROBE else f"Check set {args.probe.name}"
    corpus = corpus_name(args.probe)
    shown = {"bbc": "BBC", "reuters": "Reuters"}.get(corpus, corpus)
    report = Report(args.probe.stem, f"{title}: unseen {shown} questions in readers' words (issue 13)", args.record)
    with tempfile.TemporaryDirectory() as tmp:
        questions = materialize(args.probe, Path(tmp))
        result = evaluate_news(questions, index=args.index)
        report.line("Out of sample: no fit or feature choice has seen these questions. An abstention is a miss.")
        report.line()
        for line in format_news(result).splitlines():
            report.line(line)
        report.line()
        metrics = result.corpora[corpus]
        if own := model_section(result.model):
            # Another model's figures are a section of their own, beside the bundled model's.
            report.name, report.title = f"{report.name}{own}", f"{report.title}, model {own[1:]}"
        now = figures(asdict(metrics))
        if not metrics.followups:
            del now["follow-ups@2"]  # a check set without follow-ups: nothing to measure
        peers = {ref: before(ref, questions, corpus, Path(tmp)) for ref in args.before}
    if peers:
        report.line("| figure | " + " | ".join(peers) + " | now |")
        report.line("| --- | " + " | ".join("---" for _ in peers) + " | --- |")
        for name, value in now.items():
            report.line(f"| {name} | " + " | ".join(f"{p[name]:.2f}" for p in peers.values()) + f" | {value:.2f} |")
        report.line()
    for name, goal in TARGETS:
        if name not in now:
            continue
        report.target(f"probe {name} (issue 13's news target)", now[name], goal, at_least=True)
    report.save()


if __name__ == "__main__":
    run(main)
