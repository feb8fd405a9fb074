"""Article dates: the formats news uses in, ISO 8601 out, and a number to compare them by.

Pure text and datetime: corpus reading stores `iso_date`'s result, and filters compare
`timestamp`s of those strings (so an index holds one format only).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime

FORMATS = (
    "ISO 8601 (2025-03-17 or 2025-03-17T10:00:00Z), RFC 2822 (Mon, 17 Mar 2025 10:00:00 GMT) or 17-MAR-2025 10:00:00"
)
# Reuters-21578's <DATE>: "26-FEB-1987 15:01:01.79". About 300 of its stories end it with a
# desk's letter codes ("... 15:01:01.79 RM"), which say nothing about the time.
_REUTERS = re.compile(
    r"(\d{1,2})-([A-Za-z]{3})-(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?(?:\s*[A-Z]{1,3})*\s*"
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# A date alone is a day; an ISO string of one is exactly 10 characters.
_DAY_CHARS = len("2025-03-17")


def iso_date(value: object) -> str:
    """`value` (a string in one of `FORMATS`, or a date / datetime as YAML front matter reads
    them) as ISO 8601: "2025-03-17" for a day, "2025-03-17T10:00:00" with the offset it was
    given ("+00:00" for GMT and "Z"), to the second. ValueError, saying which formats are
    understood, otherwise."""
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool) and 10_000_000 <= value <= 99_999_999:
        # Unquoted in YAML or JSON, ISO 8601's basic form (20250317) arrives as a number. Only
        # eight digits: read as text, an epoch timestamp could pass for a date in the 1600s.
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"date {value!r} is not text; write it as {FORMATS}")
    text = value.strip()
    parsed = _parse(text)
    if parsed is None:
        raise ValueError(f"date {text[:60]!r} is not understood; write it as {FORMATS}")
    return parsed


def _parse(text: str) -> str | None:
    try:
        # A day in any ISO 8601 form ("2025-03-17", "20250317", "2025-W12-1") stays a day;
        # datetime.fromisoformat would read it as that day's midnight.
        return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        # Python 3.11 reads ISO 8601's common forms, "Z" included.
        return _iso(datetime.fromisoformat(text))
    except ValueError:
        pass
    reuters = _REUTERS.fullmatch(text)
    if reuters:
        day, month, year, hour, minute, second = reuters.groups()
        if month.lower() not in _MONTHS:
            return None
        try:
            moment = datetime(int(year), _MONTHS.index(month.lower()) + 1, int(day))
            if hour is None:
                return moment.date().isoformat()
            return _iso(moment.replace(hour=int(hour), minute=int(minute), second=int(second or 0)))
        except ValueError:
            return None
    try:
        return _iso(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        return None


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def timestamp(iso: str) -> float:
    """Seconds since 1970 (UTC) of an `iso_date` string; a time without an offset is read as
    UTC, and a day as its first second."""
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def bound(value: object, *, end: bool) -> float:
    """A filter's `since` (end=False) or `until` (end=True) as a timestamp. An `until` that
    names a day takes in all of it (until 2025-03-17 includes that afternoon's stories)."""
    iso = iso_date(value)
    seconds = timestamp(iso)
    if end and len(iso) == _DAY_CHARS:
        seconds += timedelta(days=1).total_seconds() - 1
    return seconds
