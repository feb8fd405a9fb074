"""`qa eval`: answer quality on a SQuAD-format file, asked through `Engine.ask` like a user.

Held-out protocol: anything fitted or tuned uses only the 24 articles whose titles sort first
(the tuning half); figures are reported for the other articles (held out) and for the whole set.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ._build import build_corpus, index_model, shown
from ._corpus import Corpus, corpus_hash
from ._embed import canonical_model_name
from ._engine import Engine
from ._errors import IndexNotFoundError, QAError
from ._ranker import Ranker
from ._segment import SEGMENTER
from ._stores import is_server
from ._types import Answer, Article

TUNING_ARTICLES = 24
CURVE = tuple(round(0.25 * i, 2) for i in range(-5, 6))  # support thresholds around the shipped one (0)


@dataclass(frozen=True)
class Question:
    """One SQuAD question, with the paragraph (article) and spans that answer it."""

    id: str
    article_id: str
    question: str
    spans: tuple[tuple[int, int], ...]
    answers: tuple[str, ...]
    tuning: bool
    impossible: bool


@dataclass(frozen=True)
class SquadSet:
    """A SQuAD-format file as a corpus (one article per paragraph) and its questions."""

    articles: tuple[Article, ...]
    questions: tuple[Question, ...]
    titles: int


@dataclass(frozen=True)
class Metrics:
    """Quality and latency figures over a set of answerable questions."""

    questions: int
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    mrr_at_10: float
    cite_at_1: float  # an abstention is a miss, as a user sees it
    cite_at_3: float
    ans_at_1: float
    abstained: float
    ranked_at_1: float  # the right sentence ranked first, abstention ignored (the ranking behind cite@1)
    ranked_at_3: float
    latency_p50_ms: float
    latency_p95_ms: float


@dataclass(frozen=True)
class Abstention:
    """Out-of-corpus abstention: the held-out articles indexed, every question asked."""

    in_corpus: int
    out_of_corpus: int
    answered_in_corpus: float
    abstained_out_of_corpus: float
    threshold: float
    curve: tuple[tuple[float, float, float], ...]  # (threshold, answered in corpus, abstained out)


@dataclass(frozen=True)
class EvalReport:
    """Everything `qa eval` measured."""

    file: str
    index: str
    model: str
    articles: int
    titles: int
    splits: dict[str, Metrics]
    abstention: Abstention | None
    unanswerable: dict[str, float] = field(default_factory=dict)


def load_squad(path: str | Path) -> SquadSet:
    """Paragraphs of a SQuAD v1.1/v2.0 file as articles (`<title>/<n>`), and its questions."""
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        entries = data["data"]
        titles = sorted(a["title"] for a in entries)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise QAError(f"cannot read SQuAD file {str(file)!r} ({exc}); pass a SQuAD v1.1 or v2.0 JSON file") from exc
    tuning = set(titles[:TUNING_ARTICLES])
    articles: list[Article] = []
    questions: list[Question] = []
    for entry in entries:
        for i, paragraph in enumerate(entry["paragraphs"]):
            article_id = f"{entry['title']}/{i}"
            articles.append(Article(id=article_id, title=entry["title"].replace("_", " "), text=paragraph["context"]))
            for qa in paragraph["qas"]:
                answers = qa.get("answers") or []
                questions.append(
                    Question(
                        id=qa["id"],
                        article_id=article_id,
                        question=qa["question"],
                        spans=tuple((a["answer_start"], a["answer_start"] + len(a["text"])) for a in answers),
                        answers=tuple(a["text"] for a in answers),
                        tuning=entry["title"] in tuning,
                        impossible=bool(qa.get("is_impossible", False)),
                    )
                )
    return SquadSet(tuple(articles), tuple(questions), len(titles))


CACHE = Path(tempfile.gettempdir()) / "qa-eval"  # `qa eval`'s own indexes, kept between runs


def default_index(path: str | Path) -> Path:
    """Where `qa eval` keeps the index of a SQuAD file between runs."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    return CACHE / f"{Path(path).stem}-{digest}"


def _cached(index: str | Path) -> bool:
    return not is_server(str(index)) and Path(index).resolve().is_relative_to(CACHE.resolve())


def corpus_engine(
    articles: Sequence[Article],
    index: str | Path,
    progress: bool,
    ranker: Ranker | None = None,
    model: str | None = None,
) -> Engine:
    """An engine over `articles`, reusing the index at `index` (a folder, a Milvus Lite file or
    a Milvus URI) when it was built from them with `model` (default: the default model), and
    building it there when it holds no index.

    An index of anything else is replaced only in `qa eval`'s own cache: elsewhere it is someone's
    index, which `qa serve` may be answering from, and an evaluation must not swap it."""
    try:
        engine = Engine(index, ranker=ranker)
    except IndexNotFoundError:
        pass
    except QAError:
        if not _cached(index):
            raise
    else:
        manifest = engine.index.manifest
        # Someone's own index is evaluated with whatever model and sentence splitting built it;
        # qa eval's cache follows the default model and this qa's splitting, so a change of
        # either rebuilds it.
        current = (manifest.model, manifest.chunking.get("segmenter")) == (canonical_model_name(model), SEGMENTER)
        if manifest.corpus_hash == corpus_hash(list(articles)) and (current or not _cached(index)):
            return engine
        engine.close()
        if not _cached(index):
            held = f"{manifest.articles} article{'' if manifest.articles == 1 else 's'}, built {manifest.built_at}"
            raise QAError(
                f"{index} holds the index of another corpus ({held}), which qa eval would replace; "
                "give --index a new folder, or leave it out"
            )
    build_corpus(Corpus(tuple(articles), ()), index, model=model, progress=progress)
    return Engine(index, ranker=ranker)


def held_out_index(index: str | Path) -> str | Path | None:
    """Where the held-out articles alone are indexed, beside `index`: a sibling folder or
    Milvus Lite file; None for a Milvus server, which holds one index."""
    text = str(index)
    if is_server(text):
        return None
    if text.lower().endswith(".db"):
        return text[:-3] + "-heldout.db"
    return Path(index).with_name(Path(index).name + "-heldout")


def _sample(questions: Sequence[Question], limit: int | None) -> list[Question]:
    if not limit or limit >= len(questions):
        return list(questions)
    step = len(questions) / limit
    return [questions[int(i * step)] for i in range(limit)]


def _overlaps(q: Question, article_id: str, start: int, end: int) -> bool:
    return article_id == q.article_id and any(start < e and s < end for s, e in q.spans)


@dataclass
class _Row:
    question: Question
    rank: int | None  # 1-based rank of the gold article among the passages, if in the top 10
    cite1: bool
    cite3: bool
    ans1: bool
    ranked1: bool
    ranked3: bool
    abstained: bool
    seconds: float


def _ask(engine: Engine, q: Question) -> tuple[_Row, Answer, float]:
    start = time.perf_counter()
    answer, retrieval = engine.ask_with_retrieval(q.question)
    seconds = time.perf_counter() - start
    cited = answer.citations
    ok = [_overlaps(q, c.article_id, c.start, c.end) for c in cited]
    ranked = [_overlaps(q, h.article.id, h.start, h.end) for h in retrieval.hits[:3]]
    rank = retrieval.passages.index(q.article_id) + 1 if q.article_id in retrieval.passages else None
    first = cited[0] if cited else None
    row = _Row(
        question=q,
        rank=rank,
        cite1=bool(ok) and ok[0],
        cite3=any(ok[:3]),
        ans1=first is not None and first.article_id == q.article_id and any(a in first.sentence for a in q.answers),
        abstained=answer.abstained,
        seconds=seconds,
        ranked1=bool(ranked) and ranked[0],
        ranked3=any(ranked),
    )
    top_support = retrieval.hits[0].support if retrieval.hits else float("-inf")
    return row, answer, top_support


def _metrics(rows: Sequence[_Row]) -> Metrics:
    n = len(rows)
    if not n:
        return Metrics(0, *([0.0] * 12))
    latencies = np.array([r.seconds for r in rows]) * 1000

    def share(pred: Callable[[_Row], bool]) -> float:
        return round(sum(map(pred, rows)) / n, 4)

    return Metrics(
        questions=n,
        recall_at_1=share(lambda r: r.rank == 1),
        recall_at_5=share(lambda r: r.rank is not None and r.rank <= 5),
        recall_at_10=share(lambda r: r.rank is not None),
        mrr_at_10=round(sum(1 / r.rank for r in rows if r.rank) / n, 4),
        cite_at_1=share(lambda r: r.cite1),
        cite_at_3=share(lambda r: r.cite3),
        ans_at_1=share(lambda r: r.ans1),
        abstained=share(lambda r: r.abstained),
        ranked_at_1=share(lambda r: r.ranked1),
        ranked_at_3=share(lambda r: r.ranked3),
        latency_p50_ms=round(float(np.percentile(latencies, 50)), 2),
        latency_p95_ms=round(float(np.percentile(latencies, 95)), 2),
    )


def evaluate(
    path: str | Path, index: str | Path | None = None, limit: int | None = None, progress: bool = False
) -> EvalReport:
    """Measure retrieval, citation and abstention quality on the SQuAD file at `path`."""
    squad = load_squad(path)
    root = index or default_index(path)
    # An index named with --index is measured with the model that built it, even inside qa
    # eval's cache (where an index of another model is otherwise rebuilt with the default):
    # asking an all-mpnet-base-v2 index must not replace it with the bundled model's.
    model = index_model(index) if index else None
    engine = corpus_engine(squad.articles, root, progress, model=model)
    answerable = _sample([q for q in squad.questions if not q.impossible], limit)
    rows = [_ask(engine, q)[0] for q in tqdm(answerable, desc="Asking", unit="question", **shown(progress))]
    splits = {
        "held-out": _metrics([r for r in rows if not r.question.tuning]),
        "tuning": _metrics([r for r in rows if r.question.tuning]),
        "all": _metrics(rows),
    }
    unanswerable: dict[str, float] = {}
    impossible = _sample([q for q in squad.questions if q.impossible], limit)
    if impossible:
        abstained = [
            _ask(engine, q)[1].abstained
            for q in tqdm(impossible, desc="Unanswerable", unit="question", **shown(progress))
        ]
        unanswerable = {"questions": len(impossible), "abstained": round(sum(abstained) / len(impossible), 4)}
    return EvalReport(
        file=str(path),
        index=str(root),
        model=engine.index.manifest.model,
        articles=len(squad.articles),
        titles=squad.titles,
        splits=splits,
        abstention=_abstention(squad, root, answerable, progress, model),
        unanswerable=unanswerable,
    )


def _abstention(
    squad: SquadSet, root: str | Path, asked: Sequence[Question], progress: bool, model: str | None
) -> Abstention | None:
    """Index only the held-out articles, with `model` as the whole index; their questions should
    be answered, the others not."""
    tuning_ids = {q.article_id for q in squad.questions if q.tuning}
    held_out = [a for a in squad.articles if a.id not in tuning_ids]
    where = held_out_index(root)
    if not held_out or len(held_out) == len(squad.articles) or where is None:
        return None
    engine = corpus_engine(held_out, where, progress, model=model)
    if model is not None and engine.index.manifest.model != canonical_model_name(model):
        # The sibling is qa eval's own, made from the named index's articles; an earlier run
        # may have made it with another model, and the two figures must come from one model.
        engine.close()
        build_corpus(Corpus(tuple(held_out), ()), where, model=model, progress=progress)
        engine = Engine(where)
    supports_in: list[float] = []
    supports_out: list[float] = []
    abstained_in = abstained_out = 0
    for q in tqdm(asked, desc="Out-of-corpus", unit="question", **shown(progress)):
        _, answer, value = _ask(engine, q)
        if q.tuning:
            supports_out.append(value)
            abstained_out += answer.abstained
        else:
            supports_in.append(value)
            abstained_in += answer.abstained
    if not supports_in or not supports_out:
        return None
    s_in, s_out = np.array(supports_in), np.array(supports_out)
    curve = tuple((t, round(float((s_in >= t).mean()), 4), round(float((s_out < t).mean()), 4)) for t in CURVE)
    return Abstention(
        in_corpus=len(s_in),
        out_of_corpus=len(s_out),
        answered_in_corpus=round(1 - abstained_in / len(s_in), 4),
        abstained_out_of_corpus=round(abstained_out / len(s_out), 4),
        threshold=0.0,
        curve=curve,
    )


def format_report(report: EvalReport) -> str:
    """The readable table `qa eval` prints."""
    tuning = min(report.titles, TUNING_ARTICLES)
    lines = [
        f"{report.file}: {report.titles} articles, {report.articles} paragraphs indexed ({report.index}, {report.model})",
        f"tuning = the {tuning} titles that sort first; held-out = the other {report.titles - tuning}",
        "cite@k and ans@1 count an abstention as a miss; rank@k is the ranking behind them, abstention ignored",
        "",
        f"{'split':10} {'questions':>9} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'MRR@10':>7} {'cite@1':>7} {'cite@3':>7} "
        f"{'ans@1':>6} {'abstain':>7} {'rank@1':>7} {'rank@3':>7} {'p50 ms':>7} {'p95 ms':>7}",
    ]
    for name, m in report.splits.items():
        lines.append(
            f"{name:10} {m.questions:9d} {m.recall_at_1:6.3f} {m.recall_at_5:6.3f} {m.recall_at_10:6.3f} {m.mrr_at_10:7.3f} "
            f"{m.cite_at_1:7.3f} {m.cite_at_3:7.3f} {m.ans_at_1:6.3f} {m.abstained:7.3f} {m.ranked_at_1:7.3f} {m.ranked_at_3:7.3f} "
            f"{m.latency_p50_ms:7.1f} {m.latency_p95_ms:7.1f}"
        )
    a = report.abstention
    if a:
        lines += [
            "",
            f"Out of corpus (held-out articles indexed): answers {a.answered_in_corpus:.3f} of {a.in_corpus} in-corpus "
            f"questions, abstains on {a.abstained_out_of_corpus:.3f} of {a.out_of_corpus} out-of-corpus (threshold {a.threshold})",
            f"{'threshold':>10} {'answered in':>12} {'abstained out':>14}",
            *(f"{t:10.2f} {i:12.3f} {o:14.3f}" for t, i, o in a.curve),
        ]
    elif is_server(report.index):
        lines += [
            "",
            "Out of corpus: not measured (a Milvus server holds one index; give --index a folder or a .db file)",
        ]
    if report.unanswerable:
        u = report.unanswerable
        lines += ["", f"Unanswerable (is_impossible): abstained on {u['abstained']:.3f} of {int(u['questions'])}"]
    return "\n".join(lines)
