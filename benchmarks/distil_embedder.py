"""Distil all-mpnet-base-v2's question-to-sentence scores into all-MiniLM-L6-v2 (not qa's default).

    .venv/bin/python benchmarks/distil_embedder.py [--out FOLDER]
    .venv/bin/python benchmarks/fit_ranker.py --model FOLDER [--write]
    .venv/bin/qa build --full --model FOLDER ...

Not qa's default: the student matched its teacher a little better than the bundled model did,
and no figure a user sees moved (benchmarks/RESULTS.md, History, 2026-11-29 (afternoon)).

all-mpnet-base-v2 answers readers' questions far better than the bundled model, at 2.3 times the
query time. This tries to move what it knows into the bundled model's size: the top `--layers`
layers of all-MiniLM-L6-v2 (the rest frozen) are fitted so that, for each question of a batch,
its softmax over the batch's candidate sentences (cosine times `--tau`) matches the teacher's
(KL divergence). The teacher's labels need no answer key, so any question-like text serves:

- the extra BBC questions of `fit_ranker.EXTRAS` (helpers' questions in readers' words);
- headlines of BBC and Reuters articles (Reuters' upper-case ones in sentence case);
- SQuAD v1.1 dev's tuning-half questions.

News queries take the `--k` best distinct candidates that the bundled model's index and
`qa/ranker.json` offer; a SQuAD question takes its paragraph's first `--k` sentences. No dev or
check question is used, and no headline of an article they ask about; those articles' sentences
can still be among a query's candidates, scored by the teacher (no answer key is read). The
teacher is the int8 ONNX all-mpnet-base-v2 that `--model all-mpnet-base-v2` runs (every text
alone, about 11 minutes for 64,000 texts on 2 cores).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _results import SHARED, run
from _spans import materialize
from fit_ranker import EXTRAS
from news_probe import UNSEEN
from train_embedder import encode, fit, save, top_layers

from qa._corpus import read_articles
from qa._embed import DEFAULT_MODEL, MPNET, OnnxEmbedder
from qa._engine import Engine
from qa._eval import CACHE, corpus_engine, load_squad
from qa._eval_news import NewsSet, default_index, load_news
from qa._ranker import Ranker, load_ranker, ranker_path
from qa._segment import split_sentences

Query = dict[str, Any]  # q: the query; texts: its candidate sentences


def asked_about(dev: NewsSet) -> set[str]:
    """Articles the news dev set and the check sets ask about (no headline of theirs is a query)."""
    with tempfile.TemporaryDirectory() as tmp:
        sets = [dev, *(load_news(materialize(spans, Path(tmp))) for spans in UNSEEN)]
    return {a for s in sets for item in (*s.cases, *s.followups) for a in item.articles}


def best(engine: Engine, ranker: Ranker, query: str, k: int) -> list[str]:
    """The `k` best candidates for `query` under `ranker`, one per sentence group."""
    c = engine.retriever.question_candidates(query)
    score = ranker.rank(c.features)
    seen, texts = set(), []
    for i in np.lexsort((np.arange(len(score)), -score)):
        if int(c.groups[i]) not in seen:
            seen.add(int(c.groups[i]))
            texts.append(c.texts[i])
    return texts[:k]


def news_queries(k: int, titles: dict[str, int], rng: random.Random) -> list[Query]:
    """The extra BBC questions and `titles[corpus]` headlines a corpus, each with its best `k` candidates."""
    ranker = load_ranker(ranker_path(DEFAULT_MODEL))
    dev = load_news(SHARED / "news_qa" / "news_dev.json")
    held = asked_about(dev)
    with tempfile.TemporaryDirectory() as tmp:
        extra = [load_news(materialize(spans, Path(tmp), "bbc")) for spans in EXTRAS]
    questions = [case.question for s in extra for case in s.cases if case.corpus == "bbc"]
    out: list[Query] = []
    for corpus, wanted in titles.items():
        file = dev.corpora[corpus]
        articles = read_articles(Path(file))
        # qa eval's own index, rebuilt there if another model built it: the ranker is the bundled model's.
        engine = corpus_engine(articles, default_index(file), True, ranker, model=DEFAULT_MODEL)
        if corpus == "bbc":
            out += [{"q": q, "texts": best(engine, ranker, q, k)} for q in questions]
        pool = [a for a in articles if a.id not in held and a.title and len(a.title.split()) >= 3]
        rng.shuffle(pool)
        heads: dict[str, str] = {}
        for a in pool:
            title = a.title.strip()
            if len(heads) < wanted and title.lower() not in heads:
                heads[title.lower()] = title.capitalize() if title.isupper() else title
        out += [{"q": q, "texts": best(engine, ranker, q, k)} for q in heads.values()]
        engine.close()
    return out


def squad_queries(k: int) -> list[Query]:
    squad = load_squad(SHARED / "squad" / "dev-v1.1.json")
    texts = {a.id: a.text for a in squad.articles}
    sentences: dict[str, list[str]] = {}
    out: list[Query] = []
    for q in squad.questions:
        if not q.tuning:
            continue
        if q.article_id not in sentences:
            text = texts[q.article_id]
            sentences[q.article_id] = [text[s.start : s.end] for s in split_sentences(text)]
        out.append({"q": q.question, "texts": sentences[q.article_id][:k]})
    return out


def train(queries: list[Query], teacher: dict[str, np.ndarray], args: argparse.Namespace) -> Any:
    import torch

    model, opt = top_layers(args)
    model.max_seq_length = args.max_tokens  # news sentences are shorter; the padding was most of a step

    def loss_of(batch: list[Query]) -> tuple[Any, dict[str, float]]:
        questions = [x["q"] for x in batch]
        texts = list(dict.fromkeys(t for x in batch for t in x["texts"] if t not in questions))
        wanted = torch.tensor(np.stack([teacher[q] for q in questions]) @ np.stack([teacher[t] for t in texts]).T)
        got = encode(model, questions) @ encode(model, texts).T
        loss = torch.nn.functional.kl_div(
            torch.log_softmax(args.tau * got, 1),
            torch.log_softmax(args.tau * wanted, 1),
            log_target=True,
            reduction="batchmean",
        )
        agree = (got.argmax(1) == wanted.argmax(1)).float().mean().item()
        return loss, {"top-1 agrees": agree}

    model.train()
    fit(queries, args, opt, loss_of, every=20, rng=random.Random(0))
    model.eval()
    model.max_seq_length = 256
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=3, help="top transformer layers to fit")
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--tau", type=float, default=20.0, help="cosine scale of both softmaxes")
    parser.add_argument("--k", type=int, default=8, help="candidate sentences a query brings to its batch")
    parser.add_argument("--max-tokens", type=int, default=64, help="word pieces of a text while training")
    parser.add_argument("--bbc-titles", type=int, default=1500)
    parser.add_argument("--reuters-titles", type=int, default=2500)
    parser.add_argument("--steps", type=int, default=0, help="stop after this many steps (a smoke run)")
    parser.add_argument("--limit", type=int, default=0, help="use only this many queries (a smoke run)")
    parser.add_argument("--out", type=Path, default=CACHE / "news-minilm-l6-distilled", help="the model folder")
    args = parser.parse_args()
    started = time.perf_counter()
    rng = random.Random(0)
    titles = {"bbc": args.bbc_titles, "reuters": args.reuters_titles}
    queries = news_queries(args.k, titles, rng) + squad_queries(args.k)
    if args.limit:
        queries = rng.sample(queries, min(args.limit, len(queries)))
    texts = sorted({x["q"] for x in queries} | {t for x in queries for t in x["texts"]})
    print(
        f"{len(queries)} queries, {len(texts)} texts; the teacher embeds them ({time.perf_counter() - started:.0f} s)"
    )
    vectors = OnnxEmbedder(MPNET).embed(texts)
    teacher = dict(zip(texts, vectors, strict=True))
    print(f"taught ({time.perf_counter() - started:.0f} s)")
    model = train(queries, teacher, args)
    save(model, args, "benchmarks/distil_embedder.py", {"queries": len(queries), "texts": len(texts)}, teacher=MPNET)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    run(main)
