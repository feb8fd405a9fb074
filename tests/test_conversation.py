"""Follow-up rewriting: pure text in, text out."""

from __future__ import annotations

import json

import pytest

from qa._conversation import (
    answer_names,
    asks_what_follows,
    example_questions,
    is_follow_up,
    key_terms,
    rewrite,
    term_spans,
)
from tests.conftest import ROOT, SHARED

FIRST = "What did Grushko say Moscow will seek?"


def test_a_question_of_its_own_is_searched_as_it_is() -> None:
    assert rewrite("What is the capital of Peru?", [FIRST]) == "What is the capital of Peru?"
    assert rewrite(FIRST, []) == FIRST
    assert not is_follow_up("What guarantees did Russia demand from NATO?")


def test_a_pronoun_with_its_own_predicate_borrows_only_names() -> None:
    # "seek" would pull the search back to the first answer's sentence.
    assert rewrite("Which outlet did he tell that to?", [FIRST]) == "Which outlet did he tell that to? Grushko Moscow"


def test_continuations_and_bare_follow_ups_borrow_the_whole_subject() -> None:
    assert rewrite("What about Kyiv?", [FIRST]) == "What about Kyiv? Grushko Moscow seek"
    assert rewrite("Why?", [FIRST]) == "Why? Grushko Moscow seek"


def test_a_chain_of_follow_ups_keeps_its_subject() -> None:
    history = [FIRST, "Why?"]
    assert rewrite("When did he say it?", history) == "When did he say it? Grushko Moscow seek"
    assert rewrite("Which outlet reported it?", history) == "Which outlet reported it? Grushko Moscow"
    # "next" orders the telling; the "Why?" after it is about Grushko, not about "next".
    assert rewrite("Why?", [FIRST, "What did he say next?"]) == "Why? Grushko Moscow"
    assert rewrite("What about it?", ["When is the next election?"]) == "What about it? next election"


def test_key_terms_put_names_first_and_drop_question_words() -> None:
    assert key_terms(FIRST) == ["Grushko", "Moscow", "seek"]
    assert key_terms("Which outlet did he tell that to?") == ["outlet"]


def test_example_questions_name_the_most_quoted_speakers() -> None:
    texts = ["Grushko said no. Peskov told reporters. Grushko told Izvestia.", "He said so. Grushko added more."]
    assert example_questions(texts, n=2) == ["What did Grushko say?", "What did Peskov say?"]


def test_example_questions_read_like_a_persons_questions() -> None:
    texts = [
        "Analysts said prices would rise. Bank said rates hold. Mr Gordon Brown said growth was strong.",
        "Many analysts agree, and the bank disagrees. Brown told MPs. Gordon Brown said it again. Bank said no.",
    ]
    # "Analysts" and "Bank" open sentences but are common nouns (the texts use them in lower case);
    # "Brown" and "Gordon Brown" are one speaker, the honorific dropped.
    assert example_questions(texts) == ["What did Gordon Brown say?"]


def test_term_spans_locate_the_key_terms() -> None:
    question = "Which outlet did he tell that to?"
    assert [question[a:b] for a, b in term_spans(question)] == ["outlet"]
    question = "What did Grushko say Moscow will seek?"
    assert [question[a:b] for a, b in term_spans(question)] == ["Grushko", "Moscow", "seek"]
    assert term_spans("Why?") == []


def test_answer_names_are_the_previous_answers_names_the_query_lacks() -> None:
    sentence = "France's Suez owns 40% of Aguas Argentinas, while Spain's Aguas de Barcelona holds 25%."
    query = "How big is its stake? Aguas Argentinas Argentine"
    assert answer_names(sentence, query) == ["Suez", "Spain's", "Barcelona"]
    # The opening word is capitalised whatever it is, so it is left out, a name or not; at most
    # three names are carried.
    assert answer_names("Suez owns 40% of Aguas Argentinas.", query) == []
    assert answer_names("Conductor Marcello Viotti has died in Germany.", "What happened to him?") == [
        "Marcello",
        "Viotti",
        "Germany",
    ]
    assert answer_names("The firm agreed to invest 242m pesos.", query) == []


# Ways of asking what came after the previous answer, after FIRST (tests/test_engine.py asks them too).
READS_ON = (
    "What did he say next?",
    "And then?",
    "What happened after that?",
    "Tell me more.",
    "What else did she say?",
    "What did Grushko say next?",
    "Go on",
    "What came next?",
    "Then what?",
    "Then?",
    "Keep going",
    "Go on, please",
    "Carry on",
)


@pytest.mark.parametrize("question", READS_ON)
def test_a_follow_up_asking_what_came_next_reads_on(question: str) -> None:
    assert asks_what_follows(question, FIRST)


@pytest.mark.parametrize(
    "question",
    [
        "Which outlet did he tell that to?",
        "Why?",
        "What did they do after the election?",
        "Who is next in line?",
        "What is the next election?",
        "What did Putin say next?",
        "What happened to him before he died?",
        "When did Grushko say that, then?",
        "Why then?",
        "Who else?",
        "What did he say about it then?",
        "Why did prices keep going up?",
    ],
)
def test_a_follow_up_with_a_subject_of_its_own_does_not_read_on(question: str) -> None:
    # Words the previous turn did not use ("election", "Putin") ask about something else, and so
    # does a question word other than "what" ("Who else?" asks for other people).
    assert not asks_what_follows(question, FIRST)


def test_no_news_follow_up_of_the_dev_set_or_the_check_sets_reads_on() -> None:
    files = [SHARED / "data" / "news_qa" / "news_dev.json", *(ROOT / "benchmarks").glob("news_*.json")]
    pairs = [f["turns"] for file in files for f in json.loads(file.read_text(encoding="utf-8")).get("followups", [])]
    assert len(pairs) >= 20
    assert [p for p in pairs if asks_what_follows(p[1], rewrite(p[0], []))] == []
