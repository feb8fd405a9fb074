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
import threading
from functools import lru_cache
from pathlib import Path

from . import _lexical

TABLE = Path(__file__).with_name("wordnet.tsv.gz")
# Letters only, any alphabet's: "Mourinho's" is "Mourinho" and "s", "co-starring" is "co" and
# "starring", and "Müntzer" one word.
_LETTERS = re.compile(r"[^\W\d_]+")
# WordNet's detachment rules (its "morphy", without the exception lists), each for its part of
# speech: a base counts only if WordNet has it as that part of speech, so "interest" is not the
# adjective rule's "inter" (a verb) and "news" not the noun rule's "new" (an adjective).
_ENDINGS = {
    "n": (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"), ("ies", "y")),
    "v": (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")),
    "a": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
}  # fmt: skip
_LOCK = threading.Lock()
_loaded: dict[str, tuple[str, str]] | None = None


def _table() -> dict[str, tuple[str, str]]:
    """Word -> (its parts of speech, its relatives space-separated). The relatives are split
    only when asked (`relatives`): loading then costs about 0.1 s, once, on the first question,
    and a lock keeps concurrent first questions from each loading it. The table is published
    whole, so a question never reads one half-filled."""
    global _loaded
    if _loaded is None:
        with _LOCK:
            if _loaded is None:
                with gzip.open(TABLE, "rt", encoding="utf-8") as lines:
                    rows = (line.rstrip("\n").split("\t") for line in lines if not line.startswith("#"))
                    _loaded = {word: (parts, related) for word, parts, related in rows}
    return _loaded


def lemmas(word: str) -> frozenset[str]:
    """The WordNet words `word` may be a form of ("polled" -> poll; "stopped" -> stop), itself
    included when WordNet knows it; empty when it knows none."""
    return _lemmas(word.lower())


@lru_cache(maxsize=8192)
def _lemmas(word: str) -> frozenset[str]:
    known = _table()
    bases = {word} if word in known else set()
    for pos, endings in _ENDINGS.items():
        for ending, base in endings:
            stem = word[: -len(ending)] + base
            if word.endswith(ending) and len(word) > len(ending) + 1 and pos in known.get(stem, ("", ""))[0]:
                bases.add(stem)
    for ending in ("ed", "ing"):  # a verb's doubled last consonant: "stopped", "planning"
        stem = word[: -len(ending)]
        if (
            word.endswith(ending)
            and len(stem) > 2
            and stem[-1] == stem[-2]
            and "v" in known.get(stem[:-1], ("", ""))[0]
        ):
            bases.add(stem[:-1])
    return frozenset(bases)


@lru_cache(maxsize=8192)
def relatives(word: str) -> frozenset[str]:
    """Every synonym and derived form of every word `word` may be a form of."""
    known, bases = _table(), lemmas(word)
    return frozenset(" ".join(known[base][1] for base in bases).split()) - bases


def question_words(question: str) -> list[str]:
    """The question's words that can be paraphrased: longer than two letters, not stop words,
    and not names. A capitalised word after the first is a name, even one WordNet knows as a
    word: "Labour", "Arsenal", "Brown" and "Ford" are no "childbirth", "armoury", "brownish" and
    "cross"."""
    words = _LETTERS.findall(question)
    return [
        w
        for i, w in enumerate(words)
        if len(w) > 2 and w.lower() not in _lexical.STOPWORDS and (i == 0 or not w[:1].isupper())
    ]


@lru_cache(maxsize=8192)
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
