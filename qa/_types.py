"""Small frozen result types shared by every stage; the JSON contract is their `asdict`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


def counted(n: int, noun: str) -> str:
    """A count and its noun ("1 article", "2 articles"), for the CLI's and the UI's messages."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def also_in(copies: int) -> str:
    """How a citation names the other articles holding its sentence ("" when none do)."""
    return f"also in {counted(copies - 1, 'other article')}" if copies > 1 else ""


@dataclass(frozen=True)
class Article:
    """One article of the corpus, with its full text as read from disk."""

    id: str
    title: str
    text: str
    date: str | None = None
    source: str | None = None
    url: str | None = None
    author: str | None = None  # a saved HTML page's byline (qa._html); stored, not cited


@dataclass(frozen=True)
class Skipped:
    """A corpus file, folder or JSONL line that could not be read or says nothing, and why; or,
    in `ignored`, a field of an article that could not be read (the article is kept without it)."""

    path: str
    reason: str


@dataclass(frozen=True)
class Span:
    """A character range of an article's text: `text[start:end]`."""

    start: int
    end: int


@dataclass(frozen=True)
class Citation:
    """A verbatim source sentence: `sentence == article_text[start:end]`, always."""

    n: int
    article_id: str
    title: str
    sentence: str
    start: int
    end: int
    score: float
    copies: int = 1  # articles holding this same sentence (copies of one story); cited once
    date: str | None = None
    source: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Answer:
    """The answer contract shared by the Python API, `qa ask --json` and the Gradio API.

    `citations` back the `[n]` markers in `answer`; when `abstained` is true the corpus does
    not answer, `citations` is empty and `nearest` lists the closest sentences found, which
    are not an answer. `query` is what was actually searched (a follow-up question is
    rewritten with context from earlier turns).
    """

    question: str
    query: str
    answer: str
    citations: tuple[Citation, ...]
    abstained: bool
    nearest: tuple[Citation, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form of this answer (the API contract)."""
        return asdict(self)


@dataclass(frozen=True)
class BuildReport:
    """What a build did, for the CLI summary and for callers."""

    index_dir: str
    articles: int
    sentences: int
    chunks: int
    skipped: tuple[Skipped, ...]
    seconds: float
    model: str
    backend: str
    reused: int = 0  # articles whose vectors came from the previous index
    embedded: int = 0  # articles split and embedded in this build
    removed: int = 0  # articles of the previous index no longer in the corpus
    incremental: bool = False
    ignored: tuple[Skipped, ...] = ()  # fields left out of articles that were built (an unreadable date)
    fresh: str = ""  # why an index already there lent no vectors (unreadable, or built another way)
