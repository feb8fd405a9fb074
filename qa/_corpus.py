"""Corpus reading: a folder of `.txt`, `.md` (YAML front matter), `.jsonl` and saved HTML articles."""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from ._dates import iso_date
from ._errors import CorpusError, as_sent
from ._html import HTML_SUFFIXES, read_page
from ._types import Article, Skipped

SUPPORTED = (".txt", ".md", ".jsonl", ".jsonl.gz", *HTML_SUFFIXES)
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
    fields = [article.id, article.title, article.text, article.date, article.source, article.url]
    if article.author is not None:
        # Only when set, so articles without an author keep the hashes (and vectors) of
        # indexes built before the field existed.
        fields.append(article.author)
    payload = json.dumps(fields, ensure_ascii=False)
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


def read_corpus(folder: str | Path, *, index: str | Path | None = None) -> Corpus:
    """Read every supported file below `folder` (or the one file `folder` names).

    A file, folder or JSONL line that cannot be read, or says nothing (see `skip_reason`), is
    reported in `Corpus.skipped` with its reason, and the rest still loads. `index`, a local
    index folder or Milvus Lite file, is skipped too where a symlink in the folder reaches it:
    its `articles.jsonl` holds every article it was built from. Raises `CorpusError` when the
    folder is missing or nothing in it can be read.
    """
    root = Path(folder)
    skipped: list[Skipped] = []
    if root.is_file():
        files = [(root, root.name)]
        if not _is_utf8(root.name):
            shown = str(root).encode("utf-8", "backslashreplace").decode("utf-8")
            raise CorpusError(f"the name of corpus file '{shown}' is not UTF-8; rename it")
    elif root.is_dir():
        files = _walk(root, skipped, _identity(index) if index is not None else None)
    else:
        raise CorpusError(
            f"corpus {str(root)!r} does not exist; pass --corpus with a folder of .txt, .md, .jsonl or .html "
            "articles, or one such file"
        )
    articles: list[Article] = []
    ignored: list[Skipped] = []
    seen: dict[str, str] = {}
    for path, rel in files:
        if not rel.lower().endswith(SUPPORTED):
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
        detail = f" ({len(skipped)} skipped: {skipped[0].path}: {skipped[0].reason})" if skipped else ""
        raise CorpusError(f"no readable articles in {str(root)!r}{detail}; add .txt, .md, .jsonl or .html files")
    return Corpus(tuple(articles), tuple(skipped), tuple(ignored))


def _identity(path: str | Path) -> tuple[int, int] | None:
    """(device, inode) of `path`, following symlinks; None if it cannot be reached."""
    try:
        info = Path(path).stat()
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _walk(root: Path, skipped: list[Skipped], index: tuple[int, int] | None = None) -> list[tuple[Path, str]]:
    """(path, path relative to root) of every file below `root`, in sorted order.

    Symlinks are followed, to files and folders alike. A broken symlink, a symlink loop, a
    folder that cannot be listed, the index (`index`: its device and inode) and anything that
    is not a regular file (a FIFO would block the build) is added to `skipped` by name instead
    of being dropped silently. Dotfiles and dot folders (.gitkeep, .git) are not articles and
    are passed over.
    """
    files: list[tuple[Path, str]] = []

    def visit(folder: Path, rel: str, ancestors: frozenset[tuple[int, int]]) -> None:
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            if not rel:
                raise CorpusError(
                    f"cannot read corpus folder {str(root)!r} ({exc.strerror}); make it readable"
                ) from exc
            skipped.append(Skipped(f"{rel}/", f"cannot read folder ({exc.strerror}); make it readable or move it out"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            where = f"{rel}/{entry.name}" if rel else entry.name
            path = Path(entry.path)
            if not _is_utf8(entry.name):
                # The name becomes the article id, which the index stores as UTF-8 JSON: one
                # such name would fail the whole build.
                shown = where.encode("utf-8", "backslashreplace").decode("utf-8")
                skipped.append(Skipped(shown, "name is not UTF-8; rename it"))
                continue
            try:
                info = path.stat()  # follows symlinks
            except OSError as exc:
                skipped.append(Skipped(where, _unreachable(path, exc)))
                continue
            if (info.st_dev, info.st_ino) == index:
                skipped.append(Skipped(f"{where}/", "the index this build writes, not articles; remove the link to it"))
            elif stat.S_ISDIR(info.st_mode):
                if (info.st_dev, info.st_ino) in ancestors:
                    skipped.append(
                        Skipped(f"{where}/", "symlink loop: links back to a folder that holds it; remove the link")
                    )
                else:
                    visit(path, where, ancestors | {(info.st_dev, info.st_ino)})
            elif stat.S_ISREG(info.st_mode):
                files.append((path, where))
            else:
                skipped.append(Skipped(where, "not a regular file (a FIFO, socket or device); remove it"))

    top = root.stat()
    visit(root, "", frozenset({(top.st_dev, top.st_ino)}))
    return files


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # os.fsdecode keeps undecodable bytes as lone surrogates
        return False
    return True


def _unreachable(path: Path, exc: OSError) -> str:
    """Why a folder entry cannot be reached: a broken symlink, a symlink loop, or the OS's reason."""
    if exc.errno == errno.ELOOP:
        return "symlink loop: the link resolves to itself; remove it"
    if path.is_symlink() and exc.errno == errno.ENOENT:
        return f"broken symlink: its target {os.readlink(path)!r} does not exist; fix or remove the link"
    return f"cannot read ({exc.strerror})"


# Skip rules: what makes a readable file or line no article.

# A bigger text would take minutes to split and embed, and is not one news article; segmenting
# and extracting HTML grow faster than linearly with size (a 3.7 MB page took 9 s in
# trafilatura, an 18 MB one 300 s).
MAX_ARTICLE_BYTES = 5_000_000
# Whitespace, C0 and C1 control characters, zero-width and bidi marks, BOM: none of them says
# anything, so a text made only of them (all NUL bytes, say) is no article.
_SAYS_SOMETHING = re.compile(r"[^\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
# Terminal escape sequences (colours, cursor moves, window titles) are control too, though
# their parameters are printable ("\x1b[2J").
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")


def skip_reason(text: str | bytes | None, size: int | None = None) -> str | None:
    """Why a text is no article, or None when it is one: the corpus's skip rules, in one place.

    Skipped: over `MAX_ARTICLE_BYTES` (`size` in bytes when given, else the text's UTF-8
    length), empty, only NUL bytes, or only control characters. `text` None checks the size of
    a file not read yet; bytes are read as Latin-1, which maps every byte to one character.
    """
    if size is None and text is not None:
        size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size is not None and size > MAX_ARTICLE_BYTES:
        return (
            f"{size / 1e6:.1f} MB, over the {MAX_ARTICLE_BYTES / 1e6:.0f} MB bound for one article; "
            "split it into smaller articles"
        )
    if text is None:
        return None
    chars = text.decode("latin-1") if isinstance(text, bytes) else text
    if not chars.strip():
        return "empty file"
    if "\x1b" in chars:
        chars = _ESCAPES.sub("", chars)
    if _SAYS_SOMETHING.search(chars):
        return None
    if not chars.replace("\x00", "").strip():
        return "only NUL bytes, no text (a damaged or never-written file?); restore or remove it"
    return "only control characters, no text; restore or remove it"


@dataclass(frozen=True)
class _Read:
    """An article read, and what was wrong with its optional fields (it is kept without them)."""

    article: Article
    problems: tuple[str, ...] = ()


def _meta(fields: dict[str, Any]) -> tuple[dict[str, str | None], tuple[str, ...]]:
    """The optional fields of a front matter, JSONL record or page, and what was wrong with them
    (title included); a date is stored as ISO 8601."""
    problems = [p for k in ("title", *META_FIELDS) if k != "date" and (p := _not_text(k, fields.get(k)))]
    meta = {k: _str_or_none(fields.get(k)) for k in META_FIELDS}
    raw = fields.get("date")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return meta, tuple(problems)
    try:
        meta["date"] = iso_date(raw)
    except ValueError as exc:
        meta["date"] = None
        problems.append(f"{exc}; the article is kept without a date")
    return meta, tuple(problems)


def _textual(value: object) -> bool:
    """Whether a title, source or url value can be stored as text. A number or a date is written
    as text (YAML reads `title: 1984` as a number); a list, mapping or true/false is not a name:
    storing its Python text would cite "['Wire', 'AP']" as a source."""
    return isinstance(value, str | int | float | date) and not isinstance(value, bool)


def _not_text(name: str, value: object) -> str | None:
    """Why a title, source or url field cannot be stored (see `_textual`), or None."""
    if value is None or _textual(value):
        return None
    return f"{name} {as_sent(value)[:60]} is not text; the article is kept without it"


def _read_file(path: Path, rel: str) -> Iterator[tuple[str, _Read | Skipped]]:
    """(where, article or reason skipped) for each article in the file; where names the line."""
    lower = rel.lower()
    many = lower.endswith((".jsonl", ".jsonl.gz"))
    try:
        if not many and (reason := skip_reason(None, path.stat().st_size)):
            # Checked before reading, so a huge file is never read, let alone split.
            yield rel, Skipped(rel, reason)
            return
        raw = path.read_bytes()
        if lower.endswith(".gz"):
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        yield rel, Skipped(rel, f"cannot read file: {exc}")
        return
    if lower.endswith(HTML_SUFFIXES):
        yield rel, _read_html(raw, rel)
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield rel, Skipped(rel, f"not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); re-save it as UTF-8")
        return
    # A JSONL file holds many articles: only its lines are bound in size (in _read_jsonl).
    if reason := skip_reason(text, size=0):
        yield rel, Skipped(rel, reason)
        return
    if many:
        yield from _read_jsonl(text, rel)
    elif lower.endswith(".md"):
        yield rel, _read_markdown(text, rel)
    else:
        yield rel, _Read(Article(id=rel, title=_title_from_text(text), text=text))


def _read_html(raw: bytes, rel: str) -> _Read | Skipped:
    if reason := skip_reason(raw):
        return Skipped(rel, reason)
    page = read_page(raw)
    if page is None:
        return Skipped(rel, "no article text found in the page (only navigation or boilerplate?)")
    if reason := skip_reason(page.text):
        return Skipped(rel, reason)
    fields, problems = _meta({"date": page.date, "source": page.sitename, "url": page.url})
    title = page.title or _title_from_text(page.text)
    return _Read(Article(id=rel, title=title, text=page.text, author=page.author, **fields), problems)


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
    if reason := skip_reason(body):
        return Skipped(rel, reason)
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
        if reason := skip_reason(body):
            yield where, Skipped(where, reason)
            continue
        raw_id = obj.get("id")
        if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
            yield where, Skipped(where, "missing 'id'")
            continue
        title = _str_or_none(obj.get("title")) or _title_from_text(body)
        fields, problems = _meta(obj)
        yield where, _Read(Article(id=str(raw_id), title=title, text=body, **fields), problems)


def _str_or_none(value: object) -> str | None:
    if not _textual(value):
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
