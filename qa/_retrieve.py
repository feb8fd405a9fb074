"""Hybrid retrieval: dense (FAISS) + BM25 over chunks, then sentence ranking inside them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from . import _late, _lexical
from ._embed import Embedder
from ._store import StoredIndex
from ._types import Article

CANDIDATE_CHUNKS = 100  # per retriever (dense and BM25) before fusion
TOP_PASSAGES = 8  # articles whose retrieved chunks supply candidate sentences (5 -> 8: tuning cite@1 +0.4 points)
# First score = cosine + BM25(sentence) + BM25(previous + sentence) + passage score.
WEIGHTS = {"cosine": 0.5, "bm25": 0.25, "window": 0.25, "passage": 0.25}
# The best RERANKED sentences then gain late interaction (MaxSim over contextual token vectors,
# `Retriever.late_features`): of the sentence, and of the previous sentence and the sentence
# together (an answer often follows the sentence that names the question's subject). Fitted by
# coordinate ascent on cite@1 over the tuning half of SQuAD v1.1 dev
# (benchmarks/late_interaction.py): tuning cite@1 0.714 -> 0.790 (held out 0.703 -> 0.779).
# A third term, MaxSim of the chunk around the sentence, added nothing once these two were
# refitted (held out 0.779 with it) and read three times the tokens. Re-ranking only the best 10
# loses 0.1 point on the tuning half (0.3 held out), the best 5 0.6 (0.9).
RERANKED = 20
LATE_WEIGHTS = {"sentence": 3.47, "window": 5.55}


@dataclass(frozen=True)
class Hit:
    """A ranked candidate sentence with the features that scored it."""

    article: Article
    start: int
    end: int
    score: float
    cosine: float
    coverage: float
    match: float = 0.0  # late-interaction MaxSim of the question over the previous sentence and this one


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


def _top(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the `k` largest values, largest first, ties by lower index: what a stable
    argsort of `-values` starts with, without sorting them all (Reuters has 40,000 chunks)."""
    if k >= len(values):
        return np.argsort(-values, kind="stable")
    kth = np.partition(values, len(values) - k)[len(values) - k]
    above = np.flatnonzero(values > kth)
    tied = np.flatnonzero(values == kth)[: k - len(above)]
    picked = np.concatenate([above, tied])
    return picked[np.lexsort((picked, -values[picked]))]


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

    def search(
        self,
        query: str,
        boost: Mapping[str, float] | None = None,
        limit: int = 10,
        focus: Sequence[tuple[int, int]] | None = None,
    ) -> Retrieval:
        """Rank sentences for `query`; `boost` adds to the passage score of the named articles.

        Only the words of `query` inside the character spans `focus` (all, if None) take part in
        the late interaction that picks sentences: a follow-up carries earlier terms to find
        the article, but its own words ask what it asks.
        """
        tokens = _lexical.tokenize([query])[0]
        vector, all_tokens, token_spans = self.embedder.embed_query(query)
        query_tokens = all_tokens
        if focus is not None:
            inside = [any(lo <= a and b <= hi for lo, hi in focus) for a, b in token_spans]
            query_tokens = all_tokens[np.array(inside, dtype=bool)] if any(inside) else all_tokens
        candidates = self.candidates(vector, self.lexical_scores(tokens), boost)
        passages = tuple(self.index.articles[a].id for a in candidates.passages)
        if candidates.sentences.size == 0:
            return Retrieval(query, (), passages)
        scores = score(candidates)
        order = np.lexsort((candidates.sentences, -scores)).tolist()
        head = order[:RERANKED]
        late = self.late_features(query_tokens, candidates.sentences[head])
        scores[head] += late @ np.array(list(LATE_WEIGHTS.values()))
        # Only the head is re-ordered; whatever follows keeps the first ranking's order.
        order = sorted(head, key=lambda i: (-scores[i], int(candidates.sentences[i]))) + order[RERANKED:]
        order = order[:limit]
        # A hit's match, for deciding whether to answer, is over the whole query's tokens.
        window = {} if query_tokens is not all_tokens else dict(zip(head, late[:, 1].tolist(), strict=True))
        missing = [i for i in order if i not in window]
        if missing:
            extra = self.late_features(all_tokens, candidates.sentences[missing])[:, 1]
            window.update(zip(missing, extra.tolist(), strict=True))
        rows = [int(candidates.sentences[i]) for i in order]
        coverage = self._coverage(tokens, rows)
        hits = []
        for i, row, covered in zip(order, rows, coverage, strict=True):
            article, start, end = self.index.sentences[row].tolist()
            hits.append(
                Hit(
                    article=self.index.articles[article],
                    start=start,
                    end=end,
                    score=round(float(scores[i]), 6),
                    cosine=float(candidates.cosine[i]),
                    coverage=covered,
                    match=window[i],
                )
            )
        return Retrieval(query, tuple(hits), passages)

    def late_features(self, query_tokens: np.ndarray, sentences: np.ndarray) -> np.ndarray:
        """For each sentence row, its MaxSim with the question's tokens: alone, and with the
        previous sentence of its article (columns as in LATE_WEIGHTS)."""
        index = self.index
        out = np.zeros((len(sentences), len(LATE_WEIGHTS)), dtype=np.float64)
        if len(sentences) == 0 or len(query_tokens) == 0:
            return out
        rows = sentences.astype(np.int64)
        article_of = index.sentences[:, 0]
        before = np.maximum(rows - 1, 0)
        has_previous = (rows > 0) & (article_of[before] == article_of[rows])
        needed = np.unique(np.concatenate([rows, before[has_previous]]))
        starts, ends = index.sentence_tokens[needed], index.sentence_tokens[needed + 1]
        # Needed sentences often come in runs (a sentence and the one before it): one slice a run.
        breaks = np.flatnonzero(np.diff(needed) != 1) + 1
        runs = [(int(a[0]), int(b[-1])) for a, b in zip(np.split(starts, breaks), np.split(ends, breaks), strict=True)]
        codes = np.vstack([index.token_codes[a:b] for a, b in runs])
        scale = np.concatenate([index.token_scale[a:b] for a, b in runs])
        offsets = np.concatenate([[0], np.cumsum(ends - starts)])
        question = index.projection.apply_few(query_tokens)
        # best[q, k]: question token q's best cosine to any token of sentence needed[k].
        best = _late.segment_best(question, codes, offsets, scale)
        own = best[:, np.searchsorted(needed, rows)]
        window = np.where(has_previous, np.maximum(own, best[:, np.searchsorted(needed, before)]), own)
        out[:, 0], out[:, 1] = own.mean(axis=0), window.mean(axis=0)
        return out

    def lexical_scores(self, tokens: list[str]) -> dict[str, np.ndarray]:
        """BM25 of every chunk, sentence and window (previous + sentence) for the question's tokens."""
        return {part: _lexical.scores(self.index.bm25[part], tokens) for part in ("chunks", "sentences", "windows")}

    def candidates(
        self, vector: np.ndarray, lexical: Mapping[str, np.ndarray], boost: Mapping[str, float] | None = None
    ) -> Candidates:
        """Hybrid chunk retrieval for a question's vector and BM25 scores (`lexical_scores`),
        then the features of every sentence in the top articles' chunks."""
        index = self.index
        dense_ids, _ = index.search_chunks(vector, CANDIDATE_CHUNKS)
        chunk_bm25 = lexical["chunks"]
        # Only chunks holding a question word can be lexical candidates. Ranking just those is
        # the same top and far quicker: partitioning thousands of equal zeros is slow.
        holding = np.flatnonzero(chunk_bm25 > 0)
        lexical_ids = holding[_top(chunk_bm25[holding], CANDIDATE_CHUNKS)]
        chosen = np.zeros(len(index.chunks), dtype=bool)
        chosen[dense_ids] = chosen[lexical_ids] = True
        chunks = np.flatnonzero(chosen)
        # einsum, not @, for the same reason as in `_late`: no BLAS threads left spinning.
        fused = 0.5 * _minmax(np.einsum("cd,d->c", index.chunk_vectors[chunks], vector)) + 0.5 * _minmax(
            chunk_bm25[chunks]
        )
        chunk_article = index.chunks[chunks, 0]
        if boost:
            fused = fused + np.array([boost.get(index.articles[a].id, 0.0) for a in chunk_article.tolist()])
        articles, which = np.unique(chunk_article, return_inverse=True)
        article_score = np.full(len(articles), -np.inf)
        np.maximum.at(article_score, which, fused)
        best_first = np.lexsort((articles, -article_score))
        ranked = articles[best_first]
        kept = np.zeros(len(articles), dtype=bool)
        kept[best_first[:TOP_PASSAGES]] = True
        keep = kept[which]

        # Each candidate sentence takes the best score of the retrieved chunks holding it.
        _, first, last = index.chunks[chunks[keep]].T
        lengths = last - first
        members = np.repeat(first - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
        values = np.repeat(fused[keep], lengths)
        order = np.lexsort((-values, members))
        members, values = members[order], values[order]
        unique = np.concatenate([[True], members[1:] != members[:-1]]) if len(members) else np.zeros(0, dtype=bool)
        sentences, passage = members[unique].astype(np.int64), values[unique]
        return Candidates(
            sentences=sentences,
            cosine=np.einsum("sd,d->s", index.sentence_vectors[sentences], vector),
            bm25=_by_max(lexical["sentences"][sentences]),
            window=_by_max(lexical["windows"][sentences]),
            passage=_minmax(passage.astype(np.float64)),
            passages=tuple(ranked[:PASSAGES_REPORTED].tolist()),
            query_vector=vector,
        )

    def _coverage(self, query_tokens: list[str], rows: list[int]) -> list[float]:
        """For each sentence row, the share of the query's IDF weight whose terms it contains.

        Which sentences hold a term is read from the sentence BM25 index's postings, built with
        the same tokenizer, so no sentence is tokenized again.
        """
        unique = sorted(set(query_tokens))
        if not unique:
            return [0.0] * len(rows)
        weights = np.array([self._idf[self._vocab[t]] if t in self._vocab else self._idf_unknown for t in unique])
        sentences = self.index.bm25["sentences"]
        indptr, indices = sentences.scores["indptr"], sentences.scores["indices"]
        vocab = sentences.vocab_dict
        postings = [indices[indptr[vocab[t]] : indptr[vocab[t] + 1]] if t in vocab else indices[:0] for t in unique]
        total = float(weights.sum())
        return [
            float(sum(w for w, p in zip(weights, postings, strict=True) if (p == row).any()) / total) for row in rows
        ]
