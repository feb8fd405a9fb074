"""What a question asks for, and what a sentence offers: pure text rules, no model.

A reader's "How much did Foster's bid?" wants an amount, "Which DJ penned ...?" a name, "Why
did he quit?" a reason. A sentence that restates the question's subject without the thing asked
for is not an answer, so the ranker weighs whether a candidate holds the kind of thing asked.
The rules are deliberately plain; the ranker learns how much each match is worth.
"""

from __future__ import annotations

import re

KINDS = ("how much", "how many", "when", "why", "where", "who", "what")

# Sentence types, one bit each (stored per sentence in the index as a bitmask).
TYPES = ("money", "number", "percent", "date", "name", "place", "reason", "quote")
# The types that answer each kind of question (the ranker's "kind wants type" features).
WANTS: tuple[tuple[str, str], ...] = (
    ("how much", "money"),
    ("how much", "number"),
    ("how much", "percent"),
    ("how many", "number"),
    ("how many", "percent"),
    ("when", "date"),
    ("who", "name"),
    ("where", "place"),
    ("where", "name"),
    ("why", "reason"),
)

_KIND_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "how much",
        re.compile(
            r"\bhow (?:much|big|large|expensive|cold|hot|high|tall|fast|heavy|deep|low|small)\b"
            r"|\bwhat (?:is |was |will be )?(?:the )?(?:(?:annual|yearly|monthly|total|average|estimated|initial|final|new|current) )?(?:price|amount|sum|fee|cost|value|worth|salary|budget|level|figure|rate|size)\b"
            r"|\b(?:above|below) what\b"
        ),
    ),
    (
        "how many",
        re.compile(
            r"\bhow (?:many|long|old|often|far)\b|\bwhat (?:percentage|proportion|share|number|fraction|toll|margin)\b|\bdeath toll\b"
        ),
    ),
    (
        "when",
        re.compile(
            r"\bwhen\b|\b(?:what|which) (?:year|date|day|month|time|period|season|week|decade)s?\b|\bhow soon\b"
        ),
    ),
    (
        "why",
        re.compile(
            r"\bwhy\b|\bwhat (?:reason|caused|prompted|led|cut|earned|made|forced|drove|triggered|dragged|pushed|hurt"
            r"|boosted|lifted|sparked|fuell?ed|held up|kept|stopped|prevented|delayed)\b|\bfor what reason\b|\bblame"
        ),
    ),
    (
        "where",
        re.compile(
            r"\bwhere\b|\bwhich (?:country|city|town|state|region|venue|place|countries|cities|destinations?|event|markets?|stadium|ground)\b"
            r"|\bat which\b|^in which (?!(?:year|date|day|month|time|period|season|week|decade)s?\b)"
        ),
    ),
    ("who", re.compile(r"\bwho\b|\bwhom\b|\bwhose\b|\bwhich\b")),
)

_TYPE_RULES: dict[str, re.Pattern[str]] = {
    "money": re.compile(
        r"[$£€¥]\s?\d|\d\s?(?:bn|m|billion|million|trillion)\b|\b(?:dollars?|pounds?|euros?|cents?|pence|yen|dlrs|stg)\b",
        re.I,
    ),
    "number": re.compile(
        r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty"
        r"|hundred|thousand|dozen|million|billion|half|third|quarter|double|twice)\b",
        re.I,
    ),
    "percent": re.compile(r"\d\s?%|per ?cent|\bpct\b", re.I),
    "date": re.compile(
        r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
        r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
        r"|yesterday|today|tomorrow|week|month|year|years|ago|since|until|by the end|next|last|earlier|later"
        r"|(?:19|20)\d\d|\d+(?:st|nd|rd|th))\b",
        re.I,
    ),
    # A capitalised word that does not open the sentence: a name of a person, firm or place.
    "name": re.compile(r"(?<!^)(?<![.!?\"“]\s)\b[A-Z][a-zA-Z'’-]+"),
    "place": re.compile(r"\b(?:in|at|from|near|across|to)\s+(?:the\s+)?[A-Z][a-z]+"),
    "quote": re.compile(r"[\"“”]"),
}


# Causal cues ("due to the storm", not "due to stand in"), matched in the lower-cased sentence:
# "why" questions read them in some 90 candidates at question time, and a case-insensitive
# pattern this long takes five times as long (29 against 6 microseconds a sentence).
_REASON_CUES = re.compile(
    r"\b(?:because|due to(?! be\b)(?! \w+ (?:the|a|an|in|on|at|to|with|for|from|his|her|their|its)\b)|after"
    r"|as a result|following|amid|blamed|thanks to|in order to|so that|caused|reflect\w*|driven by|led to|result\w*"
    r"|since|given|owing|fears?|concerns?|bid to|aim\w*|help\w*|reasons?|why|explain\w*|need(?:ed|s)? to"
    r"|in the face of|in response to|in protest|in anticipation|so as to|attribut\w+ to|put down to|stem\w* from"
    r"|prompt\w*|trigger\w*|spark\w*|(?:boosted|hit|hurt|fuell?ed|buoyed|dented|spurred|hampered|weighed down) by"
    r"|on the back of)\b"
)
# "for" with a gerund or a deed is the reason for praise or blame ("suspended for allegedly
# suggesting", "furious with himself for failing", "the prize for their victory"); matched as
# written, so "for Reading" stays a name.
_REASON_DEED = re.compile(
    r"\bfor (?:(?:allegedly |reportedly |apparently |not )?(?!\w*thing\b)[a-z]+ing"
    r"|(?:his|her|their|its) (?:role|part|victory|win|work|efforts?|contribution|services|success|conduct|comments"
    r"|remarks))\b"
)


def question_kind(question: str) -> str:
    """The kind of thing `question` asks for, one of KINDS ("what" when no rule fits).

    The rule matching first in the question wins: its own wh-phrase comes before any a clause
    brings in ("Which firm paid for the study on how fast ..." asks who, not how much)."""
    text = question.lower()
    found = [(match.start(), order) for order, (_, rule) in enumerate(_KIND_RULES) if (match := rule.search(text))]
    return _KIND_RULES[min(found)[1]][0] if found else "what"


def sentence_types(sentence: str) -> int:
    """A bitmask of the TYPES that `sentence` holds (bit i for TYPES[i])."""
    mask = 0
    for bit, name in enumerate(TYPES):
        if has_type(name, sentence):
            mask |= 1 << bit
    return mask


def has_type(type_name: str, sentence: str) -> bool:
    """Whether `sentence` holds a `type_name` (one of TYPES)."""
    if type_name == "reason":
        return bool(_REASON_CUES.search(sentence.lower()) or _REASON_DEED.search(sentence))
    return _TYPE_RULES[type_name].search(sentence) is not None


_WORDS = re.compile(r"\w+")


def offers_new(type_name: str, sentence: str, question_words: set[str]) -> bool:
    """Whether `sentence` holds a `type_name` the question does not already give: "in Rome"
    answers "Where...?" only if the question is not about Rome. A match counts as given when
    its last word is one of `question_words` (lower-cased)."""
    for match in _TYPE_RULES[type_name].finditer(sentence):
        words = _WORDS.findall(match.group(0))
        if words and words[-1].lower() not in question_words:
            return True
    return False
