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

from qa._eval_news import RANKING_DEPTHS, evaluate_news

NEWS = ROOT.parent / "shared" / "data" / "news_qa" / "news_dev.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--news", type=Path, default=NEWS)
    parser.add_argument("--corpus", action="append", default=[], help="only this corpus (repeatable)")
    add_record_flag(parser)
    args = parser.parse_args()
    report = Report("news_eval", "News questions in readers' words: `qa eval --news` (issue 13)", args.record)
    result = evaluate_news(args.news, args.corpus)
    report.line(f"{result.file}, {result.model}; in-sample for quality (the ranker was fitted on this file)")
    report.line()
    report.line(
        "| corpus | articles | questions | answered@1 / @2 / @3 | abstained | duplicate answers "
        "| out-of-corpus refused | follow-ups @2 | p50 ms | p95 ms |"
    )
    report.line("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for m in result.corpora.values():
        a = m.answered
        report.line(
            f"| {m.corpus} | {m.articles} | {m.questions} | {a['@1']:.3f} / {a['@2']:.3f} / {a['@3']:.3f} | "
            f"{m.abstained_in_corpus:.3f} | {m.duplicate_citations} | {m.abstained_out_of_corpus:.3f} of {m.out_of_corpus} | "
            f"{m.followups_answered['@2']:.3f} of {m.followups} | {m.latency_p50_ms:.1f} | {m.latency_p95_ms:.1f} |"
        )
    report.line()
    report.line(
        "Ranking behind it (abstention ignored): the right sentence among the best k; the right article at 1 / 8"
    )
    report.line()
    report.line("| corpus | " + " | ".join(f"@{k}" for k in RANKING_DEPTHS) + " | article@1 | article@8 |")
    report.line("| --- " * (len(RANKING_DEPTHS) + 3) + "|")
    for m in result.corpora.values():
        cells = " | ".join(f"{m.ranking[f'@{k}']:.3f}" for k in RANKING_DEPTHS)
        report.line(f"| {m.corpus} | {cells} | {m.article_at['@1']:.3f} | {m.article_at['@8']:.3f} |")
    report.line()
    if "bbc" in result.corpora:
        bbc = result.corpora["bbc"]
        report.target("BBC query p50 (ms)", bbc.latency_p50_ms, 10.0, at_least=False)
        report.target("BBC query p95 (ms)", bbc.latency_p95_ms, 25.0, at_least=False)
    report.save()


if __name__ == "__main__":
    run(main)
