"""Date and source filters and the recency preference, through `Engine.ask` with the real model."""

from __future__ import annotations

import numpy as np
import pytest

from qa import Engine, InvalidFilterError
from qa._filters import ArticleFilters
from qa._types import Article
from tests.conftest import ACME, PLANET


def test_unfiltered_the_wire_stories_fill_the_best_articles(dated_engine: Engine) -> None:
    answer, retrieval = dated_engine.ask_with_retrieval(ACME)
    assert not answer.abstained and "Alice Smith" in answer.citations[0].sentence
    assert all(c.source == "Wire" for c in answer.citations)
    # The Planet story is not among the best five articles: trimming this answer (or these
    # candidates) to Daily Planet afterwards would leave nothing to answer from.
    assert "planet.md" not in retrieval.passages[:5]


@pytest.mark.parametrize(
    "filters",
    [
        {"sources": ["Daily Planet"]},
        {"sources": ["daily planet", "  "]},  # any case; blanks ignored
        {"since": "2025-01-01"},
        {"since": "Sat, 01 Mar 2025 00:00:00 GMT", "until": "2025-03-04"},  # the day of `until` counts whole
        {"until": "2025-12-31", "sources": ["DAILY PLANET"]},
    ],
)
def test_filters_act_inside_retrieval(dated_engine: Engine, filters: dict[str, object]) -> None:
    answer = dated_engine.ask(ACME, **filters)  # type: ignore[arg-type]
    assert not answer.abstained, "the matching story answers; it is not abstained for want of candidates"
    first = answer.citations[0]
    assert first.sentence == PLANET and first.article_id == "planet.md"
    assert (first.date, first.source) == ("2025-03-04T09:30:00+00:00", "Daily Planet")
    assert {c.article_id for c in answer.citations} == {"planet.md"}


def test_a_date_range_keeps_only_its_articles(dated_engine: Engine) -> None:
    answer = dated_engine.ask(ACME, since="2024-01-13", until="13-JAN-2024", top=5)
    assert {c.article_id for c in (*answer.citations, *answer.nearest)} == {"wire-3"}
    # ISO 8601's basic form names a day too: until takes in all of it (wire-3 is dated 09:03).
    basic = dated_engine.ask(ACME, since="20240113", until="20240113", top=5)
    assert {c.article_id for c in (*basic.citations, *basic.nearest)} == {"wire-3"}
    # An undated article (cup.md's date was unreadable) is in no date range, but a source filter keeps it.
    cup = dated_engine.ask("Who won the cup final?", sources=["Daily Planet"])
    assert cup.citations[0].article_id == "cup.md" and cup.citations[0].date is None
    dated = dated_engine.ask("Who won the cup final?", since="2020-01-01", top=5)
    assert "cup.md" not in {c.article_id for c in (*dated.citations, *dated.nearest)}


def test_recency_changes_which_of_two_similar_stories_answers(dated_engine: Engine) -> None:
    assert "Alice Smith" in dated_engine.ask(ACME).citations[0].sentence
    recent = dated_engine.ask(ACME, recency_days=30)
    assert recent.citations[0].sentence == PLANET
    # A half-life of ten years barely separates stories fourteen months apart.
    assert "Alice Smith" in dated_engine.ask(ACME, recency_days=3650).citations[0].sentence
    # Within a date range, the newest matching story is the reference: the later Wire story wins.
    january = dated_engine.ask("Who will lead Acme Corp?", until="2024-01-31", recency_days=0.5)
    assert january.citations[0].article_id == "wire-6"


def test_follow_ups_keep_the_filters(dated_engine: Engine) -> None:
    answer = dated_engine.ask("Where does he join from?", history=[ACME], sources=["Daily Planet"])
    # "he" is the man the filtered first answer named (Daily Planet's Bob Jones, not Wire's Alice Smith).
    assert answer.query == "Where does he join from? Acme Corp Bob Jones"
    assert answer.citations[0].sentence == "Jones joins from a rival maker of rockets."


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"since": "last Tuesday"}, "since: date 'last Tuesday' is not understood; write it as ISO 8601"),
        ({"until": "2025-02-30"}, "until: date '2025-02-30' is not understood"),
        ({"since": "2025-03-05", "until": "2025-03-04"}, "since is after until"),
        ({"sources": ["The Times"]}, "no article has source 'The Times'; the index's sources are Daily Planet, Wire"),
        ({"sources": [3]}, "sources must be a list of source names, not \\[3\\]$"),
        ({"sources": ["", " "]}, 'sources \\["", " "\\] names no source; name one, or leave sources out for all'),
        ({"since": "2030-01-01"}, "no article matches these filters \\(the index's articles are dated 2024-01-11 to 2025-03-04\\)"),
        ({"recency_days": 0}, "recency_days must be a positive number"),
        ({"recency_days": "soon"}, 'recency_days must be a positive number .*, not "soon"$'),
        ({"recency_days": True}, "recency_days must be a positive number of days \\(a half-life\\), not true$"),
    ],
)  # fmt: skip
def test_bad_filters_are_one_clear_error(dated_engine: Engine, filters: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidFilterError, match=message):
        dated_engine.ask(ACME, **filters)  # type: ignore[arg-type]


def test_recency_needs_a_dated_article(engine: Engine) -> None:
    with pytest.raises(InvalidFilterError, match="recency needs dated articles"):
        engine.ask("what guarantees did Russia demand?", recency_days=7)
    with pytest.raises(InvalidFilterError, match="no article of the index names its source"):
        engine.ask("what guarantees did Russia demand?", sources=["Wire"])


def test_selection_weights_halve_per_half_life() -> None:
    articles = [
        Article("a", "A", "x", date="2025-03-10"),
        Article("b", "B", "x", date="2025-03-03T00:00:00+00:00"),
        Article("c", "C", "x"),  # undated: as old as the oldest dated one
        Article("d", "D", "x", date="2025-02-24", source="Wire"),
    ]
    filters = ArticleFilters(articles)
    selection = filters.select(recency_days=7)
    assert selection.allowed is None and selection.weight is not None
    assert np.allclose(selection.weight, [1.0, 0.5, 0.25, 0.25])
    only_wire = filters.select(sources=["wire"])
    assert only_wire.allowed is not None and only_wire.allowed.tolist() == [False, False, False, True]
    assert filters.select().allowed is None and filters.select().weight is None
