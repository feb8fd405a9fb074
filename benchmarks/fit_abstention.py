"""Fit the abstention rule on the tuning half of SQuAD v1.1 dev only.

    .venv/bin/python benchmarks/fit_abstention.py [--squad ../shared/data/squad/dev-v1.1.json] [--index DIR]

Index the 24 articles whose titles sort first (the tuning half); ask every third question of
those articles (in corpus: should answer) and of the other 24 (out of corpus: should abstain).
For the best sentence of each, take its cosine to the question, its coverage (IDF-weighted
share of the question's words it holds) and its match (late-interaction MaxSim over it and the
sentence before it), then grid the rule `cosine + w * coverage + v * match >= t`. Prints, per
pair of weights, the threshold that abstains most out of corpus while answering at least
`--answer` of the in-corpus questions, the best pair, and the shipped rule's figures. The held-out half
is never indexed or asked here; `qa eval` measures the chosen rule on it.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from _results import Report, add_record_flag, run

from qa import Engine
from qa._answer import COVERAGE_WEIGHT, MATCH_WEIGHT, MIN_SUPPORT
from qa._build import build_corpus
from qa._corpus import Corpus
from qa._eval import load_squad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", default="../shared/data/squad/dev-v1.1.json")
    parser.add_argument("--index", type=Path, help="keep the tuning index here (default: a temporary folder)")
    parser.add_argument("--answer", type=float, default=0.96, help="least share of in-corpus questions answered")
    add_record_flag(parser)
    args = parser.parse_args()
    report = Report(
        "fit_abstention", "Abstention threshold fit on the tuning half of SQuAD v1.1 dev (issue 4)", args.record
    )
    squad = load_squad(args.squad)
    tuning_ids = {q.article_id for q in squad.questions if q.tuning}
    with tempfile.TemporaryDirectory() as tmp:
        index = args.index or Path(tmp) / "index"
        build_corpus(Corpus(tuple(a for a in squad.articles if a.id in tuning_ids), ()), index)
        engine = Engine(index)
        features: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
        for q in [q for q in squad.questions if not q.impossible][::3]:
            hits = engine.ask_with_retrieval(q.question)[1].hits
            features[q.tuning].append((hits[0].cosine, hits[0].coverage, hits[0].match) if hits else (-1.0, 0.0, 0.0))
    inside, outside = np.array(features[True]), np.array(features[False])
    report.line(
        f"tuning index: {len(tuning_ids)} paragraphs; {len(inside)} in-corpus, {len(outside)} out-of-corpus questions"
    )
    report.line()
    report.line("| coverage weight | match weight | threshold | answered in corpus | abstained out of corpus |")
    report.line("| --- | --- | --- | --- | --- |")
    fits = []
    for weight in (0.0, 0.5, 0.65, 0.8):
        for match in (0.0, 1.0, 1.5, 2.0, 3.0):
            s_in = inside[:, 0] + weight * inside[:, 1] + match * inside[:, 2]
            s_out = outside[:, 0] + weight * outside[:, 1] + match * outside[:, 2]
            best = None
            for t in np.round(np.arange(0.30, 4.0, 0.01), 2):
                answered, abstained = float((s_in >= t).mean()), float((s_out < t).mean())
                if answered >= args.answer and (best is None or abstained > best[2]):
                    best = (t, answered, abstained)
            if best:
                fits.append((best[2], weight, match, *best))
                report.line(f"| {weight} | {match} | {best[0]:.2f} | {best[1]:.3f} | {best[2]:.3f} |")
    report.line()
    top = max(fits)
    report.line(f"best: coverage weight {top[1]}, match weight {top[2]}, threshold {top[3]:.2f}")
    s_in = inside[:, 0] + COVERAGE_WEIGHT * inside[:, 1] + MATCH_WEIGHT * inside[:, 2]
    s_out = outside[:, 0] + COVERAGE_WEIGHT * outside[:, 1] + MATCH_WEIGHT * outside[:, 2]
    report.line(
        f"shipped rule cosine + {COVERAGE_WEIGHT} * coverage + {MATCH_WEIGHT} * match >= {MIN_SUPPORT}: "
        f"answers {(s_in >= MIN_SUPPORT).mean():.3f}, abstains {(s_out < MIN_SUPPORT).mean():.3f}"
    )

    report.save()


if __name__ == "__main__":
    run(main)
