from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa import CorpusError
from qa._corpus import MAX_ARTICLE_BYTES, read_corpus, skip_reason


def write(folder: Path, name: str, content: str | bytes) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def test_reads_txt_md_and_jsonl_with_stable_ids(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "First line is the title.\nSecond paragraph.")
    write(
        tmp_path,
        "news/b.md",
        "---\ntitle: Bee story\ndate: 2025-03-17\nsource: Wire\nurl: https://x.test/b\n---\nBody of b.\n",
    )
    records = [{"id": "j1", "title": "J one", "text": "Text one.", "date": "2024-01-02"}, {"id": 7, "text": "Seven."}]
    write(tmp_path, "bulk.jsonl", "\n".join(json.dumps(r) for r in records) + "\n")
    corpus = read_corpus(tmp_path)
    by_id = {a.id: a for a in corpus.articles}
    assert set(by_id) == {"a.txt", "news/b.md", "j1", "7"}
    assert by_id["a.txt"].title == "First line is the title."
    assert by_id["a.txt"].text == "First line is the title.\nSecond paragraph."
    b = by_id["news/b.md"]
    assert (b.title, b.date, b.source, b.url, b.text) == (
        "Bee story",
        "2025-03-17",
        "Wire",
        "https://x.test/b",
        "Body of b.\n",
    )
    assert by_id["j1"].date == "2024-01-02"
    assert by_id["7"].title == "Seven."
    assert corpus.skipped == ()


def test_bad_files_are_skipped_by_name_and_reason(tmp_path: Path) -> None:
    write(tmp_path, "good.txt", "A good article.")
    write(tmp_path, "latin1.txt", "Price: \xa3100".encode("latin-1"))
    write(tmp_path, "empty.txt", "  \n")
    write(tmp_path, "notes.pdf", b"%PDF")
    write(tmp_path, "open.md", "---\ntitle: never closed\nBody")
    write(
        tmp_path, "bulk.jsonl", '{"id": "x", "text": "Fine."}\n{not json\n{"id": "x", "text": "Again."}\n{"id": "y"}\n'
    )
    corpus = read_corpus(tmp_path)
    assert [a.id for a in corpus.articles] == ["x", "good.txt"]
    reasons = {s.path: s.reason for s in corpus.skipped}
    assert "not UTF-8" in reasons["latin1.txt"]
    assert reasons["empty.txt"] == "empty file"
    assert "unsupported file type" in reasons["notes.pdf"]
    assert "never closed" in reasons["open.md"]
    assert "invalid JSON" in reasons["bulk.jsonl:2"]
    assert "duplicate article id 'x' (first in bulk.jsonl:1)" in reasons["bulk.jsonl:3"]
    assert "missing or empty 'text'" in reasons["bulk.jsonl:4"]


def test_gzipped_jsonl_and_dotfiles(tmp_path: Path) -> None:
    write(tmp_path, "bulk.jsonl.gz", gzip.compress(b'{"id": "g", "text": "Zipped."}\n'))
    write(tmp_path, ".gitkeep", "")
    corpus = read_corpus(tmp_path)
    assert [a.id for a in corpus.articles] == ["g"]
    assert corpus.skipped == ()


def test_a_single_file_is_a_corpus(tmp_path: Path) -> None:
    write(tmp_path, "news.jsonl.gz", gzip.compress(b'{"id": "a", "text": "One."}\n{"id": "b", "text": "Two."}\n'))
    write(tmp_path, "story.md", "---\ntitle: A story\n---\nIt happened.")
    assert [a.id for a in read_corpus(tmp_path / "news.jsonl.gz").articles] == ["a", "b"]
    only = read_corpus(tmp_path / "story.md").articles
    assert [(a.id, a.title) for a in only] == [("story.md", "A story")]


def test_unusable_corpus_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        read_corpus(tmp_path / "missing")
    write(tmp_path, "empty.txt", "")
    with pytest.raises(CorpusError, match=r"no readable articles.*empty.txt: empty file"):
        read_corpus(tmp_path)


def test_corpus_hash_tracks_content_not_order(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "Alpha.")
    write(tmp_path, "b.txt", "Beta.")
    first = read_corpus(tmp_path).hash
    write(tmp_path, "b.txt", "Beta changed.")
    assert read_corpus(tmp_path).hash != first


def test_texts_that_say_nothing_or_are_too_big_are_skipped_by_name(tmp_path: Path) -> None:
    write(tmp_path, "good.txt", "A council met on Monday.\x00")  # a stray NUL beside text is still text
    write(tmp_path, "nul.txt", b"\x00" * 512)
    write(tmp_path, "control.txt", b"\x01\x02\x1b[2J\x07\r\n\x7f" * 8)
    write(tmp_path, "marks.md", "---\ntitle: Invisible\n---\n\u200b\u200e\ufeff\u2060\n")
    write(tmp_path, "big.txt", b"x" * (MAX_ARTICLE_BYTES + 1))
    lines = [
        {"id": "ok", "text": "Fine."},
        {"id": "nul", "text": "\x00\x00"},
        {"id": "ctl", "text": "\x1b\x07\x08"},
        {"id": "huge", "text": "é" * (MAX_ARTICLE_BYTES // 2 + 1)},  # under the bound in characters, not in bytes
    ]
    write(tmp_path, "bulk.jsonl", "\n".join(json.dumps(r) for r in lines) + "\n")
    corpus = read_corpus(tmp_path)
    assert sorted(a.id for a in corpus.articles) == ["good.txt", "ok"]
    reasons = {s.path: s.reason for s in corpus.skipped}
    assert set(reasons) == {
        "nul.txt",
        "control.txt",
        "marks.md",
        "big.txt",
        "bulk.jsonl:2",
        "bulk.jsonl:3",
        "bulk.jsonl:4",
    }
    assert reasons["nul.txt"].startswith("only NUL bytes") and reasons["bulk.jsonl:2"].startswith("only NUL bytes")
    for where in ("control.txt", "marks.md", "bulk.jsonl:3"):
        assert reasons[where].startswith("only control characters"), where
    assert reasons["big.txt"] == "5.0 MB, over the 5 MB bound for one article; split it into smaller articles"
    assert "over the 5 MB bound" in reasons["bulk.jsonl:4"]
    assert skip_reason("Text.") is None and skip_reason(b"\x00\x00") is not None


def test_folder_entries_that_are_no_articles_are_skipped_by_name(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write(corpus, "a.txt", "Alpha story.")
    write(tmp_path, "elsewhere/b.txt", "Beta story.")
    os.symlink(tmp_path / "elsewhere", corpus / "linked")  # a linked folder is read like any other
    os.symlink("a.txt", corpus / "alias.txt")
    os.symlink("nowhere.txt", corpus / "broken.txt")
    os.symlink("self.txt", corpus / "self.txt")
    os.symlink(".", corpus / "linked-up")
    os.mkfifo(corpus / "pipe.txt")  # reading it would block the build forever
    os.mkdir(corpus / ".git")
    write(corpus, ".git/HEAD.txt", "not an article")
    bad_name = os.fsencode(corpus) + b"/caf\xe9.txt"  # Latin-1 bytes: not a UTF-8 name
    with open(bad_name, "wb") as out:
        out.write(b"A story under a name that is not UTF-8.")
    result = read_corpus(corpus)
    assert [a.id for a in result.articles] == ["a.txt", "alias.txt", "linked/b.txt"]
    reasons = {s.path: s.reason for s in result.skipped}
    assert reasons == {
        "broken.txt": "broken symlink: its target 'nowhere.txt' does not exist; fix or remove the link",
        "self.txt": "symlink loop: the link resolves to itself; remove it",
        "linked-up/": "symlink loop: links back to a folder that holds it; remove the link",
        "pipe.txt": "not a regular file (a FIFO, socket or device); remove it",
        "caf\\udce9.txt": "name is not UTF-8; rename it",
    }


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder, so none is unreadable")
def test_an_unreadable_folder_is_skipped_by_name(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "Alpha story.")
    write(tmp_path, "locked/b.txt", "Beta story.")
    (tmp_path / "locked").chmod(0)
    try:
        result = read_corpus(tmp_path)
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert [a.id for a in result.articles] == ["a.txt"]
    assert [(s.path, s.reason) for s in result.skipped] == [
        ("locked/", "cannot read folder (Permission denied); make it readable or move it out")
    ]


def test_html_is_read_only_when_an_html_file_is(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "Alpha story.")
    code = f"import sys; from qa._corpus import read_corpus; read_corpus({str(tmp_path)!r}); print('trafilatura' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "False"


def test_a_single_file_with_a_name_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    name = os.fsencode(tmp_path) + b"/caf\xe9.txt"
    with open(name, "wb") as out:
        out.write(b"A story.")
    with pytest.raises(CorpusError, match=r"caf\\udce9.txt' is not UTF-8; rename it"):
        read_corpus(os.fsdecode(name))


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("2025-03-17", "2025-03-17"),
        ("20250317", "2025-03-17"),  # ISO 8601's basic form: a day too, not its midnight
        ("2025-W12-1", "2025-03-17"),
        ("2025-03-17T10:04:05Z", "2025-03-17T10:04:05+00:00"),
        ("2025-03-17 10:04:05.250+01:00", "2025-03-17T10:04:05+01:00"),
        ("2025-03-17T10:04", "2025-03-17T10:04:00"),
        ("Mon, 17 Mar 2025 10:04:05 GMT", "2025-03-17T10:04:05+00:00"),
        ("Mon, 17 Mar 2025 10:04:05 -0500", "2025-03-17T10:04:05-05:00"),
        ("17 Mar 2025 10:04:05 +0000", "2025-03-17T10:04:05+00:00"),
        ("26-FEB-1987 15:01:01.79", "1987-02-26T15:01:01"),
        ("5-APR-1987 01:53:30.00", "1987-04-05T01:53:30"),
        ("26-FEB-1987 15:01:01.79 RM", "1987-02-26T15:01:01"),  # a Reuters desk code after the time
    ],
)
def test_dates_in_news_formats_are_stored_as_iso_8601(tmp_path: Path, written: str, stored: str) -> None:
    write(tmp_path, "a.jsonl", json.dumps({"id": "a", "text": "Text.", "date": written}) + "\n")
    write(tmp_path, "b.md", f"---\ndate: '{written}'\n---\nText.\n")
    corpus = read_corpus(tmp_path)
    assert [a.date for a in corpus.articles] == [stored, stored]
    assert corpus.ignored == ()


def test_yaml_dates_are_stored_as_iso_8601(tmp_path: Path) -> None:
    # Unquoted, YAML reads these as a date, a datetime and a number, not text.
    write(tmp_path, "day.md", "---\ndate: 2025-03-17\n---\nText.\n")
    write(tmp_path, "moment.md", "---\ndate: 2025-03-17 10:04:05\n---\nText.\n")
    write(tmp_path, "number.md", "---\ndate: 20250317\n---\nText.\n")
    write(tmp_path, "n.jsonl", json.dumps({"id": "n", "text": "Text.", "date": 20250317}) + "\n")
    # An epoch timestamp is no ISO day: read as text, 1701011200 would pass for 1701-01-12.
    write(tmp_path, "t.jsonl", json.dumps({"id": "t", "text": "Text.", "date": 1701011200}) + "\n")
    corpus = read_corpus(tmp_path)
    days = {a.id: a.date for a in corpus.articles}
    assert days == {
        "day.md": "2025-03-17",
        "moment.md": "2025-03-17T10:04:05",
        "number.md": "2025-03-17",
        "n": "2025-03-17",
        "t": None,
    }
    assert [s.reason.split(";")[0] for s in corpus.ignored] == ["date 1701011200 is not text"]


def test_an_unreadable_date_is_reported_and_the_article_still_reads(tmp_path: Path) -> None:
    records = [
        {"id": "a", "text": "Alpha.", "date": "yesterday", "source": "Wire"},
        {"id": "b", "text": "Beta.", "date": "31-FEB-1987 10:00:00.00"},
        {"id": "c", "text": "Gamma.", "date": 1987},
        {"id": "d", "text": "Delta.", "date": "  "},  # blank: no date, nothing to report
    ]
    write(tmp_path, "bulk.jsonl", "\n".join(json.dumps(r) for r in records) + "\n")
    write(tmp_path, "e.md", "---\ndate: the 5th of May\n---\nEpsilon.\n")
    corpus = read_corpus(tmp_path)
    assert [(a.id, a.date) for a in corpus.articles] == [
        ("a", None),
        ("b", None),
        ("c", None),
        ("d", None),
        ("e.md", None),
    ]
    assert corpus.articles[0].source == "Wire" and corpus.skipped == ()
    reasons = {s.path: s.reason for s in corpus.ignored}
    assert set(reasons) == {"bulk.jsonl:1", "bulk.jsonl:2", "bulk.jsonl:3", "e.md"}
    assert reasons["bulk.jsonl:1"] == (
        "date 'yesterday' is not understood; write it as ISO 8601 (2025-03-17 or 2025-03-17T10:00:00Z), "
        "RFC 2822 (Mon, 17 Mar 2025 10:00:00 GMT) or 17-MAR-2025 10:00:00; the article is kept without a date"
    )
    assert reasons["bulk.jsonl:3"].startswith("date 1987 is not text")  # only eight digits read as a day
    assert "'the 5th of May' is not understood" in reasons["e.md"]


def test_a_field_that_is_no_text_is_reported_not_stored_as_python_text(tmp_path: Path) -> None:
    records = [
        {"id": "a", "text": "Alpha.", "source": ["Wire", "AP"], "url": {"href": "x"}, "title": ["A", "B"]},
        {"id": 7, "text": "Beta.", "source": "Wire", "title": 1984, "url": True},
    ]
    write(tmp_path, "bulk.jsonl", "\n".join(json.dumps(r) for r in records) + "\n")
    write(tmp_path, "c.md", "---\ntitle: [1, 2]\nsource: 2024-01-01\n---\nGamma.\n")
    corpus = read_corpus(tmp_path)
    fields = [(a.id, a.title, a.source, a.url) for a in corpus.articles]
    assert fields == [("a", "Alpha.", None, None), ("7", "1984", "Wire", None), ("c.md", "Gamma.", "2024-01-01", None)]
    reasons = sorted((s.path, s.reason) for s in corpus.ignored)
    assert reasons == [
        ("bulk.jsonl:1", 'source ["Wire", "AP"] is not text; the article is kept without it'),
        ("bulk.jsonl:1", 'title ["A", "B"] is not text; the article is kept without it'),
        ("bulk.jsonl:1", 'url {"href": "x"} is not text; the article is kept without it'),
        ("bulk.jsonl:2", "url true is not text; the article is kept without it"),
        ("c.md", "title [1, 2] is not text; the article is kept without it"),
    ]


def test_reuters_dates_flow_through(tmp_path: Path) -> None:
    from tests.conftest import SHARED, shared_file

    corpus = read_corpus(shared_file(SHARED / "data" / "news" / "reuters21578.jsonl.gz"))
    first = corpus.articles[0]
    assert (first.id, first.date) == ("reuters-1", "1987-02-26T15:01:01")
    dated = sorted(a.date for a in corpus.articles if a.date)
    assert len(dated) == len(corpus.articles) - 2 and dated[0].startswith("1987-02") and dated[-1].startswith("1987-10")
    # Two stories' dates are damaged in the original data; they are reported and still read.
    assert [s.path for s in corpus.ignored] == ["reuters21578.jsonl.gz:14233", "reuters21578.jsonl.gz:15961"]
