"""`qa eval` on a small SQuAD-format file with the real model: figures, held-out split, abstention."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from qa import QAError
from qa._eval import CURVE, TUNING_ARTICLES, evaluate, format_report, held_out_index, load_squad
from tests.conftest import SEED

TOPICS = [
    (
        "Volcano",
        "Mount Etna erupted in 2021, sending ash over Catania. Lava flows reached three kilometres.",
        "When did Mount Etna erupt?",
        "2021",
    ),
    (
        "Bakery",
        "The bakery on Elm Street sells sourdough bread. Its owner, Maria Lopez, opened it in 1998.",
        "Who owns the bakery on Elm Street?",
        "Maria Lopez",
    ),
    (
        "Satellite",
        "The Sentinel-6 satellite measures sea level from orbit. It was launched from California.",
        "What does the Sentinel-6 satellite measure?",
        "sea level",
    ),
]


def squad_file(tmp_path: Path, impossible: bool = False) -> Path:
    """TUNING_ARTICLES + 3 articles, one paragraph and one answerable question each."""
    data = []
    for i in range(TUNING_ARTICLES + len(TOPICS)):
        title, context, question, answer = TOPICS[i % len(TOPICS)]
        title = f"{chr(65 + i // 26)}{chr(65 + i % 26)}_{title}"
        place = f"Zorvak{i}"  # a name only this article and its question share
        context = f"In {place}: {context}"
        question = question.replace("?", f" in {place}?")
        qas = [
            {"id": f"q{i}", "question": question, "answers": [{"text": answer, "answer_start": context.index(answer)}]}
        ]
        if impossible:
            qas.append(
                {
                    "id": f"x{i}",
                    "question": "What is the melting point of tungsten?",
                    "answers": [],
                    "is_impossible": True,
                }
            )
        data.append({"title": title, "paragraphs": [{"context": context, "qas": qas}]})
    path = tmp_path / "squad.json"
    path.write_text(json.dumps({"version": "1.1", "data": data}), encoding="utf-8")
    return path


def test_load_squad_marks_the_tuning_articles(tmp_path: Path) -> None:
    squad = load_squad(squad_file(tmp_path))
    assert len(squad.articles) == TUNING_ARTICLES + 3 and squad.titles == TUNING_ARTICLES + 3
    assert sum(q.tuning for q in squad.questions) == TUNING_ARTICLES
    q = squad.questions[0]
    text = next(a.text for a in squad.articles if a.id == q.article_id)
    assert text[q.spans[0][0] : q.spans[0][1]] == q.answers[0]
    with pytest.raises(QAError, match="cannot read SQuAD file"):
        load_squad(tmp_path / "missing.json")


def test_evaluate_reports_every_figure_and_reuses_its_index(tmp_path: Path) -> None:
    path = squad_file(tmp_path, impossible=True)
    index = tmp_path / "index"
    report = evaluate(path, index)
    assert set(report.splits) == {"held-out", "tuning", "all"}
    assert report.splits["held-out"].questions == 3 and report.splits["all"].questions == TUNING_ARTICLES + 3
    everything = report.splits["all"]
    for value in (everything.recall_at_1, everything.cite_at_1, everything.cite_at_3, everything.ans_at_1):
        assert 0.0 <= value <= 1.0
    assert everything.recall_at_10 >= everything.recall_at_5 >= everything.recall_at_1
    assert everything.cite_at_3 >= everything.cite_at_1 > 0.3
    assert everything.latency_p95_ms >= everything.latency_p50_ms > 0
    assert report.abstention is not None and len(report.abstention.curve) == len(CURVE)
    assert report.abstention.in_corpus == 3 and report.abstention.out_of_corpus == TUNING_ARTICLES
    assert report.unanswerable["questions"] == TUNING_ARTICLES + 3
    built = (index / "CURRENT").read_text()
    again = evaluate(path, index).splits["all"]
    # Same index, same answers: every quality figure repeats (latencies do not).
    assert (again.recall_at_1, again.mrr_at_10, again.cite_at_1, again.cite_at_3, again.ans_at_1, again.abstained) == (
        everything.recall_at_1, everything.mrr_at_10, everything.cite_at_1, everything.cite_at_3,
        everything.ans_at_1, everything.abstained,
    )  # fmt: skip
    assert (index / "CURRENT").read_text() == built, "the second run reuses the index"
    text = format_report(report)
    assert f"tuning = the {TUNING_ARTICLES} titles that sort first; held-out = the other 3" in text
    # A file with fewer titles than the tuning half holds no held-out ones, not a negative count.
    assert "tuning = the 5 titles that sort first; held-out = the other 0" in format_report(replace(report, titles=5))
    # A Milvus server holds one index, so the held-out articles cannot be indexed beside it.
    assert held_out_index("http://127.0.0.1:19530") is None
    served = format_report(replace(report, index="http://127.0.0.1:19530", abstention=None))
    assert "Out of corpus: not measured (a Milvus server holds one index" in served
    assert held_out_index("/x/qa.db") == "/x/qa-heldout.db" and held_out_index(index) == tmp_path / "index-heldout"


def test_cli_eval_json(tmp_path: Path) -> None:
    path = squad_file(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "qa", "eval", "--squad", str(path), "--index", str(tmp_path / "i"), "--json", "--limit", "9"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["splits"]["all"]["questions"] == 9
    assert "Asking" in result.stderr  # the progress bar


def test_the_eval_cache_rebuilds_an_index_of_another_model_and_keeps_an_operators(
    tmp_path: Path, eval_cache: Path
) -> None:
    from qa._corpus import read_corpus
    from qa._embed import DEFAULT_MODEL, bundled_model_path
    from qa._eval import corpus_engine

    articles = list(read_corpus(SEED.parent).articles)
    folder = str(bundled_model_path())  # the same weights under another name: another model to the manifest
    cached = eval_cache / "test-model"
    engine = corpus_engine(articles, cached, False)
    assert engine.index.manifest.model == DEFAULT_MODEL
    engine.close()
    engine = corpus_engine(articles, cached, False, model=folder)
    assert engine.index.manifest.model == folder  # rebuilt: the cache follows the model asked for
    engine.close()
    own = tmp_path / "own"
    corpus_engine(articles, own, False).close()
    engine = corpus_engine(articles, own, False, model=folder)
    assert engine.index.manifest.model == DEFAULT_MODEL  # someone's own index is evaluated as built
    engine.close()


def test_an_index_named_with_index_is_measured_with_the_model_that_built_it(tmp_path: Path, eval_cache: Path) -> None:
    """`qa eval --squad F --index DIR` on an all-mpnet-base-v2 index in qa eval's cache measured
    the bundled model instead: the cache rebuilt DIR and its held-out sibling with the default.
    Outside the cache, a held-out sibling an earlier run made with another model was reused."""
    from qa._embed import DEFAULT_MODEL, bundled_model_path
    from qa._eval import corpus_engine
    from qa._stores import open_store

    path = squad_file(tmp_path)
    squad = load_squad(path)
    folder = str(bundled_model_path())  # the same weights under another name: another model to the manifest
    tuning = {q.article_id for q in squad.questions if q.tuning}
    held_out = [a for a in squad.articles if a.id not in tuning]
    for named in (eval_cache / "named", tmp_path / "own"):
        sibling = held_out_index(named)
        assert isinstance(sibling, Path)
        corpus_engine(squad.articles, named, False, model=folder).close()
        corpus_engine(held_out, sibling, False, model=DEFAULT_MODEL).close()  # as an earlier run left it
        built = (named / "CURRENT").read_text()
        report = evaluate(path, named)
        assert report.model == folder and (named / "CURRENT").read_text() == built, named
        assert report.abstention is not None and report.abstention.in_corpus == 3
        held = open_store(sibling).read_manifest()
        assert held.model == folder, "the held-out articles are indexed with the named index's model"


def test_the_eval_cache_rebuilds_an_index_split_the_old_way_and_keeps_an_operators(
    tmp_path: Path, eval_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa import _chunk
    from qa._corpus import read_corpus
    from qa._eval import corpus_engine
    from qa._segment import SEGMENTER

    articles = list(read_corpus(SEED.parent).articles)
    cached, own = eval_cache / "test-segmenter", tmp_path / "own"
    with monkeypatch.context() as patch:
        patch.setattr(_chunk, "SEGMENTER", "pysbd-0.3.4")  # as qa split before it joined rests
        corpus_engine(articles, cached, False).close()
        corpus_engine(articles, own, False).close()
    engine = corpus_engine(articles, cached, False)
    assert engine.index.manifest.chunking["segmenter"] == SEGMENTER  # rebuilt
    engine.close()
    engine = corpus_engine(articles, own, False)
    assert engine.index.manifest.chunking["segmenter"] == "pysbd-0.3.4"  # someone's own index is kept
    engine.close()
