"""The fitted parts of answering: a linear sentence ranker and the abstention rule.

Both are linear models over named features (`_retrieve.RANK_FEATURES`, `SUPPORT_FEATURES`),
fitted out of fold by `benchmarks/fit_ranker.py` and shipped as `ranker.json` beside this module,
which records what they were fitted on. Pure numpy; nothing here reads an index.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import QAError

RANKER_FILE = Path(__file__).with_name("ranker.json")


@dataclass(frozen=True)
class Linear:
    """`((x - mean) / scale) @ weights + bias` over the named features, in this order."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float = 0.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The score of each row of `x` (columns as in `features`)."""
        w = np.asarray(self.weights) / np.asarray(self.scale)
        offset = self.bias - float(np.asarray(self.mean) @ w)
        return np.asarray(np.einsum("nf,f->n", np.asarray(x, dtype=np.float64), w) + offset)


@dataclass(frozen=True)
class Ranker:
    """The sentence ranker (`rank`: higher is better) and the abstention rule (`support`: the
    best sentence answers when its support is at least 0)."""

    rank: Linear
    support: Linear
    # A sentence holding this IDF share of the question's terms answers it whatever `support`
    # says: the question reuses the text's own words (SQuAD's do), which no out-of-corpus
    # question manages. Even one naming something the corpus never writes: there the name is
    # misspelt or written another way ("Toghun Temur" for Toghon Temür, "Brainbridge"), as
    # 18 of 1,500 SQuAD held-out questions do, and the rest of the question is the sentence's.
    coverage_answers: float = 0.5
    about: dict[str, Any] = field(default_factory=dict)  # what it was fitted on, and how

    def supports(self, figures: np.ndarray, coverage: np.ndarray) -> np.ndarray:
        """The abstention rule's value for each sentence (it answers when the value is at least
        0): `support` over its SUPPORT_FEATURES `figures`, raised to 0 where its `coverage`
        reaches `coverage_answers`.

        A question naming something the corpus never writes is refused by `support`'s own
        weight on "unknown_name", not by a rule on top: capping such a question's value below
        zero refused no more out-of-corpus questions on any news set, dev or unseen, and cost
        answers where the name is merely written otherwise ("Boeing Dreamliner" for the 7E7)."""
        # A figure that cannot be had (NaN: no other story to compare with) is undecided: the
        # fit's mean, which adds nothing either way.
        figures = np.where(np.isnan(figures), np.asarray(self.support.mean), figures)
        value = self.support(figures)
        return np.where(np.asarray(coverage) >= self.coverage_answers, np.maximum(value, 0.0), value)


def _linear(raw: Any) -> Linear:
    return Linear(
        features=tuple(raw["features"]),
        mean=tuple(float(v) for v in raw["mean"]),
        scale=tuple(float(v) for v in raw["scale"]),
        weights=tuple(float(v) for v in raw["weights"]),
        bias=float(raw.get("bias", 0.0)),
    )


# The rankers qa ships, by the model whose features they were fitted on.
_SHIPPED = {
    "sentence-transformers/all-MiniLM-L6-v2": RANKER_FILE,
    "sentence-transformers/all-mpnet-base-v2": RANKER_FILE.with_name("ranker-all-mpnet-base-v2.json"),
}


def ranker_path(model: str) -> Path:
    """Where the ranker fitted on `model`'s features is kept (`model` as a manifest records it):
    the shipped file for a model qa installs, else ranker-<digest of the name>.json beside them."""
    if model in _SHIPPED:
        return _SHIPPED[model]
    return RANKER_FILE.with_name(f"ranker-{hashlib.sha256(model.encode()).hexdigest()[:12]}.json")


def ranker_for(model: str) -> Ranker:
    """The ranker fitted on the features `model` makes, if there is one; else the bundled
    model's, which is what a model of one's own is ranked with until one is fitted for it."""
    path = ranker_path(model)
    if path.is_file():
        ranker = load_ranker(path)
        if ranker.about.get("model") == model:
            return ranker
    return load_ranker(RANKER_FILE)


def load_ranker(path: Path = RANKER_FILE) -> Ranker:
    """The ranker stored at `path` (the shipped one by default)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Ranker(
            rank=_linear(raw["rank"]),
            support=_linear(raw["support"]),
            coverage_answers=float(raw["coverage_answers"]),
            about=dict(raw.get("about", {})),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise QAError(f"ranker file {str(path)!r} is unreadable ({exc}); reinstall qa or refit it") from exc


def save_ranker(ranker: Ranker, path: Path = RANKER_FILE) -> None:
    """Write `ranker` as JSON."""
    from dataclasses import asdict

    path.write_text(json.dumps(asdict(ranker), indent=1) + "\n", encoding="utf-8")


def check(ranker: Ranker, rank_features: tuple[str, ...], support_features: tuple[str, ...]) -> None:
    """`QAError` unless `ranker` scores exactly these features."""
    if ranker.rank.features != rank_features or ranker.support.features != support_features:
        raise QAError(
            "the ranker was fitted on other features than this qa computes; refit it with benchmarks/fit_ranker.py"
        )
