"""The bundled all-MiniLM-L6-v2 against all-mpnet-base-v2 on one news corpus, in one run.

    .venv/bin/python benchmarks/models.py [--news FILE] [--corpus bbc] [--mpnet-index DIR]

Indexes the corpus whole with each model (reusing `qa eval`'s cached indexes; the mpnet one is
built beside them the first time, about 7 minutes for BBC on 2 cores), then asks every question
of the file through `Engine.ask` with each, alternating the two over `--passes` passes, so the
machine's noise falls on both alike. Each engine ranks with the ranker fitted on its own model's
features. Quality here is in-sample (both rankers were fitted on the dev set): the out-of-fold
figures are `fit_ranker.py`'s and `fit_ranker.py --model all-mpnet-base-v2`'s. What this run
adds is the price: query latency and index size side by side.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from _results import ROOT, Report, add_record_flag, folder_mib, run

from qa._corpus import read_articles
from qa._embed import MPNET
from qa._eval import corpus_engine
from qa._eval_news import NewsMetrics, default_index, evaluate_corpus, load_news

NEWS = ROOT.parent / "shared" / "data" / "news_qa" / "news_dev.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--news", type=Path, default=NEWS)
    parser.add_argument("--corpus", default="bbc")
    parser.add_argument("--mpnet-index", type=Path, default=None, help="an mpnet index of the corpus already built")
    parser.add_argument("--passes", type=int, default=2)
    add_record_flag(parser)
    args = parser.parse_args()
    report = Report(
        "models", f"Models side by side: all-MiniLM-L6-v2 and all-mpnet-base-v2, {args.corpus}", args.record
    )
    news = load_news(args.news)
    file = news.corpora[args.corpus]
    articles = read_articles(Path(file))
    bundled_index = default_index(file)
    mpnet_index = args.mpnet_index or bundled_index.with_name(bundled_index.name + "-mpnet")
    engines = {
        "all-MiniLM-L6-v2": corpus_engine(articles, bundled_index, True),
        "all-mpnet-base-v2": corpus_engine(articles, mpnet_index, True, model=MPNET),
    }
    runs: dict[str, list[NewsMetrics]] = {name: [] for name in engines}
    for _ in range(args.passes):
        for name, engine in engines.items():
            runs[name].append(evaluate_corpus(engine, news, args.corpus))
    report.line(f"{args.news.name}, corpus {args.corpus}, {len(articles)} articles; {args.passes} alternating passes")
    report.line("Quality is in-sample: each model's ranker was fitted on this file (out of fold: fit_ranker.py).")
    report.line()
    report.line(
        "| model | answered@1 / @2 / @3 | ranked@1 / @2 / @3 | out-of-corpus refused | query p50 / p95 ms | index MiB |"
    )
    report.line("| --- | --- | --- | --- | --- | --- |")
    p50 = {}
    for name, engine in engines.items():
        m = runs[name][-1]
        p50[name] = statistics.median(r.latency_p50_ms for r in runs[name])
        p95 = statistics.median(r.latency_p95_ms for r in runs[name])
        answered = " / ".join(f"{m.answered[k]:.2f}" for k in ("@1", "@2", "@3"))
        ranked = " / ".join(f"{m.ranking[k]:.2f}" for k in ("@1", "@2", "@3"))
        refused = f"{m.abstained_out_of_corpus:.2f} of {m.out_of_corpus}"
        where = Path(engine.index.location)  # the build being served
        report.line(
            f"| {name} | {answered} | {ranked} | {refused} | {p50[name]:.1f} / {p95:.1f} | {folder_mib(where):.0f} |"
        )
    report.line()
    ratio = p50["all-mpnet-base-v2"] / p50["all-MiniLM-L6-v2"]
    report.line(f"mpnet's query p50 is {ratio:.2f}x the bundled model's (medians of the passes' p50s)")
    report.save()


if __name__ == "__main__":
    run(main)
