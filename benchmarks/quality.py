"""`qa eval` on SQuAD v1.1 and v2.0 dev under the held-out protocol, with issue 13's SQuAD targets.

    .venv/bin/python benchmarks/quality.py [--squad FILE ...] [--limit N]

Runs the same `evaluate` as `qa eval` (building or reusing its cached index per file) and
writes one table per file: retrieval, citation and latency figures for the held-out, tuning
and whole question sets, out-of-corpus abstention and, for v2.0, the unanswerable questions.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _results import Report, add_record_flag, run

from qa._eval import evaluate

SQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, nargs="+", default=[SQUAD / "dev-v1.1.json", SQUAD / "dev-v2.0.json"])
    parser.add_argument("--limit", type=int, default=None, help="ask about N questions per file, evenly spread")
    add_record_flag(parser)
    args = parser.parse_args()
    report = Report("quality", "Answer quality on SQuAD: `qa eval`, held-out protocol (issues 4 and 13)", args.record)
    for path in args.squad:
        result = evaluate(path, limit=args.limit, progress=False)
        report.line(f"**{path.name}**: {result.titles} articles, {result.articles} paragraphs indexed, {result.model}")
        report.line()
        report.line(
            "| split | questions | R@1 | R@5 | R@10 | MRR@10 | cite@1 | cite@3 | ans@1 | abstained | rank@1 | rank@3 "
            "| p50 ms | p95 ms |"
        )
        report.line("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for name, m in result.splits.items():
            report.line(
                f"| {name} | {m.questions} | {m.recall_at_1:.3f} | {m.recall_at_5:.3f} | {m.recall_at_10:.3f} | "
                f"{m.mrr_at_10:.3f} | {m.cite_at_1:.3f} | {m.cite_at_3:.3f} | {m.ans_at_1:.3f} | {m.abstained:.3f} | "
                f"{m.ranked_at_1:.3f} | {m.ranked_at_3:.3f} | {m.latency_p50_ms:.1f} | {m.latency_p95_ms:.1f} |"
            )
        report.line()
        a = result.abstention
        if a:
            report.line(
                f"Out of corpus (held-out articles indexed, threshold {a.threshold}): answers {a.answered_in_corpus:.3f} "
                f"of {a.in_corpus} in-corpus questions, abstains on {a.abstained_out_of_corpus:.3f} of {a.out_of_corpus}; "
                "over the threshold: "
                + ", ".join(f"{t:.2f}: {i:.3f}/{o:.3f}" for t, i, o in a.curve)
                + " (answered in / abstained out)."
            )
        if result.unanswerable:
            u = result.unanswerable
            report.line()
            report.line(f"Unanswerable (is_impossible): abstained on {u['abstained']:.3f} of {int(u['questions'])}.")
        if path.name == "dev-v1.1.json":
            held = result.splits["held-out"]
            report.line()
            report.line("cite@k counts an abstention as a miss (issue 13's targets); rank@k ignores abstention.")
            report.target("held-out cite@1", held.cite_at_1, 0.78, at_least=True)
            report.target("held-out cite@3", held.cite_at_3, 0.90, at_least=True)
            report.target("held-out p50 latency (ms)", held.latency_p50_ms, 20, at_least=False)
            if a:
                report.target("abstained out of corpus", a.abstained_out_of_corpus, 0.90, at_least=True)
                report.target("answered in corpus", a.answered_in_corpus, 0.95, at_least=True)
        report.line()
    report.save()


if __name__ == "__main__":
    run(main)
