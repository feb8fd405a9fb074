"""The one exception tree of `qa`: every message says how to fix the problem."""

from __future__ import annotations

import json


class QAError(Exception):
    """Base of every error `qa` raises on purpose; its message is meant for the user."""


class CorpusError(QAError):
    """The corpus folder is missing, empty, or holds no readable article."""


class IndexNotFoundError(QAError):
    """No built index where one was expected."""


class IndexMismatchError(QAError):
    """The index on disk was built with other settings than the ones asked for."""


class IndexCorruptError(QAError):
    """The index on disk is damaged or incomplete."""


class ModelError(QAError):
    """The embedding model cannot be loaded."""


class InvalidQuestionError(QAError):
    """The question is empty, too long, or not text."""


class BuildError(QAError):
    """An index build failed; the previous index is left in place."""


class InvalidFilterError(QAError):
    """A date, source or recency filter cannot be read, or no article matches it."""


def as_sent(value: object) -> str:
    """A caller's value quoted in a message as it was sent over the API: JSON (`true`, `null`,
    `"many"`), escaped so it can carry no control character into a log line; Python's repr only
    for what JSON cannot hold."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def rebuild_hint(flag: str, place: object, *, full: bool = False, more: str = "") -> str:
    """The command that rebuilds the index at `place` (`flag` is --index or --store), for error
    messages. It names the corpus: a bare `qa build` reads ./corpus, and a user following the
    hint literally would replace an index of any other corpus with that one."""
    return f"`qa build{' --full' if full else ''} --corpus <its corpus> {flag} {place}{more}`"
