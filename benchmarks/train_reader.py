"""Train a cross-encoder reader: all-MiniLM-L6-v2 reading a question and a sentence together.

    .venv/bin/python benchmarks/train_reader.py [--news] [--out FOLDER]

Not part of qa: added to the ranking it left the news dev set level and costs 35 to 140 ms a
question (benchmarks/RESULTS.md, History, 2026-11-28 (night two)); kept so that the
experiment can be rerun, with more training questions or another base.

The ranker's misses cite the story's sentence that restates the question's subject. A
bi-encoder embeds the question and the sentence apart; a cross-encoder reads the pair, as a QA
reader does. This fits the bundled model (all its layers) and a linear head on its mean-pooled
word pieces so that, among a question's answering sentence and its negatives, the answering
one scores highest (softmax cross-entropy per question).

Training questions: SQuAD v1.1 dev's tuning half (negatives: other sentences of the
paragraph) and, with `--news`, the extra BBC questions of `fit_ranker.EXTRAS` with the hard
negatives `train_embedder.py` mines, repeated `--news-repeat` times. The news dev set and every
check set stay out. Writes `reader.pt` (the state dict) and `about.json` to `--out`.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
from _results import run
from train_embedder import Triple, fit, news_triples, squad_triples

from qa._embed import bundled_model_path
from qa._eval import CACHE


def reader(layers: int) -> Any:
    """The bundled model's first `layers` layers with a scoring head: (encoded pairs) -> logits."""
    import torch
    from transformers import AutoModel

    class Reader(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(bundled_model_path()), local_files_only=True)
            self.bert.encoder.layer = self.bert.encoder.layer[:layers]
            self.bert.config.num_hidden_layers = layers
            self.head = torch.nn.Linear(self.bert.config.hidden_size, 1)
            torch.nn.init.zeros_(self.head.bias)
            torch.nn.init.normal_(self.head.weight, std=0.02)

        def forward(self, encoded: Any) -> Any:
            tokens = self.bert(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).float()
            return self.head((tokens * mask).sum(1) / mask.sum(1)).squeeze(-1)

    return Reader()


def train(examples: list[Triple], args: argparse.Namespace) -> Any:
    import torch
    from transformers import AutoTokenizer

    torch.manual_seed(0)
    torch.set_num_threads(2)
    tokenizer = AutoTokenizer.from_pretrained(str(bundled_model_path()))
    model = reader(args.layers)
    opt = torch.optim.AdamW(
        [
            {"params": model.bert.parameters(), "lr": args.lr},
            {"params": model.head.parameters(), "lr": args.lr * 20},  # a new head starts far from useful
        ],
        weight_decay=0.01,
    )

    def loss_of(batch: list[Triple]) -> tuple[Any, dict[str, float]]:
        sizes = [1 + len(x["negs"]) for x in batch]
        questions = [x["q"] for x, n in zip(batch, sizes, strict=True) for _ in range(n)]
        sentences = [s for x in batch for s in (x["pos"], *x["negs"])]
        encoded = tokenizer(
            questions,
            sentences,
            truncation="only_second",
            max_length=args.max_length,
            padding=True,
            return_tensors="pt",
        )
        logits = model(encoded).split(sizes)
        # the answering sentence is first in each question's group
        loss = torch.stack(
            [torch.nn.functional.cross_entropy(g[None], torch.zeros(1, dtype=torch.long)) for g in logits]
        ).mean()
        return loss, {"answer first": float(np.mean([int(g.argmax().item() == 0) for g in logits]))}

    model.train()
    fit(examples, args, opt, loss_of, every=25)
    model.eval()
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--news", action="store_true", help="train on the extra BBC questions too")
    parser.add_argument("--news-repeat", type=int, default=3, help="times each news question is seen an epoch")
    parser.add_argument("--negatives", type=int, default=3, help="negatives a question")
    parser.add_argument("--layers", type=int, default=6, help="the bundled model's first layers to keep")
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8, help="questions a step")
    parser.add_argument("--max-length", type=int, default=96, help="word pieces a pair")
    parser.add_argument("--steps", type=int, default=0, help="stop after this many steps (a smoke run)")
    parser.add_argument(
        "--mine-commit",
        default=None,
        help="the commit whose qa/ranker.json mines the news negatives (default: the shipped one; the recorded run "
        "used 6e21739)",
    )
    parser.add_argument("--out", type=Path, default=CACHE / "news-reader", help="the folder to write")
    args = parser.parse_args()
    started = time.perf_counter()
    examples = squad_triples(random.Random(0), args.negatives)
    if args.news:
        examples += news_triples(args.mine_commit, args.negatives) * args.news_repeat
    random.Random(0).shuffle(examples)
    print(f"{len(examples)} training questions")
    model = train(examples, args)
    import torch

    args.out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), args.out / "reader.pt")
    about = {"trained_by": "benchmarks/train_reader.py", "settings": {k: str(v) for k, v in vars(args).items()}}
    (args.out / "about.json").write_text(json.dumps(about, indent=1) + "\n")
    print(f"wrote {args.out} ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    run(main)
