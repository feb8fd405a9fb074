"""Gradio, imported for the app: without telemetry, and without its type-stub rewriting.

The only module that imports gradio; `qa.app` takes `gr` from here.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


class _SkipStubWriting:
    """An import hook that stops Gradio rewriting its own type stubs on every import.

    For each component class it defines, `gradio.component_meta` parses the class's source
    with `ast` and rewrites the matching `.pyi` file inside the installed package. The wheel
    already ships those stubs, and they only serve editors; the work is about 1.2 s of a 2.5 s
    `import gradio` here, most of the wait for `qa serve`'s first answer
    (benchmarks/startup.py). Only that function is replaced, and only if Gradio still has it.
    """

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if name != "gradio.component_meta":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            if callable(module.__dict__.get("create_or_modify_pyi")):
                module.__dict__["create_or_modify_pyi"] = _keep_stubs

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _keep_stubs(*args: object, **kwargs: object) -> None:
    """Gradio's stub writer, replaced: the installed stubs stay as the wheel shipped them."""


if "gradio" not in sys.modules:
    sys.meta_path.insert(0, _SkipStubWriting())

import gradio as gr  # noqa: E402

__all__ = ["gr"]
