"""Distil all-mpnet-base-v2 into a question encoder of 4 of its 12 layers (not used by qa).

    .venv/bin/python benchmarks/distil_query.py [--out FOLDER] [--keep 0,3,7,11]
    .venv/bin/python benchmarks/distil_query.py --proxy FOLDER [FOLDER ...]

Not used by qa: on the proxy below it kept about two thirds of mpnet's gain over the bundled
model at the first two places, and on AVX2 CPUs without VNNI its question call is four times
the bundled model's (benchmarks/RESULTS.md, History, 2026-11-29 (evening)).

all-mpnet-base-v2 reads readers' paraphrases far better than the bundled model, and almost all
of its extra query time is the question's model call. An index's sentences are embedded once,
at build time, so only the question side has to be fast. This keeps mpnet's embeddings and
`--keep` of its transformer layers (word embeddings frozen) and fits them so that every token
vector of a text, and its mean, point where mpnet's do (1 - cosine, the mean's counted twice):
the vectors qa uses, a question's mean vector for search and its token vectors for late
interaction, then live in the space of the index's sentence vectors, which mpnet made.

Texts (no answer key is read, so any question-like text serves): the extra BBC questions of
`fit_ranker.EXTRAS` and their follow-up turns, SQuAD v1.1 dev's tuning-half questions, 1,500
BBC and 2,500 Reuters headlines and 1,000 single sentences of articles that no dev or check
question asks about. The teacher is the ONNX mpnet that `--model all-mpnet-base-v2` runs.

`--proxy` measures question encoders without building an index: each dev BBC question's best 12
distinct candidates under the bundled model's index and ranker, ordered by the question's
cosine with each candidate (and by MaxSim of their token vectors), sentences embedded by mpnet
for the students and mpnet, by itself for the bundled model: is the answering sentence 1st,
in the first 2, in the first 3?
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
from distil_embedder import asked_about, best
from fit_ranker import EXTRAS
from train_embedder import fit, save

from qa._corpus import read_articles
from qa._embed import DEFAULT_MODEL, MPNET, OnnxEmbedder, _load, _unit_mean, unit_rows
from qa._eval import CACHE, corpus_engine, load_squad
from qa._eval_news import default_index, load_news
from qa._ranker import load_ranker, ranker_path
from qa._segment import split_sentences

MAX_TOKENS = 64  # word pieces of a training text, special tokens included; longer texts are left out


def texts_to_learn(args: argparse.Namespace, rng: random.Random) -> list[str]:
    dev = load_news(SHARED / "news_qa" / "news_dev.json")
    held = asked_about(dev)
    with tempfile.TemporaryDirectory() as tmp:
        extra = [load_news(materialize(spans, Path(tmp), "bbc")) for spans in EXTRAS]
    texts = [case.question for s in extra for case in s.cases]
    texts += [turn for s in extra for f in s.followups for turn in f.turns]
    texts += [q.question for q in load_squad(SHARED / "squad" / "dev-v1.1.json").questions if q.tuning]
    sentences: list[str] = []
    for corpus, wanted in (("bbc", args.bbc_titles), ("reuters", args.reuters_titles)):
        articles = [a for a in read_articles(Path(dev.corpora[corpus])) if a.id not in held]
        rng.shuffle(articles)
        heads: dict[str, str] = {}
        for a in articles:
            title = (a.title or "").strip()
            if len(title.split()) >= 3 and len(heads) < wanted and title.lower() not in heads:
                heads[title.lower()] = title.capitalize() if title.isupper() else title
            if len(sentences) < args.sentences * (1 if corpus == "bbc" else 2):
                spans = split_sentences(a.text)
                if spans:
                    s = rng.choice(spans)
                    sentences.append(a.text[s.start : s.end])
        texts += list(heads.values())
    texts += sentences[: args.sentences]
    chosen = sorted({t for t in texts if t.strip()})
    rng.shuffle(chosen)
    return chosen


def student_of(teacher: Any, keep: list[int]) -> Any:
    """A copy of `teacher` with only the transformer layers `keep`, its word embeddings frozen."""
    import copy

    import torch

    student = copy.deepcopy(teacher)
    bert = student[0].auto_model
    bert.encoder.layer = torch.nn.ModuleList([bert.encoder.layer[i] for i in keep])
    bert.config.num_hidden_layers = len(keep)
    bert.embeddings.word_embeddings.weight.requires_grad = False
    return student


def train(texts: list[str], targets: list[Any], args: argparse.Namespace, rng: random.Random) -> Any:
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(2)
    student = student_of(_load(MPNET), [int(k) for k in args.keep.split(",")])
    student[0].max_seq_length = MAX_TOKENS
    bert = student[0].auto_model
    trained = [p for p in bert.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trained, lr=args.lr, weight_decay=0.01)
    # Batches of texts of one length, so padding costs little; the full ones' order shuffled
    # once, the short one last (`fit` cuts the list every `args.batch`).
    rows = sorted((i for i in range(len(texts)) if len(targets[i]) <= MAX_TOKENS), key=lambda i: len(targets[i]))
    full = len(rows) - len(rows) % args.batch
    batches = [rows[i : i + args.batch] for i in range(0, full, args.batch)]
    rng.shuffle(batches)
    examples = [i for b in batches for i in b] + rows[full:]

    def loss_of(batch: list[int]) -> tuple[Any, dict[str, float]]:
        features = student.tokenize([texts[i] for i in batch])
        mask = features["attention_mask"].float()
        got = bert(input_ids=features["input_ids"], attention_mask=features["attention_mask"]).last_hidden_state
        wanted = torch.zeros_like(got)
        for row, i in enumerate(batch):
            wanted[row, : len(targets[i])] = torch.from_numpy(targets[i])
        cosine = torch.nn.functional.cosine_similarity
        tokens = ((1 - cosine(got, wanted, dim=-1)) * mask).sum() / mask.sum()
        mean_got, mean_wanted = ((x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True) for x in (got, wanted))
        means = (1 - cosine(mean_got, mean_wanted, dim=-1)).mean()
        return tokens + 2 * means, {"tokens": tokens.item(), "means": means.item()}

    bert.train()
    fit(examples, args, opt, loss_of, every=50)
    bert.eval()
    student[0].max_seq_length = 384
    return student


def proxy(students: list[str]) -> None:
    """The cosine and MaxSim order of each dev BBC question's best 12 candidates (see the module's doc)."""
    dev = load_news(SHARED / "news_qa" / "news_dev.json")
    cases = [c for c in dev.cases if c.corpus == "bbc" and c.expect]
    file = dev.corpora["bbc"]
    ranker = load_ranker(ranker_path(DEFAULT_MODEL))
    engine = corpus_engine(read_articles(Path(file)), default_index(file), True, ranker, model=DEFAULT_MODEL)
    candidates = [best(engine, ranker, c.question, 12) for c in cases]
    engine.close()
    right = [[any(e in t for e in c.expect) for t in texts] for c, texts in zip(cases, candidates, strict=True)]
    print(f"{len(cases)} dev BBC questions; the answer among the 12 for {np.mean([any(r) for r in right]):.2f}")
    sentences = sorted({t for texts in candidates for t in texts})

    def states(embedder: OnnxEmbedder, texts: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        out = {}
        for text in texts:
            hidden, _ = embedder._hidden(text, embedder._question_session)
            out[text] = (_unit_mean(hidden), unit_rows(hidden[1:-1]))
        return out

    def order(name: str, questions: OnnxEmbedder, sentence: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        asked = states(questions, [c.question for c in cases])
        found: dict[str, list[list[bool]]] = {"cosine": [], "MaxSim": []}
        for case, texts, hits in zip(cases, candidates, right, strict=True):
            vector, tokens = asked[case.question]
            scores = {
                "cosine": np.array([vector @ sentence[t][0] for t in texts]),
                "MaxSim": np.array([(tokens @ sentence[t][1].T).max(axis=1).mean() for t in texts]),
            }
            for how, score in scores.items():
                ranked = [hits[i] for i in np.argsort(-score, kind="stable")]
                found[how].append([ranked[0], any(ranked[:2]), any(ranked[:3])])
        for how, rows in found.items():
            at = " / ".join(f"{x:.2f}" for x in np.mean(rows, axis=0))
            print(f"{name}, {how}: answer 1st / in 2 / in 3 {at}")

    bundled = OnnxEmbedder(DEFAULT_MODEL)
    order("all-MiniLM-L6-v2", bundled, states(bundled, sentences))
    teacher = OnnxEmbedder(MPNET)
    taught = states(teacher, sentences)
    order("all-mpnet-base-v2", teacher, taught)
    for folder in students:
        order(f"{folder} (questions) + all-mpnet-base-v2 (sentences)", OnnxEmbedder(folder), taught)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", default="0,3,7,11", help="mpnet's transformer layers the student keeps")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--bbc-titles", type=int, default=1500)
    parser.add_argument("--reuters-titles", type=int, default=2500)
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=0, help="stop after this many steps (a smoke run)")
    parser.add_argument("--limit", type=int, default=0, help="use only this many texts (a smoke run)")
    parser.add_argument("--out", type=Path, default=CACHE / "mpnet-questions-4", help="the model folder")
    parser.add_argument("--proxy", nargs="+", type=Path, metavar="FOLDER", help="measure these students instead")
    args = parser.parse_args()
    if args.proxy:
        proxy([str(p) for p in args.proxy])
        return
    started = time.perf_counter()
    rng = random.Random(0)
    texts = texts_to_learn(args, rng)
    if args.limit:
        texts = texts[: args.limit]
    print(f"{len(texts)} texts; the teacher embeds them ({time.perf_counter() - started:.0f} s)")
    teacher = OnnxEmbedder(MPNET)
    # Token vectors as the index's sentences get them: the same model, one unpadded text a call.
    targets = teacher._map(texts, lambda i, hidden, offsets: hidden, None)
    print(f"taught ({time.perf_counter() - started:.0f} s)")
    model = train(texts, targets, args, rng)
    save(model, args, "benchmarks/distil_query.py", {"texts": len(texts)}, base=MPNET, layers=args.keep)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    run(main)
