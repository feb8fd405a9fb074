"""Shared by the benchmark scripts: print a run's figures and write them into RESULTS.md.

Each script owns one section of `benchmarks/RESULTS.md`, between `<!-- run:NAME -->` and
`<!-- /run:NAME -->`. A run replaces its section with the figures it printed, headed by the
date, commit, machine, package versions and the exact command, so the file always holds the
latest run of every benchmark. `--no-record` leaves the file alone (exploratory runs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa._eval import SquadSet

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SHARED = ROOT.parent / "shared" / "data"  # the evaluation data, cloned beside the project
LATEST_END = "<!-- latest runs end -->"
PACKAGES = (
    "onnxruntime", "torch", "sentence-transformers", "faiss-cpu", "bm25s", "gradio", "langchain-community", "pymilvus",
    "milvus-lite",
)  # fmt: skip


def run(main: Callable[[], None]) -> None:
    """Run a benchmark's `main`: a `QAError` (no index at `--index`, say) or a missing data file
    ends it with one line saying what is wrong, as the `qa` CLI does, not a traceback."""
    from qa import QAError

    try:
        main()
    except (QAError, OSError) as exc:
        sys.exit(f"{Path(sys.argv[0]).stem}: error: {exc}")


def folder_mib(path: Path) -> float:
    """The size of the files below `path`, in MiB."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def model_section(model: str) -> str:
    """The suffix of a RESULTS.md section holding another model's figures ("-all-mpnet-base-v2"),
    beside the bundled model's; "" for the bundled model."""
    from qa._embed import DEFAULT_MODEL

    return "" if model == DEFAULT_MODEL else "-" + model.rstrip("/").rsplit("/", 1)[-1]


def squad_corpus(squad: Path, folder: Path) -> SquadSet:
    """SQuAD's paragraphs (one article each, as `qa._eval.load_squad` reads them) written to
    `folder/squad.jsonl`, a corpus `qa build` reads; the set, for its questions."""
    from qa._eval import load_squad  # not at the top: the other benchmarks need not load FAISS

    data = load_squad(squad)
    folder.mkdir(parents=True, exist_ok=True)
    rows = ({"id": a.id, "title": a.title, "text": a.text} for a in data.articles)
    (folder / "squad.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return data


def add_record_flag(parser: argparse.ArgumentParser) -> None:
    """`--no-record`: print the figures without writing RESULTS.md."""
    parser.add_argument("--no-record", dest="record", action="store_false", help="do not write benchmarks/RESULTS.md")


class Report:
    """Lines of a benchmark's output: printed as they come, written to RESULTS.md by `save`."""

    def __init__(self, name: str, title: str, record: bool = True) -> None:
        self.name, self.title, self.record = name, title, record
        self.lines: list[str] = []

    def line(self, text: str = "") -> None:
        """Print `text` now and keep it for RESULTS.md."""
        print(text, flush=True)
        self.lines.append(text)

    def target(self, what: str, measured: float, goal: float, *, at_least: bool) -> None:
        """A target line: the measured figure, its ratio to the goal, and whether it is met."""
        met = measured >= goal if at_least else measured <= goal
        self.line(
            f"- target {what} {'≥' if at_least else '≤'} {goal:g}: measured {measured:.3g}, "
            f"{measured / goal:.2f} of the target, **{'met' if met else 'not met'}**"
        )

    def save(self) -> None:
        """Replace this benchmark's section of RESULTS.md with this run (unless `--no-record`)."""
        if not self.record:
            return
        section = "\n".join(
            [
                f"<!-- run:{self.name} -->",
                f"### {self.title}",
                "",
                _provenance(),
                "",
                *self.lines,
                f"<!-- /run:{self.name} -->",
            ]
        )
        text = RESULTS.read_text(encoding="utf-8")
        pattern = re.compile(rf"<!-- run:{re.escape(self.name)} -->.*?<!-- /run:{re.escape(self.name)} -->", re.S)
        if pattern.search(text):
            text = pattern.sub(lambda _: section, text)
        elif LATEST_END in text:
            text = text.replace(LATEST_END, f"{section}\n\n{LATEST_END}")
        else:
            text = f"{text.rstrip()}\n\n{section}\n"
        RESULTS.write_text(text, encoding="utf-8")
        print(f"(written to {RESULTS.relative_to(ROOT)}, section {self.name!r})", file=sys.stderr)


def _provenance() -> str:
    """When, on what code and machine, with which packages and command a run was made."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    versions = []
    for package in PACKAGES:
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    command = shlex.join([".venv/bin/python", os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])
    return (
        f"{when} · commit {_commit()} · {_machine()} · Python {platform.python_version()}, {', '.join(versions)}\n\n"
        f"`{command}`"
    )


def _commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "") if head.returncode == 0 else "unknown"


def _machine() -> str:
    cpu, memory = platform.processor() or platform.machine(), ""
    try:
        info = Path("/proc/cpuinfo").read_text()
        cpu = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), cpu)
        kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory = f", {kib / 2**20:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{os.cpu_count()} cores ({cpu}){memory}"
