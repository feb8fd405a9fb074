"""An idea for issue 4, measured: token-level late interaction (MaxSim) to rerank sentences.

    .venv/bin/python benchmarks/late_interaction.py [--squad FILE] [--every 3]

For every `--every`-th answerable SQuAD v1.1 dev question, takes the first ranking's top 3, 5
or 10 candidate sentences (before qa's own word-piece re-rank) and adds `w * MaxSim`: the mean, over the question's word pieces, of the
best cosine to any word piece of the sentence, both from MiniLM's token vectors (the same
int8 model as the index). Sentence tokens come from the sentence embedded alone ("alone") or
inside the first chunk that holds it ("in chunk"). `w` is fitted on the tuning half only;
the held-out half is reported at that `w` and at `w = 0` (no re-rank). The last rows are
what qa ships: the same MaxSim over the model's static input embeddings of the word pieces.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from _results import Report, add_record_flag

from qa import _lexical
from qa._embed import OnnxEmbedder
from qa._eval import _engine, _overlaps, default_index, load_squad
from qa._retrieve import score, wordpiece_match

SQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad" / "dev-v1.1.json"
WEIGHTS = [0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0, 100.0]
RERANKED = (3, 5, 10)


def unit_rows(hidden: np.ndarray) -> np.ndarray:
    """Token vectors without [CLS] and [SEP], each of length one."""
    inner = hidden[1:-1] if len(hidden) > 2 else hidden
    return inner / np.maximum(np.linalg.norm(inner, axis=1, keepdims=True), 1e-12)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=SQUAD)
    parser.add_argument("--every", type=int, default=3)
    add_record_flag(parser)
    args = parser.parse_args()
    report = Report("late_interaction", "Idea measured: token-level late interaction (issue 4)", args.record)
    squad = load_squad(args.squad)
    engine = _engine(squad.articles, default_index(args.squad), progress=False)
    embedder = engine.retriever.embedder
    assert isinstance(embedder, OnnxEmbedder), "this experiment reads token vectors from the onnx backend"
    index = engine.index
    first_chunk = {}
    for row, (_, first, last) in enumerate(index.chunks.tolist()):
        for s in range(first, last):
            first_chunk.setdefault(s, row)
    alone: dict[int, np.ndarray] = {}
    in_chunk: dict[int, np.ndarray] = {}
    chunk_tokens: dict[int, tuple[np.ndarray, list[tuple[int, int]]]] = {}

    def sentence_tokens(s: int, mode: str) -> np.ndarray:
        article, start, end = index.sentences[s].tolist()
        text = index.articles[article].text
        if mode == "alone":
            if s not in alone:
                alone[s] = unit_rows(embedder._hidden(text[start:end])[0])
            return alone[s]
        if s not in in_chunk:
            row = first_chunk[s]
            _, first, last = index.chunks[row].tolist()
            offset = int(index.sentences[first][1])
            if row not in chunk_tokens:
                chunk_tokens[row] = embedder._hidden(text[offset : int(index.sentences[last - 1][2])])
            hidden, offsets = chunk_tokens[row]
            keep = [i for i, (a, b) in enumerate(offsets) if b > a and a >= start - offset and b <= end - offset]
            in_chunk[s] = unit_rows(hidden)[[i - 1 for i in keep if 0 < i < len(hidden) - 1]]
        return in_chunk[s]

    questions = [q for q in squad.questions if not q.impossible][:: args.every]
    costs: dict[int, list[float]] = {k: [] for k in RERANKED}
    rows: dict[str, list[tuple[bool, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = {"tuning": [], "held-out": []}
    for q in questions:
        tokens = _lexical.tokenize([q.question])[0]
        c = engine.retriever.candidates(q.question, tokens)
        if c.sentences.size == 0:
            continue
        base = score(c)
        order = np.lexsort((c.sentences, -base))[: max(RERANKED)]
        ids = c.sentences[order]
        gold = np.array(
            [
                _overlaps(q, index.articles[a].id, st, en)
                for a, st, en in (index.sentences[s].tolist() for s in ids.tolist())
            ]
        )
        started = time.perf_counter()
        question = unit_rows(embedder._hidden(q.question)[0])
        for k, s in enumerate(ids.tolist()[: max(RERANKED)]):
            article, start, end = index.sentences[s].tolist()
            tokens_alone = unit_rows(embedder._hidden(index.articles[article].text[start:end])[0])
            if k + 1 in RERANKED:
                costs[k + 1].append(time.perf_counter() - started)
            alone.setdefault(s, tokens_alone)
        maxsim = {
            mode: np.array([float((question @ sentence_tokens(s, mode).T).max(axis=1).mean()) for s in ids.tolist()])
            for mode in ("alone", "in chunk")
        }
        texts = [index.articles[a].text[st:en] for a, st, en in (index.sentences[s].tolist() for s in ids.tolist())]
        static_question, *static_sentences = embedder.wordpieces([q.question, *texts])
        rows["tuning" if q.tuning else "held-out"].append(
            (
                q.tuning,
                base[order],
                gold,
                maxsim["alone"],
                maxsim["in chunk"],
                wordpiece_match(static_question, static_sentences),
            )
        )

    def cite(split: str, mode: int, w: float, top: int) -> tuple[float, float]:
        at1 = at3 = 0
        for _, base, gold, *sims in rows[split]:
            head = np.argsort(-(base[:top] + w * sims[mode][:top]), kind="stable")
            ranked = np.concatenate([head, np.arange(top, len(base))])
            at1 += bool(gold[ranked[0]])
            at3 += bool(gold[ranked[:3]].any())
        n = len(rows[split])
        return at1 / n, at3 / n

    report.line(
        f"{len(rows['tuning'])} tuning and {len(rows['held-out'])} held-out questions (every {args.every}th); "
        "cite@k over the retrieval order; extra time per question: the question and the top k "
        "sentences embedded alone, one after another on one core, median"
    )
    report.line()
    report.line(
        "| sentence tokens | top k reranked | w (fitted on tuning) | tuning cite@1 | held-out cite@1 | held-out cite@3 | extra ms |"
    )
    report.line("| --- | --- | --- | --- | --- | --- | --- |")
    base1, base3 = cite("held-out", 0, 0.0, 1)
    report.line(
        f"| (first score, no re-rank) | - | 0 | {cite('tuning', 0, 0.0, 1)[0]:.3f} | {base1:.3f} | {base3:.3f} | 0 |"
    )
    for mode, name in enumerate(("alone", "in chunk", "static word pieces (shipped: top 5, w 1)")):
        for top in RERANKED:
            best = max(WEIGHTS, key=lambda w: (cite("tuning", mode, w, top)[0], -w))
            held1, held3 = cite("held-out", mode, best, top)
            extra = {0: f"{statistics.median(costs[top]) * 1000:.1f}", 1: "(needs stored token vectors)", 2: "under 1"}[
                mode
            ]
            report.line(
                f"| {name} | {top} | {best} | {cite('tuning', mode, best, top)[0]:.3f} | {held1:.3f} | {held3:.3f} | {extra} |"
            )
    report.save()


if __name__ == "__main__":
    main()
