"""The Gradio app: handlers called directly, a real server, and a real browser."""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client

from qa import Engine, QAError, build_index
from qa._gradio import gr  # as the app imports it, so the tests run what users run
from qa.app import Handlers, create_app, launch, parse_auth, user_questions
from tests._http import free_port, plain_call, post, wait_until_up
from tests.conftest import ACME, PLANET, ROOT, FakeEmbedder, write_dated_corpus

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = ROOT / "test-artifacts"
FIRST = "What did Grushko say Moscow will seek?"
FOLLOW_UP = "Which outlet did he tell that to?"
IZVESTIA = "Grushko told Russian media outlet Izvestia."


@contextmanager
def serving(engine: Engine, credentials: tuple[str, str] | None = None) -> Iterator[str]:
    demo = create_app(engine)
    port = free_port()
    launch(demo, "127.0.0.1", port, credentials, block=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture(scope="module")
def server(engine: Engine) -> Iterator[str]:
    with serving(engine) as url:
        yield url


# Handlers, called directly.


def test_gradio_imported_through_qa_keeps_its_shipped_stubs_and_works() -> None:
    # A fresh interpreter: here gradio is already imported, and the hook only acts on a first import.
    script = (
        "import qa._gradio as g, gradio.component_meta as meta, pathlib, os;"
        "stub = pathlib.Path(g.gr.components.textbox.__file__).with_suffix('.pyi');"
        "print(meta.create_or_modify_pyi is g._keep_stubs, stub.is_file(), g.gr.Textbox('x').value,"
        " os.environ['GRADIO_ANALYTICS_ENABLED'])"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["True", "True", "x", "False"]


def test_ask_handler_returns_the_contract(engine: Engine) -> None:
    payload = Handlers(engine).ask("what guarantees did Russia demand?", 2)
    assert payload == engine.ask("what guarantees did Russia demand?", top=2).to_dict()
    assert len(payload["citations"]) == 2


def test_chat_handler_rewrites_the_follow_up(engine: Engine) -> None:
    handlers = Handlers(engine)
    first = handlers.chat(FIRST, [])
    assert [m["role"] for m in first["history"]] == ["user", "assistant"]
    second = handlers.chat(FOLLOW_UP, first["history"])
    answer = second["answer"]
    assert answer["question"] == FOLLOW_UP and "Grushko" in answer["query"]
    assert IZVESTIA in answer["citations"][0]["sentence"]
    assert len(second["history"]) == 4


def nested(depth: int) -> Any:
    """Garbage a client might send: a list inside a list, `depth` deep."""
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda h: h.ask(""), "empty"),
        (lambda h: h.ask("   "), "empty"),
        (lambda h: h.ask("x" * 5000), "5000 characters"),
        (lambda h: h.ask(["not", "text"]), "must be text"),
        (lambda h: h.ask("ok?", "many"), 'top must be a whole number from 1 to 20, not "many"'),
        (lambda h: h.ask("ok?", None), "top must be a whole number from 1 to 20, not null"),
        (lambda h: h.ask("ok?", 2.7), "top must be a whole number from 1 to 20, not 2.7"),
        (lambda h: h.ask("ok?", True), "top must be a whole number from 1 to 20, not true"),
        (lambda h: h.ask("ok?", 0), "top must be between 1 and 20"),
        (lambda h: h.chat("hi", "not a list"), "history must be a list"),
        (lambda h: h.chat("hi", [{"role": "robot", "content": "x"}]), "role"),
        (lambda h: h.chat("hi", [{"role": "user", "content": None}]), "needs text content"),
        (lambda h: h.chat("hi", [{"role": "user", "content": [{"type": "file", "path": "x"}]}]), "needs text content"),
        (lambda h: h.chat("hi", [{"role": "user", "content": {"a": {"b": "x"}}}]), "holds none"),
        (lambda h: h.chat("hi", [{"role": "user", "content": nested(2000)}]), "nested too deeply"),
    ],
)
def test_bad_input_is_a_clear_gradio_error(engine: Engine, call: Any, message: str) -> None:
    with pytest.raises(gr.Error, match=message):
        call(Handlers(engine))


def test_respond_fills_chat_sources_and_context(engine: Engine) -> None:
    history, box, sources, highlighted, searched, state = Handlers(engine).respond(FIRST, [])
    assert box == "" and searched == FIRST
    assert history[0] == {"role": "user", "content": FIRST}
    assert "[1]" in history[1]["content"]
    assert sources["label"] == "Sources" and len(sources["choices"]) == 3
    marked = [text for text, label in highlighted if label]
    assert marked == [state[0]["sentence"]]
    assert "".join(text for text, _ in highlighted).count(state[0]["sentence"]) == 1


def test_respond_marks_abstention_and_escapes_markup(engine: Engine) -> None:
    history, *_rest, sources, _highlight, _searched, state = Handlers(engine).respond(
        "What is <b>boiling</b> water?", []
    )
    assert history[0]["content"] == "What is &lt;b&gt;boiling&lt;/b&gt; water?"
    assert history[1]["content"].startswith("The corpus does not answer this question.")
    assert sources["label"] == "Nearest sentences (not an answer)"
    assert all("(not an answer)" in label for label, _ in sources["choices"]) and state


def test_follow_ups_search_the_users_own_words_not_the_escaped_chat(engine: Engine) -> None:
    handlers = Handlers(engine)
    history, *_ = handlers.respond("What did Russia's Grushko say Moscow will seek?", [])
    assert "&#x27;" in history[0]["content"]  # shown escaped in the chat
    _, _, _, _, searched, _ = handlers.respond("Which outlet did he tell that to?", history)
    assert "Grushko" in searched and "x27" not in searched and "&" not in searched
    # A long question full of markup still fits the limit on the next turn, as the user typed it.
    long = "Did Grushko say <this> & <that>? " * 28
    assert len(long.strip()) <= 1000 < len(html.escape(long.strip()))
    history, *_ = handlers.respond(long, [])
    history, *_rest = handlers.respond("And what about Kyiv?", history)
    assert history[-1]["role"] == "assistant" and len(history) == 4


def test_a_long_chat_keeps_working_on_its_recent_turns(engine: Engine) -> None:
    handlers = Handlers(engine)
    history: list[dict[str, Any]] = []
    for turn in range(101):
        history += [{"role": "user", "content": f"Question {turn}?"}, {"role": "assistant", "content": "reply"}]
    history, *_rest = handlers.respond(FIRST, history)
    assert len(history) == 204 and history[-1]["role"] == "assistant"
    history, _, _, _, searched, _ = handlers.respond(FOLLOW_UP, history)
    assert "Grushko" in searched
    turn = handlers.chat(FOLLOW_UP, history)
    assert "Grushko" in turn["answer"]["query"] and len(turn["history"]) == len(history) + 2


def test_user_questions_reads_messages_history() -> None:
    history = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": [{"type": "text", "text": "two"}]},
    ]
    assert user_questions(history) == ["one", "two"]


# A real server.


def test_gradio_client_ask_and_two_turn_chat(server: str) -> None:
    client = Client(server, verbose=False)
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(endpoints) == {"/ask", "/chat"}
    answer = client.predict("what guarantees did Russia demand?", api_name="/ask")
    assert not answer["abstained"] and len(answer["citations"]) == 3
    first = client.predict(FIRST, [], api_name="/chat")
    second = client.predict(FOLLOW_UP, first["history"], api_name="/chat")
    assert IZVESTIA in second["answer"]["citations"][0]["sentence"]
    assert "Grushko" in second["answer"]["query"]
    with pytest.raises(Exception, match="the question is empty"):
        client.predict("  ", api_name="/ask")


def test_plain_http_call_and_event_stream(server: str) -> None:
    event, data = plain_call(server, "ask", ["what guarantees did Russia demand?", 3])
    assert event == "complete"
    answer = data[0]
    assert set(answer) >= {"answer", "citations", "abstained", "query"}
    assert any("ironclad security guarantees" in c["sentence"] for c in answer["citations"])


@pytest.fixture(scope="module")
def dated_server(dated_engine: Engine) -> Iterator[str]:
    with serving(dated_engine) as url:
        yield url


def test_api_filters_by_date_and_source(dated_server: str) -> None:
    client = Client(dated_server, verbose=False)
    unfiltered = client.predict(ACME, api_name="/ask")
    assert "Alice Smith" in unfiltered["citations"][0]["sentence"]
    for kwargs in ({"sources": ["Daily Planet"]}, {"since": "2025-01-01"}, {"recency_days": 30}):
        answer = client.predict(ACME, api_name="/ask", **kwargs)
        first = answer["citations"][0]
        assert (first["sentence"], first["date"], first["source"]) == (
            PLANET,
            "2025-03-04T09:30:00+00:00",
            "Daily Planet",
        )
    turn = client.predict(ACME, [], api_name="/chat", until="2024-12-31", sources=["wire"])
    assert turn["answer"]["citations"][0]["date"].startswith("2024-01-")
    assert len(turn["history"]) == 2
    with pytest.raises(Exception, match="no article has source 'The Times'"):
        client.predict(ACME, api_name="/ask", sources=["The Times"])
    with pytest.raises(Exception, match="since: date 'soon' is not understood"):
        client.predict(ACME, [], api_name="/chat", since="soon")
    # Plain HTTP posts every input, the filters included, in the order of the signature.
    event, data = plain_call(dated_server, "ask", [ACME, 2, "2025-01-01", None, ["DAILY PLANET"], None])
    assert event == "complete"
    answer = data[0]
    assert [c["article_id"] for c in answer["citations"]] == ["planet.md", "planet.md"]


def test_auth_protects_the_api(engine: Engine) -> None:
    assert parse_auth("ann:s3cret:x") == ("ann", "s3cret:x")
    for bad in ("nocolon", ":pw", "user:"):
        with pytest.raises(QAError, match="user:password"):
            parse_auth(bad)
    with serving(engine, ("ann", "s3cret")) as url:
        with pytest.raises(Exception):  # noqa: B017 - gradio_client raises different types per version
            Client(url, verbose=False).predict("who is Witkoff?", api_name="/ask")
        answer = Client(url, auth=("ann", "s3cret"), verbose=False).predict("who is Witkoff?", api_name="/ask")
        assert "Witkoff" in answer["answer"]


# A real browser.


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs it with apt-get install -y chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium); the browser test needs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


def ask_in_page(page: Any, question: str) -> None:
    page.fill("#question textarea", question)
    page.click("#ask")
    page.wait_for_function(
        "q => [...document.querySelectorAll('#chat .message')].some(m => m.innerText.includes(q))",
        arg=question,
        timeout=60_000,
    )


def test_browser_chat_with_follow_up_and_highlighted_source(server: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    ask_in_page(page, FIRST)
    page.wait_for_selector("#context .highlighted", timeout=60_000)
    # Two sentences answer it (his words to Izvestia, and the report of them); either may lead.
    first = page.inner_text("#context .highlighted")
    assert "Grushko" in first and "guarantees" in first
    ask_in_page(page, FOLLOW_UP)
    page.wait_for_function("document.querySelector('#searched textarea').value.includes('Grushko')", timeout=60_000)
    page.wait_for_function(
        "t => document.querySelector('#context .highlighted')?.innerText.includes(t)", arg="Izvestia", timeout=60_000
    )
    assert "[1]" in page.inner_text("#chat")
    # Selecting another source shows its context.
    page.click("#sources label:nth-of-type(2)")
    page.wait_for_function(
        "() => !document.querySelector('#context .highlighted').innerText.includes('Izvestia')", timeout=30_000
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.click("#sources label:nth-of-type(1)")
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)
    assert (ARTIFACTS / "chat.png").stat().st_size > 10_000
    page.close()


def test_browser_chats_clear_button_starts_afresh_and_a_long_question_is_warned_not_cut(
    server: str, browser: Any
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    ask_in_page(page, FIRST)
    page.wait_for_selector("#context .highlighted", timeout=60_000)
    # The chat's own clear button empties the sources and the searched query as well.
    page.click("#chat button[aria-label='Clear']")
    page.wait_for_function(
        "() => document.querySelector('#searched textarea').value === ''"
        " && !document.querySelector('#context .highlighted')"
        " && document.querySelectorAll('#sources label').length === 0",
        timeout=30_000,
    )
    # A pasted question over the limit stays whole in the box and is warned about.
    long = "Who is Witkoff? " * 94
    page.fill("#question textarea", long)
    assert len(page.input_value("#question textarea")) == len(long) > 1000
    page.click("#ask")
    page.wait_for_function(
        "() => document.body.innerText.includes('characters long; keep it under 1000')", timeout=60_000
    )
    assert "Witkoff" not in page.inner_text("#chat")
    page.close()


def test_browser_markup_question_shows_as_typed_and_the_next_turn_works(server: str, browser: Any) -> None:
    # 900 characters as typed, over the 1,000-character limit once escaped: the chat must keep
    # the question the user typed, show it as text, and answer the turn after it.
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    marked = "Did Grushko say <b>this</b> & <i>that</i>? " * 20
    assert len(marked.strip()) <= 1000 < len(html.escape(marked.strip()))
    page.fill("#question textarea", marked.strip())
    page.click("#ask")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#chat .message')].some(m => m.innerText.includes('<b>this</b> & <i>that</i>'))",
        timeout=60_000,
    )
    assert page.locator("#chat b").count() == 0  # shown as text, never as markup
    ask_in_page(page, FOLLOW_UP)
    page.wait_for_function("document.querySelector('#searched textarea').value.includes('Grushko')", timeout=60_000)
    searched = page.input_value("#searched textarea")
    assert "&amp;" not in searched and "&lt;" not in searched
    assert "characters long" not in page.inner_text("body")
    page.close()


def test_browser_shows_corpus_markup_as_text(browser: Any, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    evil = 'The mayor said <script>window.pwned = 1</script> and <img src=x onerror="window.pwned = 2"> today.'
    (corpus / "evil.txt").write_text(evil + "\nThe council met on Monday about the budget.", encoding="utf-8")
    index = tmp_path / "index"
    build_index(corpus, index, embedder=FakeEmbedder())
    with serving(Engine(index, embedder=FakeEmbedder())) as url:
        page = browser.new_page()
        page.goto(url)
        ask_in_page(page, "What did the mayor say today <script>?")
        page.wait_for_selector("#context .highlighted", timeout=60_000)
        assert "<script>window.pwned = 1</script>" in page.inner_text("#context")
        assert "<script>" in page.inner_text("#chat")
        assert page.evaluate("window.pwned") is None
        page.close()


def test_browser_filters_and_shows_citation_dates(dated_server: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(dated_server)
    page.wait_for_selector("#since input, #since textarea")
    assert "dated 2024-01-11 to 2025-03-04" in page.inner_text("body")
    ask_in_page(page, ACME)
    page.wait_for_selector("#context .highlighted", timeout=60_000)
    assert "Alice Smith" in page.inner_text("#context .highlighted")
    assert "2024-01-" in page.inner_text("#sources") and "Wire" in page.inner_text("#sources")
    page.fill("#since input, #since textarea", "2025-01-01")
    question = "Who will run Acme Corp as chief executive?"
    ask_in_page(page, question)
    page.wait_for_function(
        "t => document.querySelector('#context .highlighted')?.innerText.includes(t)", arg="Bob Jones", timeout=60_000
    )
    sources = page.inner_text("#sources")
    assert "Acme turns to Jones (2025-03-04T09:30:00+00:00 · Daily Planet)" in sources and "Alice" not in sources
    # A bad filter is a one-line warning; the chat is not changed.
    page.fill("#since input, #since textarea", "soon")
    page.fill("#question textarea", "Who runs Acme Corp?")
    page.click("#ask")
    page.wait_for_function(
        "() => document.body.innerText.includes(\"since: date 'soon' is not understood\")", timeout=60_000
    )
    assert "Who runs Acme Corp?" not in page.inner_text("#chat")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "filters.png"), full_page=True)
    page.close()


@pytest.mark.parametrize("first", ["seed", "no examples"])
def test_a_page_opened_after_a_new_build_shows_its_filters_and_examples(
    first: str, seed_corpus: Path, browser: Any, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    if first == "seed":
        build_index(seed_corpus, index)
    else:
        (tmp_path / "calm").mkdir()
        (tmp_path / "calm" / "river.txt").write_text("The river rose after the rain. The bridge stayed open.\n")
        build_index(tmp_path / "calm", index)
    engine = Engine(index)
    with serving(engine) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_selector("#question textarea")
        if first == "seed":
            page.wait_for_selector("#examples", state="visible")
            assert "What did Witkoff say?" in page.inner_text("#examples")
        else:
            assert not page.is_visible("#examples")
        assert not page.is_visible("#source-filter") and not page.is_visible("#recency")
        # The server keeps running while a dated, sourced corpus is built into its index.
        build_index(write_dated_corpus(tmp_path / "dated"), index)
        assert engine.refresh()
        page.reload()
        page.wait_for_selector("#source-filter", state="visible")
        assert page.is_visible("#recency") and "dated 2024-01-11 to 2025-03-04" in page.inner_text("body")
        page.wait_for_function("() => document.querySelector('#examples')?.innerText.includes('Acme Corp')")
        assert "Witkoff" not in page.inner_text("#examples")
        page.click("#examples button")
        page.wait_for_function(
            "() => document.querySelector('#question textarea').value === 'What did Acme Corp say?'", timeout=10_000
        )
        page.click("#source-filter input")
        page.wait_for_function("() => document.body.innerText.includes('Daily Planet')", timeout=10_000)
        page.close()


# Plain HTTP as a curl user writes it, against `qa serve` in its own process.


@pytest.fixture(scope="module")
def served(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    """`qa serve` as users start it: (url, its stderr file, Gradio's temporary folder)."""
    folder = tmp_path_factory.mktemp("served")
    stderr, uploads = folder / "stderr.txt", folder / "gradio"
    port = free_port()
    env = {**os.environ, "GRADIO_TEMP_DIR": str(uploads), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "qa", "serve", "--index", str(seed_index), "--port", str(port)]
    with stderr.open("w") as err:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=folder)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(url, process, stderr.read_text)
        yield url, stderr, uploads
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_plain_http_with_only_the_question_uses_the_defaults(served: tuple[str, Path, Path]) -> None:
    url, _, _ = served
    event, data = plain_call(url, "ask", ["what guarantees did Russia demand?"])
    assert event == "complete"
    assert data == plain_call(url, "ask", ["what guarantees did Russia demand?", 3])[1]
    assert len(data[0]["citations"]) == 3
    assert any("ironclad security guarantees" in c["sentence"] for c in data[0]["citations"])
    event, data = plain_call(url, "chat", [FIRST])
    assert event == "complete" and [m["role"] for m in data[0]["history"]] == ["user", "assistant"]
    event, data = plain_call(url, "chat", [FOLLOW_UP, data[0]["history"]])
    assert "Grushko" in data[0]["answer"]["query"]
    assert IZVESTIA in data[0]["answer"]["citations"][0]["sentence"]


def test_plain_http_without_the_question_says_what_to_send(served: tuple[str, Path, Path]) -> None:
    url, _, _ = served
    for endpoint, needed in (("ask", "question"), ("chat", "message")):
        with pytest.raises(urllib.error.HTTPError) as caught:
            post(f"{url}gradio_api/call/{endpoint}", {"data": []})
        assert caught.value.code == 422
        detail = json.loads(caught.value.read())["detail"]
        assert detail == f'/{endpoint} needs its {needed}: post {{"data": [{needed}]}}'
        for body in ({}, {"data": "who is Witkoff?"}):
            with pytest.raises(urllib.error.HTTPError) as caught:
                post(f"{url}gradio_api/call/{endpoint}", body)
            assert caught.value.code == 422
            detail = json.loads(caught.value.read())["detail"]
            assert detail == f'/{endpoint} takes its inputs as a "data" list: post {{"data": [{needed}]}}'


def test_a_rejected_request_is_one_log_line_without_a_traceback(served: tuple[str, Path, Path]) -> None:
    url, stderr, _ = served
    marker = f"not-a-number-{uuid.uuid4().hex}"
    event, data = plain_call(url, "ask", ["who is Witkoff?", f"{marker}\n\x1b[31m"])
    assert event == "error" and data["error"].startswith("top must be a whole number from 1 to 20")
    event, data = plain_call(url, "chat", ["   ", []])
    assert event == "error" and "the question is empty" in data["error"]
    lines = stderr.read_text().splitlines()
    logged = [line for line in lines if marker in line]
    assert len(logged) == 1
    assert logged[0].endswith(
        f'qa serve: /ask rejected: top must be a whole number from 1 to 20, not "{marker}\\n\\u001b[31m"'
    )
    assert any(
        line.endswith("qa serve: /chat rejected: the question is empty; type a question about the corpus")
        for line in lines
    )
    assert not any("Traceback" in line or "\x1b" in line for line in lines)


def test_uploads_are_closed(served: tuple[str, Path, Path]) -> None:
    url, _, uploads = served
    boundary = "qa-test-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="note.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n"
    ).encode()
    request = urllib.request.Request(
        f"{url}gradio_api/upload", data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 404
    assert "takes no file uploads" in json.loads(caught.value.read())["detail"]
    assert [p for p in uploads.rglob("*") if p.is_file()] == []


def test_plain_calls_leave_no_session_behind(engine: Engine) -> None:
    demo = create_app(engine)
    port = free_port()
    launch(demo, "127.0.0.1", port, block=False)
    url = f"http://127.0.0.1:{port}/"
    try:
        sessions = demo.server_app.state_holder.session_data
        for turn in range(20):
            assert plain_call(url, "ask", [f"who is Witkoff? ({turn})"])[0] == "complete"
        assert plain_call(url, "ask", [""])[0] == "error"
        # A call's session goes once the server has finished sending its stream, which may be a
        # moment after the client has read the last byte.
        deadline = time.monotonic() + 10
        while sessions and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(sessions) == 0
        # A session that a client keeps (gradio_client, a browser tab) is left alone.
        Client(url, verbose=False).predict("who is Witkoff?", api_name="/ask")
        assert len(sessions) == 1
    finally:
        demo.close()
