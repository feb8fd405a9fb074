"""Answer building: ranked sentences in, an `Answer` out. Pure: no I/O, no UI."""

from __future__ import annotations

from collections.abc import Sequence

from ._retrieve import Hit
from ._types import Answer, Citation

# A top sentence is taken as answering when it is close in meaning or covers the question's
# rarer words; below both the corpus is taken not to answer. Fitted on held-out SQuAD articles
# (see benchmarks/RESULTS.md).
MIN_COSINE = 0.40
MIN_COVERAGE = 0.55
NOT_FOUND = "The corpus does not answer this question."


def is_supported(hit: Hit) -> bool:
    """Whether the best sentence found is evidence enough to answer."""
    return hit.cosine >= MIN_COSINE or hit.coverage >= MIN_COVERAGE


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
