"""The ranker's parts: question kinds, sentence types, the linear models, copies cited once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa import Engine, QAError, _lexical, _wordnet, build_index
from qa._kinds import KINDS, TYPES, offers_new, question_kind, sentence_types
from qa._ranker import RANKER_FILE, Linear, Ranker, load_ranker, save_ranker
from qa._retrieve import (
    RANK_FEATURES,
    SUPPORT_FEATURES,
    UNDECIDED,
    Candidates,
    _name_runs,
    join,
    margins,
    offered,
    repeats,
    retellings,
)
from qa._types import also_in
from qa.app import source_label
from tests.conftest import FakeEmbedder


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How much did the brewer behind Foster's lager bid for Southcorp?", "how much"),
        ("What is the value of the Boeing jet order?", "how much"),
        ("How many Rolls-Royces did BMW sell in Asia in 2004?", "how many"),
        ("What share of Britain's producers are run by ethnic minority bosses?", "how many"),
        ("How soon could Russia join the World Trade Organisation?", "when"),
        ("Why did Brian 'Head' Welch quit Korn?", "why"),
        ("What cut short Lawrence Dallaglio's previous Lions trip?", "why"),
        ("In which venue did OutKast collect their awards?", "where"),
        ("Which DJ penned the tsunami charity ballad?", "who"),
        ("Who did Catalina Sandino Moreno share her honour with?", "who"),
        ("What did the committee recommend?", "what"),
        ("What was the average cost of a 30-second commercial?", "how much"),
        ("What historical figure was Jacksonville named after?", "what"),
        ("By what margin did the budget clear the House?", "how many"),
        ("Over what period does the party want aid doubled?", "when"),
        ("In which year did the gallery open?", "when"),
        # Plural time words ask when, too: "In which months" is no place.
        ("In which months does Fresno see wind from the southeast?", "when"),
        ("What years did the original series run?", "when"),
        ("In which court is TWA challenging the poison pill?", "where"),
        ("Manning was the number one pick in which draft?", "who"),
        ("What dragged down the miner's results?", "why"),
        # The question's own wh-phrase wins over one a later clause brings in.
        ("Which internet firm paid for the study on how fast connections change habits?", "who"),
        ("Who does Anil Ambani blame for the feud?", "who"),
        ("What did Andy Roddick blame himself for?", "why"),
    ],
)
def test_question_kind(question: str, kind: str) -> None:
    assert question_kind(question) == kind
    assert kind in KINDS


def test_sentence_types() -> None:
    def holds(sentence: str) -> set[str]:
        mask = sentence_types(sentence)
        return {t for i, t in enumerate(TYPES) if mask >> i & 1}

    assert {"money", "number"} <= holds("A bid at that price would value the company at A$3.1bn ($2.4bn).")
    assert "percent" in holds("Sales rose 2.3% to 80,600.")
    assert "date" in holds("The talks resume in January 2006.")
    assert "reason" in holds("He quit because of a religious awakening.")
    # "for" with a gerund or a deed gives the reason for praise or blame; "for nothing" does not.
    assert "reason" in holds("The party suspended a candidate for allegedly suggesting the insane be killed.")
    assert "reason" in holds("The squad won the prize for their victory at the World Junior event.")
    assert "reason" in holds("Sales fell in the face of the upsurge in low-cost airlines.")
    assert "reason" not in holds("He was waiting for nothing in Beijing.")
    assert "name" in holds("The ballad was written by radio DJ Mike Read.")
    assert "place" in holds("The awards were held at the Tor Di Valle arena in Rome.")
    assert holds("the cat sat on the mat.") == set()


def test_a_type_answers_only_when_the_question_does_not_give_it() -> None:
    words = {"where", "did", "outkast", "collect", "their", "awards", "in", "rome"}
    assert offers_new("place", "The awards were held at the Tor Di Valle arena.", words)
    assert not offers_new("place", "OutKast won three prizes in Rome.", words)
    assert offers_new("date", "It opens in January.", {"when", "does", "it", "open", "2006"})
    assert not offers_new("date", "It opens in 2006.", {"when", "does", "it", "open", "2006"})


def test_linear_is_the_standardised_dot_product() -> None:
    model = Linear(("a", "b"), (1.0, 2.0), (2.0, 4.0), (0.5, -1.0), 0.25)
    x = np.array([[3.0, 6.0], [1.0, 2.0]])
    expected = ((x - [1.0, 2.0]) / [2.0, 4.0]) @ [0.5, -1.0] + 0.25
    assert np.allclose(model(x), expected)


def test_a_sentence_holding_half_the_questions_words_answers_whatever_the_rule_says() -> None:
    support = Linear(("a",), (0.0,), (1.0,), (1.0,), -1.0)  # value = a - 1
    ranker = Ranker(support, support, coverage_answers=0.5)
    figures = np.array([[0.2], [0.2], [3.0]])
    coverage = np.array([0.4, 0.6, 0.0])
    assert ranker.supports(figures, coverage).tolist() == pytest.approx([-0.8, 0.0, 2.0])


def test_a_sentence_undecided_on_a_figure_counts_the_fits_mean_for_it() -> None:
    # value = (a - 2) + (b - 5): a NaN for b adds nothing, as the fit's mean would.
    support = Linear(("a", "b"), (2.0, 5.0), (1.0, 1.0), (1.0, 1.0), 0.0)
    ranker = Ranker(support, support, coverage_answers=1.0)
    figures = np.array([[3.0, np.nan], [3.0, 4.0]])
    assert ranker.supports(figures, np.zeros(2)).tolist() == pytest.approx([1.0, 0.0])


def test_margin_is_over_the_best_other_story_and_a_copy_is_not_one() -> None:
    scores = np.array([5.0, 1.0, 4.5, 3.0, 2.0])
    articles = np.array([0, 0, 1, 2, 2])
    # Article 1 holds a copy of article 0's first sentence (one group): for that sentence it is
    # the same story; for article 0's other sentence it is another.
    groups = np.array([7, 8, 7, 9, 10])
    assert margins(scores, articles, groups, [0, 3, 1]).tolist() == pytest.approx([2.0, -2.0, -3.5])
    # Only copies of one story among the candidates: nothing to compare with.
    assert np.isnan(margins(scores[:3], articles[:3], groups[:3], [0])).all()


def test_a_retelling_joins_its_sentences_group_and_other_figures_do_not() -> None:
    texts = [
        "The next triple witching hour will take place Friday, March 20.",
        "Notes in circulation totalled 16.28 billion dlrs, up 45 mln dlrs from the week before.",
        "Virginia Electric last visited the debt market in October 1986 when it sold 100 mln dlrs of bonds.",
        "The next triple witching hour will take place Friday March 20.",
        # Two weeks' news: the same words, other figures.
        "Notes in circulation totalled 16.24 billion dlrs, up 76 mln dlrs from the week before.",
        "Virginia Electric last visited the debt market in October 1986 when the utility issued 100 mln dlrs of bonds.",
        "Virginia Electric said it would sell bonds.",
        "",
    ]
    groups = np.array([40, 41, 42, 43, 44, 45, 46, 41])  # the last is a copy of the second, as the index has it
    assert join(groups, retellings(texts)).tolist() == [40, 41, 42, 40, 44, 42, 46, 41]
    assert repeats(texts[:4]) and not repeats(texts[:3])
    # The join is over the set: any order of the candidates joins the same ones.
    order = np.random.default_rng(0).permutation(len(texts))
    shuffled = join(groups[order], retellings([texts[i] for i in order]))
    assert shuffled.tolist() == join(groups, retellings(texts))[order].tolist()
    # Figures written as words count as figures; their case does not.
    words = [
        "Twenty-eight people died in the fire at the mill on Monday.",
        "Twenty-nine people died in the fire at the mill on Monday.",
        "twenty-eight people died in the fire at the mill on Monday",
    ]
    assert retellings(words) == [(0, 2)]


def test_the_shipped_ranker_scores_this_qas_features(tmp_path: Path) -> None:
    shipped = load_ranker()
    assert shipped.rank.features == RANK_FEATURES
    assert shipped.support.features == SUPPORT_FEATURES
    assert shipped.about.get("fitted_by") == "benchmarks/fit_ranker.py"
    assert any(w != 0 for w in shipped.rank.weights)
    copy = tmp_path / "ranker.json"
    save_ranker(shipped, copy)
    assert load_ranker(copy) == shipped
    copy.write_text("{not json")
    with pytest.raises(QAError, match="ranker file"):
        load_ranker(copy)
    assert RANKER_FILE.is_file()


def test_a_ranker_for_other_features_is_refused(engine: Engine) -> None:
    shipped = load_ranker()
    other = Ranker(Linear(("cosine",), (0.0,), (1.0,), (1.0,)), shipped.support)
    with pytest.raises(QAError, match="refit"):
        Engine(engine.index.path, ranker=other)


def test_copies_of_a_story_are_cited_once_and_counted(tmp_path: Path) -> None:
    story = "Harbour council approved the budget on Monday. The mayor praised the harbour vote loudly."
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(story)
    (corpus / "a-copy.txt").write_text(story)
    (corpus / "b.txt").write_text("Storm closed the airport. Flights resumed on Tuesday after the storm.")
    build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    engine = Engine(tmp_path / "index", embedder=FakeEmbedder())
    hits = engine.retriever.search("what did the mayor praise about the harbour vote?", limit=10).hits
    texts = [h.article.text[h.start : h.end] for h in hits]
    assert len(texts) == len(set(texts)) == 4  # two story sentences once each, two from b.txt
    copies = {h.article.text[h.start : h.end]: h.copies for h in hits}
    assert copies["The mayor praised the harbour vote loudly."] == 2
    assert copies["Storm closed the airport."] == 1
    # The abstention rule's margin: over the other story (b.txt), not over the copy of this one.
    best_other = max(h.score for h in hits if h.article.id == "b.txt")
    best_own = max((h for h in hits if h.article.id != "b.txt"), key=lambda h: h.score)
    assert best_own.margin == pytest.approx(best_own.score - best_other, abs=1e-5)
    answer = engine.ask("what did the mayor praise about the harbour vote?", top=3)
    cited = answer.citations or answer.nearest
    assert len({c.sentence for c in cited}) == len(cited)
    assert {c.copies for c in cited if "harbour" in c.sentence} == {2}
    assert also_in(2) == "also in 1 other article" and also_in(3) == "also in 2 other articles" and also_in(1) == ""
    harbour = next(c for c in cited if "harbour" in c.sentence)
    assert "also in 1 other article" in source_label(harbour)


def test_a_story_retold_in_new_words_is_cited_once_and_is_not_another_story(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(
        "Harbour council approved the budget on Monday. The mayor praised the harbour vote loudly on Monday."
    )
    (corpus / "a-wire.txt").write_text(
        "The harbour budget passed. On Monday the mayor praised the harbour vote loudly, officials said."
    )
    (corpus / "b.txt").write_text("Storm closed the airport. Flights resumed on Tuesday after the storm.")
    build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    engine = Engine(tmp_path / "index", embedder=FakeEmbedder())
    question = "what did the mayor praise about the harbour vote?"
    hits = engine.retriever.search(question, limit=10).hits
    praised = [h for h in hits if "praised" in h.article.text[h.start : h.end]]
    assert len(praised) == 1  # the wire's retelling is left out, not cited beside it
    # The margin is over the storm story: the retelling's article is the same story.
    best_other = max(h.score for h in hits if h.article.id == "b.txt")
    assert praised[0].margin == pytest.approx(praised[0].score - best_other, abs=1e-5)


def _one_story(tmp_path: Path, text: str) -> Engine:
    """An engine (fake embedder) over a corpus of one article, `text`."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "story.txt").write_text(text)
    build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    return Engine(tmp_path / "index", embedder=FakeEmbedder())


def _candidates(engine: Engine, question: str) -> tuple[Candidates, list[str]]:
    """`question`'s candidates, as the retriever finds them, and their sentences' texts."""
    c = engine.retriever.question_candidates(question)
    return c, engine.index.sentence_texts(c.sentences)


def test_a_figure_in_words_answers_how_many_and_offers_what_is_asked(tmp_path: Path) -> None:
    engine = _one_story(
        tmp_path,
        "Police raided the fraud website in a global swoop. Twenty-eight people were arrested in the swoop. "
        "The fraud website had been watched by police for a year.",
    )
    question = "How many people were detained in the fraud website swoop?"
    c, texts = _candidates(engine, question)
    number = dict(zip(texts, c.column("how many:number").tolist(), strict=True))
    assert number["Twenty-eight people were arrested in the swoop."] == 1.0
    assert number["Police raided the fraud website in a global swoop."] == 0.0
    offers = dict(zip(texts, offered(question, c.features).tolist(), strict=True))
    assert offers == number  # a "how many" question is offered a new figure
    assert offered("What did the police say?", c.features).tolist() == [UNDECIDED] * len(texts)
    hits = engine.retriever.search(question, limit=3).hits
    assert all(h.offers == offers[h.article.text[h.start : h.end]] for h in hits)


def test_a_reason_is_read_from_the_text_not_the_builds_bit(tmp_path: Path) -> None:
    engine = _one_story(
        tmp_path,
        "The party has suspended John Houston. He was suspended for allegedly suggesting the insane be killed. "
        "Mr Houston was due to stand in East Kilbride.",
    )
    engine.index.sentence_types[:] = 0  # as an index built before the reason cues widened might hold
    c, texts = _candidates(engine, "Why did the party suspend John Houston?")
    reason = dict(zip(texts, c.column("why:reason").tolist(), strict=True))
    assert reason == {
        "The party has suspended John Houston.": 0.0,
        "He was suspended for allegedly suggesting the insane be killed.": 1.0,
        "Mr Houston was due to stand in East Kilbride.": 0.0,
    }


def test_favoured_articles_sentences_gain_their_log_odds(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Harbour council approved the budget on Monday. The mayor praised the harbour vote.")
    (corpus / "b.txt").write_text("Storm closed the airport. Flights resumed on Tuesday after the storm.")
    build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    retriever = Engine(tmp_path / "index", embedder=FakeEmbedder()).retriever
    question = "when did the flights resume after the storm?"
    plain = {(h.article.id, h.start): h.score for h in retriever.search(question, limit=10).hits}
    favoured = retriever.search(question, limit=10, favour={"a.txt": 100.0}).hits
    assert {h.article.id for h in favoured[:2]} == {"a.txt"}
    for h in favoured:
        assert h.score == pytest.approx(plain[(h.article.id, h.start)] + (100.0 if h.article.id == "a.txt" else 0.0))


def test_a_sentence_repeating_the_questions_names_restates_its_subject_and_one_opening_he_continues(
    tmp_path: Path,
) -> None:
    engine = _one_story(
        tmp_path,
        "Sunderland have signed Robbie Weir from Glentoran. The teenager turned down Celtic to join them. "
        "Weir played for Northern Ireland's youth side. “He is a fine player,” said the manager.",
    )
    c, texts = _candidates(engine, "Which club did Robbie Weir snub in favour of Sunderland?")
    repeated = dict(zip(texts, c.column("names_repeated").tolist(), strict=True))
    # The question's names are Robbie, Weir and Sunderland ("Which", its first word, is not one).
    assert repeated == pytest.approx(
        {
            "Sunderland have signed Robbie Weir from Glentoran.": 1.0,
            "The teenager turned down Celtic to join them.": 0.0,
            "Weir played for Northern Ireland's youth side.": 1 / 3,
            "“He is a fine player,” said the manager.": 0.0,
        }
    )
    unnamed, _ = _candidates(engine, "Which club did the teenager snub?")
    assert unnamed.column("names_repeated").tolist() == [0.0] * 4
    # A sentence opening with a pronoun or determiner (inside a quote too) continues the story.
    continues = dict(zip(texts, c.column("continues").tolist(), strict=True))
    assert continues == {
        "Sunderland have signed Robbie Weir from Glentoran.": 0.0,
        "The teenager turned down Celtic to join them.": 1.0,
        "Weir played for Northern Ireland's youth side.": 0.0,
        "“He is a fine player,” said the manager.": 1.0,
    }


def test_a_name_is_unknown_unless_an_article_writes_it_not_merely_its_stem(tmp_path: Path) -> None:
    engine = _one_story(
        tmp_path,
        "It was a messy game for the Normans in Barcelona. Apple's shares rose. The Boeing order was cancelled.",
    )
    unknown = engine.retriever._unknown_name
    assert _lexical.tokenize(["Messi"]) == _lexical.tokenize(["messy"])  # what stems alone would accept
    assert unknown("How many goals did Messi score?") == 1.0
    assert unknown("How many goals did Barcelona score?") == 0.0
    assert unknown("What did the Norman army do?") == 0.0  # "Normans" in the text, "Norman" asked
    assert unknown("What did Apple's shares do?") == 0.0
    assert unknown("How much did Apple charge for the iPhone?") == 1.0  # a capital inside counts
    assert unknown("What happened to the Boeing-Apple order?") == 0.0  # each part is written
    assert unknown("Messi scored?") == 0.0  # the first word may be capitalised for the sentence only


def test_a_run_of_names_is_unknown_unless_an_article_writes_it_as_one(tmp_path: Path) -> None:
    engine = _one_story(
        tmp_path,
        "The European Commission met the Central Bank of Ireland. Alan L. Bean flew to St. Augustine. "
        "Pope John Paul spoke. Francis Drake sailed.",
    )
    unknown = engine.retriever._unknown_name
    assert unknown("Did the European Central Bank raise rates?") == 1.0  # every word, never together
    assert unknown("What did the European Commission say?") == 0.0
    assert unknown("What did Pope Francis say?") == 1.0  # "Pope" and "Francis" are each written
    assert unknown("What did Francis Drake say?") == 0.0
    assert unknown("Where did Alan Bean fly?") == 0.0  # a middle initial apart
    assert unknown("Who flew to St Augustine?") == 0.0  # a full stop apart
    assert unknown("Why did Ireland's Central Bank act?") == 0.0  # a possessive ends a run


@pytest.mark.parametrize(
    ("question", "runs"),
    [
        ("What did Pope Francis say in his first Easter address?", [["Pope", "Francis"]]),
        ("Which jobs did Nick Clegg's Liberal Democrats get?", [["Nick", "Clegg"], ["Liberal", "Democrats"]]),
        ("What is in the John Wayne DVD collection?", [["John", "Wayne"]]),
        ("What did the Boeing-Airbus row do to the UK?", []),
        ("European Central Bank rates rose?", [["Central", "Bank"]]),
    ],
)
def test_name_runs(question: str, runs: list[list[str]]) -> None:
    assert _name_runs(question) == runs


def test_a_sentence_holding_a_synonym_or_derived_form_paraphrases_the_questions_word(tmp_path: Path) -> None:
    engine = _one_story(
        tmp_path,
        "The studio released the picture in May. Critics praised the film. "
        "Real have won six consecutive games. The movie, a fine film, opens in June.",
    )
    c, texts = _candidates(engine, "Which movie did critics praise after six straight wins?")
    # Counted less the more of the question's own words the best candidate holds.
    lexical = 1.0 - c.column("coverage").max()
    assert 0.0 < lexical < 1.0
    paraphrased = dict(zip(texts, (c.column("paraphrased") / lexical).tolist(), strict=True))
    # The question's words are movie, critics, praise, six, straight, wins ("Which" and "did"
    # are stop words). "film" and "picture" are movie's synonyms, "consecutive" is straight's,
    # "won" no form of "win" that the stemmer or WordNet's endings reach.
    assert paraphrased == pytest.approx(
        {
            "The studio released the picture in May.": 1 / 6,
            "Critics praised the film.": 1 / 6,
            "Real have won six consecutive games.": 1 / 6,
            # It holds "movie" itself beside "film": a word the sentence holds is no paraphrase.
            "The movie, a fine film, opens in June.": 0.0,
        }
    )


def test_wordnet_forms_relatives_and_the_words_a_question_can_paraphrase() -> None:
    assert _wordnet.lemmas("polled") == {"poll"}
    assert _wordnet.lemmas("Planning") == {"plan", "planning"}
    assert _wordnet.lemmas("Xqzzy") == frozenset()
    # Each ending is its part of speech's: "interest" is not the adjective rule's "inter" (a
    # verb), "news" not the noun rule's "new" (an adjective), "thing" not a verb "th".
    assert [_wordnet.lemmas(w) for w in ("interest", "news", "thing")] == [{"interest"}, {"news"}, {"thing"}]
    assert {"film", "picture"} <= _wordnet.relatives("movies")
    assert "interviewer" in _wordnet.relatives("interview")  # a derived form
    # A derived form is its own word's, not every synonym's: "car" is no "automobilist".
    assert "automobile" in _wordnet.relatives("car") and "automobilist" not in _wordnet.relatives("car")
    assert _wordnet.relatives("Mourinho") == frozenset()
    # Stop words, short words and names are not paraphrased: a capitalised word after the first
    # is a name, even one WordNet knows ("Labour", "Brown"); "Müntzer" is one word.
    assert _wordnet.question_words("Interviews: why did Labour's Brown and Müntzer buy an old TV firm?") == [
        "Interviews",
        "buy",
        "old",
        "firm",
    ]
    stems = dict(_wordnet.paraphrases("Which films were interviews about?"))
    assert set(stems) == {"film", "interview"}
    assert "movi" in stems["film"] and "film" not in stems["film"]
    # A compound's parts are no synonym: "back-to-back" is one of consecutive's, "back" is not.
    assert "back-to-back" in _wordnet.relatives("consecutive")
    assert "back" not in dict(_wordnet.paraphrases("How many consecutive wins?"))["consecut"]
