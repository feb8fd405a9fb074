"""The public package: a light import and a curated API."""

from __future__ import annotations

import subprocess
import sys


def test_import_qa_loads_no_heavy_library() -> None:
    code = "import qa, sys; print(sorted(m for m in ('torch', 'faiss', 'gradio', 'sentence_transformers', 'trafilatura', 'pymilvus', 'ray') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_public_api_is_importable() -> None:
    import qa

    for name in qa.__all__:
        assert getattr(qa, name) is not None
    assert issubclass(qa.IndexMismatchError, qa.QAError) and issubclass(qa.CorpusError, qa.QAError)


def test_counted_says_one_thing_and_many_things() -> None:
    from qa._types import counted

    assert [counted(n, "article") for n in (0, 1, 2)] == ["0 articles", "1 article", "2 articles"]
