"""Dump candidate-sentence features for every SQuAD question, for fitting the sentence ranker.

    .venv/bin/python benchmarks/ranker_features.py --index /tmp/squad_idx --out /tmp/features.npz

Each candidate row: question number, tuning flag, label (overlaps a gold span), and features.
Uses the same retrieval as `Engine.ask` (no follow-ups). The features beyond the base scores
(expected answer type, novelty, position, neighbours) were tried as a learned ranker; see
benchmarks/RESULTS.md for what they gained on the held-out half.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from _results import run
from tqdm import tqdm

from qa import Engine, _lexical
from qa._eval import default_index, load_squad

if TYPE_CHECKING:
    from qa._retrieve import Candidates
    from qa._store import StoredIndex

FEATURES = (
    "cosine", "bm25", "window", "passage", "type_match", "type_miss", "novel_names", "novel_numbers",
    "first_sentence", "log_length", "cosine_gap", "neighbour_cosine", "article_rank",
)  # fmt: skip

_NUMBER = re.compile(
    r"\b(\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|million|billion|trillion|dozen|half|percent)\b",
    re.IGNORECASE,
)
_DATE = re.compile(
    r"\b(1\d{3}|20\d{2}|January|February|March|April|May|June|July|August|September|October|November|December|"
    r"century|decade|\d+s)\b"
)
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-zA-Z’'-]+")
_WORD = re.compile(r"\w+")


def answer_type(question: str) -> str | None:
    """What kind of answer the question expects: number, date, name, or None if unclear."""
    q = question.lower()
    if re.search(
        r"\bhow (many|much|long|old|far|large|big|tall|high|often)\b|\bwhat (percentage|percent|number|amount)\b", q
    ):
        return "number"
    if re.search(r"\bwhen\b|\bwhat (year|century|decade|date|day|month|time)\b|\bwhich (year|century|decade)\b", q):
        return "date"
    if re.search(r"\b(who|whom|whose)\b|\bwhere\b|\bwhat (city|country|state|company|organization|team|name)\b", q):
        return "name"
    return None


def _matches(kind: str, sentence: str, question_words: set[str]) -> bool:
    if kind == "number":
        return any(m.group(0).lower() not in question_words for m in _NUMBER.finditer(sentence))
    if kind == "date":
        return any(m.group(0).lower() not in question_words for m in _DATE.finditer(sentence))
    return any(m.group(0).lower() not in question_words for m in _NAME.finditer(sentence))


def features(question: str, c: Candidates, index: StoredIndex) -> np.ndarray:
    """One row of `FEATURES` per candidate sentence."""
    kind = answer_type(question)
    question_words = {w.lower() for w in _WORD.findall(question)}
    rows = np.zeros((len(c.sentences), len(FEATURES)))
    best = float(c.cosine.max()) if len(c.cosine) else 0.0
    article_rank = {a: r for r, a in enumerate(c.passages)}
    n_sentences = len(index.sentences)
    for i, s in enumerate(c.sentences.tolist()):
        article, start, end = index.sentences[s].tolist()
        sentence = index.articles[article].text[start:end]
        match = kind is not None and _matches(kind, sentence, question_words)
        names = {m.group(0).lower() for m in _NAME.finditer(sentence)} - question_words
        numbers = {m.group(0).lower() for m in _NUMBER.finditer(sentence)} - question_words
        neighbours = [t for t in (s - 1, s + 1) if 0 <= t < n_sentences and index.sentences[t][0] == article]
        near = max((float(index.sentence_vectors[t] @ c.query_vector) for t in neighbours), default=0.0)
        rows[i] = (
            c.cosine[i],
            c.bm25[i],
            c.window[i],
            c.passage[i],
            float(match),
            float(kind is not None and not match),
            min(len(names), 5) / 5,
            min(len(numbers), 5) / 5,
            float(s == 0 or index.sentences[s - 1][0] != article),
            np.log1p(len(sentence.split())) / 5,
            c.cosine[i] - best,
            near,
            1.0 / (1 + article_rank.get(article, len(c.passages))),
        )
    return rows


SQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad" / "dev-v1.1.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--squad", type=Path, default=SQUAD)
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    squad = load_squad(args.squad)
    engine = Engine(args.index or default_index(args.squad))
    index = engine.index
    rows, meta = [], []
    for n, q in enumerate(tqdm([q for q in squad.questions if not q.impossible])):
        tokens = _lexical.tokenize([q.question])[0]
        c = engine.retriever.candidates(
            engine.retriever.embedder.embed_query(q.question)[0], engine.retriever.lexical_scores(tokens)
        )
        if c.sentences.size == 0:
            continue
        feats = features(q.question, c, index)
        for i, s in enumerate(c.sentences.tolist()):
            article, start, end = index.sentences[s].tolist()
            label = index.articles[article].id == q.article_id and any(start < e and b < end for b, e in q.spans)
            meta.append((n, q.tuning, label))
            rows.append(feats[i])
    np.savez(
        args.out, meta=np.array(meta, dtype=np.int64), x=np.array(rows, dtype=np.float64), names=np.array(FEATURES)
    )
    print(f"{len(meta)} candidates, {len(FEATURES)} features -> {args.out}")


if __name__ == "__main__":
    run(main)
