"""Saved HTML news pages, and real news files end to end: `qa build` over a folder, then `qa ask`.

The pages are generated here, shaped like saved news pages: navigation, a cookie banner, ads,
scripts and styles, share buttons, related links, a newsletter form, comments and a footer
around the article, with og:/article: meta tags, a canonical link and JSON-LD.
"""

from __future__ import annotations

import gzip
import html
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from qa import CorpusError
from qa._corpus import MAX_ARTICLE_BYTES, read_corpus
from qa._store import load_index


@dataclass(frozen=True)
class Story:
    slug: str
    headline: str
    paragraphs: tuple[str, ...]
    date: str  # ISO date and time, as a page's article:published_time
    author: str
    site: str

    @property
    def url(self) -> str:
        host = self.site.lower().replace(" ", "")
        return f"https://www.{host}.example/news/{self.date[:10].replace('-', '/')}/{self.slug}"


STORIES = (
    Story(
        "council-bridge",
        "Council approves new footbridge over the Wensum",
        (
            "The city council voted on Monday to build a new footbridge over the river Wensum, ending a "
            "decade of debate about how pedestrians should cross near the old mill.",
            "Councillors approved the plan by 31 votes to 9 after a three-hour meeting, and construction "
            "is expected to begin in the autumn at a cost of 4.2 million pounds.",
            "Opponents argued that the money would be better spent repairing existing roads, but the "
            "transport committee said the bridge would cut walking times to the station by a quarter.",
        ),
        "2024-03-17T09:30:00+00:00",
        "Jane Marlow",
        "Riverside Gazette",
    ),
    Story(
        "trawler-storm",
        "Trawler crew rescued off Brixham after engine failure",
        (
            "Five fishermen were lifted from the trawler Morning Star by a coastguard helicopter on "
            "Tuesday night after its engine failed in a force nine gale.",
            "The vessel had been drifting towards rocks two miles south of Berry Head when the skipper "
            "sent a mayday call shortly after eight o'clock.",
            "A lifeboat from Torbay later towed the empty trawler back to harbour, where engineers will "
            "inspect its damaged propeller shaft.",
        ),
        "2024-11-05T22:10:00+00:00",
        "Tom Pengelly",
        "Channel Coast News",
    ),
    Story(
        "comet-observatory",
        "Amateur astronomer spots comet from Kielder",
        (
            "A retired teacher using a backyard telescope in Northumberland has discovered a comet that "
            "will pass closest to the Sun next spring.",
            "Margaret Oduya first saw the faint smudge of light near the constellation Lynx while "
            "photographing galaxies from the dark skies of Kielder Forest.",
            "The Minor Planet Center confirmed the discovery after observatories in Spain and Chile "
            "measured its orbit, and the comet now carries her name.",
        ),
        "2025-01-20T07:00:00Z",
        "Priya Natarajan",
        "Northern Echo Daily",
    ),
)

# Boilerplate every page carries; none of it may reach the extracted text.
BOILERPLATE = (
    "Weather forecast",
    "Sign in to your account",
    "We use cookies to improve your experience",
    "Advertisement",
    "Buy garden furniture today with free next-day delivery",
    "adsQueue",
    "font-family",
    "Share on Facebook",
    "Most read",
    "Bus fares to rise across the county in April",
    "Mayor opens new library on Castle Street",
    "Get our morning briefing in your inbox",
    "Reader comments",
    "This is a disgrace, nobody asked us",
    "All rights reserved",
    "Cookie settings",
)


def news_page(story: Story) -> str:
    """A saved news page: the story's article among the boilerplate of a news site."""
    e = html.escape
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": story.headline,
        "datePublished": story.date,
        "dateModified": story.date,
        "author": {"@type": "Person", "name": story.author},
        "publisher": {"@type": "Organization", "name": story.site},
        "mainEntityOfPage": story.url,
    }
    body = "\n".join(f"      <p>{e(p)}</p>" for p in story.paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{e(story.headline)} | {e(story.site)}</title>
  <meta name="description" content="{e(story.paragraphs[0][:120])}">
  <meta name="author" content="{e(story.author)}">
  <meta property="og:type" content="article">
  <meta property="og:title" content="{e(story.headline)}">
  <meta property="og:url" content="{e(story.url)}">
  <meta property="og:site_name" content="{e(story.site)}">
  <meta property="article:published_time" content="{e(story.date)}">
  <meta property="article:author" content="{e(story.author)}">
  <meta name="twitter:card" content="summary_large_image">
  <link rel="canonical" href="{e(story.url)}">
  <link rel="stylesheet" href="/static/site.css">
  <style>body {{ font-family: Georgia, serif; }} .ad {{ min-height: 250px; }}</style>
  <script type="application/ld+json">{json.dumps(ld)}</script>
  <script>window.adsQueue = window.adsQueue || []; adsQueue.push({{slot: "top-banner"}});</script>
  <script async src="https://ads.example/tag.js"></script>
</head>
<body>
  <div id="cookie-banner">We use cookies to improve your experience. <button>Accept all</button>
    <a href="/cookies">Cookie settings</a></div>
  <header>
    <a class="logo" href="/">{e(story.site)}</a>
    <nav><ul>
      <li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li>
      <li><a href="/weather">Weather forecast</a></li><li><a href="/login">Sign in to your account</a></li>
    </ul></nav>
  </header>
  <div class="ad" id="top-banner"><span>Advertisement</span>
    <a href="https://ads.example/click">Buy garden furniture today with free next-day delivery</a></div>
  <main>
    <nav class="breadcrumb"><a href="/">Home</a> &gt; <a href="/news">News</a></nav>
    <article>
      <h1>{e(story.headline)}</h1>
      <p class="byline">By <a rel="author" href="/staff">{e(story.author)}</a>
        <time datetime="{e(story.date)}">{e(story.date[:10])}</time></p>
      <div class="share"><a href="#">Share on Facebook</a> <a href="#">Share on X</a></div>
{body}
    </article>
    <aside class="related">
      <h2>Most read</h2>
      <ul>
        <li><a href="/news/bus-fares">Bus fares to rise across the county in April</a></li>
        <li><a href="/news/library">Mayor opens new library on Castle Street</a></li>
      </ul>
    </aside>
    <form class="newsletter"><label>Get our morning briefing in your inbox</label>
      <input type="email" name="email"><button>Subscribe</button></form>
    <section id="comments"><h2>Reader comments</h2>
      <div class="comment"><p>This is a disgrace, nobody asked us about any of this.</p></div></section>
  </main>
  <footer><p>Copyright 2025 {e(story.site)}. All rights reserved.</p>
    <a href="/privacy">Privacy policy</a> <a href="/cookies">Cookie settings</a></footer>
  <script>document.querySelectorAll('.ad').forEach(function (el) {{ el.dataset.seen = 1; }});</script>
</body>
</html>
"""


def write_pages(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for story in STORIES:
        (folder / f"{story.slug}.html").write_text(news_page(story), encoding="utf-8")


def test_a_saved_page_gives_its_article_and_metadata_without_the_boilerplate(tmp_path: Path) -> None:
    write_pages(tmp_path)
    corpus = read_corpus(tmp_path)
    assert corpus.skipped == ()
    by_id = {a.id: a for a in corpus.articles}
    assert set(by_id) == {f"{s.slug}.html" for s in STORIES}
    for story in STORIES:
        article = by_id[f"{story.slug}.html"]
        for paragraph in story.paragraphs:
            assert paragraph in article.text
        for junk in BOILERPLATE:
            assert junk not in article.text, (story.slug, junk)
        assert (article.title, article.date, article.author, article.url, article.source) == (
            story.headline,
            story.date[:10],
            story.author,
            story.url,
            story.site,
        )


def test_json_ld_alone_gives_the_metadata(tmp_path: Path) -> None:
    story = STORIES[2]
    page = re.sub(r'\s*<meta (?:name|property)="(?:og:\w+|author|article:\w+)"[^>]*>', "", news_page(story))
    page = re.sub(r"<title>.*?</title>", "<title>Latest news</title>", page)
    page = page.replace('rel="canonical"', 'rel="alternate"')
    assert "og:" not in page and "canonical" not in page
    (tmp_path / "ld.html").write_text(page, encoding="utf-8")
    [article] = read_corpus(tmp_path).articles
    assert (article.title, article.date, article.author, article.source, article.url) == (
        story.headline,
        story.date[:10],
        story.author,
        story.site,
        None,  # a URL only from the canonical link or og:url
    )


def test_a_page_in_its_own_charset_and_an_htm_page(tmp_path: Path) -> None:
    story = STORIES[0]
    page = news_page(story).replace('<meta charset="utf-8">', '<meta charset="windows-1252">')
    page = page.replace("old mill.", "old mill café.")
    (tmp_path / "legacy.htm").write_bytes(page.encode("cp1252"))
    [article] = read_corpus(tmp_path).articles
    assert article.id == "legacy.htm"
    assert "near the old mill café." in article.text


def test_a_page_without_article_text_is_skipped_and_named(tmp_path: Path) -> None:
    write_pages(tmp_path)
    (tmp_path / "blank.html").write_text(
        "<!DOCTYPE html><html><head><title>Loading…</title><script>location.reload()</script></head>"
        "<body></body></html>",
        encoding="utf-8",
    )
    corpus = read_corpus(tmp_path)
    assert len(corpus.articles) == len(STORIES)
    assert {s.path: s.reason for s in corpus.skipped} == {
        "blank.html": "no article text found in the page (only navigation or boilerplate?)"
    }


# End to end through the CLI, as a user runs it (subprocesses, the real bundled model).


def qa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True, text=True, timeout=300)


def ask_json(index: Path, question: str) -> dict[str, object]:
    result = qa("ask", question, "--json", "--index", str(index))
    assert result.returncode == 0, result.stderr
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


def assert_cites_stored_text(answer: dict[str, object], index: Path, expected: str) -> None:
    """The first citation is `expected`, and every citation is a verbatim slice of the stored text."""
    stored = {a.id: a.text for a in load_index(index).articles}
    citations = answer["citations"]
    assert isinstance(citations, list) and citations, answer
    assert citations[0]["sentence"] == expected
    for c in citations:
        assert stored[c["article_id"]][c["start"] : c["end"]] == c["sentence"]


def test_build_over_html_pages_and_bad_files_then_ask_cites_the_stored_text(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_pages(corpus / "pages")
    (corpus / "zeros.txt").write_bytes(b"\x00" * 4096)
    (corpus / "pages" / "zeros.html").write_bytes(b"\x00" * 4096)
    (corpus / "control.md").write_bytes(b"\x01\x02\x1b\x07\r\n\x0c\x7f" * 64)
    (corpus / "huge.txt").write_bytes(b"The council met again. " * (MAX_ARTICLE_BYTES // 23 + 1))
    os.symlink(corpus / "gone.txt", corpus / "dangling.txt")
    os.symlink("..", corpus / "pages" / "back-up")
    os.symlink("loop.txt", corpus / "loop.txt")
    locked = corpus / "locked"
    locked.mkdir()
    (locked / "secret.txt").write_text("A sealed story.", encoding="utf-8")
    locked.chmod(0)
    try:
        result = qa("build", "--corpus", str(corpus), "--index", str(tmp_path / "index"))
    finally:
        locked.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    skipped = [line for line in result.stderr.splitlines() if line.startswith("qa: skipped ")]
    expected = {
        "zeros.txt": "only NUL bytes",
        "pages/zeros.html": "only NUL bytes",
        "control.md": "only control characters",
        "huge.txt": "over the 5 MB bound for one article",
        "dangling.txt": "broken symlink",
        "pages/back-up/": "symlink loop",
        "loop.txt": "symlink loop",
    }
    if os.geteuid() != 0:  # root reads any folder, so the unreadable one is read like the rest
        expected["locked/"] = "cannot read folder (Permission denied)"
    for name, reason in expected.items():
        assert any(line.startswith(f"qa: skipped {name}: ") and reason in line for line in skipped), (name, skipped)
    assert len(skipped) == len(expected), skipped
    articles = len(STORIES) + (os.geteuid() == 0)
    assert f"{articles} articles," in result.stdout and f"{len(expected)} skipped," in result.stdout

    answer = ask_json(tmp_path / "index", "How many votes did the councillors approve the footbridge plan by?")
    assert_cites_stored_text(answer, tmp_path / "index", STORIES[0].paragraphs[1])
    first = answer["citations"][0]  # type: ignore[index]
    assert first["article_id"] == "pages/council-bridge.html"
    assert (first["title"], first["date"], first["url"]) == (STORIES[0].headline, "2024-03-17", STORIES[0].url)


@pytest.mark.parametrize("name", ["news.jsonl.gz", "article.md", "article.txt", "article.html"])
def test_a_single_file_is_a_corpus_end_to_end(name: str, tmp_path: Path) -> None:
    story = STORIES[1]
    text = "\n\n".join((story.headline, *story.paragraphs))
    path = tmp_path / name
    if name.endswith(".jsonl.gz"):
        other = {"id": "other", "title": STORIES[2].headline, "text": "\n\n".join(STORIES[2].paragraphs)}
        lines = [json.dumps({"id": "rescue", "title": story.headline, "text": text}), json.dumps(other)]
        path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8")))
        article_id = "rescue"
    elif name.endswith(".md"):
        path.write_text(f"---\ntitle: {story.headline}\ndate: 2024-11-05\n---\n{text}\n", encoding="utf-8")
        article_id = name
    elif name.endswith(".txt"):
        path.write_text(text + "\n", encoding="utf-8")
        article_id = name
    else:
        path.write_text(news_page(story), encoding="utf-8")
        article_id = name
    index = tmp_path / "index"
    result = qa("build", "--corpus", str(path), "--index", str(index))
    assert result.returncode == 0, result.stderr
    assert "0 skipped," in result.stdout
    answer = ask_json(index, "What failed on the trawler Morning Star before the helicopter rescue?")
    assert_cites_stored_text(answer, index, story.paragraphs[0])
    assert answer["citations"][0]["article_id"] == article_id  # type: ignore[index]


def test_a_single_file_that_says_nothing_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.html"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(CorpusError, match="only NUL bytes"):
        read_corpus(path)
    result = qa("build", "--corpus", str(path), "--index", str(tmp_path / "index"))
    assert result.returncode == 1
    assert result.stderr.startswith("qa: error: no readable articles") and "empty.html: only NUL bytes" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "index").exists()
