"""The Gradio app: a chat with a sources panel, and the `/ask` and `/chat` API endpoints.

Handlers are thin wrappers around `Engine.ask`. Corpus text reaches the page only as plain
text (HighlightedText, Radio labels, escaped chat messages), never as HTML.
"""

from __future__ import annotations

import html
import logging
import socket
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from ._answer import context
from ._conversation import example_questions
from ._engine import Engine, Served
from ._errors import InvalidQuestionError, QAError, as_sent
from ._gradio import gr
from ._http import Gate
from ._types import Answer, Citation, also_in, counted

log = logging.getLogger(__name__)

QUEUE_SIZE = 32  # waiting requests beyond this get a "busy" error at once, not a hang
CONCURRENCY = 2  # one per core: answers are CPU-bound (benchmarks/load.py compares 1, 2 and 4)
# Sessions Gradio keeps (each a copy of every component's config, about 40 KB): browser tabs and
# gradio_client connections; plain HTTP calls are let go when they end (forget_plain_call).
STATE_SESSIONS = 1000
API_ENDPOINTS = ("ask", "chat")
# Follow-ups lean on the last turns only, so a long chat is read from its most recent messages:
# after a hundred turns it keeps working, and no request makes the server read a whole novel.
RECENT_MESSAGES = 20
# Gradio breaks highlighted text anywhere, even mid-word; a reader wants whole words.
CSS = "#context .text, #context .textfield { word-break: normal !important; overflow-wrap: break-word; }"


MAX_CONTENT_DEPTH = 3  # a message's content: text, a part {"text": ...}, or a list of those


def _text(content: Any, depth: int = 0) -> str:
    """The plain text of a chat message's content (a string, or Gradio's list of parts)."""
    if depth > MAX_CONTENT_DEPTH:
        raise InvalidQuestionError(
            "a history message's content is nested too deeply; send text or a list of text parts"
        )
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return _text(content.get("text", ""), depth + 1)
    if isinstance(content, list):
        return " ".join(_text(part, depth + 1) for part in content)
    return ""


def user_questions(history: Any) -> list[str]:
    """The user's earlier questions from the most recent RECENT_MESSAGES messages of a
    messages-format history; InvalidQuestionError if those are malformed."""
    if history is None:
        return []
    if not isinstance(history, list):
        raise InvalidQuestionError('history must be a list of {"role", "content"} messages')
    questions = []
    for message in history[-RECENT_MESSAGES:]:
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise InvalidQuestionError('each history message must be {"role": "user" | "assistant", "content": str}')
        text = _text(message.get("content"))
        if not text.strip():
            raise InvalidQuestionError(
                'each history message needs text content: a string, a {"text": ...} part or a list of them, '
                "holding its words; this one holds none"
            )
        if message["role"] == "user":
            questions.append(text)
    return questions


def whole_top(value: object) -> int:
    """`top` as sent over the API: a whole number (or its digits as text); anything else, such
    as "abc", null, 2.7 or true, is an InvalidQuestionError rather than a silent rounding."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise InvalidQuestionError(f"top must be a whole number from 1 to 20, not {as_sent(value)}")


def source_label(c: Citation, nearest: bool = False) -> str:
    """One line naming a cited sentence and its article, as plain text."""
    meta = " · ".join(x for x in (c.date, c.source, c.url, also_in(c.copies)) if x)
    mark = f"~{c.n} (not an answer)" if nearest else str(c.n)
    return f"[{mark}] {c.sentence} — {c.title}{f' ({meta})' if meta else ''}"


def reply_text(answer: Answer) -> str:
    """The assistant's chat message: escaped, so corpus text can never become markup."""
    lines = [html.escape(answer.answer)]
    if answer.query != answer.question:
        lines.append(f"\n(searched: {html.escape(answer.query)})")
    if answer.abstained and answer.nearest:
        lines.append("\nNearest sentences found, which do not answer it, are in the sources panel.")
    return "\n".join(lines)


class Handlers:
    """The app's event handlers over one engine; each is a few lines around `Engine.ask`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._examples: tuple[str, list[str]] = ("", [])  # (corpus hash, its example questions)

    def examples(self, served: Served | None = None) -> list[str]:
        """Example questions from the served build's articles, worked out once per corpus."""
        served = served or self.engine.served()
        corpus, examples = self._examples
        if corpus != served.summary.corpus_hash:
            examples = example_questions(a.text for a in served.articles[:500])
            self._examples = (served.summary.corpus_hash, examples)
        return examples

    def page(self) -> tuple[str, Any, Any, Any]:
        """What a page opened now shows of the build served now, which may be newer than the
        one the server started with: its line, the source and recency filters its articles
        allow, and example questions from them, all of one build."""
        served = self.engine.served()
        examples, filters = self.examples(served), served.filters
        return (
            self.index_line(served),
            gr.update(choices=list(filters.sources), visible=bool(filters.sources)),
            gr.update(visible=filters.dated),
            gr.update(samples=[[q] for q in examples], visible=bool(examples)),
        )

    def index_line(self, served: Served | None = None) -> str:
        """The page's line about the build being served."""
        served = served or self.engine.served()
        s, filters = served.summary, served.filters
        dated = f" · {filters.date_range()}" if filters.dated else ""
        return (
            f"Index: {counted(s.articles, 'article')}, {counted(s.sentences, 'sentence')}{dated} · "
            f"model `{s.model}` · built {s.built_at}"
        )

    def highlight(self, citations: list[dict[str, Any]], choice: str | None) -> list[tuple[str, str | None]]:
        """The chosen citation's surrounding text, its sentence marked with its number."""
        if not citations:
            return []
        chosen = next((c for c in citations if str(c["n"]) == choice), citations[0])
        mark = f"[{chosen['n']}]"
        try:
            text = self.engine.article(chosen["article_id"]).text
        except KeyError:
            text = ""
        if text[chosen["start"] : chosen["end"]] != chosen["sentence"]:
            # A build published since this answer dropped or changed the article: the cited
            # sentence is all that is still known to be true.
            return [(chosen["sentence"], mark)]
        before, sentence, after = context(text, chosen["start"], chosen["end"])
        return [(before, None), (sentence, mark), (after, None)]

    def respond(
        self,
        message: str,
        history: list[dict[str, Any]],
        since: str | None = None,
        until: str | None = None,
        from_sources: list[str] | None = None,
        recency_days: float | None = None,
    ) -> tuple[Any, ...]:
        """The chat UI's turn: updated chat, cleared box, sources, context, searched query, state."""
        try:
            # The chat shows earlier questions escaped; they are searched as the user typed them.
            earlier = [html.unescape(q) for q in user_questions(history)]
            answer = self.engine.ask(
                message,
                history=earlier,
                since=since,
                until=until,
                sources=from_sources,
                recency_days=recency_days or None,  # an empty gr.Number sends 0
            )
        except QAError as exc:
            log_rejected("chat UI", exc)
            gr.Warning(str(exc))
            return (gr.skip(),) * 6
        shown = answer.citations or answer.nearest
        citations = [asdict(c) for c in shown]
        choices = [(source_label(c, nearest=answer.abstained), str(c.n)) for c in shown]
        history = [
            *history,
            {"role": "user", "content": html.escape(message.strip())},
            {"role": "assistant", "content": reply_text(answer)},
        ]
        label = "Nearest sentences (not an answer)" if answer.abstained else "Sources"
        first = choices[0][1] if choices else None
        sources = gr.update(choices=choices, value=first, label=label)
        return history, "", sources, self.highlight(citations, first), answer.query, citations

    def ask(
        self,
        question: str,
        top: int = 3,
        since: str | None = None,
        until: str | None = None,
        sources: list[str] | None = None,
        recency_days: float | None = None,
    ) -> dict[str, Any]:
        """Answer one question with cited source sentences.

        Args:
            question: a question about the corpus (1 to 1000 characters).
            top: how many sentences to cite, 1 to 20.
            since: only articles dated on or after this date (2025-03-17, ISO 8601 or RFC 2822), or null.
            until: only articles dated on or before this date (a day includes all of it), or null.
            sources: only articles from these sources (names, any case), or null for all.
            recency_days: prefer recent articles: an article's score halves every this many days
                it is older than the newest one matching; null for no preference.

        Returns:
            The answer contract: question, query, answer (text with [n] markers), citations
            (n, article_id, title, sentence, start, end, score, copies, date (ISO 8601), source,
            url; sentence == article text[start:end]), abstained (true when the corpus does not
            answer), and nearest (the closest sentences, when abstained).
        """
        try:
            return self.engine.ask(
                question, top=whole_top(top), since=since, until=until, sources=sources, recency_days=recency_days
            ).to_dict()
        except QAError as exc:
            raise rejected("/ask", exc) from exc

    def chat(
        self,
        message: str,
        history: list[dict[str, Any]] | None = None,
        since: str | None = None,
        until: str | None = None,
        sources: list[str] | None = None,
        recency_days: float | None = None,
    ) -> dict[str, Any]:
        """One turn of a conversation; stateless, so pass the returned history back next time.

        Args:
            message: the new question.
            history: earlier messages as [{"role": "user" | "assistant", "content": str}]; empty
                or left out to start.
            since: only articles dated on or after this date, or null.
            until: only articles dated on or before this date, or null.
            sources: only articles from these sources, or null for all.
            recency_days: a half-life in days preferring recent articles, or null.

        Returns:
            {"answer": the answer contract (its query shows how a follow-up was rewritten),
             "history": the conversation with this turn added}.
        """
        try:
            answer = self.engine.ask(
                message,
                history=user_questions(history),
                since=since,
                until=until,
                sources=sources,
                recency_days=recency_days,
            )
        except QAError as exc:
            raise rejected("/chat", exc) from exc
        turn = [{"role": "user", "content": message}, {"role": "assistant", "content": answer.answer}]
        return {"answer": answer.to_dict(), "history": [*(history or []), *turn]}


def log_rejected(endpoint: str, exc: QAError) -> None:
    """One log line for a request refused with a QAError: the endpoint and the message, printable
    and on one line whatever the client sent."""
    message = "".join(ch if ch.isprintable() else " " for ch in " ".join(str(exc).split()))
    log.warning("%s rejected: %s", endpoint, message[:500])


def rejected(endpoint: str, exc: QAError) -> Exception:
    """The API's error for a QAError: logged as one line; the client gets the message. Gradio's
    own report would be a 2 KB traceback per bad request, for an error that is the client's."""
    log_rejected(endpoint, exc)
    error: Exception = gr.Error(str(exc), print_exception=False)
    return error


def create_app(engine: Engine, *, concurrency: int = CONCURRENCY, queue_size: int = QUEUE_SIZE) -> gr.Blocks:
    """The chat UI and API over one loaded engine; `concurrency` answers run at once and
    `queue_size` more may wait (benchmarks/load.py varies them)."""
    handlers = Handlers(engine)
    served = engine.served()
    examples = handlers.examples(served)

    with gr.Blocks(title="qa: cited answers") as demo:
        gr.Markdown("## qa: answers with their exact source sentences")
        index_line = gr.Markdown(handlers.index_line(served), elem_id="index-line")
        citations_state = gr.State([])
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Chat", height=460, render_markdown=False, elem_id="chat")
                # No max_length: the browser would cut a long paste short without a word; the
                # handler's check warns instead.
                question = gr.Textbox(label="Question", placeholder="Ask about the corpus…", elem_id="question")
                with gr.Row():
                    send = gr.Button("Ask", variant="primary", elem_id="ask")
                    clear = gr.Button("New conversation")
                with gr.Row():
                    since = gr.Textbox(label="Since", placeholder="YYYY-MM-DD", elem_id="since", max_lines=1)
                    until = gr.Textbox(label="Until", placeholder="YYYY-MM-DD", elem_id="until", max_lines=1)
                    source_filter = gr.Dropdown(
                        choices=list(served.filters.sources),
                        value=[],
                        multiselect=True,
                        label="Sources (empty: all)",
                        elem_id="source-filter",
                        visible=bool(served.filters.sources),
                    )
                    recency = gr.Number(
                        value=None,
                        minimum=0,
                        label="Prefer recent: half-life in days (0: off)",
                        elem_id="recency",
                        visible=served.filters.dated,
                    )
                # A placeholder keeps the question box among the examples' inputs, so examples
                # of a later build can be shown even when this one has none.
                shown = gr.Examples(
                    examples=[[q] for q in examples] or [["?"]],
                    inputs=question,
                    label="Example questions",
                    visible=bool(examples),
                    elem_id="examples",
                )
            with gr.Column(scale=2):
                searched = gr.Textbox(label="Searched", interactive=False, elem_id="searched")
                sources = gr.Radio(choices=[], label="Sources", elem_id="sources")
                context_view = gr.HighlightedText(
                    label="Context (cited sentence highlighted)", combine_adjacent=False, elem_id="context"
                )
        # The engine follows newly published builds; a page opened later shows the one it asks.
        demo.load(handlers.page, None, [index_line, source_filter, recency, shown.dataset], api_visibility="private")
        outputs = [chatbot, question, sources, context_view, searched, citations_state]
        inputs = [question, chatbot, since, until, source_filter, recency]
        for trigger in (send.click, question.submit):
            trigger(handlers.respond, inputs, outputs, api_visibility="private")
        sources.change(
            lambda choice, cites: handlers.highlight(cites, choice),
            [sources, citations_state],
            context_view,
            api_visibility="private",
        )
        # "New conversation" and the chat's own clear button both start afresh: sources too.
        for cleared in (clear.click, chatbot.clear):
            cleared(
                lambda: ([], "", gr.update(choices=[], value=None, label="Sources"), [], "", []),
                None,
                outputs,
                api_visibility="private",
            )
        gr.api(handlers.ask, api_name="ask")  # type: ignore[attr-defined]
        gr.api(handlers.chat, api_name="chat")  # type: ignore[attr-defined]
    demo.queue(max_size=queue_size, default_concurrency_limit=concurrency)
    blocks: gr.Blocks = demo
    return blocks


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """`user:password` as a tuple for Gradio's auth; InvalidQuestionError-free, QAError on bad form."""
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise QAError("--auth (or QA_AUTH) must look like user:password")
    return user, password


def serve(
    index_dir: str,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: str | None = None,
    ready: Callable[[], object] | None = None,
) -> None:
    """Load the index and serve the chat UI and API until interrupted; `ready` is called once
    the server listens (so "Serving ..." is never said of a server that did not start)."""
    credentials = parse_auth(auth)
    # One line each on stderr: refused requests, and each newly published build the engine
    # serves (or cannot serve).
    qa_log = logging.getLogger("qa")
    if not qa_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s qa serve: %(message)s", "%Y-%m-%d %H:%M:%S"))
        qa_log.addHandler(handler)
        qa_log.setLevel(logging.INFO)
    engine = Engine(index_dir)
    engine.watch()  # an idle server picks up a new build too, before its next question
    demo = create_app(engine)
    launch(demo, host, port, credentials, block=False)
    if ready is not None:
        ready()
    demo.block_thread()


def launch(
    demo: gr.Blocks, host: str, port: int, credentials: tuple[str, str] | None = None, block: bool = True
) -> None:
    """Start the server with settings fit for one: no telemetry, uploads, monitoring or SSR;
    plain API calls may leave out inputs that have defaults (qa._http)."""
    try:
        socket.getaddrinfo(host, port)
    except OSError as exc:
        raise QAError(
            f"cannot serve on {host}: no such address ({exc.strerror}); pass --host 127.0.0.1 or one of this machine's"
        ) from exc
    try:
        _launch(demo, host, port, credentials, block)
    except OSError as exc:
        # Gradio's own message names its settings (GRADIO_SERVER_PORT, launch()), not qa's.
        raise QAError(
            f"cannot serve on {host}:{port}: the port is in use (is another server using it?) or the address is "
            "not this machine's; pass --port N or --host ADDRESS"
        ) from exc


def forget_plain_call(server: Any, event_id: str) -> None:
    """Let go of what Gradio keeps for a plain `/call/` request whose event stream has ended.

    A call that brings no session hash gets a session of its own, named by its event id, and
    Gradio keeps every session (a copy of each component's config, about 40 KB here) until
    `state_session_capacity` sessions exist: the server grew by that much per plain call
    (benchmarks/memory.py). Once its stream has ended nothing can resume such a session, so it
    is dropped here, with the queue's per-session entries and the event's timing record.
    """
    holder = getattr(server, "state_holder", None)
    if holder is None:
        return
    with holder.lock:
        holder.session_data.pop(event_id, None)
        holder.time_last_used.pop(event_id, None)
    queue = server.get_blocks()._queue
    if not queue.pending_event_ids_session.get(event_id):
        queue.pending_event_ids_session.pop(event_id, None)
    queue.pending_messages_per_session.pop(event_id, None)
    queue.event_analytics.pop(event_id, None)


def _launch(demo: gr.Blocks, host: str, port: int, credentials: tuple[str, str] | None, block: bool) -> None:
    from starlette.middleware import Middleware

    endpoints = {f.api_name: f.fn for f in demo.fns.values() if f.api_name in API_ENDPOINTS and f.fn is not None}
    demo.launch(
        prevent_thread_lock=not block,
        server_name=host,
        server_port=port,
        auth=credentials,
        max_file_size="1mb",
        state_session_capacity=STATE_SESSIONS,
        app_kwargs={"middleware": [Middleware(Gate, endpoints=endpoints, forget=forget_plain_call)]},
        enable_monitoring=False,
        run_history=False,
        ssr_mode=False,
        footer_links=["api"],
        show_error=True,
        quiet=True,
        css=CSS,
    )
