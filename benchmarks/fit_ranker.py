"""Fit the sentence ranker and the abstention rule (`qa/ranker.json`), out of fold, by article.

    .venv/bin/python benchmarks/fit_ranker.py [--news FILE] [--squad FILE] [--folds 5] [--write]

Training data: the news dev set's questions (BBC and Reuters, each corpus indexed whole, as
`qa eval --news` does) and the questions of SQuAD v1.1 dev's tuning half (the 24 titles that
sort first; its held-out half is never seen here). The news questions are split into folds by
the article that answers them; each fold's questions are then asked through `Engine.ask` with a
ranker fitted without them, and the figures printed are those out-of-fold answers, counted as a
user sees them (an abstention is a miss). `--write` then fits on everything and writes
`qa/ranker.json` with these figures in its `about`.

- Ranker: a linear score over `RANK_FEATURES`, fitted listwise (softmax over each question's
  candidates, L2-regularised), so it learns which candidate of a question answers it. SQuAD's
  questions count by how like readers' their answer's word overlap is (`like_news`).
- Abstention: a logistic rule over `SUPPORT_FEATURES` of the best candidate, separating the
  questions the corpus answers from those it does not (the news set's out-of-corpus questions,
  and SQuAD tuning questions asked of an index of the held-out half only), its threshold set
  so that out-of-corpus questions are refused at `--refuse` on the training folds.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _results import ROOT, SHARED, Report, add_record_flag, model_section, run
from _spans import materialize

from qa import QAError
from qa._corpus import read_articles
from qa._embed import DEFAULT_MODEL, canonical_model_name
from qa._engine import Engine
from qa._eval import corpus_engine, held_out_index, load_squad
from qa._eval import default_index as squad_index
from qa._eval_news import NewsSet, default_index, holds, load_news
from qa._ranker import Linear, Ranker, ranker_path, save_ranker
from qa._retrieve import (
    RANK_FEATURES,
    RETOLD_AMONG,
    SUPPORT_FEATURES,
    Retriever,
    join,
    margins,
    offered,
    repeats,
    retellings,
)

# Extra training questions, written by the dev set's rules on other BBC articles, one writer each.
EXTRAS = tuple(ROOT / "benchmarks" / f"news_train{part}.json" for part in ("", "_b", "_c", "_d", "_e"))


@dataclass
class Question:
    """One question's candidates and features, for fitting."""

    text: str
    group: str  # fold key: the article that answers it (or the question, if none does)
    source: str  # "bbc", "reuters", "squad"
    answerable: bool
    features: np.ndarray  # (candidates, RANK_FEATURES)
    labels: np.ndarray  # which candidates answer it
    late_previous: np.ndarray  # whole-question match, for the support features
    articles: np.ndarray  # each candidate's article row
    groups: np.ndarray  # each candidate's sentence group (copies of one sentence share it)
    unknown: float = 0.0
    unknown_name: float = 0.0
    weight: float = 1.0  # times its source's weight in the ranker's fit (see `like_news`)
    retold: tuple[tuple[int, int], ...] = ()  # pairs of candidates that are one sentence retold


def blank_ranker() -> Ranker:
    def zero(names: Sequence[str]) -> Linear:
        n = len(names)
        return Linear(tuple(names), (0.0,) * n, (1.0,) * n, (0.0,) * n, 0.0)

    return Ranker(zero(RANK_FEATURES), zero(SUPPORT_FEATURES))


def features(
    retriever: Retriever, question: str
) -> tuple[
    np.ndarray,
    np.ndarray,
    tuple[str, ...],
    tuple[np.ndarray, np.ndarray],
    tuple[float, float],
    tuple[tuple[int, int], ...],
]:
    """The candidates' rows, features and texts, each candidate's article row and sentence group (for
    `margins`), the question's unknown share and unknown name, as `Retriever.search` computes
    them, and the pairs of candidates that retell one another (`retold_groups` keeps those
    among the best, as `Retriever.search` does)."""
    c = retriever.question_candidates(question)
    where = retriever.index.sentences[c.sentences, 0], c.groups
    pairs = tuple(retellings(c.texts))
    return c.sentences, c.features, c.texts, where, (c.unknown, c.unknown_name), pairs


def retold_groups(q: Question, order: np.ndarray) -> np.ndarray:
    """`q`'s candidates' groups with the retellings among the best RETOLD_AMONG under `order`
    joined, as `Retriever.search` joins them (`retold_among`)."""
    head = set(order[:RETOLD_AMONG].tolist())
    return join(q.groups, [(i, j) for i, j in q.retold if i in head and j in head])


def fold_of(key: str, folds: int) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % folds


def news_questions(engine: Engine, news: NewsSet, corpus: str) -> list[Question]:
    out = []
    for case in (c for c in news.cases if c.corpus == corpus):
        rows, x, texts, where, unknown, pairs = features(engine.retriever, case.question)
        labels = np.array(holds(texts, case.expect) if case.expect else [False] * len(rows))
        group = case.articles[0] if case.articles else case.question
        late = x[:, RANK_FEATURES.index("late_previous")]
        out.append(
            Question(case.question, group, corpus, not case.abstain, x, labels, late, *where, *unknown, retold=pairs)
        )
    return out


def squad_questions(path: Path, limit: int | None, model: str | None = None) -> tuple[list[Question], list[Question]]:
    """SQuAD tuning-half questions over the whole file's index (answerable) and over an index
    of the held-out half only (out of corpus)."""
    squad = load_squad(path)
    tuning = [q for q in squad.questions if q.tuning and not q.impossible]
    if limit:
        tuning = tuning[:: max(1, len(tuning) // limit)]
    held_ids = {q.article_id for q in squad.questions if not q.tuning}
    root = squad_index(path)
    whole = corpus_engine(list(squad.articles), root, progress=True, ranker=blank_ranker(), model=model)
    held_root = held_out_index(root)
    assert held_root is not None  # a folder in qa eval's cache
    held = corpus_engine([a for a in squad.articles if a.id in held_ids], held_root, True, blank_ranker(), model)
    answerable, refused = [], []
    index = whole.index
    for q in tuning:
        rows, x, _, where, unknown, pairs = features(whole.retriever, q.question)
        spans = index.sentences[rows]
        labels = np.array(
            [index.articles[a].id == q.article_id and any(s < e2 and s2 < e for s2, e2 in q.spans) for a, s, e in spans]
        )
        late = x[:, RANK_FEATURES.index("late_previous")]
        title = q.article_id.split("/")[0]
        answerable.append(Question(q.question, title, "squad", True, x, labels, late, *where, *unknown, retold=pairs))
        rows, x, _, where, unknown, pairs = features(held.retriever, q.question)
        late = x[:, RANK_FEATURES.index("late_previous")]
        refused.append(
            Question(
                q.question, title, "squad", False, x, np.zeros(len(rows), bool), late, *where, *unknown, retold=pairs
            )
        )
    return answerable, refused


# Evidence that must never count against a sentence. The dev questions were written to share at
# most 3 content words with their answer, so a free fit learns that matching the question's
# words is a bad sign (coverage weighed -0.33): an artefact of how the set was written, which
# would turn away readers who do use the article's words ("what guarantees did Russia demand?").
# "names_repeated" is free: a sentence repeating the question's names restates the story's
# subject, which the context features credit wherever it is named. Its weight is negative on
# SQuAD's tuning half alone as well, whose writers reused the paragraph's words.
MONOTONE = (
    "cosine",
    "bm25",
    "window_bm25",
    "late",
    "late_previous",
    "late_next",
    "late_lead",
    "late_focus",
    "chunk",
    "article",
    "coverage",
    "coverage_previous",
    "coverage_lexical",
    "bm25_lexical",
    "article_coverage",
    "paraphrased",
)


def fit_rank(questions: Sequence[Question], l2: float, weights: dict[str, float], iters: int = 400) -> Linear:
    """Listwise softmax regression: each answerable question's candidates, its answers the
    targets; the MONOTONE features' weights are kept at zero or above."""
    used = [q for q in questions if q.answerable and q.labels.any()]
    stacked = np.vstack([q.features for q in used])
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0) + 1e-6
    z = (stacked - mean) / scale
    sizes = np.array([len(q.features) for q in used])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    group = np.repeat(np.arange(len(used)), sizes)
    target = np.concatenate([q.labels / q.labels.sum() for q in used])
    weight = np.array([weights.get(q.source, 1.0) * q.weight for q in used])
    total = float(weight.sum())
    monotone = np.array([name in MONOTONE for name in RANK_FEATURES])
    w = np.zeros(z.shape[1])
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for step in range(1, iters + 1):
        s = z @ w
        p = np.exp(s - np.maximum.reduceat(s, starts)[group])
        p /= np.add.reduceat(p, starts)[group]
        grad = l2 * w / total + z.T @ ((p - target) * weight[group]) / total
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        w -= 0.05 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
        w[monotone] = np.maximum(w[monotone], 0.0)
    return Linear(RANK_FEATURES, tuple(mean), tuple(scale), tuple(w), 0.0)


def answer_coverage(q: Question) -> float:
    """How much of the question's IDF weight its best answering candidate holds."""
    return float(q.features[q.labels, RANK_FEATURES.index("coverage")].max())


def like_news(squad: Sequence[Question], news: Sequence[Question], floor: float, bins: int = 10) -> None:
    """Weigh each answerable SQuAD question by how common its answer's word overlap with the
    question is among `news`' answerable questions, against SQuAD's (a density ratio over SQuAD's
    deciles of `answer_coverage`), at least `floor`: SQuAD's writers reused the paragraph's
    words (median coverage 0.72) where readers paraphrase (0.22), so unweighted SQuAD pulls
    the ranker towards word matching that readers' questions do not offer."""
    answerable = [q for q in squad if q.answerable and q.labels.any()]
    reference = [answer_coverage(q) for q in news if q.answerable and q.labels.any()]
    if not answerable or not reference:
        for q in answerable:
            q.weight = 1.0  # nothing to be like: SQuAD weighs as it would unweighted
        return
    own = np.array([answer_coverage(q) for q in answerable])
    edges = np.quantile(own, np.linspace(0, 1, bins + 1))
    edges[0], edges[-1] = -np.inf, np.inf
    share = np.histogram(reference, edges)[0] / len(reference)
    own_share = np.histogram(own, edges)[0] / len(own)
    ratio = np.maximum(share / np.maximum(own_share, 1e-9), floor)
    for q, b in zip(answerable, np.clip(np.digitize(own, edges) - 1, 0, bins - 1), strict=True):
        q.weight = float(ratio[b])


def support_rows(questions: Sequence[Question], rank: Linear) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """SUPPORT_FEATURES of each question's best candidate under `rank`, and whether it is answerable."""
    rows, labels, sources = [], [], []
    for q in questions:
        if not len(q.features):
            continue
        score = rank(q.features)
        order = np.lexsort((np.arange(len(score)), -score))
        best = int(order[0])
        f = q.features[best]
        column = RANK_FEATURES.index
        offers = offered(q.text, q.features[best : best + 1])[0]
        figures = [
            f[column("cosine")],
            q.late_previous[best],
            f[column("article_coverage")],
            q.unknown,
            q.unknown_name,
            offers,
            margins(score, q.articles, retold_groups(q, order), [best])[0],
        ]
        rows.append(figures)
        labels.append(q.answerable)
        sources.append(q.source)
    return np.array(rows), np.array(labels), sources


def refusal_cut(values: np.ndarray, refuse: float) -> float | None:
    """The value below which `refuse` of `values` (out-of-corpus questions' support) fall, half-way
    between the last of them and the next: any cut between the two refuses as many on these
    questions, and the middle leaves the most room either side for questions unseen."""
    if not len(values):
        return None
    ordered = np.sort(values)
    # Less a hair: 0.55 * 100 is 55.00000000000001 in floating point, and must refuse 55.
    at = min(int(np.ceil(refuse * len(ordered) - 1e-9)), len(ordered) - 1)
    return float((ordered[at] + ordered[at - 1]) / 2 if at > 0 else ordered[at])


def fit_support(
    questions: Sequence[Question], rank: Linear, refuse: float, weights: dict[str, float], l2: float = 1.0
) -> Linear:
    """Logistic regression (classes balanced, sources weighted), then the bias that refuses
    `refuse` of the news set's out-of-corpus questions (all of them, if it has none)."""
    x, y, sources = support_rows([q for q in questions if weights.get(q.source, 1.0) > 0], rank)
    # An undecided figure (NaN: no other story among the candidates) is the mean, as at answer time.
    mean = np.nanmean(x, axis=0)
    x = np.where(np.isnan(x), mean, x)
    scale = x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    source_weight = np.array([weights.get(s, 1.0) for s in sources])
    weight = source_weight * np.where(y, 0.5 / source_weight[y].sum(), 0.5 / max(source_weight[~y].sum(), 1e-9))
    w, b = np.zeros(z.shape[1]), 0.0
    for _ in range(2000):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        g = weight * (p - y)
        w -= 0.5 * (z.T @ g + l2 * w / len(y))
        b -= 0.5 * g.sum()
    value = z @ w
    news = np.array([s != "squad" for s in sources])
    if refuse > 0:
        cut = refusal_cut(value[~y & news] if (~y & news).any() else value[~y], refuse)
        bias = b if cut is None else -cut  # support = value + bias < 0 below the cut
    else:
        # The bias that best separates the news set's answerable questions from the others:
        # the most answered plus refused, each as a share (Youden's J).
        pos, neg = value[y & news], value[~y & news]
        cuts = np.sort(np.concatenate([pos, neg]))
        j = [(pos >= c).mean() + (neg < c).mean() for c in cuts]
        bias = -float(cuts[int(np.argmax(j))])
    return Linear(SUPPORT_FEATURES, tuple(mean), tuple(scale), tuple(w), bias)


def ask_fold(engine: Engine, news: NewsSet, corpus: str, folds: int, fold: int) -> dict[str, list[bool]]:
    """Ask the fold's questions of `corpus` as a user does; per-question outcomes."""
    out: dict[str, list[bool]] = {
        "@1": [],
        "@2": [],
        "@3": [],
        "refused": [],
        "follow@2": [],
        "follow@3": [],
        "dup": [],
    }
    for case in (c for c in news.cases if c.corpus == corpus):
        key = case.articles[0] if case.articles else case.question
        if fold_of(key, folds) != fold:
            continue
        answer, retrieval = engine.ask_with_retrieval(case.question, top=3)
        if case.abstain:
            out["refused"].append(answer.abstained)
            continue
        ok = [] if answer.abstained else holds([c.sentence for c in answer.citations], case.expect)
        ranked = holds([h.article.text[h.start : h.end] for h in retrieval.hits], case.expect)
        for k in (1, 2, 3):
            out[f"@{k}"].append(any(ok[:k]))
            out.setdefault(f"rank@{k}", []).append(any(ranked[:k]))
        out["dup"].append(repeats([c.sentence for c in answer.citations]))
    for f in (f for f in news.followups if f.corpus == corpus):
        if fold_of(f.articles[0], folds) != fold:
            continue
        answer = engine.ask(f.turns[-1], top=3, history=list(f.turns[:-1]))
        ok = [] if answer.abstained else holds([c.sentence for c in answer.citations], f.expect)
        out["follow@2"].append(any(ok[:2]))
        out["follow@3"].append(any(ok[:3]))
    return out


def _shown(path: Path) -> str:
    """`path` as the report and `ranker.json` name it: from the project's root when inside it."""
    return str(path.resolve().relative_to(ROOT)) if path.resolve().is_relative_to(ROOT) else str(path)


def _code_digest() -> str:
    """A digest of qa's source and the WordNet table its features read, so cached features are
    recomputed when either changes."""
    digest = hashlib.sha256()
    for path in [*sorted((ROOT / "qa").glob("*.py")), ROOT / "qa" / "wordnet.tsv.gz"]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--news", type=Path, default=SHARED / "news_qa" / "news_dev.json")
    parser.add_argument("--squad", type=Path, default=SHARED / "squad" / "dev-v1.1.json")
    parser.add_argument("--no-squad", dest="use_squad", action="store_false", help="fit on the news questions only")
    parser.add_argument("--squad-limit", type=int, default=None, help="use about N SQuAD tuning questions")
    parser.add_argument(
        "--squad-weight",
        type=float,
        # 0.03 with the dev set's 150 answerable questions, 0.05 with 250. With 346 and 495,
        # unseen question sets ranked as well at 0.01 to 0.1 (benchmarks/RESULTS.md, History,
        # 2026-11-28 late); SQuAD's own figures fall a point as its share shrinks.
        default=0.05,
        help="a SQuAD question's weight against a news one's",
    )
    parser.add_argument(
        "--corpus", action="append", default=None, help="only this corpus of the news file (repeatable)"
    )
    parser.add_argument(
        "--like-news",
        type=float,
        default=1.0,
        metavar="FLOOR",
        help="weigh SQuAD questions by how like the news questions their word overlap is, at least FLOOR "
        "(default 1: paraphrase-like ones count more, none less)",
    )
    parser.add_argument(
        "--flat-squad", dest="like_news", action="store_const", const=None, help="every SQuAD question weighs the same"
    )
    parser.add_argument(
        "--support-squad-weight", type=float, default=0.03, help="a SQuAD question's weight in the abstention fit"
    )
    parser.add_argument(
        "--coverage-answers", type=float, default=0.5, help="coverage of the question's terms that answers outright"
    )
    parser.add_argument(
        "--model", default=None, help="embedding model of the indexes (default: the bundled one), as qa build --model"
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--l2", type=float, default=10.0)
    parser.add_argument(
        "--refuse",
        type=float,
        default=0.8,
        help="out-of-corpus share refused on the training folds (0: the threshold that best separates them)",
    )
    parser.add_argument(
        "--extra",
        type=Path,
        action="append",
        default=None,
        help="more training questions, stored as spans (default: "
        + ", ".join(str(e.relative_to(ROOT)) for e in EXTRAS)
        + "); repeatable",
    )
    parser.add_argument("--no-extra", dest="extra", action="store_const", const=[], help="the dev set's questions only")
    parser.add_argument("--write", action="store_true", help="fit on everything and write qa/ranker.json")
    add_record_flag(parser)
    args = parser.parse_args()
    # Another model's fit is a section of its own, beside the bundled model's.
    model = canonical_model_name(args.model)
    own = model_section(model)
    report = Report(
        "fit_ranker" + own,
        "Sentence ranker and abstention, out of fold by article (issue 13)" + (f", model {own[1:]}" if own else ""),
        args.record,
    )
    started = time.perf_counter()
    news = load_news(args.news)
    engines = {}
    questions: list[Question] = []
    for corpus in args.corpus or sorted(news.corpora):
        file = news.corpora[corpus]
        engines[corpus] = corpus_engine(
            read_articles(Path(file)), default_index(file), True, blank_ranker(), args.model
        )
        questions += news_questions(engines[corpus], news, corpus)
    # Extra questions train the fit and are reported on their own, out of fold like the dev
    # set's; the targets below stay the dev set's alone, comparable with earlier runs.
    extras: dict[str, NewsSet] = {}
    default = [e for e in EXTRAS if e.is_file()] if "bbc" in engines else []
    extra_files: list[Path] = default if args.extra is None else args.extra
    with tempfile.TemporaryDirectory() as tmp:
        for spans in extra_files:
            extra = load_news(materialize(spans, Path(tmp), "bbc"))
            if "bbc" not in engines or news.corpora["bbc"] != extra.corpora["bbc"]:
                raise QAError(f"{spans} asks about BBC News as the dev set names it; fit with --corpus bbc")
            extras[spans.stem] = extra
            questions += news_questions(engines["bbc"], extra, "bbc")
    squad: list[Question] = []
    if args.use_squad:
        # The SQuAD features take minutes to compute; they depend only on the code, the file and the model.
        key = _code_digest() + ("" if model == DEFAULT_MODEL else "-" + hashlib.sha256(model.encode()).hexdigest()[:8])
        cache = Path(tempfile.gettempdir()) / "qa-eval" / f"fit-squad-{key}-{args.squad_limit}.pkl"
        if cache.is_file():
            squad = pickle.loads(cache.read_bytes())
        else:
            answerable, refused = squad_questions(args.squad, args.squad_limit, args.model)
            squad = answerable + refused
            cache.write_bytes(pickle.dumps(squad))
    weights = {"squad": args.squad_weight}
    support_weights = {"squad": args.support_squad_weight}
    report.line(
        f"{len(questions)} news questions ({sum(q.answerable for q in questions)} answerable), "
        f"{len(squad)} SQuAD tuning-half questions (half of them asked of the held-out half's index); "
        f"{args.folds} folds by article; l2 {args.l2}, SQuAD weight {args.squad_weight} "
        + ("(all alike)" if args.like_news is None else f"(like news, floor {args.like_news})")
        + f", refuse {args.refuse}"
    )
    report.line()
    totals: dict[str, dict[str, list[bool]]] = {c: {} for c in engines}
    extra_totals: dict[str, dict[str, list[bool]]] = {}
    for fold in range(args.folds):
        news_train = [q for q in questions if fold_of(q.group, args.folds) != fold]
        train = news_train + squad
        if args.like_news is not None:
            like_news(squad, news_train, args.like_news)
        rank = fit_rank(train, args.l2, weights)
        ranker = Ranker(rank, fit_support(train, rank, args.refuse, support_weights), args.coverage_answers)
        for corpus, engine in engines.items():
            engine.retriever.ranker = ranker
            for key, values in ask_fold(engine, news, corpus, args.folds, fold).items():
                totals[corpus].setdefault(key, []).extend(values)
        for name, extra in extras.items():
            for key, values in ask_fold(engines["bbc"], extra, "bbc", args.folds, fold).items():
                extra_totals.setdefault(name, {}).setdefault(key, []).extend(values)
    report.line("Out of fold, asked through `Engine.ask` (top 3) as a user does; an abstention is a miss:")
    report.line()
    report.line(
        "| corpus | questions | answered@1 | answered@2 | answered@3 | ranked@1 / @2 / @3 (abstention ignored) "
        "| duplicate answers | out-of-corpus refused | follow-ups @2 / @3 |"
    )
    report.line("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    figures = {}
    for corpus, t in [*totals.items(), *((f"bbc: {name}", t) for name, t in extra_totals.items())]:

        def share(key: str, t: dict[str, list[bool]] = t) -> float:
            return round(sum(t[key]) / len(t[key]), 3) if t.get(key) else 0.0

        figures[corpus] = {k: share(k) for k in t}
        report.line(
            f"| {corpus} | {len(t['@1'])} | {share('@1'):.3f} | {share('@2'):.3f} | {share('@3'):.3f} | "
            f"{share('rank@1'):.3f} / {share('rank@2'):.3f} / {share('rank@3'):.3f} | {sum(t['dup'])} | "
            f"{share('refused'):.3f} of {len(t['refused'])} | {share('follow@2'):.3f} / {share('follow@3'):.3f} of {len(t['follow@2'])} |"
        )
    report.line()
    if extras:
        report.line(f"`bbc: NAME` rows are the extra training questions ({', '.join(extras)}), asked the same way.")
        report.line()
    both: dict[str, list[bool]] = {}
    for t in totals.values():
        for key, values in t.items():
            both.setdefault(key, []).extend(values)

    def rate(key: str) -> float:
        return sum(both[key]) / len(both[key]) if both.get(key) else 0.0

    report.line(f"All news corpora together ({len(both.get('@1', []))} questions), out of fold:")
    report.target("answered@1", rate("@1"), 0.55, at_least=True)
    report.target("answered@2", rate("@2"), 0.70, at_least=True)
    report.target("out-of-corpus refused", rate("refused"), 0.85, at_least=True)
    report.target("follow-ups answered@2", rate("follow@2"), 0.75, at_least=True)
    if args.write:
        if args.like_news is not None:
            like_news(squad, questions, args.like_news)
        rank = fit_rank(questions + squad, args.l2, weights)
        support = fit_support(questions + squad, rank, args.refuse, support_weights)
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
        about = {
            "fitted_by": "benchmarks/fit_ranker.py",
            "command": "python benchmarks/fit_ranker.py "
            + " ".join(
                f"--{k.replace('_', '-')} {v}"
                for k, v in (
                    *((("model", args.model),) if args.model else ()),
                    ("folds", args.folds),
                    ("l2", args.l2),
                    ("squad-weight", args.squad_weight),
                    *((("like-news", args.like_news),) if args.like_news is not None else ()),
                    ("support-squad-weight", args.support_squad_weight),
                    ("refuse", args.refuse),
                    ("coverage-answers", args.coverage_answers),
                )
            )
            + (" --flat-squad" if args.like_news is None else "")
            + "".join(f" --extra {_shown(spans)}" for spans in args.extra or ())
            + (" --no-extra" if args.extra == [] else "")
            + " --write",
            "commit": commit,
            "model": canonical_model_name(args.model),
            "data": {
                "news": str(args.news.name),
                "extra": [_shown(spans) for spans in extra_files],
                "squad": str(args.squad.name) + " tuning half" if args.use_squad else None,
            },
            "out_of_fold": figures,
        }
        written = ranker_path(model)
        save_ranker(Ranker(rank, support, args.coverage_answers, about), written)
        report.line()
        report.line(f"Wrote {_shown(written)} (fitted on all of it). Rank weights (standardised features):")
        for name, w in sorted(zip(RANK_FEATURES, rank.weights, strict=True), key=lambda t: -abs(t[1])):
            report.line(f"- {name}: {w:+.3f}")
        report.line(
            "Support weights: "
            + ", ".join(f"{n} {w:+.3f}" for n, w in zip(SUPPORT_FEATURES, support.weights, strict=True))
            + f", bias {support.bias:+.3f}"
        )
    report.line()
    report.line(f"({time.perf_counter() - started:.0f} s)")
    report.save()


if __name__ == "__main__":
    run(main)
