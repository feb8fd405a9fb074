"""The engine: a loaded index and model that answers questions. The library's main entry."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from . import _lexical, _store
from ._answer import compose
from ._conversation import rewrite, term_spans
from ._embed import Embedder, canonical_model_name, load_embedder
from ._errors import IndexMismatchError, InvalidQuestionError
from ._filters import EVERYTHING, ArticleFilters
from ._ranker import Ranker
from ._retrieve import Retrieval, Retriever
from ._types import Answer, Article

MAX_QUESTION_CHARS = 1000
_UNDECODABLE = re.compile("[\ud800-\udfff]")
FOLLOW_UP_BOOST = 0.2  # added to fused chunk scores (0..1) of the articles cited last turn


@dataclass(frozen=True)
class IndexSummary:
    """What an index holds and how it was built, for the UI and `qa info`."""

    path: str
    articles: int
    sentences: int
    chunks: int
    model: str
    built_at: str
    corpus_hash: str


def check_question(question: object) -> str:
    """The question, stripped; `InvalidQuestionError` if it is not usable text."""
    if not isinstance(question, str):
        raise InvalidQuestionError(f"the question must be text, not {type(question).__name__}")
    if _UNDECODABLE.search(question):
        # A command line or file that is not UTF-8 reaches Python as lone surrogates.
        raise InvalidQuestionError("the question is not valid UTF-8 text; re-type it or re-save its file as UTF-8")
    text = question.strip()
    if not text:
        raise InvalidQuestionError("the question is empty; type a question about the corpus")
    if len(text) > MAX_QUESTION_CHARS:
        raise InvalidQuestionError(f"the question is {len(text)} characters long; keep it under {MAX_QUESTION_CHARS}")
    return text


class Engine:
    """Answers questions from the index at `index_dir` with cited source sentences."""

    def __init__(
        self,
        index_dir: str | Path = "index",
        model: str | None = None,
        *,
        embedder: Embedder | None = None,
        ranker: Ranker | None = None,
    ) -> None:
        root = Path(index_dir)
        manifest = _store.read_manifest(root)  # cheap checks before the model loads
        wanted = embedder.name if embedder else model
        if wanted is not None and canonical_model_name(wanted) != manifest.model:
            raise IndexMismatchError(
                f"index {str(root)!r} was built with model {manifest.model!r}, not {wanted!r}; "
                f"rebuild it with `qa build --index {root} --model {wanted}` or leave the model unset"
            )
        if manifest.bm25 != _lexical.SETTINGS:
            raise IndexMismatchError(
                f"index {str(root)!r} was built with other BM25 settings ({manifest.bm25}); "
                f"rebuild it with `qa build --index {root}`"
            )
        # Queries run on the backend the index was built with, so their vectors match.
        embedder = embedder or load_embedder(manifest.model, manifest.backend)
        if embedder.dimensions != manifest.dimensions:
            raise IndexMismatchError(
                f"model {manifest.model!r} makes {embedder.dimensions}-dimensional vectors but the index holds "
                f"{manifest.dimensions}; rebuild it with `qa build --index {root}`"
            )
        self.index = _store.load_index(root)
        self.retriever = Retriever(self.index, embedder, ranker)
        self._by_id = {a.id: a for a in self.index.articles}

    @cached_property
    def filters(self) -> ArticleFilters:
        """The articles' dates and sources, read when a filter is first asked for (Reuters'
        20,000 dates take about 50 ms, which a server without filters need not spend)."""
        return ArticleFilters(self.index.articles)

    def ask(
        self,
        question: str,
        *,
        top: int = 3,
        history: Sequence[str] = (),
        since: str | None = None,
        until: str | None = None,
        sources: Sequence[str] | None = None,
        recency_days: float | None = None,
    ) -> Answer:
        """Answer `question`, citing up to `top` sentences.

        `history` holds the earlier questions of the conversation, oldest first; a follow-up
        question is searched together with context carried over from them. `since` and `until`
        (dates in any format the corpus takes; a day includes all of it) and `sources` (names,
        any case) restrict the articles searched; `recency_days` prefers recent articles, halving
        an article's score for every that many days it is older than the newest one matching.
        """
        return self.ask_with_retrieval(
            question, top=top, history=history, since=since, until=until, sources=sources, recency_days=recency_days
        )[0]

    def ask_with_retrieval(
        self,
        question: str,
        *,
        top: int = 3,
        history: Sequence[str] = (),
        depth: int = 3,
        since: str | None = None,
        until: str | None = None,
        sources: Sequence[str] | None = None,
        recency_days: float | None = None,
    ) -> tuple[Answer, Retrieval]:
        """`ask`, also returning the ranked sentences (the best `depth`, at least `top`) and
        articles behind the answer (for `qa eval`)."""
        text = check_question(question)
        if not 1 <= top <= 20:
            raise InvalidQuestionError("top must be between 1 and 20")
        earlier = [check_question(q) for q in history]
        filtered = any(value is not None for value in (since, until, sources, recency_days))
        select = self.filters.select(since, until, sources, recency_days) if filtered else EVERYTHING
        query = rewrite(text, earlier)
        boost: dict[str, float] = {}
        context: frozenset[str] = frozenset()
        focus = None
        if query != text:
            # The articles the previous turn cited stay in play for its follow-up.
            previous = self.retriever.search(rewrite(earlier[-1], earlier[:-1]), limit=top, select=select)
            boost = {hit.article.id: FOLLOW_UP_BOOST for hit in previous.hits}
            # Only a story the previous turn answered from vouches for the follow-up's answer.
            answered = compose(earlier[-1], previous.query, previous.hits, top=top)
            context = frozenset(c.article_id for c in answered.citations)
            # Carried terms find the article; a follow-up with words of its own picks the sentence by them.
            focus = term_spans(text) or None
        retrieval = self.retriever.search(query, boost=boost, limit=max(top, depth), focus=focus, select=select)
        return compose(text, retrieval.query, retrieval.hits, top=top, context=context), retrieval

    def article(self, article_id: str) -> Article:
        """The article with id `article_id` (KeyError if absent)."""
        return self._by_id[article_id]

    def summary(self) -> IndexSummary:
        """Counts and build facts of the loaded index."""
        m = self.index.manifest
        return IndexSummary(
            path=str(self.index.path),
            articles=m.articles,
            sentences=m.sentences,
            chunks=m.chunks,
            model=m.model,
            built_at=m.built_at,
            corpus_hash=m.corpus_hash,
        )
