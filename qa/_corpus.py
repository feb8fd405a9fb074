"""Corpus reading: a folder of `.txt`, `.md` (YAML front matter) and `.jsonl` articles."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ._dates import iso_date
from ._errors import CorpusError
from ._types import Article, Skipped

SUPPORTED = (".txt", ".md", ".jsonl", ".jsonl.gz")
META_FIELDS = ("date", "source", "url")
TITLE_CHARS = 100


@dataclass(frozen=True)
class Corpus:
    """The articles read from a corpus folder, the files that could not be read, and the fields
    of articles that could not be read (the article is kept without them)."""

    articles: tuple[Article, ...]
    skipped: tuple[Skipped, ...]
    ignored: tuple[Skipped, ...] = ()

    @property
    def hash(self) -> str:
        """A content hash over every article (id, metadata and text), order-independent."""
        return corpus_hash(self.articles)


def article_hash(article: Article) -> str:
    """Content hash of one article: changes when its text or metadata change."""
    payload = json.dumps(
        [article.id, article.title, article.text, article.date, article.source, article.url],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def corpus_hash(articles: tuple[Article, ...] | list[Article]) -> str:
    """Content hash of a whole corpus, independent of file order."""
    digest = hashlib.sha256()
    for h in sorted(article_hash(a) for a in articles):
        digest.update(h.encode("ascii"))
    return digest.hexdigest()


def read_articles(path: str | Path) -> list[Article]:
    """The readable articles of a corpus folder or file (see `read_corpus`)."""
    return list(read_corpus(path).articles)


def read_corpus(folder: str | Path) -> Corpus:
    """Read every supported file below `folder` (or the one file `folder` names).

    A file or JSONL line that cannot be read is reported in `Corpus.skipped` with its reason,
    and the rest still loads. Raises `CorpusError` when the folder is missing or nothing in it
    can be read.
    """
    root = Path(folder)
    if root.is_file():
        files = [(root, root.name)]
    elif root.is_dir():
        files = [(p, p.relative_to(root).as_posix()) for p in sorted(p for p in root.rglob("*") if p.is_file())]
        # dotfiles such as .gitkeep are not articles
        files = [(p, rel) for p, rel in files if not any(part.startswith(".") for part in rel.split("/"))]
    else:
        raise CorpusError(
            f"corpus {str(root)!r} does not exist; pass --corpus with a folder of .txt, .md or .jsonl "
            "articles, or one such file"
        )
    articles: list[Article] = []
    skipped: list[Skipped] = []
    ignored: list[Skipped] = []
    seen: dict[str, str] = {}
    for path, rel in files:
        if not rel.endswith(SUPPORTED):
            skipped.append(Skipped(rel, f"unsupported file type; use one of {', '.join(SUPPORTED)}"))
            continue
        for where, item in _read_file(path, rel):
            if isinstance(item, Skipped):
                skipped.append(item)
            elif item.article.id in seen:
                article_id = item.article.id
                skipped.append(Skipped(where, f"duplicate article id {article_id!r} (first in {seen[article_id]})"))
            else:
                seen[item.article.id] = where
                articles.append(item.article)
                ignored += (Skipped(where, problem) for problem in item.problems)
    if not articles:
        detail = f" ({len(skipped)} file(s) skipped: {skipped[0].path}: {skipped[0].reason})" if skipped else ""
        raise CorpusError(f"no readable articles in {str(root)!r}{detail}; add .txt, .md or .jsonl files")
    return Corpus(tuple(articles), tuple(skipped), tuple(ignored))


@dataclass(frozen=True)
class _Read:
    """An article read, and what was wrong with its optional fields (it is kept without them)."""

    article: Article
    problems: tuple[str, ...] = ()


def _meta(fields: dict[str, Any]) -> tuple[dict[str, str | None], tuple[str, ...]]:
    """The optional fields of a front matter or JSONL record; a date is stored as ISO 8601."""
    meta = {k: _str_or_none(fields.get(k)) for k in META_FIELDS}
    raw = fields.get("date")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return meta, ()
    try:
        meta["date"] = iso_date(raw)
    except ValueError as exc:
        meta["date"] = None
        return meta, (f"{exc}; the article is kept without a date",)
    return meta, ()


def _read_file(path: Path, rel: str) -> Iterator[tuple[str, _Read | Skipped]]:
    """(where, article or reason skipped) for each article in the file; where names the line."""
    try:
        raw = path.read_bytes()
        if rel.endswith(".gz"):
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        yield rel, Skipped(rel, f"cannot read file: {exc}")
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield rel, Skipped(rel, f"not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); re-save it as UTF-8")
        return
    if not text.strip():
        yield rel, Skipped(rel, "empty file")
        return
    if rel.endswith((".jsonl", ".jsonl.gz")):
        yield from _read_jsonl(text, rel)
    elif rel.endswith(".md"):
        yield rel, _read_markdown(text, rel)
    else:
        yield rel, _Read(Article(id=rel, title=_title_from_text(text), text=text))


def _read_markdown(text: str, rel: str) -> _Read | Skipped:
    meta: dict[str, Any] = {}
    body = text
    if text.startswith("---"):
        parts = text.split("\n", 1)
        rest = parts[1] if len(parts) > 1 else ""
        end = rest.find("\n---")
        if parts[0].strip() != "---" or end < 0:
            return Skipped(rel, "front matter opened with '---' but never closed with a '---' line")
        try:
            loaded = yaml.safe_load(rest[:end]) or {}
        except yaml.YAMLError as exc:
            return Skipped(rel, f"front matter is not valid YAML: {str(exc).splitlines()[0]}")
        if not isinstance(loaded, dict):
            return Skipped(rel, "front matter must be a YAML mapping (title: ..., date: ...)")
        meta = loaded
        after = rest[end + len("\n---") :]
        body = after.split("\n", 1)[1] if "\n" in after else ""
    if not body.strip():
        return Skipped(rel, "no article text after the front matter")
    title = _str_or_none(meta.get("title")) or _title_from_text(body)
    fields, problems = _meta(meta)
    return _Read(Article(id=rel, title=title, text=body, **fields), problems)


def _read_jsonl(text: str, rel: str) -> Iterator[tuple[str, _Read | Skipped]]:
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{rel}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield where, Skipped(where, f"invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(obj, dict):
            yield where, Skipped(where, "each line must be a JSON object with id, title and text")
            continue
        body = obj.get("text")
        if not isinstance(body, str) or not body.strip():
            yield where, Skipped(where, "missing or empty 'text'")
            continue
        raw_id = obj.get("id")
        if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
            yield where, Skipped(where, "missing 'id'")
            continue
        title = _str_or_none(obj.get("title")) or _title_from_text(body)
        fields, problems = _meta(obj)
        yield where, _Read(Article(id=str(raw_id), title=title, text=body, **fields), problems)


def _str_or_none(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _title_from_text(text: str) -> str:
    """A title from the text's first line, cut at a word boundary when long."""
    first = text.strip().split("\n", 1)[0].strip()
    if len(first) <= TITLE_CHARS:
        return first
    cut = first[:TITLE_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"
