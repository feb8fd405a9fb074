from __future__ import annotations

import bm25s

from qa import _lexical

from .conftest import SEED, squad_articles


def _reference(texts: list[str]) -> list[list[str]]:
    """bm25s's own tokenizer with the settings the index is built with."""
    tokens = bm25s.tokenize(
        texts, stopwords=_lexical._STOPWORDS, stemmer=_lexical._stemmer(), return_ids=False, show_progress=False
    )
    return [list(t) for t in tokens]


def test_tokenize_matches_bm25s_on_news_and_squad_text() -> None:
    texts = [*SEED.read_text(encoding="utf-8").splitlines(), *(a["text"] for a in squad_articles()[::7])]
    texts += ["", "   ", "Who said it?", "Ünïcode café, naïve résumé — 1990s' U.S.-led talks", "a I x"]
    assert _lexical.tokenize(texts) == _reference(texts)


def test_tokenize_drops_stop_words_and_reporting_verbs_and_stems() -> None:
    assert _lexical.tokenize(["What did he say about the guarantees Russia demanded?"]) == [
        ["guarante", "russia", "demand"]
    ]
