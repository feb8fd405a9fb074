"""Follow-up questions without an LLM: carry key terms from the previous turn into the query.

Pure text in, text out. "Which outlet did he tell that to?" after "What did Grushko say Moscow
will seek?" is searched as "Which outlet did he tell that to? Grushko Moscow": a follow-up that
asks something of its own only borrows the names its pronouns stand for, while "What about
Kyiv?" or "Why?" borrows the whole previous subject. The engine also boosts the articles the
previous turn cited.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from ._lexical import STOPWORDS

_WORD = re.compile(r"[^\W\d_][\w’'-]*", re.UNICODE)
# Words that point back at something said before.
_ANAPHORA = frozenset(
    {"he", "she", "him", "her", "his", "hers", "they", "them", "their", "theirs", "it", "its"}
    | {"this", "that", "these", "those", "there", "then", "former", "latter"}
)
_CONTINUATIONS = ("and ", "but ", "also ", "what about", "how about", "why", "what else", "anything else")
_QUESTION_WORDS = frozenset(
    {"what", "who", "whom", "whose", "which", "when", "where", "why", "how"}
    | {"does", "did", "do", "is", "are", "was", "were", "can", "could", "will", "would"}
)
MAX_CARRIED = 6


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def key_terms(text: str) -> list[str]:
    """Content words of `text` in order, names first: what a follow-up may refer back to."""
    words = _words(text)
    names = [w for i, w in enumerate(words) if w[0].isupper() and (i > 0 or w.lower() not in _QUESTION_WORDS)]
    names = [w for w in names if w.lower() not in STOPWORDS and w.lower() not in _ANAPHORA]
    content = [w for w in words if w.lower() not in STOPWORDS and w.lower() not in _QUESTION_WORDS and w not in names]
    content = [w for w in content if w.lower() not in _ANAPHORA and len(w) > 2]
    return list(dict.fromkeys([*names, *content]))


def term_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the key terms of `text` (`key_terms`), in order."""
    terms = set(key_terms(text))
    return [m.span() for m in _WORD.finditer(text) if m.group() in terms]


def is_follow_up(question: str) -> bool:
    """Whether `question` leans on the previous turn (a pronoun, "what about", or no subject of its own)."""
    lowered = question.lower().strip()
    words = [w.lower() for w in _words(question)]
    if any(w in _ANAPHORA for w in words) or lowered.startswith(_CONTINUATIONS):
        return True
    return len(key_terms(question)) <= 1


def rewrite(question: str, history: Sequence[str]) -> str:
    """The query to search for `question`, given the earlier questions (oldest first).

    A follow-up is searched with key terms of the previous turn's own query appended, so a chain
    of follow-ups keeps its subject; any other question is searched as it is. A follow-up with
    content words of its own ("Which outlet did he tell that to?") takes only the previous
    names, since the previous predicate would pull the search back to the previous answer.
    """
    if not history or not is_follow_up(question):
        return question
    previous = rewrite(history[-1], history[:-1])
    own = {w.lower() for w in _words(question)}
    terms = key_terms(previous)
    if key_terms(question) and not question.lower().strip().startswith(_CONTINUATIONS):
        terms = [t for t in terms if t[0].isupper()] or terms
    carried = [t for t in terms if t.lower() not in own][:MAX_CARRIED]
    return f"{question} {' '.join(carried)}" if carried else question


_SPEAKER = re.compile(r"\b([A-Z][\w’'-]+),? (?:said|says|told|stated|added|declined|insisted|warned|announced)\b")


def example_questions(texts: Iterable[str], n: int = 4) -> list[str]:
    """Questions about the people and bodies a corpus quotes most ("Grushko told ..."), for the UI."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(m for m in _SPEAKER.findall(text) if m.lower() not in STOPWORDS and m.lower() not in _ANAPHORA)
    return [f"What did {name} say?" for name, _ in counts.most_common(n)]
