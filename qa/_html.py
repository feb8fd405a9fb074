"""Saved HTML news pages: the article's text and metadata, without the page around it.

trafilatura finds the article body (dropping navigation, ads, scripts, footers and related-link
lists) and reads the page's metadata from its meta tags, canonical link and JSON-LD. The text
it returns is what the index stores, so citations' offsets refer to it, as for any article.
trafilatura (and lxml under it) is imported only when an HTML file is read: `import qa` stays
light.
"""

from __future__ import annotations

from dataclasses import dataclass

HTML_SUFFIXES = (".html", ".htm")


@dataclass(frozen=True)
class Page:
    """What an HTML page holds: its article text and the metadata found for it."""

    text: str
    title: str | None
    date: str | None  # as trafilatura gives it: an ISO date, YYYY-MM-DD
    author: str | None
    url: str | None  # the canonical URL (link rel=canonical, og:url or JSON-LD)
    sitename: str | None


def read_page(raw: bytes) -> Page | None:
    """The article of a saved HTML page, or None when the page holds no article text.

    `raw` is the file's bytes: trafilatura finds the encoding from the page's own charset
    declaration (or guesses it), so pages saved as windows-1252 read right.
    """
    import trafilatura

    doc = trafilatura.bare_extraction(
        raw,
        with_metadata=True,
        include_comments=False,  # readers' comments are not the article
        include_tables=False,  # tables flatten into cell soup that is no sentence
        include_images=False,
        include_links=False,
    )
    text = getattr(doc, "text", None)
    if not isinstance(text, str) or not text.strip():
        return None
    return Page(
        text=text,
        title=_clean(getattr(doc, "title", None)),
        date=_clean(getattr(doc, "date", None)),
        author=_clean(getattr(doc, "author", None)),
        url=_clean(getattr(doc, "url", None)),
        sitename=_clean(getattr(doc, "sitename", None)),
    )


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip() or None
