from __future__ import annotations

import numpy as np

from qa import Engine, _lexical
from qa._retrieve import RERANKED, WORDPIECE_WEIGHT, score, wordpiece_match


def test_wordpiece_match_is_the_covered_share_of_the_question() -> None:
    eye = np.eye(4, dtype=np.float32)
    sentences = [eye[[0, 1, 2]], eye[:0], eye[[1, 3]], eye[[3]]]
    # every question piece found; an empty sentence; half of them; none
    assert wordpiece_match(eye[[0, 1]], sentences).tolist() == [1.0, 0.0, 0.5, 0.0]
    assert wordpiece_match(eye[:0], sentences).tolist() == [0.0] * 4  # an empty question
    assert wordpiece_match(eye[[0]], []).size == 0


def test_search_reorders_its_head_by_first_score_plus_wordpiece_match(engine: Engine) -> None:
    retriever = engine.retriever
    query = "What security guarantees will Moscow demand?"
    candidates = retriever.candidates(query, _lexical.tokenize([query])[0])
    first = score(candidates)
    row_of = {tuple(engine.index.sentences[s].tolist()): i for i, s in enumerate(candidates.sentences.tolist())}
    hits = retriever.search(query, limit=RERANKED).hits
    assert len(hits) == min(RERANKED, len(first))
    question = retriever.embedder.wordpieces([query])[0]
    articles = {a.id: n for n, a in enumerate(engine.index.articles)}
    for hit in hits:
        i = row_of[(articles[hit.article.id], hit.start, hit.end)]
        sentence = retriever.embedder.wordpieces([hit.article.text[hit.start : hit.end]])[0]
        # Alone, the sentence's match is the same as among the others (to float rounding).
        expected = float(first[i]) + WORDPIECE_WEIGHT * float(wordpiece_match(question, [sentence])[0])
        assert abs(hit.score - expected) < 1e-5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # The head holds the same sentences as the first ranking's head, in a new order.
    head = {int(candidates.sentences[i]) for i in np.lexsort((candidates.sentences, -first))[:RERANKED]}
    assert {
        row for row in (candidates.sentences[row_of[(articles[h.article.id], h.start, h.end)]] for h in hits)
    } == head
