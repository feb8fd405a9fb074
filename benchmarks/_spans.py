"""Question sets stored as spans into ../shared's articles, read back into news_dev.json's format.

`benchmarks/news_probe.json`, `news_check.json`, `news_check_fgh.json` and `news_check_ijk.json`
(checks, never fitted on) and `benchmarks/news_train.json`, `news_train_b.json` to
`news_train_e.json` (extra training questions for `fit_ranker.py`) were written here, by helper
sessions that saw only the articles. They hold no article text: each expected answer is
`expect_at`, character offsets into its article's text, so the repository copies nothing of the
corpus.
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path
from typing import Any

from _results import SHARED

from qa import QAError


@functools.cache
def texts_of(corpus: Path) -> dict[str, str]:
    """Each article's text by id, from a ../shared corpus file (read once a process: every set
    over one corpus reads the same articles)."""
    with gzip.open(corpus, "rt", encoding="utf-8") as lines:
        return {record["id"]: record["text"] for record in map(json.loads, lines)}


@functools.cache
def _dev_corpora() -> dict[str, str]:
    corpora: dict[str, str] = json.loads((SHARED / "news_qa" / "news_dev.json").read_text(encoding="utf-8"))["corpora"]
    return corpora


def corpus_name(spans: Path) -> str:
    """The name news_dev.json gives the corpus the set at `spans` asks about ("bbc", "reuters")."""
    return _named(json.loads(spans.read_text(encoding="utf-8"))["corpus"], spans)


def _named(corpus: str, spans: Path) -> str:
    names = [name for name, path in _dev_corpora().items() if path == corpus]
    if not names:
        raise QAError(f"{spans}: corpus {corpus!r} is none of news_dev.json's ({', '.join(_dev_corpora())})")
    return names[0]


def materialize(spans: Path, folder: Path, name: str | None = None) -> Path:
    """The set at `spans` as a question file in news_dev.json's format, written in `folder`: each
    expected answer read from its article's span, and every article of the corpus holding it
    listed (copies of a story count). The corpus is named `name` in it (by default as
    news_dev.json names it)."""
    spec = json.loads(spans.read_text(encoding="utf-8"))
    corpus = SHARED / Path(spec["corpus"]).relative_to("data")
    texts = texts_of(corpus)
    name = name or _named(spec["corpus"], spans)

    def answer(item: dict[str, Any]) -> dict[str, Any]:
        start, end = item["expect_at"]
        expect = texts[item["article"]][start:end]
        if not expect.strip():
            raise QAError(f"{spans}: {item['article']} has no text at {start}:{end}; is ../shared the expected copy?")
        return {"expect": [expect], "articles": sorted(a for a, text in texts.items() if expect in text)}

    cases = [
        {"corpus": name, **case} if case.get("abstain") else {"corpus": name, "q": case["q"], **answer(case)}
        for case in spec["cases"]
    ]
    followups = [{"corpus": name, "turns": f["turns"], **answer(f)} for f in spec.get("followups", [])]
    path = folder / spans.name
    questions = {"about": spec["about"], "corpora": {name: str(corpus)}, "cases": cases, "followups": followups}
    path.write_text(json.dumps(questions, ensure_ascii=False), encoding="utf-8")
    return path
