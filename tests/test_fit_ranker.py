"""The ranker's fitting script: how it weighs SQuAD against readers' questions."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from qa._retrieve import RANK_FEATURES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import fit_ranker


def _question(source: str, coverage: float) -> fit_ranker.Question:
    features = np.zeros((3, len(RANK_FEATURES)))
    features[:, RANK_FEATURES.index("coverage")] = [0.9, coverage, 0.1]
    labels = np.array([False, True, False])
    articles, groups = np.array([0, 0, 1]), np.array([0, 1, 2])
    return fit_ranker.Question("q", "g", source, True, features, labels, np.zeros(3), articles, groups)


def test_answer_coverage_reads_the_answering_candidate() -> None:
    assert fit_ranker.answer_coverage(_question("bbc", 0.25)) == pytest.approx(0.25)


def test_like_news_weighs_squad_by_how_like_readers_questions_it_is() -> None:
    squad = [_question("squad", c) for c in np.linspace(0.0, 1.0, 100)]
    news = [_question("bbc", c) for c in np.linspace(0.0, 0.3, 30)]
    fit_ranker.like_news(squad, news, floor=0.5)
    low = [q.weight for q in squad if fit_ranker.answer_coverage(q) < 0.3]
    high = [q.weight for q in squad if fit_ranker.answer_coverage(q) > 0.5]
    # News answers share few words with their questions: SQuAD's that do too count more.
    assert min(low) > 1.0 and max(high) == pytest.approx(0.5)
    # Weights are a density ratio: over SQuAD they average to about one, floor aside.
    fit_ranker.like_news(squad, news, floor=0.0)
    assert np.mean([q.weight for q in squad]) == pytest.approx(1.0, abs=0.05)
    assert all(q.weight == 0.0 for q in squad if fit_ranker.answer_coverage(q) > 0.5)


def test_like_news_leaves_weights_alone_without_news_answers() -> None:
    squad = [_question("squad", c) for c in (0.2, 0.8)]
    fit_ranker.like_news(squad, [], floor=0.5)
    assert [q.weight for q in squad] == [1.0, 1.0]
    # Weights left by an earlier fit (another fold's) do not linger.
    fit_ranker.like_news(squad, [_question("bbc", 0.1)], floor=0.5)
    assert squad[0].weight != 1.0
    fit_ranker.like_news(squad, [], floor=0.5)
    assert [q.weight for q in squad] == [1.0, 1.0]


def _least_covered_answers(n: int = 40) -> list[fit_ranker.Question]:
    """Questions whose answer is always the candidate sharing the fewest of their words: the
    news writers' rule (at most 3 content words shared with the answer), not how readers ask."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        features = np.zeros((4, len(RANK_FEATURES)))
        coverage = rng.uniform(0.0, 1.0, 4)
        features[:, RANK_FEATURES.index("coverage")] = coverage
        features[:, RANK_FEATURES.index("log_length")] = rng.normal(size=4)
        labels = coverage == coverage.min()
        out.append(
            fit_ranker.Question(f"q{i}", f"g{i}", "bbc", True, features, labels, np.zeros(4), np.zeros(4), np.arange(4))
        )
    return out


def test_the_fit_never_weighs_a_match_against_a_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unconstrained, the fit learns the writers' rule and ranks a sentence lower for holding the
    question's words (on the unseen sets that gains 3 to 4 points; benchmarks/RESULTS.md, History,
    2026-11-29); a reader who uses the article's words would then be answered worse."""
    questions = _least_covered_answers()
    coverage = RANK_FEATURES.index("coverage")
    assert fit_ranker.fit_rank(questions, l2=1.0, weights={}).weights[coverage] == 0.0
    monkeypatch.setattr(fit_ranker, "MONOTONE", tuple(m for m in fit_ranker.MONOTONE if m != "coverage"))
    assert fit_ranker.fit_rank(questions, l2=1.0, weights={}).weights[coverage] < -0.5


def test_the_shipped_ranker_weighs_no_match_against_a_sentence() -> None:
    from qa._ranker import load_ranker

    rank = load_ranker().rank
    weights = dict(zip(rank.features, rank.weights, strict=True))
    assert {name: weights[name] for name in fit_ranker.MONOTONE if weights[name] < 0} == {}


def test_the_refusal_cut_refuses_its_share_half_way_to_the_next_question() -> None:
    values = np.array([4.0, 0.0, 3.0, 1.0, 2.0])
    cut = fit_ranker.refusal_cut(values, 0.8)
    assert cut == 3.5  # refuses 0, 1, 2 and 3; half-way between 3 and 4
    assert (values < cut).mean() == 0.8
    assert fit_ranker.refusal_cut(values, 0.5) == 2.5  # three of five: the share rounds up
    assert fit_ranker.refusal_cut(values, 1.0) == 3.5  # never all: the cut stays below the highest
    assert fit_ranker.refusal_cut(values, 0.0) == 0.0
    assert fit_ranker.refusal_cut(np.array([]), 0.8) is None
    hundred = np.arange(100.0)
    assert (hundred < fit_ranker.refusal_cut(hundred, 0.55)).sum() == 55  # 0.55 * 100 is 55.000...01
