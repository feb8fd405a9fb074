"""Answer building: ranked sentences in, an `Answer` out. Pure: no I/O, no UI."""

from __future__ import annotations

from collections.abc import Sequence

from ._retrieve import Hit
from ._segment import paragraphs
from ._types import Answer, Citation

# The best sentence answers when `cosine + COVERAGE_WEIGHT * coverage + MATCH_WEIGHT * match >=
# MIN_SUPPORT`: close in meaning, holding the question's rarer words, matching its words token
# by token (late interaction), or enough of these together. Fitted on the 24 SQuAD v1.1 dev
# articles whose titles sort first (index them, ask their questions and the other 24's; the
# weights and threshold that abstain most while answering 96%): benchmarks/fit_abstention.py.
# The match term took abstention there from 0.908 to 0.938 at the same share answered.
COVERAGE_WEIGHT = 0.65
MATCH_WEIGHT = 2.0
MIN_SUPPORT = 1.89
NOT_FOUND = "The corpus does not answer this question."


def is_supported(hit: Hit) -> bool:
    """Whether the best sentence found is evidence enough to answer."""
    return support(hit) >= MIN_SUPPORT


def support(hit: Hit) -> float:
    """How strongly a sentence supports answering: its cosine, coverage and token match, weighted."""
    return hit.cosine + COVERAGE_WEIGHT * hit.coverage + MATCH_WEIGHT * hit.match


def citation(n: int, hit: Hit) -> Citation:
    """The citation for a hit: its sentence is the article's text between its offsets."""
    article = hit.article
    return Citation(
        n=n,
        article_id=article.id,
        title=article.title,
        sentence=article.text[hit.start : hit.end],
        start=hit.start,
        end=hit.end,
        score=hit.score,
        date=article.date,
        source=article.source,
        url=article.url,
    )


def compose(question: str, query: str, hits: Sequence[Hit], top: int = 3) -> Answer:
    """An answer citing the `top` best sentences, or an abstention that lists them as nearest."""
    cited = tuple(citation(n, hit) for n, hit in enumerate(hits[:top], 1))
    if not cited or not is_supported(hits[0]):
        return Answer(question=question, query=query, answer=NOT_FOUND, citations=(), abstained=True, nearest=cited)
    text = " ".join(f"{c.sentence} [{c.n}]" for c in cited)
    return Answer(question=question, query=query, answer=text, citations=cited, abstained=False)


def context(article_text: str, start: int, end: int, min_chars: int = 400) -> tuple[str, str, str]:
    """The text around `article_text[start:end]`, as (before, sentence, after).

    The sentence's paragraph, widened by whole neighbouring paragraphs while it is shorter than
    `min_chars` (news files often put every sentence on a line of its own).
    """
    paras = paragraphs(article_text)
    here = next((i for i, p in enumerate(paras) if p.start <= start and end <= p.end), None)
    if here is None:
        return "", article_text[start:end], ""
    first = last = here
    while paras[last].end - paras[first].start < min_chars and (first > 0 or last < len(paras) - 1):
        first, last = max(first - 1, 0), min(last + 1, len(paras) - 1)
    lo, hi = paras[first].start, paras[last].end
    return article_text[lo:start], article_text[start:end], article_text[end:hi]
