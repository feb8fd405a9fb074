"""Many stories saved as one file against the same stories as articles: answers and query time.

    .venv/bin/python benchmarks/long_file.py [--others 400] [--work DIR]

Writes the BBC articles that answer the news dev set's BBC questions, with `--others` more BBC
articles (a fixed random sample), twice: as one article each (`articles.jsonl`), and joined into
one text file (`dump.txt`), as a user who saved a feed or an archive as one file would have it.
Builds both, asks every answerable BBC dev question of each (`Engine.ask`, top 3) and prints
answered@1 / @2 (a cited sentence holds an expected substring; an abstention is a miss) and
query p50 / p95. A file longer than `ARTICLE_SENTENCES` sentences offers only its lead and its
best chunks' sentences to the ranker, so its questions should cost about what an article's do.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from _results import SHARED, Report, add_record_flag, run

from qa import Engine, build_index
from qa._retrieve import ARTICLE_SENTENCES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--news", type=Path, default=SHARED / "news_qa" / "news_dev.json")
    parser.add_argument("--bbc", type=Path, default=SHARED / "news" / "bbc_news_2225.jsonl.gz")
    parser.add_argument("--others", type=int, default=400, help="BBC articles besides those the questions ask about")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "long-file-bench")
    add_record_flag(parser)
    args = parser.parse_args()
    report = Report("long_file", "One long file against the same stories as articles, BBC", args.record)
    cases = [c for c in json.loads(args.news.read_text(encoding="utf-8"))["cases"] if c["corpus"] == "bbc"]
    cases = [c for c in cases if c.get("expect")]
    asked = {c["source_article"] for c in cases}
    with gzip.open(args.bbc, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    others = random.Random(0).sample([r for r in rows if r["id"] not in asked], args.others)
    stories = random.Random(1).sample([r for r in rows if r["id"] in asked] + others, len(asked) + args.others)
    layouts = {
        "one article a story": (
            "articles.jsonl",
            "".join(json.dumps({"id": r["id"], "title": r["title"], "text": r["text"]}) + "\n" for r in stories),
        ),
        "one file of every story": ("dump.txt", "\n\n".join(r["text"] for r in stories) + "\n"),
    }
    corpora: dict[str, Path] = {}
    for layout, (name, text) in layouts.items():
        corpus = args.work / name.split(".")[0] / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        (corpus / name).write_text(text, encoding="utf-8")
        corpora[layout] = corpus
    report.line(
        f"{len(stories)} BBC stories ({len(asked)} answer the dev set's {len(cases)} BBC questions); "
        f"a file longer than {ARTICLE_SENTENCES} sentences offers its lead and its best chunks' sentences"
    )
    report.line()
    report.line("| layout | articles | sentences | answered@1 / @2 | query p50 / p95 ms |")
    report.line("| --- | --- | --- | --- | --- |")
    for layout, corpus in corpora.items():
        index = corpus.parent / "index"
        build_index(corpus, index, progress=False)
        engine = Engine(index, reload_every=None)
        engine.ask("What happened?")  # the first question loads what the rest reuse
        first = second = 0
        seconds = []
        for case in cases:
            began = time.perf_counter()
            answer = engine.ask(case["q"])
            seconds.append(time.perf_counter() - began)
            holds = [any(e in c.sentence for e in case["expect"]) for c in answer.citations]
            first, second = first + any(holds[:1]), second + any(holds[:2])
        p95 = statistics.quantiles(seconds, n=20)[18]
        summary = engine.summary()
        report.line(
            f"| {layout} | {summary.articles} | {summary.sentences:,} | {first / len(cases):.2f} / "
            f"{second / len(cases):.2f} | {1000 * statistics.median(seconds):.1f} / {1000 * p95:.1f} |"
        )
        engine.close()
    report.save()


if __name__ == "__main__":
    run(main)
