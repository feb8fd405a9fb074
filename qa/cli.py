"""The `qa` command line: thin commands over the library; `QAError`s become one-line messages."""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import click

from ._errors import QAError
from ._types import Answer, Citation, also_in, counted

_WHERE = (
    "Where the index is: a folder, a Milvus Lite file (*.db) or a Milvus URI http://host:19530 "
    "(--index and --store, env QA_INDEX and QA_STORE, are one setting; a Milvus token in QA_STORE_TOKEN)."
)


def INDEX(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--index` and `--store` (env QA_INDEX, QA_STORE): one setting under two names, passed on as
    `index_dir`. Two different places are a usage error, not one of them quietly; a place on the
    command line wins over one from the environment."""

    @functools.wraps(command)
    def run(*args: Any, index_dir: str | None, store_dir: str | None, **kwargs: Any) -> Any:
        return command(*args, index_dir=_one_place(index_dir, store_dir), **kwargs)

    run = click.option("--store", "store_dir", envvar="QA_STORE", default=None, help="The same as --index.")(run)
    return click.option("--index", "index_dir", envvar="QA_INDEX", default=None, help=f"{_WHERE}  [default: index]")(
        run
    )


def _one_place(index_dir: str | None, store_dir: str | None) -> str:
    given = {"index_dir": index_dir, "store_dir": store_dir}
    ctx = click.get_current_context()
    typed = [name for name in given if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE]
    if index_dir is None or store_dir is None or _same_place(index_dir, store_dir):
        name = "index_dir" if index_dir is not None else "store_dir"
    elif len(typed) == 1:
        name = typed[0]
    else:
        names = "--index and --store" if typed else "QA_INDEX and QA_STORE"
        raise click.UsageError(f"{names} name two places ({index_dir!r}, {store_dir!r}); give one")
    place = given[name]
    if place is None:
        return "index"
    if not place.strip():  # an empty path would open the working directory as an index
        where = {"index_dir": ("--index", "QA_INDEX"), "store_dir": ("--store", "QA_STORE")}[name]
        raise click.UsageError(
            f"{where[0 if name in typed else 1]} is empty; give an index folder (default: index) or a Milvus URI"
        )
    return place


def _same_place(a: str, b: str) -> bool:
    """Whether two spellings name one place: `idx`, `./idx/` and its absolute path do; server URIs
    are compared as written. No `~` expansion: the stores open a path as given."""
    from ._stores import is_server

    if a == b or is_server(a) or is_server(b):
        return a == b
    try:
        return Path(a).resolve() == Path(b).resolve()
    except (OSError, RuntimeError):  # a symlink loop, say: not provably one place
        return False


MODEL = click.option(
    "--model",
    envvar="QA_MODEL",
    default=None,
    help="sentence-transformers model name or path (env QA_MODEL; default: the model the index was built "
    "with, else the bundled all-MiniLM-L6-v2; "
    "all-mpnet-base-v2, also installed, answers paraphrased questions better and queries 2.3x slower).",
)


class _UsageLine(click.ClickException):
    """A usage error shown as one `qa: error:` line (Click's own prints a four-line usage block)."""

    exit_code = 2

    def __init__(self, error: click.UsageError, command: str = "qa") -> None:
        message = " ".join(error.format_message().split())
        # Click's "Did you mean" comes as ". (Did you mean ...)" for options, ". Did you mean ...?" for commands.
        message = re.sub(r"\.? \(?Did you mean (.+?)\)?$", r" (did you mean \1)", message).rstrip(".")
        # Some parse errors ("Option '--since' requires an argument") carry no context: `command`,
        # the command being parsed, names the right --help for them.
        where = error.ctx.command_path if error.ctx is not None else command
        super().__init__(f"{message}; see '{where} --help'")

    def show(self, file: Any = None) -> None:
        click.echo(f"qa: error: {self.message}", err=True)


class _Group(click.Group):
    """Turns a `QAError` into `qa: error: ...` and exit status 1, never a traceback; usage errors
    are one line too, with exit status 2."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError:
            raise  # a bare `qa` prints its help, as Click formats it
        except click.UsageError as exc:
            raise _UsageLine(exc, str(args[0]) if args and args[0] else "qa") from None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        ctx.meta["qa.command"] = f"{ctx.command_path} {name}" if name else ctx.command_path
        return name, command, rest

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _UsageLine(exc, ctx.meta.get("qa.command", ctx.command_path)) from None
        except QAError as exc:
            click.echo(f"qa: error: {exc}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("qa: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qa", prog_name="qa")
def main() -> None:
    """Cited answers from a corpus of news articles."""


@main.command()
@click.option(
    "--corpus",
    "corpus_dir",
    envvar="QA_CORPUS",
    default="corpus",
    show_default=True,
    help="Corpus folder (or one file) of .txt, .md, .jsonl(.gz) and saved .html articles (env QA_CORPUS).",
)
@INDEX
@MODEL
@click.option(
    "--backend",
    envvar="QA_BACKEND",
    default=None,
    type=click.Choice(["onnx", "torch"]),
    help="Run the model as int8 ONNX (exported once, cached) or through torch (env QA_BACKEND; "
    "default: the index's backend, onnx for a new index).",
)
@click.option("--full", is_flag=True, help="Re-embed every article, not only new and changed ones.")
@click.option(
    "--ray",
    "ray",
    is_flag=False,
    flag_value="local",
    default=None,
    metavar="[ADDRESS]",
    help="Embed on Ray Data, one model actor per core: alone, a one-machine cluster; with ray://HEAD:10001 "
    "or auto, a running cluster (needs the [ray] extra).",
)
def build(corpus_dir: str, index_dir: str, model: str | None, backend: str | None, full: bool, ray: str | None) -> None:
    """Build the index from the corpus (the old index serves until the new one is complete).

    Only articles that are new or changed since the current index are embedded again; --full
    rebuilds everything.
    """
    from ._build import build_index

    report = build_index(corpus_dir, index_dir, model, backend=backend, full=full, progress=True, ray=ray)
    for skipped in report.skipped:
        # File names are corpus input too: they must not drive the terminal.
        click.echo(f"qa: skipped {_safe(skipped.path)}: {_safe(skipped.reason)}", err=True)
    for ignored in report.ignored:
        click.echo(f"qa: ignored a field of {_safe(ignored.path)}: {_safe(ignored.reason)}", err=True)
    click.echo(
        f"Built {report.index_dir}: {counted(report.articles, 'article')}, {counted(report.sentences, 'sentence')}, "
        f"{counted(report.chunks, 'chunk')}, {len(report.skipped)} skipped, {report.seconds:.1f} s "
        f"({report.model}, {report.backend})"
    )
    if report.fresh:
        click.echo(f"Embedded every article: {_safe(report.fresh)}")
    if report.incremental:
        click.echo(
            f"Incremental: embedded {counted(report.embedded, 'new or changed article')}, reused {report.reused}, "
            f"dropped {report.removed} no longer in the corpus (--full re-embeds all)"
        )


@main.command()
@click.argument("question", required=False)
@click.option(
    "--file",
    "questions",
    type=click.File("rb"),
    help="Read one question a line from FILE ('-' for stdin) and answer each.",
)
@INDEX
@MODEL
@click.option("--json", "as_json", is_flag=True, help="Print the answer contract as JSON (one line per answer).")
@click.option("--top", default=3, show_default=True, type=click.IntRange(1, 20), help="Sentences to cite.")
@click.option(
    "--since",
    default=None,
    help="Only articles dated on or after DATE (2025-03-17, or any date format the corpus takes).",
)
@click.option("--until", default=None, help="Only articles dated on or before DATE (a day includes all of it).")
@click.option("--source", "sources", multiple=True, help="Only articles from source NAME, any case (repeatable).")
@click.option(
    "--recency-days",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Prefer recent articles: an article's score halves for every N days it is older than the newest one.",
)
def ask(
    question: str | None,
    questions: BinaryIO | None,
    index_dir: str,
    model: str | None,
    as_json: bool,
    top: int,
    since: str | None,
    until: str | None,
    sources: tuple[str, ...],
    recency_days: float | None,
) -> None:
    """Answer QUESTION with cited source sentences."""
    from ._engine import Engine, check_question

    if (question is None) == (questions is None):
        raise click.UsageError("give either a QUESTION or --file FILE")
    if question is not None:
        check_question(question)  # fail fast, before the model loads
    engine = Engine(index_dir, model)
    engine.filters.select(since, until, sources, recency_days)  # a bad filter is one error, not one per line

    def answer(text: str) -> Answer:
        return engine.ask(text, top=top, since=since, until=until, sources=sources, recency_days=recency_days)

    if question is not None:
        _print_answer(answer(question), as_json)
        return
    assert questions is not None
    failed = 0
    for number, raw in enumerate(questions, 1):
        # Bytes in, decoded line by line: one line that is not UTF-8 is that line's error, and
        # the lines around it are still answered.
        line = raw.decode("utf-8", errors="surrogateescape")
        if not line.strip():
            continue
        try:
            answered = answer(line)
        except QAError as exc:
            failed += 1
            message = f"line {number}: {exc}"
            if as_json:
                shown = line.strip().encode("utf-8", errors="replace").decode("utf-8")
                click.echo(json.dumps({"question": shown, "error": message}, ensure_ascii=False))
            else:
                click.echo(f"qa: error: {message}", err=True)
            continue
        _print_answer(answered, as_json)
        if not as_json:
            click.echo("")
    if failed:
        sys.exit(1)


@main.command()
@INDEX
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind; 0.0.0.0 exposes it to the network."
)
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535))
@click.option("--auth", envvar="QA_AUTH", default=None, help="Require a login, user:password (env QA_AUTH).")
def serve(index_dir: str, host: str, port: int, auth: str | None) -> None:
    """Serve the chat UI and the Gradio API."""
    from .app import serve as serve_app

    def ready() -> None:
        click.echo(f"Serving http://{host}:{port} (API: /ask, /chat); Ctrl+C to stop", err=True)

    serve_app(index_dir, host=host, port=port, auth=auth, ready=ready)


@main.command(name="eval")
@click.option("--squad", "squad_file", type=click.Path(dir_okay=False), help="A SQuAD v1.1 or v2.0 JSON file.")
@click.option(
    "--news",
    "news_file",
    type=click.Path(dir_okay=False),
    help="A news question file (shared/data/news_qa/news_dev.json or one written the same way).",
)
@click.option(
    "--corpus", "corpora", multiple=True, help="With --news: the corpus to index and ask (repeatable; default all)."
)
@click.option(
    "--index",
    "index_dir",
    default=None,
    help="Where to index the corpus: a new folder, a Milvus Lite file (*.db) or a Milvus URI; one that holds "
    "this corpus's index already is reused (default: a cache in the temp folder).",
)
@click.option("--limit", type=click.IntRange(1), default=None, help="Ask about N questions (evenly spread for SQuAD).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def eval_command(
    squad_file: str | None,
    news_file: str | None,
    corpora: tuple[str, ...],
    index_dir: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Measure answer quality on a SQuAD file or a news question file, as a user sees it."""
    from dataclasses import asdict

    if (squad_file is None) == (news_file is None):
        raise click.UsageError("pass one of --squad FILE or --news FILE")
    if news_file is not None:
        from ._eval_news import evaluate_news, format_news

        news = evaluate_news(news_file, corpora, index_dir, limit, progress=True)
        click.echo(json.dumps(asdict(news)) if as_json else format_news(news))
        return
    if corpora:
        raise click.UsageError("--corpus goes with --news")
    from ._eval import evaluate, format_report

    assert squad_file is not None
    report = evaluate(squad_file, index_dir, limit, progress=True)
    click.echo(json.dumps(asdict(report)) if as_json else format_report(report))


@main.command()
@INDEX
def info(index_dir: str) -> None:
    """Show what the index holds and how it was built."""
    from ._stores import open_store

    manifest = open_store(index_dir).read_manifest()
    for key, value in vars(manifest).items():
        click.echo(f"{key}: {value}")


# Escape sequences and other control characters: corpus text printed to a terminal must not
# move the cursor, recolour it or retitle the window.
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _safe(text: str) -> str:
    return _CONTROL.sub("", text)


def _print_answer(answer: Answer, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
        return
    if answer.query != answer.question:
        click.echo(_safe(f"(searched: {answer.query})"))
    click.echo(_safe(answer.answer))
    if answer.abstained:
        if answer.nearest:
            click.echo("\nNearest sentences found (not an answer):")
            _print_sources(answer.nearest)
        return
    click.echo("\nSources:")
    _print_sources(answer.citations)


def _print_sources(citations: tuple[Citation, ...]) -> None:
    for c in citations:
        meta = ", ".join(x for x in (c.date, c.source, c.url) if x)
        click.echo(_safe(f"[{c.n}] {c.title}{f' ({meta})' if meta else ''}"))
        also = f", {also_in(c.copies)}" if c.copies > 1 else ""
        click.echo(_safe(f"    {c.article_id} chars {c.start}-{c.end}, score {c.score:.3f}{also}"))
        click.echo(_safe(f"    {c.sentence}"))
