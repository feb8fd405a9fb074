"""The independent news probe: its spans read back into a question file `qa eval --news` takes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from qa._eval_news import load_news
from tests.conftest import SHARED, shared_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import news_probe


def test_the_probe_reads_back_its_answers_from_shared(tmp_path: Path) -> None:
    shared_file(SHARED / "data" / "news" / "bbc_news_2225.jsonl.gz")
    spec = json.loads(news_probe.PROBE.read_text(encoding="utf-8"))
    news = load_news(news_probe.materialize(news_probe.PROBE, tmp_path))
    answerable = [c for c in news.cases if not c.abstain]
    assert (len(answerable), len(news.cases) - len(answerable), len(news.followups)) == (50, 15, 8)
    for case, item in zip(answerable, (c for c in spec["cases"] if not c.get("abstain")), strict=True):
        # Each answer is a phrase of its own article, and every copy of the story counts.
        assert len(case.expect[0].split()) >= 2 and item["article"] in case.articles
    assert sum(len(c.articles) > 1 for c in answerable) >= 5, "BBC's near-duplicate stories are listed"
    stored = [*spec["cases"], *spec["followups"]]
    assert not any({"expect", "answer_sentence"} & set(item) for item in stored), "spans only, no article text"
