"""Article pools and briefs for new question writers, and the checks a returned set needs.

Every question set in `benchmarks/` was written by a helper session that saw only the articles,
the dev set and SOURCES.md, on articles no other set uses. This script is that process:

    .venv/bin/python benchmarks/new_writers.py pools --lists L M N --seed 2030 --out /tmp/qa-writers
    .venv/bin/python benchmarks/new_writers.py pools --corpus reuters --lists R3 R4 --seed 2032
    .venv/bin/python benchmarks/new_writers.py check /tmp/qa-writers/news_train_l.json ...

`pools` deals each list 20 BBC articles per category (Reuters: 100 articles; stories under 6
sentences and tables of figures are left out) in a seeded random order, from those that no
stored set uses (the dev set, the probe, the check sets, the training sets, their skipped
articles), nor any copy of them (an article sharing a sentence), nor a copy of another list's;
it writes per list a pool file and a brief (`benchmarks/writers/brief.md`, or `brief_reuters.md`,
filled in), and the out-of-corpus questions already asked, for the writers to avoid. Give each
brief to a helper that sees nothing else.

`check` lists, for returned sets, the answerable questions whose answer also stands in an article
another set uses (drop them), and the out-of-corpus questions that share a name with one already
asked (read them: the same fact asked again is dropped). Once a set is stored,
`tests/test_spans.py` fails on a shared article or a question asked word for word twice.
Whether a set then joins the fit or becomes a check set is decided by a rule declared before it
is read (benchmarks/RESULTS.md, History).
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import re
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import fit_ranker
import news_probe
from _results import ROOT, SHARED
from _spans import materialize, texts_of

from qa import QAError
from qa._segment import split_sentences
from qa._types import Span

CORPORA = {"bbc": SHARED / "news" / "bbc_news_2225.jsonl.gz", "reuters": SHARED / "news" / "reuters21578.jsonl.gz"}
DEV = SHARED / "news_qa" / "news_dev.json"
WRITERS = Path(__file__).with_name("writers")
BRIEFS = {"bbc": WRITERS / "brief.md", "reuters": WRITERS / "brief_reuters.md"}
CATEGORIES = ("business", "sport", "tech", "entertainment", "politics")
POOL = 20  # articles offered per category; a writer uses the first usable ones in order
SAME_SENTENCE = 60  # characters: a shared sentence this long makes two articles copies of a story
BOILERPLATE = 50  # articles: a sentence this many hold is the wire's formula, not a copied story
SENTENCES = 6  # a Reuters story shorter than this rarely holds a fact beyond its lead
# Capitalised words too common to say two questions are about the same thing.
COMMON = {"What", "When", "Who", "How", "Which", "Why", "Where", "The", "In", "Did", "Does", "Was", "Is"}
COMMON |= {"UK", "EU", "US", "BBC", "British", "America", "American", "Britain", "London", "England"}


def stored_sets() -> list[Path]:
    return [*news_probe.UNSEEN, *fit_ranker.EXTRAS]


def corpus(name: str = "bbc") -> dict[str, str]:
    return texts_of(CORPORA[name])


def used_articles(texts: dict[str, str], name: str = "bbc") -> set[str]:
    """Every article of `texts` (corpus `name`) a stored set asks about, holds an answer, or skipped."""
    used: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        for spans in stored_sets():
            spec = json.loads(spans.read_text(encoding="utf-8"))
            used |= {c["article"] for c in (*spec["cases"], *spec.get("followups", [])) if "article" in c}
            used |= set(spec.get("skipped", []))
            news = json.loads(materialize(spans, Path(tmp)).read_text(encoding="utf-8"))
            used |= {a for c in (*news["cases"], *news["followups"]) for a in c.get("articles", [])}
    dev = json.loads(DEV.read_text(encoding="utf-8"))
    for case in (*dev["cases"], *dev["followups"]):
        if case.get("corpus", "bbc") == name:
            used |= {*case.get("articles", []), *case.get("first_articles", []), case.get("source_article") or ""}
    return used & set(texts)


def sentence_spans(texts: dict[str, str]) -> dict[str, list[Span]]:
    return {article: split_sentences(text) for article, text in texts.items()}


def copies(texts: dict[str, str], spans: dict[str, list[Span]] | None = None) -> dict[str, set[str]]:
    """Each article's copies (itself included): the articles sharing one of its long sentences
    (one that BOILERPLATE articles or more hold is a formula, not a copy). `spans`: each
    article's sentences, when the caller has them already."""
    spans = spans or sentence_spans(texts)
    holders: dict[str, set[str]] = defaultdict(set)
    for article, text in texts.items():
        for span in spans[article]:
            sentence = " ".join(text[span.start : span.end].split())
            if len(sentence) >= SAME_SENTENCE:
                holders[sentence].add(article)
    out: dict[str, set[str]] = {article: {article} for article in texts}
    for group in holders.values():
        if len(group) >= BOILERPLATE:
            continue
        for article in group:
            out[article] |= group
    return out


def asked_out_of_corpus() -> list[str]:
    questions = [c["q"] for c in json.loads(DEV.read_text(encoding="utf-8"))["cases"] if c.get("abstain")]
    for spans in stored_sets():
        questions += [c["q"] for c in json.loads(spans.read_text(encoding="utf-8"))["cases"] if c.get("abstain")]
    return sorted(set(questions))


def groups(texts: dict[str, str], source: str, spans: dict[str, list[Span]]) -> dict[str, tuple[list[str], int]]:
    """The articles a list is dealt from, by group, and how many each list gets of each group:
    BBC's by category, Reuters' as one group of its stories that can carry a question."""
    if source == "bbc":
        return {c: ([a for a in texts if a.startswith(f"bbc-{c}-")], POOL) for c in CATEGORIES}

    def story(article: str) -> bool:
        text, count = texts[article], len(spans[article])
        table = text.count(" vs ") >= 3 or text.count("\n") > 1.5 * count
        return count >= SENTENCES and not table

    return {"all": ([a for a in texts if story(a)], POOL * len(CATEGORIES))}


def pools(
    lists: list[str], seed: int, out: Path, answerable: int, ooc: int, hard: int, minutes: int, source: str = "bbc"
) -> None:
    texts = corpus(source)
    spans = sentence_spans(texts)  # once: both the copies and Reuters' story rule read them
    same = copies(texts, spans)
    blocked: set[str] = set()
    for article in used_articles(texts, source):
        blocked |= same[article]
    rng = random.Random(seed)
    dealt: dict[str, dict[str, list[str]]] = {list_name: {} for list_name in lists}
    taken: set[str] = set()
    dealing = groups(texts, source, spans)
    for category, (members, size) in dealing.items():
        free = sorted(a for a in members if a not in blocked)
        rng.shuffle(free)
        order = iter(free)
        for list_name in lists:
            chosen: list[str] = []
            for article in order:
                if len(chosen) == size:
                    break
                if not same[article] & taken:
                    chosen.append(article)
                    taken |= same[article]
            dealt[list_name][category] = chosen
    out.mkdir(parents=True, exist_ok=True)
    (out / "taken.txt").write_text("\n".join(asked_out_of_corpus()) + "\n", encoding="utf-8")
    per_category = answerable // len(dealing)
    for list_name, by_category in dealt.items():
        short = {c: len(ids) for c, ids in by_category.items() if len(ids) < 2 * per_category}
        pool_size = sum(map(len, by_category.values()))
        pool = out / f"pool{list_name}.txt"
        pool.write_text("".join(f"{c}: {' '.join(ids)}\n" for c, ids in by_category.items()), encoding="utf-8")
        fields = {
            "total": answerable + ooc,
            "answerable": answerable,
            "per_category": per_category,
            "pool_size": pool_size,
            "per_kind": max(1, answerable // 8),
            "ooc": ooc,
            "hard": hard,
            "ordinary": ooc - hard,
            "pool": pool,
            "taken": out / "taken.txt",
            "out": out / f"news_train_{list_name.lower()}.json",
            "scratch": out / f"scratch_{list_name.lower()}/",
            "date": datetime.date.today().isoformat(),
            "seed": seed,
            "name": list_name,
            "minutes": minutes,
            "repo": ROOT,
            "shared": SHARED.parent,
        }
        brief = BRIEFS[source].read_text(encoding="utf-8")
        for key, value in fields.items():  # not str.format: the brief shows JSON braces
            brief = brief.replace("{" + key + "}", str(value))
        (out / f"brief{list_name}.md").write_text(brief, encoding="utf-8")
        (out / f"scratch_{list_name.lower()}").mkdir(exist_ok=True)
        print(f"list {list_name}: {pool_size} articles" + (f", short: {short}" if short else ""))
    print(f"{len(texts) - len(blocked)} articles free before dealing; briefs in {out}")


def names(question: str) -> set[str]:
    return set(re.findall(r"[A-Z][a-zA-Z0-9]+", question)) - COMMON


def check(files: list[Path], source: str = "bbc") -> None:
    texts = corpus(source)
    others = used_articles(texts, source)
    asked = asked_out_of_corpus()
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            spec: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            news = json.loads(materialize(path, Path(tmp)).read_text(encoding="utf-8"))
            print(f"{path}:")
            for item, case in zip(spec["cases"], news["cases"], strict=True):
                if case.get("abstain"):
                    near = [q for q in asked if names(item["q"]) & names(q)]
                    if near:
                        print(f"  out of corpus {item['q']!r} shares a name with: {near[:3]}")
                    asked.append(item["q"])
                elif hit := set(case["articles"]) & others:
                    print(f"  drop {item['article']}: its answer also stands in {sorted(hit)}")
            others |= {a for c in news["cases"] for a in c.get("articles", [])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    deal = commands.add_parser("pools", help="deal article pools and write briefs")
    deal.add_argument("--lists", nargs="+", required=True, help="list names, e.g. L M N")
    deal.add_argument("--seed", type=int, required=True, help="a seed no earlier pool used")
    deal.add_argument("--corpus", choices=sorted(CORPORA), default="bbc")
    deal.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "qa-writers")
    deal.add_argument("--answerable", type=int, default=50)
    deal.add_argument("--ooc", type=int, default=12, help="out-of-corpus questions per writer")
    deal.add_argument("--hard", type=int, default=4, help="of them 'hard' (the dev set: 10 of 40)")
    deal.add_argument("--minutes", type=int, default=40)
    returned = commands.add_parser("check", help="what to drop from returned sets")
    returned.add_argument("files", nargs="+", type=Path)
    returned.add_argument("--corpus", choices=sorted(CORPORA), default="bbc")
    args = parser.parse_args()
    try:
        if args.command == "pools":
            pools(args.lists, args.seed, args.out, args.answerable, args.ooc, args.hard, args.minutes, args.corpus)
        else:
            check(args.files, args.corpus)
    except (QAError, OSError, ValueError, KeyError) as exc:
        sys.exit(f"new_writers: {exc}")


if __name__ == "__main__":
    main()
