"""`qa eval --news` on the news dev set, recorded, with issue 13's latency targets.

    .venv/bin/python benchmarks/news_eval.py [--news FILE] [--corpus NAME ...]

Indexes each corpus whole (reusing `qa eval`'s cached index) and asks every question through
`Engine.ask`, as `qa eval --news` does. The shipped ranker was fitted on this very file, so its
quality figures here are in-sample: the honest ones are the out-of-fold figures that
`benchmarks/fit_ranker.py` records. What this run measures that the fit does not is the query
latency on each whole corpus (the target: p50 <= 10 ms, p95 <= 25 ms in process on BBC).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _results import ROOT, Report, add_record_flag, run

from qa._eval_news import evaluate_news, format_news

NEWS = ROOT.parent / "shared" / "data" / "news_qa" / "news_dev.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--news", type=Path, default=NEWS)
    parser.add_argument("--corpus", action="append", default=[], help="only this corpus (repeatable)")
    add_record_flag(parser)
    args = parser.parse_args()
    report = Report("news_eval", "News questions in readers' words: `qa eval --news` (issue 13)", args.record)
    result = evaluate_news(args.news, args.corpus)
    report.line(
        "Quality here is in-sample: the shipped ranker was fitted on this file (see fit_ranker for out of fold)."
    )
    report.line()
    for line in format_news(result).splitlines():
        report.line(line)
    report.line()
    if "bbc" in result.corpora:
        bbc = result.corpora["bbc"]
        report.target("BBC query p50 (ms)", bbc.latency_p50_ms, 10.0, at_least=False)
        report.target("BBC query p95 (ms)", bbc.latency_p95_ms, 25.0, at_least=False)
    report.save()


if __name__ == "__main__":
    run(main)
