"""Date and source filters, and the preference for recent articles, as arrays over an index's
articles that retrieval applies while it ranks them (not to the answer afterwards)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from ._dates import bound, timestamp
from ._errors import InvalidFilterError, as_sent
from ._types import Article

DAY_SECONDS = 86_400.0
MAX_SOURCES_NAMED = 10  # an unknown source's message lists at most this many known ones


@dataclass(frozen=True)
class Selection:
    """What one question may be answered from, for retrieval.

    `allowed[a]`: article row a may be a candidate (None: every article may). `weight[a]`
    multiplies its chunks' fused scores (None: all 1), the preference for recent articles.
    """

    allowed: np.ndarray | None = None
    weight: np.ndarray | None = None


EVERYTHING = Selection()


class ArticleFilters:
    """Each article's date (as a timestamp) and source, to turn a question's filters into a
    `Selection`. Sources match whole and ignoring case ("reuters" is "Reuters")."""

    def __init__(self, articles: Sequence[Article]) -> None:
        self.times = np.array([timestamp(a.date) if a.date else math.nan for a in articles], dtype=np.float64)
        keys = [(a.source or "").strip().casefold() for a in articles]
        self._keys = sorted({k for k in keys if k})
        self._row = {k: i for i, k in enumerate(self._keys)}
        self._source_of = np.array([self._row[k] if k else -1 for k in keys], dtype=np.int64)
        shown: dict[str, str] = {}
        for a in articles:
            if a.source and a.source.strip():
                shown.setdefault(a.source.strip().casefold(), a.source.strip())
        self.sources = tuple(shown[k] for k in self._keys)  # as the corpus first spells each

    @property
    def dated(self) -> bool:
        """Whether any article has a date."""
        return bool(np.isfinite(self.times).any())

    def date_range(self) -> str:
        """The first and last day of the articles' dates, for messages."""
        if not self.dated:
            return "no article of the index has a date"
        days = (datetime.fromtimestamp(float(t), UTC).date() for t in (np.nanmin(self.times), np.nanmax(self.times)))
        return "the index's articles are dated {} to {}".format(*days)

    def select(
        self,
        since: object = None,
        until: object = None,
        sources: object = None,
        recency_days: object = None,
    ) -> Selection:
        """The `Selection` for these filters; `InvalidFilterError`, saying how to fix it, when a
        value cannot be read or no article matches."""
        low, high = _bound(since, "since", end=False), _bound(until, "until", end=True)
        if low is not None and high is not None and low > high:
            raise InvalidFilterError("since is after until; swap them, or leave one empty")
        wanted = _names(sources)
        half_life = _half_life(recency_days)
        if low is None and high is None and not wanted and half_life is None:
            return Selection()
        allowed = np.ones(len(self.times), dtype=bool)
        if low is not None:
            allowed &= self.times >= low  # an undated article is never inside a date range (NaN)
        if high is not None:
            allowed &= self.times <= high
        if wanted:
            unknown = [name for name in wanted if name.casefold() not in self._row]
            if unknown:
                known = ", ".join(self.sources[:MAX_SOURCES_NAMED]) + (
                    ", ..." if len(self.sources) > MAX_SOURCES_NAMED else ""
                )
                raise InvalidFilterError(
                    f"no article has source {unknown[0]!r}; "
                    + (
                        f"the index's sources are {known}"
                        if self.sources
                        else "no article of the index names its source"
                    )
                )
            rows = [self._row[name.casefold()] for name in wanted]
            allowed &= np.isin(self._source_of, rows)
        if not allowed.any():
            raise InvalidFilterError(f"no article matches these filters ({self.date_range()}); widen them")
        weight = None
        if half_life is not None:
            times = np.where(allowed, self.times, math.nan)
            if not np.isfinite(times).any():
                raise InvalidFilterError(
                    "recency needs dated articles and none of those matching has a date; leave it unset"
                )
            # Age from the newest matching article, not from today: an archive's latest story is
            # its current state. An undated article counts as old as the oldest dated one.
            newest, oldest = float(np.nanmax(times)), float(np.nanmin(times))
            age = newest - np.where(np.isfinite(self.times), self.times, oldest)
            weight = np.power(0.5, np.maximum(age, 0.0) / (half_life * DAY_SECONDS))
        return Selection(None if allowed.all() else allowed, weight)


def _bound(value: object, name: str, *, end: bool) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return bound(value, end=end)
    except ValueError as exc:
        raise InvalidFilterError(f"{name}: {exc}") from exc


def _names(value: object) -> list[str]:
    """Source names: one name, or a list of them; blanks beside names are dropped. No value
    (None, "") is no filter, but a list of blanks only is an error: dropping them all would
    quietly answer from every source."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
        raise InvalidFilterError(f"sources must be a list of source names, not {as_sent(value)}")
    if items and not any(v.strip() for v in items):
        raise InvalidFilterError(
            f"sources {as_sent(list(items))} names no source; name one, or leave sources out for all"
        )
    return list(dict.fromkeys(v.strip() for v in items if v.strip()))


def _half_life(value: object) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        days = float(value) if isinstance(value, int | float | str) else math.nan
    except ValueError:
        days = math.nan
    if not math.isfinite(days) or days <= 0:
        raise InvalidFilterError(f"recency_days must be a positive number of days (a half-life), not {as_sent(value)}")
    return days
