from __future__ import annotations

import gzip
import itertools
import json
import warnings

import pysbd
import pytest

from qa import _segment
from qa._segment import iter_split, paragraphs, pysbd_sentences, split_sentences, strip_span
from qa._types import Span
from tests.conftest import SEED, SHARED, shared_file, squad_articles

QUOTE = "“I’ll be speaking to President Putin on Tuesday,” Trump told reporters aboard Air Force One."


def test_quotations_stay_whole_in_the_seed() -> None:
    text = SEED.read_text(encoding="utf-8")
    sentences = [text[s.start : s.end] for s in split_sentences(text)]
    assert QUOTE in sentences
    assert any(
        s.startswith("“We will demand that ironclad security guarantees") and s.endswith("Izvestia.") for s in sentences
    )


def test_offsets_are_exact_over_all_squad_paragraphs() -> None:
    articles = squad_articles()
    assert len(articles) == 2067
    total = 0
    for article in articles:
        text = article["text"]
        spans = split_sentences(text)
        assert spans, article["id"]
        previous_end = 0
        for span in spans:
            sentence = text[span.start : span.end]
            assert sentence == sentence.strip() and sentence
            assert span.start >= previous_end  # in order, never overlapping
            previous_end = span.end
        # Nothing but whitespace is left out between sentences.
        covered = "".join(text[s.start : s.end] for s in spans)
        assert "".join(covered.split()) == "".join(text.split()), article["id"]
        total += len(spans)
    assert total > 9000


def test_paragraphs_soft_wraps_and_lines() -> None:
    wrapped = "One para\nwrapped here.\n\nSecond para."
    assert [wrapped[p.start : p.end] for p in paragraphs(wrapped)] == ["One para\nwrapped here.", "Second para."]
    lines = "Line one.\nLine two."
    assert [lines[p.start : p.end] for p in paragraphs(lines)] == ["Line one.", "Line two."]
    spans = split_sentences(wrapped)
    assert [wrapped[s.start : s.end] for s in spans] == ["One para\nwrapped here.", "Second para."]


def test_worker_processes_split_exactly_as_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [a["text"] for a in squad_articles()[:300]] + [SEED.read_text(encoding="utf-8")]
    monkeypatch.setattr(_segment, "PARALLEL_CHARS", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback to one process would hide the workers' path
        parallel = list(iter_split(texts, workers=2))
    assert parallel == [split_sentences(t) for t in texts]


def test_small_inputs_stay_in_process_and_a_broken_pool_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["One. Two.", "Three here. Four there."]
    assert list(iter_split(texts, workers=2)) == [split_sentences(t) for t in texts]  # under PARALLEL_CHARS

    class Broken:
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise OSError("no semaphores here")

    monkeypatch.setattr(_segment, "PARALLEL_CHARS", 0)
    monkeypatch.setattr(_segment, "ProcessPoolExecutor", Broken)
    with pytest.warns(RuntimeWarning, match="splitting in this process instead"):
        assert list(iter_split(texts, workers=2)) == [split_sentences(t) for t in texts]


def pysbd_reference(text: str) -> list[Span]:
    """Sentence spans from pysbd's own `Segmenter.segment`, as qa split before `_English`."""
    segmenter = pysbd.Segmenter(language="en", clean=False, char_span=False)
    spans: list[Span] = []
    for para in paragraphs(text):
        block = text[para.start : para.end].replace("\n", " ")
        cursor = 0
        for piece in segmenter.segment(block):
            sentence = piece.strip()
            found = block.find(sentence, cursor) if sentence else cursor
            if found < 0:
                spans.extend(strip_span(text, para.start + cursor, para.end))
                break
            if sentence:
                spans.append(Span(para.start + found, para.start + found + len(sentence)))
                cursor = found + len(sentence)
    return spans


def test_faster_english_splits_exactly_as_pysbd_on_news_and_squad() -> None:
    with gzip.open(shared_file(SHARED / "data" / "news" / "bbc_news_2225.jsonl.gz"), "rt", encoding="utf-8") as lines:
        bbc = [json.loads(line)["text"] for line in itertools.islice(lines, 0, 2225, 9)]
    texts = [a["text"] for a in squad_articles()[::7]] + bbc + [SEED.read_text(encoding="utf-8")]
    assert sum(map(len, texts)) > 700_000
    for text in texts:
        assert pysbd_sentences(text) == pysbd_reference(text)


def test_pieces_that_are_no_sentence_join_the_one_before() -> None:
    text = (
        'He said: "He\'ll use our money to buy it."\n\n'
        "Last week's top film, Are We There Yet?, slipped to second place. "
        "Sen. Rudy Boschwitz, R-Minn., said he would act. Sales fell 10%. Overall. sales across the industry also fell.\n\n"
        "iPod sales rose. eBay gained. easyJet flew.\n\n"
        "Across\n\nlower case opens this paragraph."
    )
    sentences = [text[s.start : s.end] for s in split_sentences(text)]
    assert sentences == [
        'He said: "He\'ll use our money to buy it."',
        "Last week's top film, Are We There Yet?, slipped to second place.",
        "Sen. Rudy Boschwitz, R-Minn., said he would act.",
        "Sales fell 10%.",
        "Overall. sales across the industry also fell.",
        "iPod sales rose.",
        "eBay gained.",
        "easyJet flew.",
        "Across",
        "lower case opens this paragraph.",
    ]
    # pysbd alone leaves the rests apart: what is joined here is its own splitting.
    assert len(pysbd_sentences(text)) > len(sentences)


def test_joined_sentences_cover_pysbd_pieces_exactly_on_news() -> None:
    with gzip.open(shared_file(SHARED / "data" / "news" / "bbc_news_2225.jsonl.gz"), "rt", encoding="utf-8") as lines:
        texts = [json.loads(line)["text"] for line in itertools.islice(lines, 0, 2225, 5)]
    joined = 0
    for text in texts:
        pieces, spans = pysbd_sentences(text), split_sentences(text)
        joined += len(pieces) - len(spans)
        # Every sentence starts and ends where pysbd's pieces do, and lies in one paragraph.
        assert {s.start for s in spans} <= {p.start for p in pieces}
        assert {s.end for s in spans} <= {p.end for p in pieces}
        paras = paragraphs(text)
        for span in spans:
            assert any(p.start <= span.start and span.end <= p.end for p in paras)
            assert any(ch.isalnum() for ch in text[span.start : span.end])
    assert joined > 50  # about one piece in a hundred on BBC News
