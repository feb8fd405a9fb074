"""The news dev set on a real index of all of BBC News: what a reader sees, end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa._corpus import read_articles
from qa._eval import corpus_engine
from qa._eval_news import evaluate_corpus, load_news
from qa._retrieve import repeats
from tests.conftest import SHARED, shared_file

NEWS_DEV = SHARED / "data" / "news_qa" / "news_dev.json"


@pytest.mark.slow
def test_bbc_answers_paraphrased_questions_cites_copies_once_and_refuses_the_rest(tmp_path: Path) -> None:
    news = load_news(shared_file(NEWS_DEV))
    articles = read_articles(Path(news.corpora["bbc"]))
    engine = corpus_engine(articles, tmp_path / "index", progress=False)
    texts = {a.id: a.text for a in articles}
    m = evaluate_corpus(engine, news, "bbc")
    # The shipped ranker was fitted on these questions (out of fold it answers 0.38 / 0.54 /
    # 0.65, benchmarks/RESULTS.md): this guards against regressions, it does not measure.
    assert m.answered["@2"] >= 0.5 and m.answered["@3"] >= 0.6, m
    assert m.ranking["@3"] >= 0.7 and m.article_at["@8"] >= 0.95, m
    assert m.abstained_out_of_corpus >= 0.8, m
    assert m.followups_answered["@2"] >= 0.6, m
    assert m.duplicate_citations == 0
    # Every citation is verbatim, and copies of a story are cited once and counted.
    copies = 0
    for case in news.cases:
        if case.corpus != "bbc":
            continue
        answer = engine.ask(case.question)
        shown = answer.citations or answer.nearest
        # No two shown are one sentence: copies, or a wire's retelling of it.
        assert not repeats([c.sentence for c in shown])
        for c in shown:
            assert texts[c.article_id][c.start : c.end] == c.sentence
            copies += c.copies > 1
    assert copies > 0, "BBC holds copies of stories; some cited sentence should say so"
    refused = engine.ask("How much did Apple charge for the first iPhone when it went on sale in the US?")
    assert refused.abstained and not refused.citations and refused.nearest
