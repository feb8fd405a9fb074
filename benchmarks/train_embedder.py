"""Train an embedder for readers' questions: all-MiniLM-L6-v2 with its top two layers fitted to them.

    .venv/bin/python benchmarks/train_embedder.py [--out FOLDER]
    .venv/bin/python benchmarks/fit_ranker.py --model FOLDER [--write]
    .venv/bin/qa build --full --model FOLDER ...

Not qa's default: on the news dev set it did not help (benchmarks/RESULTS.md, History,
2026-11-28 (evening two)), though it ranked the unseen check sets' answers better.

The bundled all-MiniLM-L6-v2 puts a question nearest the sentences that restate its subject,
not the one that answers it. This fits its top `--layers` transformer layers (the rest stay
frozen) so that a question's vector is nearest its answering sentence, with a softmax over the
batch's answering sentences and each question's hard negatives (cross-entropy, scale 20).

Training questions: the extra BBC questions of `fit_ranker.EXTRAS` (helpers' questions in
readers' words, on articles no check set or dev question uses), repeated `--news-repeat` times,
and SQuAD v1.1 dev's tuning half. The news dev set and every check set stay out, so their
figures judge a model that never saw them.

- News: the answering sentence is the candidate holding an expected substring that ranks best;
  the hard negatives, the 3 best-ranked other sentences (one per sentence group), as the bundled
  model's index of BBC News and the ranker fitted for it (the shipped `qa/ranker.json`, or the
  one at `--mine-commit`) rank them, so the model learns from the mistakes that were being made.
- SQuAD: the sentence holding the answer's start; 3 other sentences of its paragraph at random.

The model is saved as a sentence-transformers folder at `--out`, with `about.json` saying what
made it; `qa build --model FOLDER` builds an index with it, and `fit_ranker.py --model FOLDER`
refits the ranker for it.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _results import ROOT, SHARED, run
from _spans import materialize
from fit_ranker import EXTRAS

from qa import QAError
from qa._corpus import read_articles
from qa._embed import DEFAULT_MODEL, bundled_model_path
from qa._eval import CACHE, corpus_engine, load_squad
from qa._eval_news import default_index, holds, load_news
from qa._ranker import Ranker, check, load_ranker
from qa._retrieve import RANK_FEATURES, SUPPORT_FEATURES
from qa._segment import split_sentences

Triple = dict[str, Any]  # question, answering sentence, hard negatives


def mining_ranker(commit: str | None) -> Ranker:
    """The shipped `qa/ranker.json` (fitted for the bundled model), or the one at `commit`, which
    must score the features this qa computes."""
    if commit is None:
        return load_ranker()
    shown = subprocess.run(
        ["git", "show", f"{commit}:qa/ranker.json"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    if shown.returncode:
        raise QAError(f"cannot read qa/ranker.json at {commit}: {shown.stderr.strip()}; give --mine-commit a commit")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ranker.json"
        path.write_text(shown.stdout)
        ranker = load_ranker(path)
    try:
        check(ranker, RANK_FEATURES, SUPPORT_FEATURES)
    except QAError as exc:
        raise QAError(
            f"qa/ranker.json at {commit} scores other features than this qa computes; leave out --mine-commit "
            f"to mine with the shipped ranker, or run this script as it was at {commit}"
        ) from exc
    return ranker


def news_triples(commit: str | None, negatives: int = 3) -> list[Triple]:
    ranker = mining_ranker(commit)
    news = load_news(SHARED / "news_qa" / "news_dev.json")
    file = news.corpora["bbc"]
    # qa eval's own index of BBC, rebuilt there if another model built it: the mining ranker is the bundled model's.
    engine = corpus_engine(read_articles(Path(file)), default_index(file), True, ranker, model=DEFAULT_MODEL)
    out: list[Triple] = []
    with tempfile.TemporaryDirectory() as tmp:
        for spans in EXTRAS:
            extra = load_news(materialize(spans, Path(tmp), "bbc"))
            for case in extra.cases:
                if case.abstain or case.corpus != "bbc":
                    continue
                c = engine.retriever.question_candidates(case.question)
                labels = np.array(holds(c.texts, case.expect))
                if not labels.any():
                    continue
                score = ranker.rank(c.features)
                order = np.lexsort((np.arange(len(score)), -score))
                best = next(int(i) for i in order if labels[i])
                seen, negs = {int(c.groups[best])}, []
                for i in order:
                    if labels[i] or int(c.groups[i]) in seen:
                        continue
                    seen.add(int(c.groups[i]))
                    negs.append(c.texts[i])
                    if len(negs) == negatives:
                        break
                out.append({"q": case.question, "pos": c.texts[best], "negs": negs})
    engine.close()
    return out


def squad_triples(rng: random.Random, negatives: int = 3) -> list[Triple]:
    squad = load_squad(SHARED / "squad" / "dev-v1.1.json")
    articles = {a.id: a for a in squad.articles}
    spans: dict[str, list[tuple[int, int]]] = {}
    out: list[Triple] = []
    for q in squad.questions:
        if not q.tuning or q.impossible:
            continue
        text = articles[q.article_id].text
        if q.article_id not in spans:
            spans[q.article_id] = [(s.start, s.end) for s in split_sentences(text)]
        sentences = spans[q.article_id]
        start, end = q.spans[0]
        hit = [i for i, (s, e) in enumerate(sentences) if s < end and start < e]
        if not hit:
            continue
        others = [text[s:e] for i, (s, e) in enumerate(sentences) if i not in hit]
        negs = rng.sample(others, min(negatives, len(others)))
        out.append({"q": q.question, "pos": text[slice(*sentences[hit[0]])], "negs": negs})
    return out


def fit(
    examples: list[Triple],
    args: argparse.Namespace,
    opt: Any,
    loss_of: Callable[[list[Triple]], tuple[Any, dict[str, float]]],
    every: int,
    rng: random.Random | None = None,
) -> None:
    """`args.epochs` epochs of `args.batch` examples a step (each epoch shuffled by `rng`, if
    given), stopping after `args.steps` if set: the learning rate warms up over the first 10% of
    the steps, then falls linearly to 0. Every `every` steps it prints the recent mean loss and
    the mean of each figure `loss_of` reports beside the batch's loss."""
    import torch

    steps = args.epochs * ((len(examples) + args.batch - 1) // args.batch)
    stop = min(steps, args.steps or steps)  # the schedule stays the full run's, so a short run is its start
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, (steps - s) / steps)
    )
    step, started, seen = 0, time.perf_counter(), defaultdict(list)
    for _ in range(args.epochs):
        if rng is not None:
            rng.shuffle(examples)
        for i in range(0, len(examples), args.batch):
            if step == stop:
                break
            loss, figures = loss_of(examples[i : i + args.batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            for name, value in {"loss": loss.item(), **figures}.items():
                seen[name].append(value)
            if step % every == 0:
                shown = ", ".join(f"{name} {np.mean(values[-every:]):.3f}" for name, values in seen.items())
                print(f"step {step} / {steps}: {shown} ({time.perf_counter() - started:.0f} s)")


def top_layers(args: argparse.Namespace) -> tuple[Any, Any]:
    """The bundled model (torch seeded, on 2 threads) with only its top `args.layers` transformer
    layers trainable, and an AdamW at `args.lr` over them."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = SentenceTransformer(str(bundled_model_path()), device="cpu", local_files_only=True)
    bert = model[0].auto_model
    for p in bert.parameters():
        p.requires_grad = False
    trained = []
    for layer in bert.encoder.layer[len(bert.encoder.layer) - args.layers :]:
        for p in layer.parameters():
            p.requires_grad = True
            trained.append(p)
    return model, torch.optim.AdamW(trained, lr=args.lr, weight_decay=0.01)


def encode(model: Any, texts: list[str]) -> Any:
    """Sentence vectors of `texts`, with gradients."""
    return model(model.tokenize(texts))["sentence_embedding"]


def save(model: Any, args: argparse.Namespace, trained_by: str, data: dict[str, Any], **about: str) -> None:
    """Write the model folder at `args.out` with `about.json`: its base, `about`, the script
    (`trained_by`) and commit that made it, its settings and `data`."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    model.save(str(args.out))
    whole = {
        "base": DEFAULT_MODEL,
        **about,
        "trained_by": trained_by,
        "commit": commit.stdout.strip(),
        "settings": {k: str(v) for k, v in vars(args).items()},
        "data": data,
    }
    (args.out / "about.json").write_text(json.dumps(whole, indent=1) + "\n")
    print(f"wrote {args.out}; build with it: qa build --full --model {args.out}")


def train(examples: list[Triple], args: argparse.Namespace, rng: random.Random) -> Any:
    import torch

    model, opt = top_layers(args)

    def loss_of(batch: list[Triple]) -> tuple[Any, dict[str, float]]:
        q = encode(model, [x["q"] for x in batch])
        s = encode(model, [x["pos"] for x in batch] + [n for x in batch for n in x["negs"]])
        return torch.nn.functional.cross_entropy(args.scale * q @ s.T, torch.arange(len(batch))), {}

    model.train()
    fit(examples, args, opt, loss_of, every=20, rng=rng)
    model.eval()
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=2, help="top transformer layers to fit")
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--scale", type=float, default=20.0, help="cosine scale in the softmax")
    parser.add_argument("--steps", type=int, default=0, help="stop after this many steps (a smoke run)")
    parser.add_argument("--news-repeat", type=int, default=4, help="times each news question is seen an epoch")
    parser.add_argument(
        "--mine-commit",
        default=None,
        help="the commit whose qa/ranker.json mines negatives (default: the shipped one; the run recorded on "
        "2026-11-28 used 6e21739, whose features this qa no longer computes all of)",
    )
    parser.add_argument("--out", type=Path, default=CACHE / "news-minilm-l6-tuned", help="the model folder to write")
    args = parser.parse_args()
    started = time.perf_counter()
    news = news_triples(args.mine_commit)
    squad = squad_triples(random.Random(0))
    rng = random.Random(0)  # the order of examples, apart from the negatives' draw
    rng.shuffle(squad)
    examples = news * args.news_repeat + squad
    print(f"{len(news)} news questions (x{args.news_repeat}), {len(squad)} SQuAD tuning-half questions")
    model = train(examples, args, rng)
    data = {"news": [e.name for e in EXTRAS], "news_questions": len(news), "squad_questions": len(squad)}
    save(model, args, "benchmarks/train_embedder.py", data)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    run(main)
