"""Question sets stored as spans (the probe, the extra training questions): read back from ../shared
into files `qa eval --news` and `fit_ranker.py` take."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from qa._eval_news import NewsSet, load_news
from tests.conftest import SHARED, shared_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import _spans
import fit_ranker
import new_writers
import news_probe


@pytest.mark.parametrize(
    ("spans", "answerable", "out_of_corpus", "followups"),
    [
        (news_probe.PROBE, 50, 15, 8),
        (fit_ranker.EXTRAS[0], 100, 25, 0),
        # Dropped (each set's `about` says which): answers that also stand in another set's
        # article, and out-of-corpus questions that another set, or an earlier list, asks too.
        (fit_ranker.EXTRAS[1], 96, 18, 0),
        (fit_ranker.EXTRAS[2], 50, 12, 0),
        (fit_ranker.EXTRAS[3], 49, 10, 0),
        (fit_ranker.EXTRAS[4], 50, 11, 0),
        # One question dropped: its answer also stands in a near-copy of a probe article.
        (news_probe.UNSEEN[1], 99, 25, 0),
        # Three writers' sets each; each `about` says what was dropped.
        (news_probe.UNSEEN[2], 146, 32, 0),
        (news_probe.UNSEEN[3], 150, 44, 0),
        # Over Reuters: two writers' sets; one repeated out-of-corpus question dropped.
        (news_probe.UNSEEN[4], 50, 15, 0),
    ],
    ids=lambda value: value.stem if isinstance(value, Path) else str(value),
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


def test_the_sets_share_no_article(tmp_path: Path) -> None:
    """The probe and the check sets test what the fit has not seen: no article of one is a
    training article (the dev set's or the extra questions'), and no two sets share one."""
    shared_file(SHARED / "data" / "news" / "bbc_news_2225.jsonl.gz")
    spans = (*news_probe.UNSEEN, *fit_ranker.EXTRAS)
    stored = [load_news(_spans.materialize(s, tmp_path)) for s in spans]
    dev = load_news(shared_file(SHARED / "data" / "news_qa" / "news_dev.json"))

    def articles(news: NewsSet) -> set[str]:
        return {a for c in (*news.cases, *news.followups) for a in c.articles}

    sets = [articles(news) for news in (*stored, dev)]
    for i, one in enumerate(sets):
        assert one and not one & set().union(*sets[:i], *sets[i + 1 :])


def test_no_question_is_asked_by_two_sets() -> None:
    """A question one set asks and another fits on would leak: writers given the same rules
    reach for the same facts (two asked "Which horse won the 2005 Grand National at Aintree?"
    word for word), so repeats are dropped when a set arrives, and this keeps them out."""

    def words(question: str) -> str:
        return " ".join("".join(ch for ch in question.lower() if ch.isalnum() or ch.isspace()).split())

    dev = json.loads(shared_file(SHARED / "data" / "news_qa" / "news_dev.json").read_text(encoding="utf-8"))
    sets = [dev, *(json.loads(s.read_text(encoding="utf-8")) for s in (*news_probe.UNSEEN, *fit_ranker.EXTRAS))]
    seen: dict[str, int] = {}
    for n, spec in enumerate(sets):
        asked = {words(c["q"]) for c in spec["cases"]} | {words(t) for f in spec["followups"] for t in f["turns"]}
        for question in asked:
            assert seen.setdefault(question, n) == n, f"asked by two sets: {question!r}"


def test_new_writers_get_articles_no_set_uses_and_a_whole_brief(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared_file(SHARED / "data" / "news" / "bbc_news_2225.jsonl.gz")
    new_writers.pools(["X", "Y"], 7, tmp_path, answerable=50, ooc=12, hard=4, minutes=40)
    texts = new_writers.corpus()
    same = new_writers.copies(texts)
    used = new_writers.used_articles(texts)
    dealt = {}
    for name in "XY":
        lines = (tmp_path / f"pool{name}.txt").read_text(encoding="utf-8").splitlines()
        dealt[name] = [a for line in lines for a in line.split(": ")[1].split()]
        assert len(lines) == 5 and len(dealt[name]) == 100
        brief = (tmp_path / f"brief{name}.md").read_text(encoding="utf-8")
        assert f"pool{name}.txt" in brief and "50 in all" in brief
        assert not re.search(r"\{[a-z_]+\}", brief), "every placeholder filled"
    for article in dealt["X"] + dealt["Y"]:
        assert not same[article] & used, f"{article} is, or copies, an article a set uses"
    assert not {c for a in dealt["X"] for c in same[a]} & set(dealt["Y"])
    # The writers see every out-of-corpus question already asked (list I's, for one), to avoid.
    assert "Which horse won the 2005 Grand National at Aintree?" in (tmp_path / "taken.txt").read_text(encoding="utf-8")
    # A returned set whose articles a stored set already uses is told to drop them.
    new_writers.check([fit_ranker.EXTRAS[2]])
    assert capsys.readouterr().out.count("drop ") == 50


def test_reuters_writers_get_whole_stories_no_set_uses(tmp_path: Path) -> None:
    shared_file(SHARED / "data" / "news" / "reuters21578.jsonl.gz")
    new_writers.pools(["R8", "R9"], 11, tmp_path, answerable=40, ooc=10, hard=3, minutes=30, source="reuters")
    texts = new_writers.corpus("reuters")
    same = new_writers.copies(texts)
    used = new_writers.used_articles(texts, "reuters")
    # The dev set's and the Reuters check set's articles are used; a BBC id never is.
    assert "reuters-" in next(iter(used)) and len(used) >= 100
    dealt = {}
    for name in ("R8", "R9"):
        [line] = (tmp_path / f"pool{name}.txt").read_text(encoding="utf-8").splitlines()
        dealt[name] = line.split(": ")[1].split()
        assert len(dealt[name]) == 100 and len(set(dealt[name])) == 100
        brief = (tmp_path / f"brief{name}.md").read_text(encoding="utf-8")
        assert "reuters21578.jsonl.gz" in brief and "lists 100 Reuters article ids" in brief
        assert "first 40 articles" in brief and "10 in all" in brief
        assert not re.search(r"\{[a-z_]+\}", brief), "every placeholder filled"
    for article in dealt["R8"] + dealt["R9"]:
        assert not same[article] & used, f"{article} is, or copies, an article a set uses"
        assert len(new_writers.split_sentences(texts[article])) >= new_writers.SENTENCES
    assert not {c for a in dealt["R8"] for c in same[a]} & set(dealt["R9"])
