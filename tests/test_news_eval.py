"""`qa eval --news`: a news question file read with its corpora, asked as a user asks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qa import Engine, QAError, build_index
from qa._eval_news import evaluate_news, format_news, load_news
from tests.conftest import SEED, write_news_set


@pytest.fixture
def news_file(tmp_path: Path) -> Path:
    return write_news_set(tmp_path)


def test_load_news_finds_the_corpora_above_the_file(news_file: Path) -> None:
    news = load_news(news_file)
    assert news.corpora == {"seed": str(news_file.parents[1] / "news" / "seed.jsonl")}
    assert [c.abstain for c in news.cases] == [False, True]
    assert news.followups[0].turns[1] == "Which outlet did he tell that to?"


def test_evaluate_news_counts_what_a_user_sees(news_file: Path, tmp_path: Path) -> None:
    report = evaluate_news(news_file, index=tmp_path / "index")
    m = report.corpora["seed"]
    assert (m.articles, m.questions, m.out_of_corpus, m.followups) == (1, 1, 1, 1)
    assert m.answered["@1"] <= m.answered["@2"] <= m.answered["@3"]
    assert m.answered["@3"] == 1.0, "the Izvestia sentence is among the three cited"
    assert m.ranking["@50"] == 1.0 and m.article_at["@1"] == 1.0
    assert m.abstained_out_of_corpus == 1.0, "nothing in the seed article mentions an iPhone"
    assert m.followups_answered["@3"] == 1.0
    assert m.duplicate_citations == 0
    text = format_news(report)
    assert "an abstention is a miss" in text and "seed" in text


def test_unknown_corpus_and_bad_file_are_one_line_errors(news_file: Path, tmp_path: Path) -> None:
    with pytest.raises(QAError, match="has no corpus 'bbc'"):
        evaluate_news(news_file, ["bbc"], index=tmp_path / "index")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(QAError, match="cannot read news question file"):
        load_news(bad)


def test_eval_never_replaces_an_index_of_another_corpus(news_file: Path, tmp_path: Path) -> None:
    """`--index` at someone's index (`qa serve` may be answering from it) is refused, not rebuilt."""
    theirs = tmp_path / "index"
    build_index(SEED.parent, theirs)  # the seed folder: another corpus than the question file's JSONL
    current = (theirs / "CURRENT").read_text()
    with pytest.raises(QAError, match=r"holds the index of another corpus .*give --index a new folder"):
        evaluate_news(news_file, index=theirs)
    cli = subprocess.run(
        [sys.executable, "-m", "qa", "eval", "--news", str(news_file), "--index", str(theirs)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert cli.returncode == 1 and cli.stderr.startswith("qa: error: ") and "Traceback" not in cli.stderr
    assert (theirs / "CURRENT").read_text() == current
    engine = Engine(theirs, reload_every=None)
    assert engine.summary().articles == 1 and engine.ask("what guarantees did Russia demand?").citations


def test_an_index_named_in_the_eval_cache_is_asked_with_the_model_that_built_it(
    news_file: Path, eval_cache: Path
) -> None:
    """`qa eval --news F --index DIR` on an all-mpnet-base-v2 index in qa eval's cache asked the
    bundled model instead: the cache rebuilt DIR with the default model."""
    from qa._embed import bundled_model_path

    folder = str(bundled_model_path())  # the same weights under another name: another model to the manifest
    cached = eval_cache / "named"
    build_index(load_news(news_file).corpora["seed"], cached, model=folder)
    built = (cached / "CURRENT").read_text()
    report = evaluate_news(news_file, index=cached)
    assert report.model == folder and (cached / "CURRENT").read_text() == built
    assert report.corpora["seed"].answered["@3"] == 1.0


def test_cli_eval_news_json(news_file: Path, tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "qa",
        "eval",
        "--news",
        str(news_file),
        "--corpus",
        "seed",
        "--index",
        str(tmp_path / "i"),
    ]
    result = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["corpora"]["seed"]["questions"] == 1
    both = subprocess.run([*cmd, "--squad", str(news_file)], capture_output=True, text=True, timeout=600)
    assert both.returncode != 0 and "one of --squad FILE or --news FILE" in both.stderr
