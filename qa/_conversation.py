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
    | {"this", "that", "these", "those", "there", "then", "former", "latter", "instead"}
)
# Words that order the telling ("What did he say next?") rather than name its subject: a later
# "Why?" is about the subject, not about "next". Only where they end a clause, though: "the next
# election" is a subject.
_SEQUENCE = re.compile(r"\b(?:next|later|again|else|afterwards|meanwhile)\b(?=\s*(?:[?.!,;]|$))", re.IGNORECASE)
# A follow-up asking what came after the previous answer ("What did he say next?", "And then?",
# "What happened after that?"): the story's telling goes on from the sentence last cited. "then"
# only where it stands for "after that" (opening the question, or "then what"): "Why then?" and
# "When did he say that, then?" ask something else.
_GOES_ON = re.compile(
    r"\b(?:next|afterwards|after (?:that|this)|later|else|go(?:es)? on|went on|carry on|keep going|continued?|followed|"
    r"more|then what)\b"
    r"|^\s*(?:and\s+)?then\b",
    re.IGNORECASE,
)
# Any question word but "what" asks for a thing of its own: "Who else?" asks for other people.
_ASKS_OTHER = frozenset({"who", "whom", "whose", "which", "when", "where", "why", "how"})
# Words such a follow-up may hold besides the marker and names the previous turn already used.
_TELLING = frozenset(
    {"say", "says", "said", "tell", "tells", "told", "add", "adds", "added", "happen", "happens", "happened"}
    | {"come", "comes", "came", "follow", "follows", "followed", "go", "goes", "went", "continue", "continued"}
    | {"next", "later", "else", "afterwards", "anything", "something", "what", "and"}
    | {"keep", "going", "carry", "please"}  # "Keep going", "Go on, please"
)
_CONTINUATIONS = ("and ", "but ", "also ", "what about", "how about", "why", "what else", "anything else")
_QUESTION_WORDS = frozenset(
    {"what", "who", "whom", "whose", "which", "when", "where", "why", "how"}
    | {"does", "did", "do", "is", "are", "was", "were", "can", "could", "will", "would"}
)
MAX_CARRIED = 6
MAX_ANSWER_NAMES = 3


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
    if not history:
        return question
    previous = rewrite(history[-1], history[:-1])
    # "What came next?" names two words and no pronoun, yet only reads on (`asks_what_follows`).
    if not is_follow_up(question) and not asks_what_follows(question, previous):
        return question
    terms = key_terms(previous)
    if key_terms(question) and not question.lower().strip().startswith(_CONTINUATIONS):
        terms = [t for t in terms if t[0].isupper()] or terms
    # The question's own words, and those that only ordered the previous telling ("next").
    left_out = {w.lower() for w in _words(question)} | {m.group().lower() for m in _SEQUENCE.finditer(previous)}
    carried = [t for t in terms if t.lower() not in left_out][:MAX_CARRIED]
    return f"{question} {' '.join(carried)}" if carried else question


def asks_what_follows(question: str, previous: str = "") -> bool:
    """Whether `question` asks what came after the previous turn's answer in its story ("What
    did he say next?", "And then?", "What did Grushko say after that?" after a Grushko question):
    a marker of sequence, and no words of its own besides telling verbs and the previous
    turn's (`previous`, its query)."""
    if not _GOES_ON.search(question) or any(w.lower() in _ASKS_OTHER for w in _words(question)):
        return False
    earlier = {w.lower() for w in _words(previous)}
    return all(t.lower() in _TELLING or t.lower() in earlier for t in key_terms(question))


def answer_names(sentence: str, query: str) -> list[str]:
    """The names that `sentence`, the previous turn's first citation, gives and `query` lacks:
    what a follow-up's "it" or "he" most often stands for ("How big is its stake?" after "Which
    company controls Aguas Argentinas?" asks about Suez's). Its first word is left out, since
    every sentence opens with a capital."""
    words = _words(sentence)
    have = {w.lower() for w in _words(query)}
    names = [t for t in key_terms(sentence) if t[0].isupper() and t != words[0] and t.lower() not in have]
    return names[:MAX_ANSWER_NAMES]


_SPEAKER = re.compile(
    r"\b((?:[A-Z][\w’'-]+ )*[A-Z][\w’'-]+),? (?:said|says|told|stated|added|declined|insisted|warned|announced)\b"
)
_HONORIFICS = frozenset({"mr", "mrs", "ms", "dr", "sir", "lord", "lady", "prof", "professor"})


def example_questions(texts: Iterable[str], n: int = 4) -> list[str]:
    """Questions about the people and bodies a corpus quotes most ("Grushko told ..."), for the UI.

    A speaker counts only if it reads as a name: a capitalised word whose lower-case form the
    texts never use ("Analysts said" and "Bank said" open sentences; "Grushko" is a name).
    """
    counts: Counter[str] = Counter()
    lower: set[str] = set()
    for text in texts:
        lower.update(w for w in _WORD.findall(text) if w.islower())
        for match in _SPEAKER.findall(text):
            words = [w for w in match.split() if w.lower() not in _HONORIFICS]
            if words:
                counts[" ".join(words)] += 1
    names = [
        name
        for name, _ in counts.most_common()
        if all(
            w.lower() not in lower and w.lower() not in STOPWORDS and w.lower() not in _ANAPHORA for w in name.split()
        )
    ]
    chosen: list[str] = []
    for name in names:
        # "Trump" and "President Donald Trump" are one speaker: keep the one quoted more.
        if not any(name.endswith(" " + c) or c.endswith(" " + name) for c in chosen):
            chosen.append(name)
    return [f"What did {name} say?" for name in chosen[:n]]
