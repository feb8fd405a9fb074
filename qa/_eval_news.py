"""`qa eval --news`: answer quality on news questions asked in a reader's own words.

The file (`news_dev.json` and the held-out set written the same way) names its corpora by paths
relative to the data folder it ships in. Each corpus is indexed whole, every question is asked
through `Engine.ask` as a user asks it, and figures count what a user sees: an abstention is a
miss, and a citation answers only if it holds one of the case's expected substrings.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ._build import index_model, shown
from ._corpus import read_articles
from ._engine import Engine
from ._errors import QAError
from ._eval import CACHE, corpus_engine
from ._retrieve import repeats
from ._types import Answer

RANKING_DEPTHS = (1, 2, 3, 10, 20, 50)
SHOWN = 3  # citations an answer shows, as `qa ask` and the UI do by default


@dataclass(frozen=True)
class NewsCase:
    """One question: answerable (`expect` substrings, `articles` holding them) or not (`abstain`)."""

    corpus: str
    question: str
    expect: tuple[str, ...]
    articles: tuple[str, ...]
    abstain: bool
    kind: str = ""


@dataclass(frozen=True)
class FollowUp:
    """Two turns; the second leans on the first and is answered by `expect`."""

    corpus: str
    turns: tuple[str, ...]
    expect: tuple[str, ...]
    articles: tuple[str, ...]


@dataclass(frozen=True)
class NewsSet:
    """A news question file: its corpora (name -> path), cases and follow-ups."""

    file: str
    corpora: dict[str, str]
    cases: tuple[NewsCase, ...]
    followups: tuple[FollowUp, ...]


@dataclass(frozen=True)
class NewsMetrics:
    """What users see on one corpus, and the ranking behind it."""

    corpus: str
    articles: int
    questions: int
    answered: dict[str, float]  # "@1", "@2", "@3": not abstained and a shown citation holds an answer
    ranking: dict[str, float]  # "@k": the right sentence among the best k candidates, abstention ignored
    article_at: dict[str, float]  # "@1", "@8": a right article among the best k ranked
    abstained_in_corpus: float
    duplicate_citations: int  # answers citing one sentence twice (copies or a retelling: `repeats`)
    out_of_corpus: int
    abstained_out_of_corpus: float
    followups: int
    followups_answered: dict[str, float]  # "@1", "@2", "@3" for the second turn
    latency_p50_ms: float
    latency_p95_ms: float


@dataclass(frozen=True)
class NewsReport:
    """Everything `qa eval --news` measured, per corpus."""

    file: str
    model: str
    corpora: dict[str, NewsMetrics]


def load_news(path: str | Path) -> NewsSet:
    """Read a news question file and find its corpora next to it (paths relative to a parent folder)."""
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        corpora_rel: dict[str, str] = dict(data["corpora"])
        cases = tuple(
            NewsCase(
                corpus=c["corpus"],
                question=c["q"],
                expect=tuple(c.get("expect", ())),
                articles=tuple(c.get("articles", ())),
                abstain=bool(c.get("abstain", False)),
                kind=str(c.get("kind", "")),
            )
            for c in data["cases"]
        )
        followups = tuple(
            FollowUp(
                corpus=f["corpus"], turns=tuple(f["turns"]), expect=tuple(f["expect"]), articles=tuple(f["articles"])
            )
            for f in data.get("followups", ())
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise QAError(
            f"cannot read news question file {str(file)!r} ({exc}); pass a file like shared/data/news_qa/news_dev.json"
        ) from exc
    corpora = {name: str(_find(file, rel)) for name, rel in corpora_rel.items()}
    return NewsSet(str(file), corpora, cases, followups)


def _find(file: Path, rel: str) -> Path:
    for folder in file.resolve().parents:
        if (folder / rel).is_file():
            return folder / rel
    raise QAError(f"{file}: corpus file {rel!r} not found in any folder above it; keep the file inside its data folder")


def default_index(corpus_file: str | Path) -> Path:
    """Where `qa eval --news` keeps a corpus file's index between runs."""
    digest = hashlib.sha256(Path(corpus_file).read_bytes()).hexdigest()[:12]
    name = Path(corpus_file).name.split(".")[0]
    return CACHE / f"news-{name}-{digest}"


def holds(texts: Sequence[str], expect: Sequence[str]) -> list[bool]:
    """For each text, whether it holds any expected substring."""
    return [any(e in t for e in expect) for t in texts]


def _answered(answer: Answer, expect: Sequence[str]) -> dict[str, bool]:
    ok = [] if answer.abstained else holds([c.sentence for c in answer.citations], expect)
    return {f"@{k}": any(ok[:k]) for k in (1, 2, 3)}


def _duplicated(answer: Answer) -> bool:
    return repeats([c.sentence for c in answer.citations])


def evaluate_corpus(
    engine: Engine, news: NewsSet, corpus: str, limit: int | None = None, progress: bool = False
) -> NewsMetrics:
    """Ask every case and follow-up of `corpus` through `engine` and measure what a user sees."""
    cases = [c for c in news.cases if c.corpus == corpus]
    answerable = [c for c in cases if not c.abstain][:limit]
    unanswerable = [c for c in cases if c.abstain][:limit]
    followups = [f for f in news.followups if f.corpus == corpus][:limit]
    answered: list[dict[str, bool]] = []
    ranked: list[int | None] = []
    article_rank: list[int | None] = []
    seconds: list[float] = []
    duplicates = abstained_in = 0
    for case in answerable:
        # Steady-state latency: a first pass reads the index's memory-mapped token codes from
        # disk (a p95 of 242 ms against 11 ms on BBC right after a build).
        engine.ask(case.question, top=SHOWN)
    for case in tqdm(answerable, desc=f"{corpus}: asking", unit="question", **shown(progress)):
        start = time.perf_counter()
        answer, retrieval = engine.ask_with_retrieval(case.question, top=SHOWN, depth=max(RANKING_DEPTHS))
        seconds.append(time.perf_counter() - start)
        answered.append(_answered(answer, case.expect))
        abstained_in += answer.abstained
        duplicates += _duplicated(answer)
        hits = holds([h.article.text[h.start : h.end] for h in retrieval.hits], case.expect)
        ranked.append(hits.index(True) + 1 if True in hits else None)
        right = [i for i, a in enumerate(retrieval.passages, 1) if a in case.articles]
        article_rank.append(right[0] if right else None)
    refused = [
        engine.ask(c.question, top=SHOWN).abstained
        for c in tqdm(unanswerable, desc=f"{corpus}: out of corpus", unit="question", **shown(progress))
    ]
    follow: list[dict[str, bool]] = []
    for f in tqdm(followups, desc=f"{corpus}: follow-ups", unit="question", **shown(progress)):
        history = list(f.turns[:-1])
        follow.append(_answered(engine.ask(f.turns[-1], top=SHOWN, history=history), f.expect))

    def share(values: Sequence[bool]) -> float:
        return round(sum(values) / len(values), 4) if values else 0.0

    latencies = np.array(seconds or [0.0]) * 1000
    return NewsMetrics(
        corpus=corpus,
        articles=len(engine.index.articles),
        questions=len(answerable),
        answered={k: share([a[k] for a in answered]) for k in ("@1", "@2", "@3")},
        ranking={f"@{k}": share([r is not None and r <= k for r in ranked]) for k in RANKING_DEPTHS},
        article_at={f"@{k}": share([r is not None and r <= k for r in article_rank]) for k in (1, 8)},
        abstained_in_corpus=round(abstained_in / max(len(answerable), 1), 4),
        duplicate_citations=duplicates,
        out_of_corpus=len(refused),
        abstained_out_of_corpus=share(refused),
        followups=len(follow),
        followups_answered={k: share([a[k] for a in follow]) for k in ("@1", "@2", "@3")},
        latency_p50_ms=round(float(np.percentile(latencies, 50)), 2),
        latency_p95_ms=round(float(np.percentile(latencies, 95)), 2),
    )


def evaluate_news(
    path: str | Path,
    corpora: Sequence[str] = (),
    index: str | Path | None = None,
    limit: int | None = None,
    progress: bool = False,
) -> NewsReport:
    """Measure a news question file on each named corpus (all of the file's, if none are named)."""
    news = load_news(path)
    names = list(corpora) or sorted(news.corpora)
    unknown = [n for n in names if n not in news.corpora]
    if unknown:
        raise QAError(f"{path} has no corpus {unknown[0]!r}; it names {', '.join(sorted(news.corpora))}")
    if index is not None and len(names) > 1:
        raise QAError("--index holds one corpus; name it with --corpus")
    results: dict[str, NewsMetrics] = {}
    model = ""
    # An index named with --index is measured with the model that built it (as `evaluate` does).
    asked = index_model(index) if index else None
    for name in names:
        file = news.corpora[name]
        articles = read_articles(Path(file))
        engine = corpus_engine(articles, index or default_index(file), progress, model=asked)
        model = engine.index.manifest.model
        results[name] = evaluate_corpus(engine, news, name, limit, progress)
    return NewsReport(str(path), model, results)


def format_news(report: NewsReport) -> str:
    """The tables `qa eval --news` prints (Markdown, so they paste into RESULTS.md as they are)."""
    lines = [
        f"{report.file} ({report.model}); an abstention is a miss",
        "",
        "| corpus | articles | questions | answered@1 / @2 / @3 | abstained | duplicate answers "
        "| out-of-corpus refused | follow-ups @2 | p50 ms | p95 ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for m in report.corpora.values():
        a = m.answered
        lines.append(
            f"| {m.corpus} | {m.articles} | {m.questions} | {a['@1']:.3f} / {a['@2']:.3f} / {a['@3']:.3f} | "
            f"{m.abstained_in_corpus:.3f} | {m.duplicate_citations} | {m.abstained_out_of_corpus:.3f} of {m.out_of_corpus} | "
            f"{m.followups_answered['@2']:.3f} of {m.followups} | {m.latency_p50_ms:.1f} | {m.latency_p95_ms:.1f} |"
        )
    lines += [
        "",
        "Ranking behind it (abstention ignored): the right sentence among the best k candidates; the right article at 1 / 8",
        "",
        "| corpus | " + " | ".join(f"@{k}" for k in RANKING_DEPTHS) + " | article@1 | article@8 |",
        "| --- " * (len(RANKING_DEPTHS) + 3) + "|",
    ]
    for m in report.corpora.values():
        cells = " | ".join(f"{m.ranking[f'@{k}']:.3f}" for k in RANKING_DEPTHS)
        lines.append(f"| {m.corpus} | {cells} | {m.article_at['@1']:.3f} | {m.article_at['@8']:.3f} |")
    return "\n".join(lines)
