"""Question sets stored as spans (the probe, the extra training questions): read back from ../shared
into files `qa eval --news` and `fit_ranker.py` take."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from qa._eval_news import NewsSet, load_news
from tests.conftest import SHARED, shared_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import _spans
import fit_ranker
import news_probe


@pytest.mark.parametrize(
    ("spans", "answerable", "out_of_corpus", "followups"),
    [(news_probe.PROBE, 50, 15, 8), (fit_ranker.EXTRA, 100, 25, 0)],
)
def test_a_span_set_reads_back_its_answers_from_shared(
    spans: Path, answerable: int, out_of_corpus: int, followups: int, tmp_path: Path
) -> None:
    shared_file(SHARED / "data" / "news" / "bbc_news_2225.jsonl.gz")
    spec = json.loads(spans.read_text(encoding="utf-8"))
    news = load_news(_spans.materialize(spans, tmp_path))
    cases = [c for c in news.cases if not c.abstain]
    assert (len(cases), len(news.cases) - len(cases), len(news.followups)) == (answerable, out_of_corpus, followups)
    for case, item in zip(cases, (c for c in spec["cases"] if not c.get("abstain")), strict=True):
        # Each answer is a phrase of its own article, and every copy of the story counts.
        assert len(case.expect[0].split()) >= 2 and item["article"] in case.articles
    stored = [*spec["cases"], *spec["followups"]]
    assert not any({"expect", "answer_sentence"} & set(item) for item in stored), "spans only, no article text"


def test_the_probe_and_the_training_questions_share_no_article(tmp_path: Path) -> None:
    """The probe checks what the fit has not seen: no article of it is a training article."""
    shared_file(SHARED / "data" / "news" / "bbc_news_2225.jsonl.gz")
    probe, extra = (load_news(_spans.materialize(s, tmp_path)) for s in (news_probe.PROBE, fit_ranker.EXTRA))
    dev = load_news(shared_file(SHARED / "data" / "news_qa" / "news_dev.json"))

    def articles(news: NewsSet) -> set[str]:
        return {a for c in (*news.cases, *news.followups) for a in c.articles}

    assert not articles(probe) & (articles(extra) | articles(dev))
