"""WordNet's synonyms and derived forms: which of a question's words a sentence holds only as
another word ("film" for "movie", "consecutive" for "straight", "interviewer" for "interview").

Readers paraphrase. The stemmer joins "interviewed" to "interview" but not to "interviewer",
and the bundled model bridges some synonyms and misses others; WordNet names them outright.
The table (`wordnet.tsv.gz`) is written by benchmarks/wordnet_table.py from WordNet 3.0 (see
WORDNET-LICENSE.txt): each word with the words of all its synsets and its derived forms.
"""

from __future__ import annotations

import gzip
import re
from functools import cache, lru_cache
from pathlib import Path

from qa import _lexical

TABLE = Path(__file__).with_name("wordnet.tsv.gz")
# Letters only: "Mourinho's" is "Mourinho" and "s", "co-starring" is "co" and "starring".
_LETTERS = re.compile(r"[A-Za-z]+")
# WordNet's own detachment rules (its "morphy"), nouns, verbs and adjectives together: a form
# is taken back to every base the table knows.
_ENDINGS = (
    ("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"),
    ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ied", "y"), ("ing", "e"), ("ing", ""),
    ("er", ""), ("est", ""), ("er", "e"), ("est", "e"),
)  # fmt: skip


@cache
def _table() -> dict[str, str]:
    """Word -> its relatives, space-separated: split only when asked (`relatives`), so loading
    costs tens of milliseconds, not the second 83,000 sets would."""
    with gzip.open(TABLE, "rt", encoding="utf-8") as lines:
        return dict(line.rstrip("\n").split("\t", 1) for line in lines if not line.startswith("#"))


@lru_cache(maxsize=65536)
def lemmas(word: str) -> frozenset[str]:
    """The WordNet words `word` may be a form of ("polled" -> poll; "stopped" -> stop), itself
    included when WordNet knows it; empty when it knows none."""
    known = _table()
    word = word.lower()
    bases = {word} if word in known else set()
    for ending, base in _ENDINGS:
        if word.endswith(ending) and len(word) > len(ending) + 1 and word[: -len(ending)] + base in known:
            bases.add(word[: -len(ending)] + base)
    for ending in ("ed", "ing"):  # a doubled last consonant: "stopped", "planning"
        stem = word[: -len(ending)]
        if word.endswith(ending) and len(stem) > 2 and stem[-1] == stem[-2] and stem[:-1] in known:
            bases.add(stem[:-1])
    return frozenset(bases)


@lru_cache(maxsize=65536)
def relatives(word: str) -> frozenset[str]:
    """Every synonym and derived form of every word `word` may be a form of."""
    known = _table()
    return frozenset(" ".join(known[base] for base in lemmas(word)).split()) - lemmas(word)


def question_words(question: str) -> list[str]:
    """The question's words that can be paraphrased: not stop words, not names (a capitalised
    word WordNet does not know), longer than two letters."""
    return [
        w
        for w in _LETTERS.findall(question)
        if len(w) > 2 and w.lower() not in _lexical.STOPWORDS and (w[:1].islower() or lemmas(w))
    ]


@lru_cache(maxsize=65536)
def _relative_stems(word: str, own: str) -> frozenset[str]:
    # A compound's parts are other words: "back-to-back" is not "back".
    single = sorted(w for w in relatives(word) if w.isalpha())
    return frozenset(_lexical.stem_words(single)) - {own} - _lexical.STOPWORDS


def paraphrases(question: str) -> list[tuple[str, frozenset[str]]]:
    """For each of the question's words (`question_words`): its stem, as the index stems it, and
    the stems of its synonyms and derived forms. A sentence paraphrases the word if it holds one
    of the latter and not the former; stems compare forms ("interviewed", "interviews") as
    `coverage` does, and the index's postings answer without tokenizing a sentence again."""
    words = question_words(question)
    own = _lexical.stem_words([w.lower() for w in words])
    return [(stem, _relative_stems(w.lower(), stem)) for w, stem in zip(words, own, strict=True)]
