"""The `qa` command line, run as a user runs it (a subprocess, the real model)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ACME, PLANET, write_dated_corpus


def qa(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qa", *args],
        capture_output=True,
        text=True,
        timeout=300,
        input=stdin,
        env={**os.environ, **(env or {})},
    )


def test_build_reports_summary_and_skipped_files(seed_corpus: Path, tmp_path: Path) -> None:
    (seed_corpus / "broken.txt").write_bytes(b"\xff\xfe\x00bad")
    result = qa("build", "--corpus", str(seed_corpus), "--index", str(tmp_path / "index"))
    assert result.returncode == 0, result.stderr
    assert "qa: skipped broken.txt: not UTF-8" in result.stderr
    assert "Embedding" in result.stderr  # the progress bar
    assert "1 article, 21 sentences" in result.stdout and "1 skipped," in result.stdout
    assert (tmp_path / "index" / "CURRENT").is_file()
    (seed_corpus / "extra.md").write_text("---\ntitle: Extra\n---\nA council met on Monday.\n", encoding="utf-8")
    again = qa("build", "--corpus", str(seed_corpus), "--index", str(tmp_path / "index"))
    assert again.returncode == 0, again.stderr
    assert "Incremental: embedded 1 new or changed article, reused 1, dropped 0" in again.stdout
    unchanged = qa("build", "--corpus", str(seed_corpus), "--index", str(tmp_path / "index"))
    assert "embedded 0 new or changed articles" in unchanged.stdout
    assert "Embedding" not in unchanged.stderr  # nothing to embed: no empty bar


def test_ask_prints_answer_with_numbered_sources(seed_index: Path) -> None:
    result = qa("ask", "what guarantees did Russia demand?", "--index", str(seed_index))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Sources:" in out and "[1] " in out and "[3] " in out
    assert "“We will demand that ironclad security guarantees become part of this agreement,”" in out


def test_ask_json_matches_the_contract_and_env_selects_index(seed_index: Path) -> None:
    result = qa("ask", "what guarantees did Russia demand?", "--json", "--top", "2", env={"QA_INDEX": str(seed_index)})
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["abstained"] is False and len(answer["citations"]) == 2
    text = (Path(__file__).parents[1] / "corpus" / answer["citations"][0]["article_id"]).read_text(encoding="utf-8")
    for c in answer["citations"]:
        assert text[c["start"] : c["end"]] == c["sentence"]


def test_ask_file_answers_one_json_line_per_question(seed_index: Path, tmp_path: Path) -> None:
    questions = tmp_path / "q.txt"
    questions.write_text(
        "what guarantees did Russia demand?\n\nWhat is the boiling point of water?\n", encoding="utf-8"
    )
    result = qa("ask", "--file", str(questions), "--json", "--index", str(seed_index))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["abstained"] for a in lines] == [False, True]
    result = qa("ask", "--file", "-", "--json", "--index", str(seed_index), stdin="Who is Witkoff?\n")
    assert json.loads(result.stdout)["question"] == "Who is Witkoff?"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ask", "anything", "--index", "{tmp}/none"), "qa: error: no index in"),
        (("ask", "   ", "--index", "{tmp}/none"), "qa: error: the question is empty"),
        (("ask", "\u200b?\x1b", "--index", "{seed}"), "qa: error: the question has no words"),
        (("ask", "anything", "--index", "{seed}/CURRENT"), "qa: error: '"),
        (("build", "--corpus", "{tmp}/nowhere", "--index", "{tmp}/i"), "qa: error: corpus "),
        (("build", "--corpus", "{tmp}", "--index", "{tmp}-index"), "qa: error: no readable articles"),
        (("build", "--corpus", "{tmp}", "--index", "{tmp}/i"), "qa: error: the index '"),
        (("ask", "q", "--index", "{seed}", "--model", "other/model"), "qa: error: index"),
    ],
)
def test_errors_are_one_clear_line(args: tuple[str, ...], message: str, tmp_path: Path, seed_index: Path) -> None:
    result = qa(*(a.format(tmp=tmp_path, seed=seed_index) for a in args))
    assert result.returncode == 1
    assert result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ask", "--bogus", "q"), "qa: error: No such option '--bogus'; see 'python -m qa ask --help'"),
        (("ask", "--top", "0", "q"), "qa: error: Invalid value for '--top': 0 is not in the range"),
        (("ask",), "qa: error: give either a QUESTION or --file FILE; see 'python -m qa ask --help'"),
        (("ask", "--since"), "qa: error: Option '--since' requires an argument; see 'python -m qa ask --help'"),
        (("nosuch",), "qa: error: No such command 'nosuch'; see 'python -m qa --help'"),
        (("biuld",), "qa: error: No such command 'biuld' (did you mean 'build'?); see 'python -m qa --help'"),
        (("--bogus",), "qa: error: No such option '--bogus'"),
        (
            ("info", "--index", "a", "--store", "b"),
            "qa: error: --index and --store name two places ('a', 'b'); give one",
        ),
        (("info", "--index", ""), "qa: error: --index is empty; give an index folder (default: index) or a Milvus URI"),
        (("ask", "--store", " ", "q"), "qa: error: --store is empty; give an index folder"),
    ],
)
def test_usage_errors_are_one_line_too(args: tuple[str, ...], message: str) -> None:
    result = qa(*args)
    assert result.returncode == 2
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_bare_qa_shows_its_help_as_click_formats_it() -> None:
    result = qa()
    assert result.returncode == 2 and result.stderr.startswith("Usage: ")
    assert "Commands:" in result.stderr and len(result.stderr.splitlines()) > 5


def test_index_and_store_are_one_setting(seed_index: Path) -> None:
    elsewhere = str(seed_index.parent / "nowhere")
    both = qa("info", env={"QA_INDEX": str(seed_index), "QA_STORE": elsewhere})
    assert both.returncode == 2 and both.stderr.startswith("qa: error: QA_INDEX and QA_STORE name two places")
    # A place that cannot be resolved is not one place with another (no traceback).
    odd = qa("info", "--index", "~nosuchuser/x", "--store", "y")
    assert odd.returncode == 2 and odd.stderr.startswith("qa: error: --index and --store name two places")
    # One place spelt two ways is one place.
    same = qa("info", "--index", str(seed_index), "--store", f"{seed_index.parent}/./{seed_index.name}/")
    assert same.returncode == 0 and "articles: 1" in same.stdout, same.stderr
    # An empty place is an error where it decides, named as it was given, and not where a place
    # typed on the command line overrides it.
    empty = qa("info", env={"QA_INDEX": " "})
    assert empty.returncode == 2 and empty.stderr.startswith("qa: error: QA_INDEX is empty"), empty.stderr
    overridden = qa("info", "--index", str(seed_index), env={"QA_STORE": " "})
    assert overridden.returncode == 0 and "articles: 1" in overridden.stdout, overridden.stderr
    # A place typed on the command line wins over one from the environment, under either name.
    for flag in ("--index", "--store"):
        typed = qa("info", flag, str(seed_index), env={"QA_STORE": elsewhere})
        assert typed.returncode == 0 and "articles: 1" in typed.stdout, typed.stderr


def test_a_model_neither_here_nor_reachable_is_one_line_at_once(seed_corpus: Path, tmp_path: Path) -> None:
    # A closed local port stands for the hub, so the test means the same with or without a network.
    proxies = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
    # This process loaded the bundled model, which sets HF_HUB_OFFLINE; the child must not inherit it.
    env = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "", **dict.fromkeys(proxies, "")}
    args = ("build", "--corpus", str(seed_corpus), "--index", str(tmp_path / "i"), "--model", "no-such/model-xyz")
    result = qa(*args, env=env)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "qa: error: model 'no-such/model-xyz' is not on this machine (no such folder, not in the Hugging Face "
        "cache) and the model hub (127.0.0.1) cannot be reached"
    ), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    offline = qa(*args, env={**env, "HF_HUB_OFFLINE": "1"})
    assert offline.returncode == 1 and "and HF_HUB_OFFLINE is set, so it cannot be downloaded" in offline.stderr


def test_a_line_that_is_not_utf8_is_its_own_error_and_the_rest_are_answered(seed_index: Path, tmp_path: Path) -> None:
    questions = tmp_path / "q.txt"
    questions.write_bytes(b"what guarantees did Russia demand?\nbad \xff\xfe bytes?\nWho is Witkoff?\n")
    result = qa("ask", "--file", str(questions), "--json", "--index", str(seed_index))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3
    assert lines[1]["error"].startswith("line 2: the question is not valid UTF-8 text")
    assert "citations" in lines[0] and "citations" in lines[2]
    plain = qa("ask", "--file", str(questions), "--index", str(seed_index))
    assert plain.returncode == 1 and "Sources:" in plain.stdout
    assert plain.stderr.strip().splitlines() == [
        "qa: error: line 2: the question is not valid UTF-8 text; re-type it or re-save its file as UTF-8"
    ]


def test_a_question_that_is_not_utf8_is_one_clear_line(seed_index: Path) -> None:
    result = subprocess.run(
        [sys.executable.encode(), b"-m", b"qa", b"ask", b"caf\xe9?", b"--index", str(seed_index).encode()],
        capture_output=True,
        timeout=300,
    )
    assert result.returncode == 1
    err = result.stderr.decode("utf-8", errors="replace")
    assert err.startswith("qa: error: the question is not valid UTF-8 text") and "Traceback" not in err


def test_printed_corpus_text_cannot_drive_the_terminal(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "evil.txt").write_text(
        "The mayor praised the harbour budget \x1b[2J\x1b]0;pwned\x07loudly\x1b[31m on Monday.\nRain fell.",
        encoding="utf-8",
    )
    assert qa("build", "--corpus", str(corpus), "--index", str(tmp_path / "index")).returncode == 0
    result = qa("ask", "What did the mayor praise on Monday?", "--index", str(tmp_path / "index"))
    assert result.returncode == 0, result.stderr
    assert "harbour budget loudly on Monday." in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    # JSON keeps the exact text, so offsets stay true.
    raw = json.loads(
        qa("ask", "What did the mayor praise on Monday?", "--json", "--index", str(tmp_path / "index")).stdout
    )
    shown = raw["citations"] or raw["nearest"]
    assert any("\x1b[2J" in c["sentence"] for c in shown)


def test_cli_filters_and_json_dates(dated_index: Path) -> None:
    result = qa(
        "ask",
        ACME,
        "--index",
        str(dated_index),
        "--json",
        "--source",
        "daily planet",
        "--source",
        "Wire",
        "--since",
        "2025-01-01",
    )
    assert result.returncode == 0, result.stderr
    citation = json.loads(result.stdout)["citations"][0]
    assert (citation["sentence"], citation["date"], citation["source"]) == (
        PLANET,
        "2025-03-04T09:30:00+00:00",
        "Daily Planet",
    )
    plain = qa("ask", ACME, "--index", str(dated_index), "--recency-days", "30")
    assert plain.returncode == 0, plain.stderr
    assert "[1] Acme turns to Jones (2025-03-04T09:30:00+00:00, Daily Planet)" in plain.stdout
    bad = qa("ask", ACME, "--index", str(dated_index), "--until", "yesterday")
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.startswith("qa: error: until: date 'yesterday' is not understood") and bad.stderr.count("\n") == 1


def test_build_reports_an_unreadable_date_and_builds_the_article(tmp_path: Path) -> None:
    corpus = write_dated_corpus(tmp_path / "corpus")
    result = qa("build", "--corpus", str(corpus), "--index", str(tmp_path / "index"))
    assert result.returncode == 0, result.stderr
    assert "qa: ignored a field of cup.md: date 'sometime last week' is not understood" in result.stderr
    assert "the article is kept without a date" in result.stderr
    assert "9 articles" in result.stdout and "0 skipped," in result.stdout


def test_serve_on_a_port_in_use_is_one_line_and_never_says_serving(seed_index: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = qa("serve", "--index", str(seed_index), "--port", str(port))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"qa: error: cannot serve on 127.0.0.1:{port}: the port is in use (is another server using it?) or the "
        "address is not this machine's; pass --port N or --host ADDRESS"
    ]
