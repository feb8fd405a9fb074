"""Hybrid retrieval: dense (FAISS) + BM25 over chunks ranks articles; a fitted ranker then orders
every sentence of the best ones."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from . import _late, _lexical, _wordnet
from ._embed import Embedder
from ._filters import EVERYTHING, Selection
from ._kinds import TYPES, WANTS, has_type, offers_new, question_kind
from ._ranker import Ranker, check, ranker_for
from ._store import StoredIndex
from ._types import Article

CANDIDATE_CHUNKS = 100  # per retriever (dense and BM25) before fusion
# Every sentence of the best ARTICLES articles is a candidate, not only those of their retrieved
# chunks: on the news dev set the answering sentence is in the best 3 articles for 97% of BBC
# questions and the best 5 for 99%, but a reader's paraphrase often misses the chunk that holds it.
ARTICLES = 5
# An article longer than this many sentences (a book, a transcript, many stories saved as one
# file) offers its lead and the sentences of its best-scoring chunks, about this many, rather
# than all of them: ranking every sentence of a 20,000-sentence file took 270 ms a question. No
# news article comes near it (BBC's longest has 248 sentences, Reuters' 162).
ARTICLE_SENTENCES = 300
# The types that answer only when the question does not give them already (names and figures
# are counted apart, below).
NOVEL_TYPES = ("place", "date", "money", "percent")
# The types read from the candidates' text when the question asks for them, rather than from
# the bit the build stored: names and figures are counted against the question's own, and the
# reason cues widened after indexes had been built (an older build's bit holds fewer of them).
TEXT_TYPES = ("name", "number", "reason")
PASSAGES_REPORTED = 10
# Two sentences are one sentence retold when they give the same figures and this much of their
# words is shared (Jaccard): wire copy rewrites a story ("when it sold 100 mln dlrs" / "when the
# utility issued 100 mln dlrs"), and a retelling cited beside the first telling wastes the
# citation. Figures must match: "Notes in circulation totalled 16.28 billion dlrs" and "...
# 16.24 billion dlrs" are two weeks' news.
RETOLD = 0.8
# Retellings are looked for among the best this many candidates only (word sets of every
# candidate cost milliseconds): a retelling of a cited sentence shares its words and scores near it.
RETOLD_AMONG = 30

# What the ranker sees of each candidate sentence (`Retriever.candidates`), and of the best one
# when deciding whether to answer (`Hit`). The weights are fitted (`_ranker`).
RANK_FEATURES: tuple[str, ...] = (
    "cosine",  # the question's vector and the sentence's (pooled in its chunk's context)
    "bm25",  # BM25 of the sentence, over the best candidate's
    "window_bm25",  # BM25 of the previous sentence and this one, over the best candidate's
    "late",  # MaxSim of the question's token vectors over the sentence's
    "late_previous",  # ... over the previous sentence and this one
    "late_next",  # ... over this sentence and the next
    "late_lead",  # ... over this sentence and its article's first (news leans on its lead)
    "late_focus",  # ... weighting each question token by how much better its article matches it than its lead does
    "chunk",  # the best hybrid score of a chunk holding the sentence
    "article",  # the best hybrid score of its article's chunks
    "article_rr",  # 1 / (1 + the article's rank)
    "article_first",  # the article ranks first
    "lead",  # the article's first sentence
    "log_position",  # log(1 + the sentence's position in its article)
    "coverage",  # IDF-weighted share of the question's terms it holds
    "coverage_previous",  # ... that the sentence before it holds (news names its subject first)
    "names_repeated",  # share of the question's names it repeats itself: news names its subject in
    # the lead and then refers back to it ("he", "the firm") in the sentences that add to the story
    "coverage_lexical",  # coverage times the best candidate's: it counts most when the question
    "bm25_lexical",  # reuses the text's words (SQuAD), least when it paraphrases (news); so BM25
    "article_coverage",  # ... that its article holds, anywhere
    "log_length",  # log(1 + its word pieces)
    "continues",  # it opens with a pronoun or determiner ("He", "The teenager"): it refers back
    "paraphrased",  # share of the question's words it holds only as a WordNet synonym or derived
    # form ("film" for "movie", "consecutive" for "straight"; `_wordnet`), times 1 - the best
    # candidate's coverage: readers paraphrase, and where a sentence holds the question's own
    # words (SQuAD's), a synonym elsewhere is weaker evidence than they are
    *(f"{kind}:{kind_type}" for kind, kind_type in WANTS),  # the question asks for what it holds
)
# Whether the best sentence answers at all: its cosine and token match, the share of the
# question's terms its article holds, and the share in terms the corpus never uses (a question
# about something it does not mention). On the BBC dev questions, out of fold, these four
# separate answerable from out-of-corpus questions better (AUC 0.91) than these with the
# sentence's coverage, rank score and article score added (0.89).
# The fifth: the question names something (a word with a capital after its first, or a run of
# them) that the corpus never writes: 70% of the dev set's out-of-corpus questions, 2% of its
# answerable ones. It weighs nearly as much as the cosine: such a question is refused unless
# the others are strong, or a sentence holds half its words (`Ranker.supports`).
# The sixth: the sentence holds the kind of thing asked for (a new figure for "How many...?",
# a name for "Who...?"): out of fold on the news dev set it took the answerable questions
# answered from 0.77 to 0.84 at the same out-of-corpus refusal, since a question the corpus
# does not answer ("How much did Google pay for YouTube?") finds sentences on its subject
# that lack the thing asked.
# The seventh, "margin": how far the sentence's rank score stands above the best sentence of any
# other story among the candidates (`margins`). A question the corpus answers usually has one
# story that answers it clearly; one it does not answer finds several stories on its subject,
# none far ahead. On BBC questions (the dev set's, the extra training questions out of fold and
# the unseen check set's) it took the abstention rule's AUC from 0.92 to 0.95; it costs Reuters a
# little, whose wire copy retells a story in new words. See benchmarks/RESULTS.md.
SUPPORT_FEATURES: tuple[str, ...] = (
    "cosine",
    "match",
    "article_coverage",
    "unknown",
    "unknown_name",
    "offers",
    "margin",
)
# Where the question asks for no particular kind of thing ("what"), "offers" is undecided.
UNDECIDED = 0.5


def offered(question: str, features: np.ndarray) -> np.ndarray:
    """Whether each candidate (a row of RANK_FEATURES) holds the kind of thing `question` asks
    for: its best "kind:type" feature, which only the question's own kind sets."""
    if question_kind(question) not in {kind for kind, _ in WANTS}:
        return np.full(len(features), UNDECIDED)
    columns = [RANK_FEATURES.index(f"{kind}:{kind_type}") for kind, kind_type in WANTS]
    return np.asarray(features[:, columns].max(axis=1, initial=0.0), dtype=np.float64)


def margins(scores: np.ndarray, articles: np.ndarray, groups: np.ndarray, chosen: Sequence[int]) -> np.ndarray:
    """For each `chosen` candidate, its score less the best score of a candidate from another
    story: an article that holds no copy of its sentence (`groups`: the candidates' sentence
    groups, retellings joined by `retold_among`), so a second copy of the same story, or a
    retelling of it, does not count against it. NaN where no other story is among the
    candidates (a one-article corpus, or a filter that leaves one): undecided."""
    out = np.full(len(chosen), np.nan)
    _, story = np.unique(articles, return_inverse=True)
    best = np.full(int(story.max(initial=-1)) + 1, -np.inf)
    np.maximum.at(best, story, scores)
    for k, i in enumerate(chosen):
        others = np.ones(len(best), dtype=bool)
        others[story[groups == groups[i]]] = False
        if others.any():
            out[k] = float(scores[i] - best[others].max())
    return out


@dataclass(frozen=True)
class Hit:
    """A ranked candidate sentence with the features that decide whether it answers."""

    article: Article
    start: int
    end: int
    score: float  # the ranker's score
    cosine: float
    coverage: float
    match: float = 0.0  # late-interaction MaxSim of the question over the previous sentence and this one
    article_coverage: float = 0.0  # IDF share of the question's terms its article holds
    unknown: float = 0.0  # IDF share of the question's terms the corpus never uses
    unknown_name: float = 0.0  # 1 if the question names something the corpus never mentions
    offers: float = 0.0  # it holds the kind of thing asked (`offered`)
    margin: float = float("nan")  # its score above any other story's best (`margins`)
    support: float = 0.0  # the abstention rule's value: the sentence answers when it is at least 0
    copies: int = 1  # articles holding this sentence's text (copies of one story)
    row: int = -1  # the sentence's row in the index


@dataclass(frozen=True)
class Retrieval:
    """Ranked sentences for one query, best first, and the ranked articles they came from."""

    query: str
    hits: tuple[Hit, ...]
    passages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidates:
    """Candidate sentences for one query and the features that rank them (a row each)."""

    sentences: np.ndarray  # rows of the index's sentence table
    features: np.ndarray  # (sentences, RANK_FEATURES)
    passages: tuple[int, ...]  # article rows, best first (up to PASSAGES_REPORTED)
    groups: np.ndarray  # each one's sentence group in the index (copies of a text share it)
    texts: tuple[str, ...]  # each one's text
    unknown: float = 0.0  # IDF share of the question's terms that no chunk of the corpus holds
    unknown_name: float = 0.0  # 1 if the question names something no chunk mentions

    def column(self, name: str) -> np.ndarray:
        """One feature of every candidate."""
        return np.asarray(self.features[:, RANK_FEATURES.index(name)])


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


def _by_max(values: np.ndarray) -> np.ndarray:
    high = float(values.max()) if values.size else 0.0
    return values / high if high > 0 else np.zeros_like(values)


_NAME = re.compile(r"(?<!^)\b[A-Z][a-zA-Z'’-]+")
_WORD = re.compile(r"\w+")
_CAPITALISED = re.compile(r"[^\W\d_][\w'’-]*")
# A sentence opening this way (inside a quote too) refers back to what the story has named.
_CONTINUES = re.compile(r"^(?:[\"“‘']\s*)?(?:the|a|an|he|she|it|they|his|her|its|their|this|these|those)\b", re.I)
_RUN_WORD = re.compile(r"[^\W\d_][\w'’.-]*")
_POSSESSIVE = re.compile(r"['’]s?$")
_PUNCTUATION = str.maketrans({c: " " for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~“”‘’—–"})
# A figure, in digits or words ("Twenty-eight people", "nine embassies"). The words are looked up
# among a text's words rather than matched by one alternation: that regex, run over every
# candidate of a "how many" question, cost about 40 microseconds a sentence.
_DIGITS = re.compile(r"\d[\d,.]*\d|\d")
# fmt: off
_NUMBER_WORDS = frozenset({
    "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen",
    "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty", "forty", "fifty",
    "sixty", "seventy", "eighty", "ninety", "hundred", "thousand", "dozen", "million", "billion", "trillion",
})
# fmt: on


def retellings(texts: Sequence[str]) -> list[tuple[int, int]]:
    """The pairs (i, j), i < j, of `texts` that are one sentence, retold (`RETOLD`) or copied."""
    words = [frozenset(t.lower().translate(_PUNCTUATION).split()) for t in texts]
    vocabulary: dict[str, int] = {}
    present = np.zeros((len(texts), sum(len(w) for w in words)), dtype=np.float32)
    for i, w in enumerate(words):
        present[i, [vocabulary.setdefault(x, len(vocabulary)) for x in w]] = 1.0
    # Every pair's shared words in one product: a set intersection a pair cost most of a
    # millisecond a question over the best RETOLD_AMONG candidates.
    present = present[:, : len(vocabulary)]
    shared = np.einsum("iv,jv->ij", present, present).astype(np.float64)
    sizes = np.array([len(w) for w in words], dtype=np.float64)
    close = shared >= RETOLD * (sizes[:, None] + sizes[None, :] - shared)
    pairs = zip(*np.nonzero(np.triu(close & (sizes > 0)[:, None], 1)), strict=True)
    return [(int(i), int(j)) for i, j in pairs if _figures(texts[i]) == _figures(texts[j])]


def join(groups: np.ndarray, pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """`groups` with the groups of each pair of positions joined, each joined group as its
    smallest: every position in a joined group takes it, paired or not (a copy of a retold
    sentence is that sentence too)."""
    parent: dict[int, int] = {}

    def root(g: int) -> int:
        while g in parent:
            g = parent[g]
        return g

    for i, j in pairs:
        a, b = root(int(groups[i])), root(int(groups[j]))
        if a != b:
            parent[max(a, b)] = min(a, b)
    if not parent:
        return groups
    return np.array([root(g) for g in groups.tolist()], dtype=np.int64)


def repeats(texts: Sequence[str]) -> bool:
    """Whether two of `texts` are one sentence: copies of it, or one retelling the other."""
    return bool(retellings(texts))


def retold_among(groups: np.ndarray, order: Sequence[int], head: Sequence[str]) -> np.ndarray:
    """The candidates' `groups` with retellings among the best RETOLD_AMONG of them joined:
    `order` ranks the candidates, `head` holds the texts of its first RETOLD_AMONG."""
    return join(groups, [(order[i], order[j]) for i, j in retellings(head)])


def _figures(text: str) -> set[str]:
    """The figures `text` gives, lower-cased: digit runs ("1,200", "3.5") and number words."""
    found = set(_DIGITS.findall(text))
    found.update(w for w in _WORD.findall(text.lower()) if w in _NUMBER_WORDS)
    return found


def _names(question: str) -> list[str]:
    """The words of `question` after its first that hold a capital ("Messi", "iPhone", each part
    of "Boeing-Airbus"), without a possessive ending."""
    words = (part for word in _CAPITALISED.findall(question)[1:] for part in word.split("-"))
    return [_POSSESSIVE.sub("", word) for word in words if not word.islower()]


def _name_runs(question: str) -> list[list[str]]:
    """Runs of two or more names in `question` after its first word, one space apart ("Pope
    Francis", "Nick Clegg's"): a possessive ends a run, and an acronym ("UK", "DVD") or a
    hyphenated word is not part of one."""
    runs: list[list[str]] = [[]]
    end = -1
    for match in list(_RUN_WORD.finditer(question))[1:]:
        word = match.group(0).rstrip(".")
        bare = _POSSESSIVE.sub("", word)
        name = bare[:1].isupper() and not bare.isupper() and "-" not in bare
        if not name or question[end : match.start()] != " ":
            runs.append([])
        if name:
            runs[-1].append(bare)
        if bare != word:
            runs.append([])
        end = match.end()
    return [run for run in runs if len(run) > 1]


class Retriever:
    """Searches one loaded index with one embedder and one ranker; deterministic for a given query."""

    def __init__(self, index: StoredIndex, embedder: Embedder, ranker: Ranker | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.ranker = ranker or ranker_for(index.manifest.model)
        check(self.ranker, RANK_FEATURES, SUPPORT_FEATURES)
        # Inverse document frequencies over chunks, for the share of a query a sentence covers.
        chunk_bm25 = index.bm25["chunks"]
        self._vocab: dict[str, int] = chunk_bm25.vocab_dict
        n_docs = int(chunk_bm25.scores["num_docs"])
        indptr = np.asarray(chunk_bm25.scores["indptr"])
        df = np.diff(indptr).astype(np.float64)
        self._idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        self._idf_unknown = float(np.log(1.0 + (n_docs + 0.5) / 0.5))
        articles = len(index.articles)
        self._article_sentences = np.searchsorted(index.sentences[:, 0], np.arange(articles + 1))
        self._article_chunks = np.searchsorted(index.chunks[:, 0], np.arange(articles + 1))

    def search(
        self,
        query: str,
        boost: Mapping[str, float] | None = None,
        limit: int = 10,
        focus: Sequence[tuple[int, int]] | None = None,
        select: Selection = EVERYTHING,
        favour: Mapping[str, float] | None = None,
        after: int | None = None,
    ) -> Retrieval:
        """Rank sentences for `query`; `boost` adds to the hybrid scores of the named articles.
        Only the articles `select` allows are searched; its weights scale their chunks' scores
        and their sentences' odds.

        `favour` adds log-odds to the scores of the named articles' sentences. `after` is a
        sentence row whose successors the question asks for ("What did he say next?"): the
        sentences that follow it in its article come first, in the article's order.

        Only the words of `query` inside the character spans `focus` (all, if None) take part in
        the late interaction that picks sentences: a follow-up carries earlier terms to find
        the article, but its own words ask what it asks. A sentence whose text an earlier hit
        already has (another copy of the story), or that retells it (`retold_among`), is left out.
        """
        tokens = _lexical.tokenize([query])[0]
        vector, all_tokens, token_spans = self.embedder.embed_query(query)
        query_tokens = all_tokens
        if focus is not None:
            inside = [any(lo <= a and b <= hi for lo, hi in focus) for a, b in token_spans]
            query_tokens = all_tokens[np.array(inside, dtype=bool)] if any(inside) else all_tokens
        # What follows `after` stays a candidate however long its article is.
        keep = None if after is None else np.arange(after + 1, after + 1 + limit, dtype=np.int64)
        c = self.candidates(query, tokens, vector, query_tokens, boost, select, keep)
        passages = tuple(self.index.articles[a].id for a in c.passages)
        if c.sentences.size == 0:
            return Retrieval(query, (), passages)
        scores = self.ranker.rank(c.features)
        articles = self.index.sentences[c.sentences, 0]
        if select.weight is not None:
            # The ranker's scores are log-odds over the candidates (a listwise softmax): adding
            # log(weight) scales each sentence's odds by its article's recency weight.
            scores = scores + np.log(select.weight[articles])
        if favour:
            # Log-odds for the named articles' sentences: a follow-up asks about the story the
            # previous turn answered from, so its sentences start ahead of another story's.
            own = [self.index.articles[a].id for a in articles]
            scores = scores + np.array([favour.get(article, 0.0) for article in own])
        # First the sentences after `after` in its article, nearest first; then by score.
        first = np.zeros(len(scores), dtype=np.int64)
        if after is not None:
            follows = (c.sentences > after) & (articles == self.index.sentences[after, 0])
            first = np.where(follows, c.sentences - after - len(self.index.sentences), 0)
        order = np.lexsort((c.sentences, -scores, first)).tolist()
        groups = retold_among(c.groups, order, [c.texts[i] for i in order[:RETOLD_AMONG]])
        chosen: list[int] = []
        seen: set[int] = set()
        for i in order:
            group = int(groups[i])
            if group not in seen:
                seen.add(group)
                chosen.append(i)
                if len(chosen) == limit:
                    break
        rows = [int(c.sentences[i]) for i in chosen]
        # A hit's match, for deciding whether to answer, is over the whole question's tokens.
        if query_tokens is all_tokens:
            match = c.column("late_previous")[chosen]
        else:
            match = self.window_match(all_tokens, np.array(rows, dtype=np.int64))
        cosine, coverage, held = (c.column(n)[chosen] for n in ("cosine", "coverage", "article_coverage"))
        question_level = np.tile([c.unknown, c.unknown_name], (len(chosen), 1))
        offers = offered(query, c.features[chosen])
        margin = margins(scores, articles, groups, chosen)
        figures = np.column_stack([cosine, match, held, question_level, offers, margin])
        support = self.ranker.supports(figures, coverage)
        hits = []
        for k, (i, row) in enumerate(zip(chosen, rows, strict=True)):
            article_row, start, end = self.index.sentences[row].tolist()
            hits.append(
                Hit(
                    article=self.index.articles[article_row],
                    start=start,
                    end=end,
                    score=round(float(scores[i]), 6),
                    cosine=float(cosine[k]),
                    coverage=float(coverage[k]),
                    match=float(match[k]),
                    article_coverage=float(held[k]),
                    unknown=c.unknown,
                    unknown_name=c.unknown_name,
                    offers=float(offers[k]),
                    margin=float(margin[k]),
                    support=round(float(support[k]), 6),
                    copies=int(self.index.copies[row]),
                    row=row,
                )
            )
        return Retrieval(query, tuple(hits), passages)

    def question_candidates(self, question: str) -> Candidates:
        """The candidates `search` ranks for `question` asked on its own (no follow-up focus),
        with their features: what the ranker is fitted on."""
        vector, question_tokens, _ = self.embedder.embed_query(question)
        return self.candidates(question, _lexical.tokenize([question])[0], vector, question_tokens)

    def late_features(
        self, query_tokens: np.ndarray, sentences: np.ndarray, context: np.ndarray | None = None
    ) -> np.ndarray:
        """For each sentence row, its MaxSim with the question's tokens: alone, with the previous
        sentence of its article, with the next one, with its article's first, and weighted
        towards what its article's first sentence does not match (columns in that order).
        `context` is what is read of their articles for that weight (rows holding each one's
        first sentence; all their sentences if None).

        The last two are for news: the lead names the story, so a later sentence that answers
        need not repeat it. "late_focus" weighs each question token by how much better the
        article's best sentence matches it than the lead does (the part of the question the
        lead leaves open) and averages this sentence's matches with those weights.
        """
        out = np.zeros((len(sentences), 5), dtype=np.float64)
        if len(sentences) == 0 or len(query_tokens) == 0:
            return out
        rows = sentences.astype(np.int64)
        article_of = self.index.sentences[:, 0]
        bounds = self._article_sentences
        if context is None:
            articles = np.unique(article_of[rows])
            context = np.concatenate([np.arange(bounds[a], bounds[a + 1]) for a in articles])
        best, needed, column, before, after = self._window_best(query_tokens, rows, context)
        own = best[:, column(rows)]
        previous = np.where(before >= 0, np.maximum(own, best[:, column(before)]), own)
        following = np.where(after >= 0, np.maximum(own, best[:, column(after)]), own)
        out[:, 0], out[:, 1], out[:, 2] = own.mean(axis=0), previous.mean(axis=0), following.mean(axis=0)
        lead = best[:, column(bounds[article_of[rows]])]
        out[:, 3] = np.maximum(own, lead).mean(axis=0)
        # `needed` holds each article's context, in row order: one run of columns an article.
        needed_article = article_of[needed]
        run_starts = np.flatnonzero(np.concatenate([[True], needed_article[1:] != needed_article[:-1]]))
        article_best = np.maximum.reduceat(best, run_starts, axis=1)
        own_article = article_best[:, np.searchsorted(needed_article[run_starts], article_of[rows])]
        weight = np.clip(own_article - lead, 0.0, None) + 1e-6
        out[:, 4] = (own * weight).sum(axis=0) / weight.sum(axis=0)
        return out

    def window_match(self, query_tokens: np.ndarray, sentences: np.ndarray) -> np.ndarray:
        """`late_features`' "late_previous" column alone (MaxSim over each sentence and the one
        before it), reading only those sentences' tokens, not their whole articles."""
        if len(sentences) == 0 or len(query_tokens) == 0:
            return np.zeros(len(sentences), dtype=np.float64)
        rows = sentences.astype(np.int64)
        best, _, column, before, _ = self._window_best(query_tokens, rows, np.zeros(0, np.int64))
        own = best[:, column(rows)]
        previous = np.where(before >= 0, np.maximum(own, best[:, column(before)]), own)
        return np.asarray(previous.mean(axis=0), dtype=np.float64)

    def _window_best(
        self, query_tokens: np.ndarray, rows: np.ndarray, extra: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray], np.ndarray, np.ndarray]:
        """Each question token's best cosine to any token of each sentence `rows`, their
        neighbours in their article and `extra` need: the (question tokens x needed) matrix,
        the needed rows (sorted), a map from rows to its columns, and each row's previous and
        next row in its article (-1 where there is none)."""
        index = self.index
        article_of = index.sentences[:, 0]
        last = len(article_of) - 1
        before, after = np.maximum(rows - 1, 0), np.minimum(rows + 1, last)
        has_previous = (rows > 0) & (article_of[before] == article_of[rows])
        has_next = (rows < last) & (article_of[after] == article_of[rows])
        needed = np.unique(np.concatenate([rows, before[has_previous], after[has_next], extra]))
        starts, ends = index.sentence_tokens[needed], index.sentence_tokens[needed + 1]
        # Needed sentences come in runs (whole articles, or neighbours): one slice a run.
        breaks = np.flatnonzero(np.diff(needed) != 1) + 1
        runs = [(int(a[0]), int(b[-1])) for a, b in zip(np.split(starts, breaks), np.split(ends, breaks), strict=True)]
        codes = np.vstack([index.token_codes[a:b] for a, b in runs])
        scale = np.concatenate([index.token_scale[a:b] for a, b in runs])
        offsets = np.concatenate([[0], np.cumsum(ends - starts)])
        question = index.projection.apply_few(query_tokens)
        best = _late.segment_best(question, codes, offsets, scale)

        def column(r: np.ndarray) -> np.ndarray:
            # Where a neighbour is absent (-1), any column does: callers mask it.
            return np.asarray(np.minimum(np.searchsorted(needed, np.maximum(r, 0)), len(needed) - 1))

        return best, needed, column, np.where(has_previous, before, -1), np.where(has_next, after, -1)

    def lexical_scores(self, tokens: list[str]) -> dict[str, np.ndarray]:
        """BM25 of every chunk, sentence and window (previous + sentence) for the question's tokens."""
        return {part: _lexical.scores(self.index.bm25[part], tokens) for part in ("chunks", "sentences", "windows")}

    def candidates(
        self,
        question: str,
        tokens: list[str],
        vector: np.ndarray,
        question_tokens: np.ndarray,
        boost: Mapping[str, float] | None = None,
        select: Selection = EVERYTHING,
        keep: np.ndarray | None = None,
    ) -> Candidates:
        """Hybrid chunk retrieval ranks the articles; every sentence of the best ARTICLES of them
        is a candidate (`_offered`), with the features that rank it (RANK_FEATURES). The
        sentence rows `keep` are candidates too if their article is.

        Filters act here, before the best articles are picked: FAISS and BM25 search only the
        chunks of articles `select` allows, so a filtered-out story never crowds out a match.
        """
        index = self.index
        lexical = self.lexical_scores(tokens)
        allowed = None if select.allowed is None else select.allowed[index.chunks[:, 0]]
        chunk_bm25 = lexical["chunks"] if allowed is None else np.where(allowed, lexical["chunks"], 0.0)
        retrieved = index.search_candidates(vector, tokens, CANDIDATE_CHUNKS, allowed)  # a store searching both
        if retrieved is None:
            dense_ids, _ = index.search_chunks(vector, CANDIDATE_CHUNKS, allowed)
            # Only chunks holding a question word can be lexical candidates. Ranking just those is
            # the same top and far quicker: partitioning thousands of equal zeros is slow.
            holding = np.flatnonzero(chunk_bm25 > 0)
            retrieved = np.union1d(dense_ids, holding[_top(chunk_bm25[holding], CANDIDATE_CHUNKS)])
        # einsum, not @, for the same reason as in `_late`: no BLAS threads left spinning.
        dense = np.einsum("cd,d->c", index.chunk_vectors[retrieved], vector)
        normalise = _normaliser(dense), _normaliser(chunk_bm25[retrieved])

        def fused(chunks: np.ndarray) -> np.ndarray:
            values = 0.5 * normalise[0](np.einsum("cd,d->c", index.chunk_vectors[chunks], vector))
            values = values + 0.5 * normalise[1](chunk_bm25[chunks])
            if boost:
                values = values + np.array([boost.get(index.articles[a].id, 0.0) for a in index.chunks[chunks, 0]])
            if select.weight is not None:
                values = values * select.weight[index.chunks[chunks, 0]]
            return np.asarray(values, dtype=np.float64)

        chunk_article = index.chunks[retrieved, 0]
        articles, which = np.unique(chunk_article, return_inverse=True)
        article_score = np.full(len(articles), -np.inf)
        np.maximum.at(article_score, which, fused(retrieved))
        ranked = articles[np.lexsort((articles, -article_score))]
        top = ranked[:ARTICLES]
        if not len(top):
            none = np.zeros(0, np.int64)
            return Candidates(none, np.zeros((0, len(RANK_FEATURES))), (), none, ())

        # Every chunk of the top articles and the sentences they offer, in article order.
        bounds = self._article_sentences
        chunks = np.concatenate([np.arange(self._article_chunks[a], self._article_chunks[a + 1]) for a in top])
        chunk_score = fused(chunks)
        sentences = self._offered(top, chunks, chunk_score, np.zeros(0, np.int64) if keep is None else keep)
        best_chunk = np.full(len(index.sentences), -np.inf)
        _, first, last = index.chunks[chunks].T
        lengths = last - first
        members = np.repeat(first - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
        np.maximum.at(best_chunk, members, np.repeat(chunk_score, lengths))
        rank_of = np.zeros(len(index.articles), dtype=np.int64)
        rank_of[top] = np.arange(len(top))
        article_best = np.full(len(index.articles), -np.inf)
        np.maximum.at(article_best, index.chunks[chunks, 0], chunk_score)

        own_article = index.sentences[sentences, 0]
        rank = rank_of[own_article]
        position = sentences - bounds[own_article]
        late = self.late_features(question_tokens, sentences, sentences)
        terms, idf = self._weights(tokens)
        weights, held = self._presence(terms, idf, sentences)
        coverage = weights @ held
        names = {stem for stems in _lexical.tokenize(_names(question)) for stem in stems}
        is_name = np.array([term in names for term in terms], dtype=bool)
        # An article holds a term if one of its candidate sentences does (for all but the longest
        # articles, one of its sentences).
        runs = np.flatnonzero(np.concatenate([[True], own_article[1:] != own_article[:-1]]))
        article_coverage = (
            weights @ np.logical_or.reduceat(held, runs, axis=1) if len(weights) else np.zeros(len(top))
        )[rank]
        length = np.diff(index.sentence_tokens)[sentences].astype(np.float64)
        bm25 = _by_max(lexical["sentences"][sentences])
        columns: dict[str, np.ndarray] = {
            "cosine": np.einsum("sd,d->s", index.sentence_vectors[sentences], vector),
            "bm25": bm25,
            "window_bm25": _by_max(lexical["windows"][sentences]),
            "late": late[:, 0],
            "late_previous": late[:, 1],
            "late_next": late[:, 2],
            "late_lead": late[:, 3],
            "late_focus": late[:, 4],
            "chunk": best_chunk[sentences],
            "article": article_best[own_article],
            "article_rr": 1.0 / (1.0 + rank),
            "article_first": (rank == 0).astype(np.float64),
            "lead": (position == 0).astype(np.float64),
            "log_position": np.log1p(position),
            "coverage": coverage,
            "coverage_previous": np.where(
                (position > 0) & np.concatenate([[False], sentences[1:] == sentences[:-1] + 1]),
                np.concatenate([[0.0], coverage[:-1]]),
                0.0,
            ),
            "names_repeated": held[is_name].mean(axis=0) if is_name.any() else np.zeros(len(sentences)),
            "coverage_lexical": coverage * coverage.max(),
            "bm25_lexical": bm25 * coverage.max(),
            "article_coverage": article_coverage,
            "log_length": np.log1p(length),
            "paraphrased": self._paraphrased(question, sentences) * (1.0 - coverage.max()),
        }
        kind = question_kind(question)
        types = index.sentence_types[sentences].astype(np.int64)
        texts = index.sentence_texts(sentences)
        columns["continues"] = np.array([bool(_CONTINUES.match(t)) for t in texts], dtype=np.float64)
        question_words = {w.lower() for w in _WORD.findall(question)}
        for asked_kind, wanted in WANTS:
            name = f"{asked_kind}:{wanted}"
            if asked_kind != kind:
                columns[name] = np.zeros(len(sentences))
            elif wanted == "name":
                # A name the question does not already give: up to three count.
                new = [sum(w.lower() not in question_words for w in _NAME.findall(t)) for t in texts]
                columns[name] = np.minimum(np.array(new, dtype=np.float64), 3.0) / 3.0
            elif wanted == "number":
                # A figure the question does not already give ("in 2004" asks, it does not answer).
                given = _figures(question)
                columns[name] = np.array([bool(_figures(t) - given) for t in texts], dtype=np.float64)
            elif wanted in TEXT_TYPES:
                columns[name] = np.array([has_type(wanted, t) for t in texts], dtype=np.float64)
            else:
                # NOVEL_TYPES: only a sentence holding the type at all (its bit, found at build
                # time) is searched.
                column = np.zeros(len(sentences))
                for i in np.flatnonzero((types >> TYPES.index(wanted)) & 1).tolist():
                    column[i] = offers_new(wanted, texts[i], question_words)
                columns[name] = column
        features = np.column_stack([columns[n] for n in RANK_FEATURES]).astype(np.float64)
        return Candidates(
            sentences=sentences,
            features=features,
            passages=tuple(ranked[:PASSAGES_REPORTED].tolist()),
            groups=index.sentence_groups[sentences],
            texts=tuple(texts),
            unknown=float(sum(w for t, w in zip(terms, weights, strict=True) if t not in self._vocab)),
            unknown_name=self._unknown_name(question),
        )

    def _offered(self, top: np.ndarray, chunks: np.ndarray, chunk_score: np.ndarray, keep: np.ndarray) -> np.ndarray:
        """The candidate sentence rows of the `top` articles, article by article in row order:
        all of an article's, or of one longer than ARTICLE_SENTENCES its first, those of its
        best-scoring `chunks` (`chunk_score`) until they number that many, and those of `keep`."""
        bounds = self._article_sentences
        chunk_article, first, last = self.index.chunks[chunks].T
        parts = []
        for a in top.tolist():
            lo, hi = int(bounds[a]), int(bounds[a + 1])
            if hi - lo <= ARTICLE_SENTENCES:
                parts.append(np.arange(lo, hi, dtype=np.int64))
                continue
            own = np.flatnonzero(chunk_article == a)
            taken = np.zeros(hi - lo, dtype=bool)
            for i in own[np.lexsort((own, -chunk_score[own]))].tolist():
                taken[first[i] - lo : last[i] - lo] = True  # chunks overlap: count each sentence once
                if taken.sum() >= ARTICLE_SENTENCES:
                    break
            taken[0] = True
            taken[keep[(keep >= lo) & (keep < hi)] - lo] = True
            parts.append(lo + np.flatnonzero(taken))
        return np.concatenate(parts)

    def _unknown_name(self, question: str) -> float:
        """1.0 if a name of `question` (`_names`) is written in no sentence of the corpus, as it
        is or with a plural or possessive ending, or if a run of names ("European Central Bank",
        "Pope Francis") is written in none, a full stop or a middle initial apart ("St.
        Augustine", "Alan L. Bean"). Stems alone would not do: "Messi" stems as "messy" does."""
        names = _names(question)
        for name, stems in zip(names, _lexical.tokenize(names), strict=True):
            root = re.sub(r"e?s$", "", name, flags=re.IGNORECASE)
            if stems and not self._written(re.compile(rf"\b{re.escape(root)}(?:e?s|e)?\b", re.IGNORECASE), stems):
                return 1.0
        for run in _name_runs(question):
            stems = sorted({stem for stems in _lexical.tokenize(run) for stem in stems})
            joined = r"\.?\s+(?:[a-z]\.\s+)?".join(map(re.escape, run))
            if stems and not self._written(re.compile(rf"\b{joined}\b", re.IGNORECASE), stems):
                return 1.0
        return 0.0

    def _written(self, pattern: re.Pattern[str], stems: list[str]) -> bool:
        """Whether a sentence holding every one of `stems` matches `pattern` (read only in the
        sentences the BM25 index says hold them all, so never if one is in no sentence; the
        first match ends the search)."""
        index = self.index.bm25["sentences"]
        postings, vocab = index.scores, index.vocab_dict
        rows: np.ndarray | None = None
        for stem in stems:
            if stem not in vocab:
                return False
            term = vocab[stem]
            holding = postings["indices"][postings["indptr"][term] : postings["indptr"][term + 1]]
            rows = holding if rows is None else np.intersect1d(rows, holding, assume_unique=True)
        if rows is None:
            return True
        articles = self.index.articles
        for block in range(0, len(rows), 64):  # a common name is written in the first block
            for a, start, end in self.index.sentences[rows[block : block + 64]].tolist():
                if pattern.search(articles[a].text, start, end):
                    return True
        return False

    def _weights(self, query_tokens: list[str]) -> tuple[list[str], np.ndarray]:
        """The question's unique terms and their IDF over chunks (a term no chunk holds gets the
        highest IDF there is)."""
        unique = sorted(set(query_tokens))
        idf = [self._idf[self._vocab[t]] if t in self._vocab else self._idf_unknown for t in unique]
        return unique, np.array(idf, dtype=np.float64)

    def _paraphrased(self, question: str, rows: np.ndarray) -> np.ndarray:
        """For each sentence of `rows`, the share of the question's words it paraphrases
        (`_wordnet.paraphrases`): it holds a synonym's or derived form's stem, not the word's."""
        words = _wordnet.paraphrases(question)
        if not words:
            return np.zeros(len(rows))
        related = self._holds_any([stems for _, stems in words], rows)
        own = self._holds_any([{stem} for stem, _ in words], rows)
        return np.asarray((related & ~own).mean(axis=0), dtype=np.float64)

    def _holds_any(self, term_sets: Sequence[frozenset[str] | set[str]], rows: np.ndarray) -> np.ndarray:
        """For each set of stems, which of the sentence `rows` hold any of them (sets x rows),
        from the sentence BM25 index's postings."""
        sentences = self.index.bm25["sentences"]
        indptr, indices, vocab = sentences.scores["indptr"], sentences.scores["indices"], sentences.vocab_dict
        out = np.zeros((len(term_sets), len(rows)), dtype=bool)
        # One flag per sentence of the index, set and cleared for each set: a few thousand
        # postings a question, where sorting them (np.isin) cost a millisecond.
        flags = np.zeros(len(self.index.sentences), dtype=bool)
        for i, terms in enumerate(term_sets):
            ids = [vocab[t] for t in terms if t in vocab]
            if ids:
                postings = np.concatenate([indices[indptr[v] : indptr[v + 1]] for v in ids])
                flags[postings] = True
                out[i] = flags[rows]
                flags[postings] = False
        return out

    def _presence(self, terms: list[str], idf: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The `terms`' IDF weights scaled to sum to 1 and, for each term, which of the sentence
        `rows` hold it (terms x rows), read from the sentence BM25 index's postings (built with
        the same tokenizer), so no sentence is tokenized again."""
        held = self._holds_any([{term} for term in terms], rows)
        return (idf / float(idf.sum()) if terms else idf), held


def _normaliser(values: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Min-max scaling fitted on `values` (the retrieved chunks), to apply to any chunk's."""
    low = float(values.min()) if values.size else 0.0
    span = (float(values.max()) - low) if values.size else 0.0
    if span < 1e-12:
        return lambda v: np.zeros(len(v), dtype=np.float64)
    return lambda v: (np.asarray(v, dtype=np.float64) - low) / span
