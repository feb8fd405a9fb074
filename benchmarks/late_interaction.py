"""Issue 4: fit and measure the late-interaction re-rank on SQuAD v1.1 dev, held-out protocol.

    .venv/bin/python benchmarks/late_interaction.py [--squad FILE] [--every 1]

For every `--every`-th answerable question, takes the first ranking's best RERANKED candidate
sentences (through the same `Retriever` as `Engine.ask`) and their late-interaction features
(`Retriever.late_features`: MaxSim of the sentence, and of the previous sentence with it). The
weights are fitted by coordinate ascent on cite@1 over the tuning half only (the 24 titles
that sort first), starting from the shipped ones; the held-out half is then reported at those
weights, beside the first ranking alone, each feature alone, and fewer sentences re-ranked. The fitted weights are printed for
`qa._retrieve.LATE_WEIGHTS`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from _results import Report, add_record_flag, run

from qa import _lexical
from qa._eval import _engine, _overlaps, default_index, load_squad
from qa._retrieve import LATE_WEIGHTS, RERANKED, score

SQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad" / "dev-v1.1.json"
STEPS = (2.0, 1.0, 0.5, 0.25, 0.1, 0.05)


class Split:
    """Each question's first scores, late features and gold labels over its head, padded."""

    def __init__(self, rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
        n = len(rows)
        self.first = np.full((n, RERANKED), -1e9)
        self.late = np.zeros((n, RERANKED, len(LATE_WEIGHTS)))
        self.gold = np.zeros((n, RERANKED), dtype=bool)
        for i, (first, late, gold) in enumerate(rows):
            k = len(first)
            self.first[i, :k], self.late[i, :k], self.gold[i, :k] = first, late, gold

    def cite(self, weights: np.ndarray, depth: int = RERANKED) -> tuple[float, float]:
        """cite@1 and cite@3 with `weights` on the late features of the best `depth` sentences."""
        extra = self.late[:, :depth] @ weights
        scores = np.concatenate([self.first[:, :depth] + extra, self.first[:, depth:] - 1e6], axis=1)
        # Ties keep the first ranking's order, as `Retriever.search` does.
        order = np.argsort(-scores - 1e-9 * np.arange(RERANKED), axis=1, kind="stable")
        gold = np.take_along_axis(self.gold, order, axis=1)
        return float(gold[:, 0].mean()), float(gold[:, :3].any(axis=1).mean())


def fit(split: Split, start: np.ndarray, free: list[int] | None = None) -> np.ndarray:
    """Coordinate ascent on cite@1 from `start`, in shrinking steps, over the weights `free` (all)."""
    weights, best = start.copy(), split.cite(start)[0]
    for step in STEPS:
        improved = True
        while improved:
            improved = False
            for j in range(len(weights)) if free is None else free:
                for delta in (step, -step):
                    trial = weights.copy()
                    trial[j] = max(0.0, trial[j] + delta)
                    value = split.cite(trial)[0]
                    if value > best + 1e-9:
                        weights, best, improved = trial, value, True
    return weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=SQUAD)
    parser.add_argument("--every", type=int, default=1)
    add_record_flag(parser)
    args = parser.parse_args()
    report = Report("late_interaction", "Late interaction re-rank, fitted on the tuning half (issue 4)", args.record)
    squad = load_squad(args.squad)
    engine = _engine(squad.articles, default_index(args.squad), progress=False)
    retriever, index = engine.retriever, engine.index
    rows: dict[bool, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {True: [], False: []}
    for q in [q for q in squad.questions if not q.impossible][:: args.every]:
        vector, tokens, _ = retriever.embedder.embed_query(q.question)
        c = retriever.candidates(vector, retriever.lexical_scores(_lexical.tokenize([q.question])[0]))
        if c.sentences.size == 0:
            continue
        first = score(c)
        head = np.lexsort((c.sentences, -first))[:RERANKED]
        sentences = c.sentences[head]
        gold = np.array(
            [_overlaps(q, index.articles[a].id, s, e) for a, s, e in index.sentences[sentences].tolist()], dtype=bool
        )
        rows[q.tuning].append((first[head], retriever.late_features(tokens, sentences), gold))
    tuning, held = Split(rows[True]), Split(rows[False])
    shipped = np.array(list(LATE_WEIGHTS.values()))
    fitted = fit(tuning, shipped)
    names = list(LATE_WEIGHTS)
    report.line(
        f"{len(rows[True])} tuning and {len(rows[False])} held-out questions (every {args.every}); the best "
        f"{RERANKED} sentences of the first ranking re-ranked; cite@1 / cite@3"
    )
    report.line()
    report.line("| ranking | weights (" + ", ".join(names) + ") | tuning | held-out |")
    report.line("| --- | --- | --- | --- |")

    def row(name: str, weights: np.ndarray, depth: int = RERANKED) -> None:
        t, h = tuning.cite(weights, depth), held.cite(weights, depth)
        shown = ", ".join(f"{w:g}" for w in weights)
        report.line(f"| {name} | {shown} | {t[0]:.3f} / {t[1]:.3f} | {h[0]:.3f} / {h[1]:.3f} |")

    row("first ranking only", np.zeros(len(names)))
    for j, name in enumerate(names):
        alone = np.zeros(len(names))
        alone[j] = 1.0
        row(f"{name} alone (weight fitted on tuning)", fit(tuning, alone, free=[j]))
    row("shipped weights", shipped)
    row("fitted on tuning", fitted)
    for depth in (5, 10):
        row(f"fitted weights, only the best {depth} re-ranked", fitted, depth)
    report.line()
    report.line("Fitted LATE_WEIGHTS: {" + ", ".join(f'"{n}": {w:g}' for n, w in zip(names, fitted, strict=True)) + "}")
    report.save()


if __name__ == "__main__":
    run(main)
