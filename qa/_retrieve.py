"""Hybrid retrieval: dense (FAISS) + BM25 over chunks, then sentence ranking inside them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from . import _lexical
from ._embed import Embedder
from ._store import StoredIndex
from ._types import Article

CANDIDATE_CHUNKS = 100  # per retriever (dense and BM25) before fusion
TOP_PASSAGES = 5  # articles whose retrieved chunks supply candidate sentences
# Sentence score = cosine + BM25(sentence) + BM25(previous + sentence) + passage score.
WEIGHTS = {"cosine": 0.5, "bm25": 0.25, "window": 0.25, "passage": 0.25}
# The best RERANKED sentences then gain WORDPIECE_WEIGHT x their word-piece match (`wordpiece_match`).
# Fitted on the tuning half of SQuAD v1.1 dev, every third question: re-ranking the top 5, 7
# or 10 ties there (cite@1 0.744, from 0.714), and 5 tokenizes least per question. Held out:
# 0.695 -> 0.723 (benchmarks/late_interaction.py has the contextual variants it was measured against).
RERANKED = 5
WORDPIECE_WEIGHT = 1.0


@dataclass(frozen=True)
class Hit:
    """A ranked candidate sentence with the features that scored it."""

    article: Article
    start: int
    end: int
    score: float
    cosine: float
    coverage: float


@dataclass(frozen=True)
class Retrieval:
    """Ranked sentences for one query, best first, and the ranked articles they came from."""

    query: str
    hits: tuple[Hit, ...]
    passages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidates:
    """Candidate sentences for one query and the features that rank them (one entry each)."""

    sentences: np.ndarray  # rows of the index's sentence table
    cosine: np.ndarray  # cosine of sentence and query
    bm25: np.ndarray  # BM25 of the sentence, over the best candidate's
    window: np.ndarray  # BM25 of previous + sentence, over the best candidate's
    passage: np.ndarray  # min-max of the best fused score among retrieved chunks holding it
    passages: tuple[int, ...]  # article rows, best first (up to PASSAGES_REPORTED)
    query_vector: np.ndarray


PASSAGES_REPORTED = 10


def score(c: Candidates) -> np.ndarray:
    """The ranking score of each candidate sentence."""
    return (
        WEIGHTS["cosine"] * c.cosine
        + WEIGHTS["bm25"] * c.bm25
        + WEIGHTS["window"] * c.window
        + WEIGHTS["passage"] * c.passage
    )


def wordpiece_match(question: np.ndarray, sentences: Sequence[np.ndarray]) -> np.ndarray:
    """Late interaction over static word-piece vectors, for each sentence: the mean, over the
    question's word pieces, of the best cosine to any word piece of the sentence (a soft share
    of the question the sentence covers, which also credits near-synonyms and other forms of a
    word). One matrix product for all sentences; an empty question or sentence scores 0."""
    out = np.zeros(len(sentences), dtype=np.float64)
    filled = [i for i, pieces in enumerate(sentences) if len(pieces)]
    if len(question) == 0 or not filled:
        return out
    starts = np.cumsum([0] + [len(sentences[i]) for i in filled[:-1]])
    # einsum, not @: a large product would wake BLAS threads that then spin on the cores FAISS
    # searches on next (Reuters query p95 12 ms -> 35 ms).
    cosines = np.einsum("qd,td->qt", question, np.vstack([sentences[i] for i in filled]))
    out[filled] = np.maximum.reduceat(cosines, starts, axis=1).mean(axis=0)
    return out


def _minmax(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-12:
        return np.zeros_like(values)
    return (values - low) / (high - low)


def _by_max(values: np.ndarray) -> np.ndarray:
    high = float(values.max()) if values.size else 0.0
    return values / high if high > 0 else np.zeros_like(values)


class Retriever:
    """Searches one loaded index with one embedder; deterministic for a given query."""

    def __init__(self, index: StoredIndex, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder
        # Inverse document frequencies over chunks, for the share of a query a sentence covers.
        chunk_bm25 = index.bm25["chunks"]
        self._vocab: dict[str, int] = chunk_bm25.vocab_dict
        n_docs = int(chunk_bm25.scores["num_docs"])
        indptr = np.asarray(chunk_bm25.scores["indptr"])
        df = np.diff(indptr).astype(np.float64)
        self._idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        self._idf_unknown = float(np.log(1.0 + (n_docs + 0.5) / 0.5))

    def search(self, query: str, boost: Mapping[str, float] | None = None, limit: int = 10) -> Retrieval:
        """Rank sentences for `query`; `boost` adds to the passage score of the named articles."""
        tokens = _lexical.tokenize([query])[0]
        candidates = self.candidates(query, tokens, boost)
        passages = tuple(self.index.articles[a].id for a in candidates.passages)
        if candidates.sentences.size == 0:
            return Retrieval(query, (), passages)
        scores = score(candidates)
        order = np.lexsort((candidates.sentences, -scores)).tolist()
        head = order[:RERANKED]
        texts = [self._sentence_text(int(candidates.sentences[i])) for i in head]
        question, *sentences = self.embedder.wordpieces([query, *texts])
        scores[head] += WORDPIECE_WEIGHT * wordpiece_match(question, sentences)
        # Only the head is re-ordered; whatever follows keeps the first ranking's order.
        order = sorted(head, key=lambda i: (-scores[i], int(candidates.sentences[i]))) + order[RERANKED:]
        order = order[:limit]
        spans = [self.index.sentences[candidates.sentences[i]].tolist() for i in order]
        # One tokenizer call for all hits: this runs on every question.
        hit_tokens = _lexical.tokenize([self._sentence_text(int(candidates.sentences[i])) for i in order])
        hits = []
        for i, (article, start, end), sentence_tokens in zip(order, spans, hit_tokens, strict=True):
            hits.append(
                Hit(
                    article=self.index.articles[article],
                    start=start,
                    end=end,
                    score=round(float(scores[i]), 6),
                    cosine=float(candidates.cosine[i]),
                    coverage=self._coverage(tokens, sentence_tokens),
                )
            )
        return Retrieval(query, tuple(hits), passages)

    def candidates(self, query: str, tokens: list[str], boost: Mapping[str, float] | None = None) -> Candidates:
        """Hybrid chunk retrieval, then the features of every sentence in the top articles' chunks."""
        index = self.index
        vector = self.embedder.embed([query])[0]
        dense_ids, _ = index.search_chunks(vector, CANDIDATE_CHUNKS)
        chunk_bm25 = _lexical.scores(index.bm25["chunks"], tokens)
        lexical_ids = np.argsort(-chunk_bm25, kind="stable")[:CANDIDATE_CHUNKS]
        lexical_ids = lexical_ids[chunk_bm25[lexical_ids] > 0]
        chunks = np.union1d(dense_ids, lexical_ids)
        fused = 0.5 * _minmax(index.chunk_vectors[chunks] @ vector) + 0.5 * _minmax(chunk_bm25[chunks])
        chunk_article = index.chunks[chunks, 0]
        if boost:
            fused = fused + np.array([boost.get(index.articles[a].id, 0.0) for a in chunk_article.tolist()])
        article_score: dict[int, float] = {}
        for article, value in zip(chunk_article.tolist(), fused.tolist(), strict=True):
            article_score[article] = max(value, article_score.get(article, -np.inf))
        ranked = sorted(article_score, key=lambda a: (-article_score[a], a))
        keep = set(ranked[:TOP_PASSAGES])

        # Each candidate sentence takes the best score of the retrieved chunks holding it.
        passage: dict[int, float] = {}
        for row, value in zip(chunks.tolist(), fused.tolist(), strict=True):
            article, first, last = index.chunks[row].tolist()
            if article in keep:
                for s in range(first, last):
                    passage[s] = max(value, passage.get(s, -np.inf))
        sentences = np.array(sorted(passage), dtype=np.int64)
        return Candidates(
            sentences=sentences,
            cosine=index.sentence_vectors[sentences] @ vector,
            bm25=_by_max(_lexical.scores(index.bm25["sentences"], tokens)[sentences]),
            window=_by_max(_lexical.scores(index.bm25["windows"], tokens)[sentences]),
            passage=_minmax(np.array([passage[s] for s in sentences.tolist()], dtype=np.float64)),
            passages=tuple(ranked[:PASSAGES_REPORTED]),
            query_vector=vector,
        )

    def _sentence_text(self, row: int) -> str:
        article, start, end = self.index.sentences[row].tolist()
        return str(self.index.articles[article].text[start:end])

    def _coverage(self, query_tokens: list[str], sentence_tokens: list[str]) -> float:
        """Share of the query's IDF weight whose terms the (tokenized) sentence contains."""
        unique = sorted(set(query_tokens))
        if not unique:
            return 0.0
        present = set(sentence_tokens)
        weights = [self._idf[self._vocab[t]] if t in self._vocab else self._idf_unknown for t in unique]
        found = sum(w for t, w in zip(unique, weights, strict=True) if t in present)
        return float(found / sum(weights))
