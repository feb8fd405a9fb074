"""Answer building: ranked sentences in, an `Answer` out. Pure: no I/O, no UI."""

from __future__ import annotations

from collections.abc import Sequence

from ._retrieve import Hit
from ._segment import paragraphs
from ._types import Answer, Citation

NOT_FOUND = "The corpus does not answer this question."


def is_supported(hit: Hit) -> bool:
    """Whether a sentence found is evidence enough to cite: the fitted abstention rule's value
    (`Ranker.supports`), computed by the retriever, is at least 0."""
    return hit.support >= 0.0


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
        copies=hit.copies,
        date=article.date,
        source=article.source,
        url=article.url,
    )


def compose(
    question: str, query: str, hits: Sequence[Hit], top: int = 3, context: frozenset[str] = frozenset()
) -> Answer:
    """An answer citing the best sentence and, of the next `top - 1`, those from its article or
    evidence on their own (not an unrelated story's sentence that shares a word with the
    question); or, when the best is not evidence, an abstention listing them as nearest.

    `context` names the articles the conversation's previous turn cited: a follow-up's best
    sentence from one of them answers, since the earlier turn already found the story and a
    follow-up's own words ("How big are they in total?") say little on their own.
    """
    if not hits or not (is_supported(hits[0]) or hits[0].article.id in context):
        nearest = tuple(citation(n, hit) for n, hit in enumerate(hits[:top], 1))
        return Answer(question=question, query=query, answer=NOT_FOUND, citations=(), abstained=True, nearest=nearest)
    first = hits[0].article.id
    kept = [hits[0], *(hit for hit in hits[1:top] if hit.article.id == first or is_supported(hit))]
    cited = tuple(citation(n, hit) for n, hit in enumerate(kept, 1))
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
