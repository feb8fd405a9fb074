from __future__ import annotations

import itertools

import numpy as np
import pytest

from qa import Engine, _lexical, build_index
from qa._late import dequantize
from qa._retrieve import ARTICLE_SENTENCES, ARTICLES, RANK_FEATURES, SUPPORT_FEATURES, _top, margins, offered

QUESTION = "What security guarantees will Moscow demand?"


def brute_best(engine: Engine, question: np.ndarray, sentences: list[int]) -> np.ndarray:
    """Each projected question token's best cosine over the stored tokens of `sentences`, by hand."""
    index = engine.index
    rows = [
        dequantize(
            index.token_codes[index.sentence_tokens[s] : index.sentence_tokens[s + 1]],
            index.token_scale[index.sentence_tokens[s] : index.sentence_tokens[s + 1]],
        )
        for s in sentences
    ]
    return np.asarray((question @ np.vstack(rows).T).max(axis=1))


def brute_maxsim(engine: Engine, question: np.ndarray, sentences: list[int]) -> float:
    """MaxSim of the question's projected tokens over the stored tokens of `sentences`, by hand."""
    return float(brute_best(engine, question, sentences).mean())


def test_late_features_are_maxsim_of_sentence_and_its_windows(engine: Engine) -> None:
    index = engine.index
    _, tokens, _ = engine.retriever.embedder.embed_query(QUESTION)
    question = index.projection.apply(tokens)
    rows = np.arange(len(index.sentences))
    features = engine.retriever.late_features(tokens, rows)
    assert features.shape == (len(rows), 5)
    same = index.sentences[:, 0]
    for s in rows.tolist():
        before = [s - 1, s] if s > 0 and same[s - 1] == same[s] else [s]
        after = [s, s + 1] if s + 1 < len(rows) and same[s + 1] == same[s] else [s]
        article = np.flatnonzero(same == same[s]).tolist()
        lead = article[0]
        expected = [brute_maxsim(engine, question, w) for w in ([s], before, after, [lead, s])]
        # late_focus: this sentence's matches, each token weighted by how much better the
        # article's best sentence matches it than the lead does.
        own, first = brute_best(engine, question, [s]), brute_best(engine, question, [lead])
        best = np.max([brute_best(engine, question, [r]) for r in article], axis=0)
        weight = np.clip(best - first, 0.0, None) + 1e-6
        expected.append(float((own * weight).sum() / weight.sum()))
        assert np.allclose(features[s], expected, atol=1e-5)
    # Any subset, in any order, scores as it does among all sentences.
    picked = rows[::-3]
    assert np.allclose(engine.retriever.late_features(tokens, picked), features[picked])
    # The window match alone (a follow-up's whole-question match) is the same column, exactly.
    assert np.array_equal(engine.retriever.window_match(tokens, picked), features[picked, 1])
    assert np.array_equal(engine.retriever.window_match(tokens, rows), features[:, 1])
    # The sentence that answers matches best on its own.
    a, start, end = index.sentences[int(np.argmax(features[:, 0]))].tolist()
    assert "guarantees" in index.articles[a].text[start:end]


def candidates(engine: Engine, query: str, keep: np.ndarray | None = None):  # type: ignore[no-untyped-def]
    retriever = engine.retriever
    vector, tokens, _ = retriever.embedder.embed_query(query)
    return retriever.candidates(query, _lexical.tokenize([query])[0], vector, tokens, keep=keep)


def test_every_sentence_of_the_best_articles_is_a_candidate(engine: Engine) -> None:
    c = candidates(engine, QUESTION)
    # The seed corpus is one article: all of its sentences, each once, in order.
    assert len(engine.index.articles) <= ARTICLES
    assert c.sentences.tolist() == list(range(len(engine.index.sentences)))
    assert c.features.shape == (len(c.sentences), len(RANK_FEATURES))
    assert np.isfinite(c.features).all()
    assert c.column("lead").tolist() == [1.0] + [0.0] * (len(c.sentences) - 1)
    assert c.column("article_first").min() == 1.0
    assert c.column("coverage").min() >= 0.0 and c.column("coverage").max() <= 1.0


def test_search_orders_by_the_rankers_score_and_supports_by_its_rule(engine: Engine) -> None:
    retriever = engine.retriever
    c = candidates(engine, QUESTION)
    scores = retriever.ranker.rank(c.features)
    hits = retriever.search(QUESTION, limit=5).hits
    assert len(hits) == 5
    by_row = dict(zip(c.sentences.tolist(), scores.tolist(), strict=True))
    articles, groups = engine.index.sentences[c.sentences, 0], c.groups
    for hit in hits:
        assert abs(hit.score - by_row[hit.row]) < 1e-5
        margin = margins(scores, articles, groups, [int(np.flatnonzero(c.sentences == hit.row)[0])])[0]
        assert np.isclose(hit.margin, margin, atol=1e-5, equal_nan=True)
        if np.isnan(margin):  # no other story: undecided, the fit's mean
            margin = retriever.ranker.support.mean[SUPPORT_FEATURES.index("margin")]
        figures = [hit.cosine, hit.match, hit.article_coverage, hit.unknown, hit.unknown_name, hit.offers, margin]
        assert hit.offers == offered(QUESTION, c.features[c.sentences == hit.row])[0]
        support = retriever.ranker.support(np.array([figures]))[0]
        if hit.coverage >= retriever.ranker.coverage_answers:
            support = max(support, 0.0)
        assert abs(hit.support - support) < 1e-5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert abs(hits[0].score - max(by_row.values())) < 1e-5
    assert SUPPORT_FEATURES == ("cosine", "match", "article_coverage", "unknown", "unknown_name", "offers", "margin")


def test_top_is_a_stable_argsort_prefix() -> None:
    rng = np.random.default_rng(5)
    for size, k in [(50, 10), (1000, 100), (7, 100), (30, 30)]:
        values = rng.integers(0, 6, size).astype(np.float32)  # many ties
        expected = np.argsort(-values, kind="stable")[:k]
        assert _top(values, k).tolist() == expected.tolist()


def test_coverage_is_the_idf_share_of_question_terms_in_the_sentence(engine: Engine) -> None:
    retriever, index = engine.retriever, engine.index
    query = _lexical.tokenize(["What security guarantees did Moscow demand from NATO?"])[0]
    rows = np.arange(len(index.sentences))
    weights, held = retriever._presence(*retriever._weights(query), rows)
    found = weights @ held
    idf = {t: retriever._idf[retriever._vocab[t]] if t in retriever._vocab else retriever._idf_unknown for t in query}
    for row, value in zip(rows.tolist(), found.tolist(), strict=True):
        a, start, end = index.sentences[row].tolist()
        words = set(_lexical.tokenize([index.articles[a].text[start:end]])[0])
        expected = sum(w for t, w in idf.items() if t in words) / sum(idf.values())
        assert abs(value - expected) < 1e-9
    assert max(found) > 0.5 and min(found) == 0.0


# A file far longer than any news article (many stories saved as one), its answer deep inside.
LIGHTHOUSE = "The harbour master, Ingrid Solberg, said the new lighthouse would cost 4.2 million crowns."
AFTER_IT = "Work on its foundations is due to begin in April, once the winter storms have passed."


@pytest.fixture(scope="module")
def long_article(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    towns = ["Bergen", "Tromso", "Alesund", "Bodo", "Molde", "Narvik", "Hamar", "Skien", "Gjovik", "Harstad"]
    topics = ["school budget", "bus timetable", "library hours", "road repairs", "park benches", "recycling rules"]
    weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    filler = [
        f"Councillors in {town} met on {day} to argue about the {topic} for the {n}th time."
        for n, (town, topic, day) in enumerate(itertools.product(towns, topics, weekdays), 1)
    ]
    sentences = [*filler[:380], LIGHTHOUSE, AFTER_IT, *filler[380:]]
    folder = tmp_path_factory.mktemp("long")
    (folder / "corpus").mkdir()
    (folder / "corpus" / "council.txt").write_text(" ".join(sentences) + "\n", encoding="utf-8")
    build_index(folder / "corpus", folder / "index")
    return Engine(folder / "index", reload_every=None)


def test_an_article_longer_than_any_news_story_offers_its_best_chunks_and_still_answers(long_article: Engine) -> None:
    index = long_article.index
    assert len(index.sentences) == 420 + 2 > ARTICLE_SENTENCES
    question = "How much will the new lighthouse cost?"
    c = candidates(long_article, question)
    rows = c.sentences.tolist()
    # Its lead and the sentences of its best chunks, not all 422: the ranking reads about
    # ARTICLE_SENTENCES of them, however long the file.
    assert rows[0] == 0 and rows == sorted(set(rows))
    longest_chunk = int((index.chunks[:, 2] - index.chunks[:, 1]).max())
    assert ARTICLE_SENTENCES <= len(rows) <= ARTICLE_SENTENCES + longest_chunk + 1 < len(index.sentences)
    assert 380 in rows
    # A sentence whose predecessor is not a candidate is given none of its words.
    gaps = [i for i in range(1, len(rows)) if rows[i] != rows[i - 1] + 1]
    assert gaps and all(c.column("coverage_previous")[i] == 0.0 for i in gaps)
    # Rows a search must keep (what follows the sentence a follow-up reads on from) are kept,
    # wherever they are.
    far = len(index.sentences) - 1
    assert far not in rows
    kept = candidates(long_article, question, keep=np.array([far]))
    assert kept.sentences.tolist() == sorted({*rows, far})
    answer = long_article.ask(question, top=1)
    assert answer.citations[0].sentence == LIGHTHOUSE
    follow = long_article.ask("What came next?", history=[question], top=1)
    assert follow.citations[0].sentence == AFTER_IT
    article = index.articles[0].text
    assert all(article[x.start : x.end] == x.sentence for x in (*answer.citations, *follow.citations))
