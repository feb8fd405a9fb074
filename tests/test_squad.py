"""The citation invariant and a quality floor over a real index of all SQuAD v1.1 dev paragraphs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa import Engine, build_index
from tests.conftest import SQUAD_V1, shared_file, squad_articles


@pytest.fixture(scope="module")
def squad(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, list[dict[str, str]], Path]:
    articles = squad_articles()
    corpus = tmp_path_factory.mktemp("squad") / "corpus"
    corpus.mkdir()
    with open(corpus / "squad.jsonl", "w", encoding="utf-8") as out:
        for record in articles:
            out.write(json.dumps(record) + "\n")
    index = corpus.parent / "index"
    build_index(corpus, index)
    return Engine(index), articles, index


def questions() -> list[tuple[str, str, list[tuple[int, int]]]]:
    """One question per paragraph: (article id, question, gold answer spans)."""
    data = json.loads(shared_file(SQUAD_V1).read_text(encoding="utf-8"))
    out = []
    for a in data["data"]:
        for i, p in enumerate(a["paragraphs"]):
            q = p["qas"][0]
            spans = [(x["answer_start"], x["answer_start"] + len(x["text"])) for x in q["answers"]]
            out.append((f"{a['title']}/{i}", q["question"], spans))
    return out


def test_every_citation_is_verbatim_and_quality_holds(squad: tuple[Engine, list[dict[str, str]], Path]) -> None:
    engine, articles, _ = squad
    texts = {a["id"]: a["text"] for a in articles}
    asked = questions()
    assert len(asked) == 2067
    hits1 = hits3 = checked = 0
    for article_id, question, spans in asked:
        answer = engine.ask(question)
        for c in (*answer.citations, *answer.nearest):
            assert c.sentence == texts[c.article_id][c.start : c.end], (question, c)
            checked += 1
        cited = answer.citations or answer.nearest

        def supports(c: object, article_id: str = article_id, spans: list[tuple[int, int]] = spans) -> bool:
            return c.article_id == article_id and any(c.start < e and s < c.end for s, e in spans)  # type: ignore[attr-defined]

        hits1 += bool(cited) and supports(cited[0])
        hits3 += any(supports(c) for c in cited[:3])
    # Every answer shows at least its best sentence (a second or third only when it is evidence).
    assert checked >= 2067
    # The prototype's bar on the full question set was cite@1 0.71 and cite@3 0.86.
    assert hits1 / len(asked) >= 0.68
    assert hits3 / len(asked) >= 0.83


def test_same_index_same_answers(squad: tuple[Engine, list[dict[str, str]], Path]) -> None:
    engine, _, index = squad
    sample = [q for _, q, _ in questions()[::97]]
    first = [engine.ask(q) for q in sample]
    again = Engine(index)
    assert [again.ask(q) for q in sample] == first
