from __future__ import annotations

import numpy as np

from qa import Engine, _lexical
from qa._late import dequantize
from qa._retrieve import LATE_WEIGHTS, RERANKED, _top, score


def brute_maxsim(engine: Engine, question: np.ndarray, sentences: list[int]) -> float:
    """MaxSim of the question's projected tokens over the stored tokens of `sentences`, by hand."""
    index = engine.index
    rows = [
        dequantize(
            index.token_codes[index.sentence_tokens[s] : index.sentence_tokens[s + 1]],
            index.token_scale[index.sentence_tokens[s] : index.sentence_tokens[s + 1]],
        )
        for s in sentences
    ]
    return float((question @ np.vstack(rows).T).max(axis=1).mean())


def test_late_features_are_maxsim_of_sentence_and_window(engine: Engine) -> None:
    index = engine.index
    _, tokens, _ = engine.retriever.embedder.embed_query("What security guarantees will Moscow demand?")
    question = index.projection.apply(tokens)
    rows = np.arange(len(index.sentences))
    features = engine.retriever.late_features(tokens, rows)
    assert features.shape == (len(rows), 2)
    for s in rows.tolist():
        window = [s - 1, s] if s > 0 and index.sentences[s - 1, 0] == index.sentences[s, 0] else [s]
        expected = [brute_maxsim(engine, question, [s]), brute_maxsim(engine, question, window)]
        assert np.allclose(features[s], expected, atol=1e-5)
    # Any subset, in any order, scores as it does among all sentences.
    picked = rows[::-3]
    assert np.allclose(engine.retriever.late_features(tokens, picked), features[picked])
    # The sentence that answers matches best on its own.
    best = int(np.argmax(features[:, 0]))
    a, start, end = index.sentences[best].tolist()
    assert "guarantees" in index.articles[a].text[start:end]


def test_search_reorders_its_head_by_first_score_plus_late_interaction(engine: Engine) -> None:
    retriever = engine.retriever
    query = "What security guarantees will Moscow demand?"
    vector, tokens, _ = retriever.embedder.embed_query(query)
    candidates = retriever.candidates(vector, retriever.lexical_scores(_lexical.tokenize([query])[0]))
    first = score(candidates)
    late = retriever.late_features(tokens, candidates.sentences) @ np.array(list(LATE_WEIGHTS.values()))
    row_of = {tuple(engine.index.sentences[s].tolist()): i for i, s in enumerate(candidates.sentences.tolist())}
    articles = {a.id: n for n, a in enumerate(engine.index.articles)}
    hits = retriever.search(query, limit=RERANKED).hits
    assert len(hits) == min(RERANKED, len(first))
    rows = [row_of[(articles[h.article.id], h.start, h.end)] for h in hits]
    for hit, i in zip(hits, rows, strict=True):
        assert abs(hit.score - (first[i] + late[i])) < 1e-5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # The head holds the same sentences as the first ranking's head, in a new order.
    head = set(np.lexsort((candidates.sentences, -first))[:RERANKED].tolist())
    assert set(rows) == head


def test_top_is_a_stable_argsort_prefix() -> None:
    rng = np.random.default_rng(5)
    for size, k in [(50, 10), (1000, 100), (7, 100), (30, 30)]:
        values = rng.integers(0, 6, size).astype(np.float32)  # many ties
        expected = np.argsort(-values, kind="stable")[:k]
        assert _top(values, k).tolist() == expected.tolist()


def test_coverage_is_the_idf_share_of_question_terms_in_the_sentence(engine: Engine) -> None:
    retriever, index = engine.retriever, engine.index
    query = _lexical.tokenize(["What security guarantees did Moscow demand from NATO?"])[0]
    rows = list(range(len(index.sentences)))
    found = retriever._coverage(query, rows)
    idf = {t: retriever._idf[retriever._vocab[t]] if t in retriever._vocab else retriever._idf_unknown for t in query}
    for row, value in zip(rows, found, strict=True):
        a, start, end = index.sentences[row].tolist()
        words = set(_lexical.tokenize([index.articles[a].text[start:end]])[0])
        expected = sum(w for t, w in idf.items() if t in words) / sum(idf.values())
        assert abs(value - expected) < 1e-9
    assert max(found) > 0.5 and min(found) == 0.0
