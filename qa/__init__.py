"""qa: cited answers from a corpus of news articles.

The public API::

    import qa
    qa.build_index("corpus", "index")          # -> qa.BuildReport
    engine = qa.Engine("index")
    answer = engine.ask("what guarantees did Russia demand?")   # -> qa.Answer
    answer.to_dict()                           # the JSON contract

Heavy libraries (torch, faiss, gradio) load only when a build or an engine needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import (
    BuildError,
    CorpusError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    InvalidFilterError,
    InvalidQuestionError,
    ModelError,
    QAError,
)
from ._types import Answer, Article, BuildReport, Citation, Skipped

if TYPE_CHECKING:
    from ._build import build_index
    from ._engine import Engine, IndexSummary, Served

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "Article",
    "BuildError",
    "BuildReport",
    "Citation",
    "CorpusError",
    "Engine",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "IndexSummary",
    "InvalidFilterError",
    "InvalidQuestionError",
    "ModelError",
    "QAError",
    "Served",
    "Skipped",
    "build_index",
]

_LAZY = {"build_index": "._build", "Engine": "._engine", "IndexSummary": "._engine", "Served": "._engine"}


def __getattr__(name: str) -> Any:
    # Keeps `import qa` light: the modules behind these names import faiss and torch.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
