"""BM25 (bm25s) with English stop words (NLTK's list) and Snowball stemming, over any list of texts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

SETTINGS: dict[str, Any] = {
    "library": f"bm25s-{bm25s.__version__}",
    "stopwords": "nltk-en+reporting-verbs",
    "stemmer": "english",
    "k1": 1.5,
    "b": 0.75,
}
# NLTK's list, since question words ("what", "did") carry no evidence about the answer, plus
# the reporting verbs of news: nearly every article "said" something, and a stemmer does not
# join "tell" to "told".
_REPORTING_VERBS = ("say", "says", "said", "saying", "tell", "tells", "told", "telling")
STOPWORDS: frozenset[str] = frozenset({*STOPWORDS_EN_PLUS, *_REPORTING_VERBS})
_STOPWORDS = sorted(STOPWORDS)
# bm25s.tokenize's own default pattern: the index is built with bm25s, and questions must split the same way.
_WORDS = re.compile(r"(?u)\b\w\w+\b")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    return Stemmer.Stemmer("english")


def stem_words(words: Sequence[str]) -> list[str]:
    """Each of `words` (lower-cased already) stemmed as the index stems it, stop words too."""
    return list(_stemmer().stemWords(words)) if words else []


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed tokens of each text: what `bm25s.tokenize` gives with
    this module's settings, without the progress bars and per-text stop-word set it builds on
    every call (a third of a millisecond per call, twice per question)."""
    stem = _stemmer().stemWords
    out = []
    for text in texts:
        words = [w for w in _WORDS.findall(text.lower()) if w not in STOPWORDS]
        out.append(stem(words) if words else [])
    return out


def build(texts: Sequence[str]) -> bm25s.BM25:
    """A BM25 index over `texts` (document i is texts[i])."""
    tokenized = bm25s.tokenize(list(texts), stopwords=_STOPWORDS, stemmer=_stemmer(), show_progress=False)
    index = bm25s.BM25(k1=SETTINGS["k1"], b=SETTINGS["b"])
    index.index(tokenized, show_progress=False)
    return index


def scores(index: bm25s.BM25, query_tokens: list[str]) -> np.ndarray:
    """BM25 score of every document for the (already tokenized) query; zeros if none match."""
    known = [t for t in query_tokens if t in index.vocab_dict]
    if not known:
        return np.zeros(index.scores["num_docs"], dtype=np.float32)
    return np.asarray(index.get_scores(known), dtype=np.float32)


def save(index: bm25s.BM25, folder: Path) -> None:
    """Write `index` into `folder`."""
    index.save(str(folder), show_progress=False)


def load(folder: Path) -> bm25s.BM25:
    """Read an index written by `save`."""
    return bm25s.BM25.load(str(folder), show_progress=False, verbosity=0)
