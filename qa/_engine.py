"""The engine: a loaded index and model that answers questions. The library's main entry."""

from __future__ import annotations

import logging
import re
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import _lexical, _store
from ._answer import compose
from ._conversation import answer_names, asks_what_follows, rewrite, term_spans
from ._embed import Embedder, canonical_model_name, load_embedder
from ._errors import IndexMismatchError, InvalidQuestionError, QAError, rebuild_hint
from ._filters import EVERYTHING, ArticleFilters, Selection
from ._ranker import Ranker
from ._retrieve import Retrieval, Retriever
from ._stores import Store, open_store
from ._types import Answer, Article, counted

MAX_QUESTION_CHARS = 1000
_UNDECODABLE = re.compile("[\ud800-\udfff]")
# A question with no letter or digit in any script (only spaces, punctuation, zero-width or
# control characters) asks nothing.
_WORD = re.compile(r"[^\W_]")
FOLLOW_UP_BOOST = 0.2  # added to fused chunk scores (0..1) of the articles cited last turn
FOLLOW_UP_ODDS = 2.0  # log-odds added to the sentences of the articles the previous turn answered from
# Turns replayed to find where a "What did he say next?" reads on from (each is a search).
READ_ON_TURNS = 6
STORY_ENDS = "The story the previous answer came from ends there."
# How often a long-lived engine reads CURRENT (one small file) to look for a new build.
RELOAD_SECONDS = 1.0
log = logging.getLogger("qa")


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


@dataclass(frozen=True)
class Served:
    """One build as it was served at one moment: what a page shows of it is read from here, so
    a build published meanwhile cannot give one part of the page and its predecessor another."""

    summary: IndexSummary
    filters: ArticleFilters
    articles: Sequence[Article]


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
    if not _WORD.search(text):
        raise InvalidQuestionError("the question has no words; type a question about the corpus")
    if len(text) > MAX_QUESTION_CHARS:
        raise InvalidQuestionError(f"the question is {len(text)} characters long; keep it under {MAX_QUESTION_CHARS}")
    return text


@dataclass(eq=False)
class _Serving:
    """One loaded build and what searches it; `users` asks hold it, so it is closed only when a
    newer build has replaced it (`retired`) and the last of them has finished."""

    index: _store.StoredIndex
    retriever: Retriever
    by_id: dict[str, Article]
    users: int = 0
    retired: bool = False
    _filters: ArticleFilters | None = field(default=None, repr=False)

    @property
    def filters(self) -> ArticleFilters:
        """This build's articles' dates and sources, read when a filter is first asked for
        (Reuters' 20,000 dates take about 50 ms, which a server without filters need not spend)."""
        if self._filters is None:
            self._filters = ArticleFilters(self.index.articles)
        return self._filters


def _expect(
    root: Path | str,
    manifest: _store.Manifest,
    model: str | None,
    dimensions: int | None = None,
    backend: str | None = None,
) -> None:
    """IndexMismatchError unless the index was built the way it is to be searched."""
    if model is not None and canonical_model_name(model) != manifest.model:
        raise IndexMismatchError(
            f"index {str(root)!r} was built with model {manifest.model!r}, not {model!r}; "
            f"rebuild it with {rebuild_hint('--index', root, more=f' --model {model}')} or leave the model unset"
        )
    if backend is not None and backend != manifest.backend:
        raise IndexMismatchError(
            f"index {str(root)!r} was built with the {manifest.backend} backend, not {backend}; "
            f"rebuild it with {rebuild_hint('--index', root, more=f' --backend {backend}')}, or restart to serve it"
        )
    if manifest.bm25 != _lexical.SETTINGS:
        raise IndexMismatchError(
            f"index {str(root)!r} was built with other BM25 settings ({manifest.bm25}); "
            f"rebuild it with {rebuild_hint('--index', root)}"
        )
    if dimensions is not None and dimensions != manifest.dimensions:
        raise IndexMismatchError(
            f"model {manifest.model!r} makes {dimensions}-dimensional vectors but the index holds "
            f"{manifest.dimensions}; rebuild it with {rebuild_hint('--index', root)}"
        )


class Engine:
    """Answers questions from the index at `index_dir` with cited source sentences.

    `index_dir` (or `store`, which takes precedence) is an index folder, a Milvus Lite file
    (`*.db`), a Milvus server URI (`http://host:19530`) or a `Store` (see `qa._stores`).

    A long-lived engine follows the index: at most every `reload_every` seconds an ask reads
    CURRENT, and when a newer build has been published a background thread loads it and swaps
    it in; `watch()` looks between asks as well (as `qa serve` does). Asks in flight finish on
    the build they started with; the old build is closed once the last of them finishes, and
    its folder removed once no process holds it. `None` turns this off (as does pointing at a
    build folder rather than an index folder).
    """

    def __init__(
        self,
        index_dir: str | Path = "index",
        model: str | None = None,
        *,
        embedder: Embedder | None = None,
        ranker: Ranker | None = None,
        reload_every: float | None = RELOAD_SECONDS,
        store: str | Path | Store | None = None,
    ) -> None:
        self._store = open_store(index_dir if store is None else store)
        root = self._store.location
        wanted = embedder.name if embedder else model
        # The manifest is checked before any other file is read, and before the model loads.
        index = self._store.load(check=lambda m: _expect(root, m, wanted))
        try:
            # Queries run on the backend the index was built with, so their vectors match; and
            # only on a model already on this machine (ModelError at once otherwise).
            embedder = embedder or load_embedder(index.manifest.model, index.manifest.backend, offline=True)
            _expect(root, index.manifest, None, embedder.dimensions)
            self._embedder, self._ranker, self._root = embedder, ranker, root
            self._serving = _Serving(index, Retriever(index, embedder, ranker), {a.id: a for a in index.articles})
        except BaseException:
            index.close()
            raise
        self._reload_every = reload_every if index.name is not None else None
        self._next_poll = time.monotonic() + (reload_every or 0.0)
        self._lock = threading.Lock()  # guards `_serving` and its users count
        self._reloading = threading.Lock()  # one load at a time, so builds are served in order
        self._failed: str | None = None  # a build that could not be loaded; not tried again
        self._watching = False

    @property
    def index(self) -> _store.StoredIndex:
        """The build being served now."""
        return self._serving.index

    @property
    def retriever(self) -> Retriever:
        """The retriever over the build being served now."""
        return self._serving.retriever

    def refresh(self) -> bool:
        """Serve the build CURRENT names now, if it is not the one served; whether it swapped.

        Raises QAError if that build cannot be served (damaged, or made with another model or
        backend); the build served so far then stays.
        """
        with self._reloading:
            return self._refresh()

    def _refresh(self) -> bool:
        served = self._serving.index.manifest
        index = self._store.load(
            check=lambda m: _expect(self._root, m, served.model, served.dimensions, served.backend)
        )
        if index.name == self._serving.index.name:
            index.close()
            return False
        try:
            serving = _Serving(index, Retriever(index, self._embedder, self._ranker), {a.id: a for a in index.articles})
        except BaseException:
            index.close()
            raise
        with self._lock:
            old, self._serving = self._serving, serving
            old.retired = True
        self._let_go(old, hold=False)
        log.info("serving build %s (%s) from %s", index.name, counted(index.manifest.articles, "article"), self._root)
        return True

    def _poll(self) -> None:
        """Start loading a newly published build, if it is time to look and none is loading."""
        now, every = time.monotonic(), self._reload_every  # `close` may set it to None meanwhile
        if every is None or now < self._next_poll:
            return
        self._next_poll = now + every
        try:
            name = self._store.current_name()
        except QAError:
            return  # the index folder is being replaced or is gone: keep serving what is loaded
        if name in (self._serving.index.name, self._failed) or not self._reloading.acquire(blocking=False):
            return
        if self._reload_every is None:
            # Closed while CURRENT was read: `close` retired what it served and loads nothing new.
            self._reloading.release()
            return
        threading.Thread(target=self._reload_in_background, args=(name,), name="qa-reload", daemon=True).start()

    def watch(self) -> None:
        """Follow the index between asks too: a daemon thread looks at CURRENT every
        `reload_every` seconds. Without it an idle server sees a new build only when the next
        ask arrives, and answers from the build before until the new one has loaded (and keeps
        the old folder on disk till then). The thread holds the engine weakly and ends with it
        or with `close`."""
        if self._reload_every is None or self._watching:
            return
        self._watching = True
        engine, every = weakref.ref(self), self._reload_every

        def run() -> None:
            while True:
                time.sleep(every)
                watched = engine()
                if watched is None or watched._reload_every is None:
                    return
                try:
                    watched._poll()
                except Exception as exc:  # a store that failed oddly: asks still poll; keep watching
                    log.warning("cannot look for a new build in %s: %s", watched._root, exc)
                del watched

        threading.Thread(target=run, name="qa-watch", daemon=True).start()

    def _reload_in_background(self, name: str) -> None:
        try:
            self._refresh()
        except QAError as exc:
            self._failed = name
            log.warning("cannot serve the new build %s: %s; still serving %s", name, exc, self._serving.index.name)
        finally:
            self._reloading.release()

    def _hold(self) -> _Serving:
        self._poll()
        with self._lock:
            serving = self._serving
            serving.users += 1
        return serving

    def _let_go(self, serving: _Serving, hold: bool = True) -> None:
        with self._lock:
            serving.users -= int(hold)
            done = serving.retired and serving.users == 0
        if done:
            serving.index.close()
            self._store.collect()  # its folder, unless another process still reads it

    def close(self) -> None:
        """Stop following the index and let its build go, so it can be removed once no other
        process reads it."""
        self._reload_every = None
        with self._reloading, self._lock:
            self._serving.retired = True
        self._let_go(self._serving, hold=False)

    @property
    def filters(self) -> ArticleFilters:
        """The dates and sources of the build served now (see `_Serving.filters`)."""
        return self._serving.filters

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
        serving = self._hold()
        try:
            # A selection is rows of one build's articles: it is made from the build this ask holds.
            select = serving.filters.select(since, until, sources, recency_days) if filtered else EVERYTHING
            return self._answer(serving.retriever, text, earlier, top, depth, select)
        finally:
            self._let_go(serving)

    @staticmethod
    def _answer(
        retriever: Retriever, text: str, earlier: list[str], top: int, depth: int, select: Selection
    ) -> tuple[Answer, Retrieval]:
        # Both searches of a follow-up run on one build, the one this ask holds.
        query = rewrite(text, earlier)
        boost: dict[str, float] = {}
        context: frozenset[str] = frozenset()
        focus = None
        after = None
        if query != text:
            # The articles the previous turn cited stay in play for its follow-up.
            previous = retriever.search(rewrite(earlier[-1], earlier[:-1]), limit=top, select=select)
            boost = {hit.article.id: FOLLOW_UP_BOOST for hit in previous.hits}
            # Only a story the previous turn answered from vouches for the follow-up's answer.
            answered = compose(earlier[-1], previous.query, previous.hits, top=top)
            context = frozenset(c.article_id for c in answered.citations)
            # Carried terms find the article; a follow-up with words of its own picks the sentence by them.
            focus = term_spans(text) or None
            if answered.citations:
                # Its pronouns most often stand for what the previous turn answered. Those names
                # only help find the article: outside `focus`, they do not pick the sentence
                # (news dev follow-ups, out of fold: 13 of 20 answered without them, 15 with
                # them, 10 with them picking the sentence too).
                query = " ".join([query, *answer_names(answered.citations[0].sentence, query)])
            after = Engine._follows(retriever, text, previous.query, earlier, top, depth, select)
        if after is not None:
            sentences = retriever.index.sentences
            story = int(sentences[after, 0])
            if after + 1 == len(sentences) or int(sentences[after + 1, 0]) != story:
                ended = Answer(question=text, query=query, answer=STORY_ENDS, citations=(), abstained=True)
                return ended, Retrieval(query, (), ())
            # Reading on in the story the user was shown answers, whatever the words say; the
            # story must be among the articles searched for its sentences to be candidates.
            article = retriever.index.articles[story].id
            context = context | {article}
            boost = {**boost, article: FOLLOW_UP_BOOST}
        favour = {article: FOLLOW_UP_ODDS for article in context}
        retrieval = retriever.search(
            query, boost=boost, limit=max(top, depth), focus=focus, select=select, favour=favour, after=after
        )
        return compose(text, retrieval.query, retrieval.hits, top=top, context=context), retrieval

    @staticmethod
    def _follows(
        retriever: Retriever, text: str, previous: str, earlier: list[str], top: int, depth: int, select: Selection
    ) -> int | None:
        """For a follow-up asking what came next ("What did he say next?"), the row of the last
        sentence the previous turn (searched as `previous`) showed of its story, reading on from
        its first citation; else None."""
        if not asks_what_follows(text, previous):
            return None
        # The previous turn as it was answered, follow-up and all: the user read its citations.
        # Only the last few turns are replayed, so a long chain of "And then?" costs a bounded
        # number of searches.
        shown, retrieval = Engine._answer(retriever, earlier[-1], earlier[-READ_ON_TURNS:-1], top, depth, select)
        if not shown.citations:
            return None
        # An answer cites its best hit first (`compose`).
        first = retrieval.hits[0]
        cited = {(c.article_id, c.start) for c in shown.citations}
        rows = {
            hit.row
            for hit in retrieval.hits
            if (hit.article.id, hit.start) in cited and hit.article.id == first.article.id
        }
        row = first.row
        while row + 1 in rows:
            row += 1
        return row

    def article(self, article_id: str) -> Article:
        """The article with id `article_id` in the build served now (KeyError if absent)."""
        return self._serving.by_id[article_id]

    def served(self) -> Served:
        """The build served now, its summary, filters and articles read together."""
        serving = self._serving
        return Served(_summary(serving.index), serving.filters, serving.index.articles)

    def summary(self) -> IndexSummary:
        """Counts and build facts of the loaded index."""
        return _summary(self.index)


def _summary(index: _store.StoredIndex) -> IndexSummary:
    m = index.manifest
    return IndexSummary(
        path=index.location,
        articles=m.articles,
        sentences=m.sentences,
        chunks=m.chunks,
        model=m.model,
        built_at=m.built_at,
        corpus_hash=m.corpus_hash,
    )
