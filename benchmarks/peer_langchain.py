"""`qa` side by side with the LangChain pipeline a user would otherwise write, in one run.

    .venv/bin/pip install -e '.[bench]'   # the peer's packages, kept out of the product
    .venv/bin/python benchmarks/peer_langchain.py [--squad ../shared/data/squad/dev-v1.1.json] [--runs 3] [--questions 2000]

Same corpus (SQuAD v1.1 dev, one document per paragraph), same model (the bundled
all-MiniLM-L6-v2), same machine, same process:

- peer: `RecursiveCharacterTextSplitter` (600 characters, 100 overlap), `HuggingFaceEmbeddings`
  (sentence-transformers on torch, normalised), `FAISS.from_documents`, `similarity_search(k=1)`;
- qa: `build_corpus` (sentences, chunks, one embedding pass, BM25, FAISS) and `Engine.ask`.

Build times are medians of `--runs` builds each, alternating; query latencies alternate in
blocks of 100 questions. Quality on the same questions:
the peer's top-1 chunk containing a gold answer string, and qa's first cited *sentence*
containing one (a stricter test: a sentence is about a quarter of a 600-character chunk) and
its top-1 passage being the gold paragraph.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from _results import Report, add_record_flag, run

from qa import Engine
from qa._build import build_corpus
from qa._corpus import Corpus
from qa._embed import bundled_model_path
from qa._eval import load_squad

BLOCK = 100  # questions each side answers before the other takes its turn


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", default="../shared/data/squad/dev-v1.1.json")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--questions", type=int, default=2000, help="every n-th question so that about this many are asked"
    )
    add_record_flag(parser)
    args = parser.parse_args()
    report = Report("peer_langchain", "A peer side by side: LangChain on SQuAD v1.1 dev (issue 5)", args.record)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    try:
        from langchain_community.embeddings import HuggingFaceEmbeddings
        from langchain_community.vectorstores import FAISS
        from langchain_core.documents import Document
        from langchain_text_splitters import RecursiveCharacterTextSplitter
    except ImportError:
        raise SystemExit("the peer's packages are missing: .venv/bin/pip install -e '.[bench]'") from None

    squad = load_squad(args.squad)
    articles = list(squad.articles)
    questions = [q for q in squad.questions if not q.impossible]
    questions = questions[:: max(1, len(questions) // args.questions)]
    embeddings = HuggingFaceEmbeddings(
        model_name=str(bundled_model_path()),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )
    splitter = RecursiveCharacterTextSplitter(chunk_size=600, chunk_overlap=100)
    documents = [Document(page_content=a.text, metadata={"id": a.id}) for a in articles]

    def build_peer() -> object:
        return FAISS.from_documents(splitter.split_documents(documents), embeddings)

    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "index"
        peer_times, qa_times = [], []
        store = None
        for run in range(args.runs):
            t = time.perf_counter()
            store = build_peer()
            peer_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            build_corpus(Corpus(tuple(articles), ()), index, full=True)
            qa_times.append(time.perf_counter() - t)
            report.line(f"- run {run + 1}: peer {peer_times[-1]:.1f} s, qa {qa_times[-1]:.1f} s")
        assert store is not None
        engine = Engine(index)
        peer_hits, qa_sentence_hits, qa_passage_hits = 0, 0, 0
        peer_latency, qa_latency = [], []
        # Blocks of questions, alternating: each library's threads spin for a while after a call,
        # so question-by-question alternation charged one's spinning to the other's next call
        # (qa p50 5.4 ms that way, 3.7 ms alone in benchmarks/squad_eval.py). Blocks still share
        # the machine's drift.
        for block in range(0, len(questions), BLOCK):
            for q in questions[block : block + BLOCK]:
                t = time.perf_counter()
                top = store.similarity_search(q.question, k=1)  # type: ignore[attr-defined]
                peer_latency.append(time.perf_counter() - t)
                peer_hits += bool(top) and any(a in top[0].page_content for a in q.answers)
            for q in questions[block : block + BLOCK]:
                t = time.perf_counter()
                answer, retrieval = engine.ask_with_retrieval(q.question)
                qa_latency.append(time.perf_counter() - t)
                cited = answer.citations or answer.nearest
                qa_sentence_hits += bool(cited) and any(a in cited[0].sentence for a in q.answers)
                qa_passage_hits += bool(retrieval.passages) and retrieval.passages[0] == q.article_id
        n = len(questions)
        peer_build, qa_build = statistics.median(peer_times), statistics.median(qa_times)
        report.line()
        report.line(f"SQuAD v1.1 dev: {len(articles)} paragraphs, {n} questions; medians of {args.runs} builds")
        report.line()
        report.line("| figure | LangChain peer | qa | ratio |")
        report.line("| --- | --- | --- | --- |")
        report.line(f"| build | {peer_build:.1f} s | {qa_build:.1f} s | qa {peer_build / qa_build:.2f}x faster |")
        report.line(
            f"| query p50 | {median_ms(peer_latency)} | {median_ms(qa_latency)} | {statistics.median(peer_latency) / statistics.median(qa_latency):.2f} |"
        )
        report.line(
            f"| top-1 contains a gold answer | {peer_hits / n:.3f} (600-char chunk) | {qa_sentence_hits / n:.3f} (one sentence) | |"
        )
        report.line(f"| top-1 is the gold paragraph | - | {qa_passage_hits / n:.3f} | |")
        report.line()
        report.target("build speed-up over the peer (x)", peer_build / qa_build, 2.5, at_least=True)
        report.save()


if __name__ == "__main__":
    run(main)
