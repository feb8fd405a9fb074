"""Embedding throughput: the build's embedding call against raw onnxruntime on the same texts.

    .venv/bin/python benchmarks/embed_throughput.py [--squad ../shared/data/squad/dev-v1.1.json] [--texts 600] [--runs 5]

The texts are the chunks a build makes of SQuAD v1.1 dev paragraphs. Each run times, in turn:
`qa`'s `OnnxEmbedder.embed_spans` (the build's one pass: chunk vectors plus pooled sentence
vectors); the same int8 model driven by hand with onnxruntime (tokenize, run, mean-pool,
normalise) the way qa drives it (one text per call, a thread per core on a one-thread session),
one text per call on one session using every core, and in padded batches of 64 sorted by
length (these two on the same model exported with an attention mask, which padding needs and
qa's one-text graph leaves out); and, with `--torch`, sentence-transformers on torch. Prints
medians over the runs and ratios to the first by-hand way (what qa's own overhead costs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from _results import Report, add_record_flag, run

from qa._build import BuildSettings, _chunker
from qa._embed import OnnxEmbedder, SentenceTransformerEmbedder, _load
from qa._eval import load_squad
from qa._onnx_export import export
from qa._segment import split_sentences


def raw_parallel(embedder: OnnxEmbedder) -> Callable[[list[str]], np.ndarray]:
    """By hand, as qa does it: one text per call, one thread per core on a one-thread session."""
    session, tokenizer = embedder._new_session(1), embedder._tokenizer

    def one(text: str) -> np.ndarray:
        ids = np.asarray([tokenizer.encode(text).ids], dtype=np.int64)
        mean = session.run(None, {"input_ids": ids})[0][0].mean(axis=0)
        return np.asarray(mean / np.linalg.norm(mean), dtype=np.float32)

    def run(texts: list[str]) -> np.ndarray:
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            return np.vstack(list(pool.map(one, texts)))

    return run


def raw_onnxruntime(embedder: OnnxEmbedder, masked: str, batch: int) -> Callable[[list[str]], np.ndarray]:
    """The model driven by hand: what a user would write with onnxruntime and tokenizers
    (`masked`: the model exported with an attention mask, so batches can be padded)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    session = ort.InferenceSession(masked, options, providers=["CPUExecutionProvider"])
    tokenizer = embedder._tokenizer

    def run(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), embedder.dimensions), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            encoded = tokenizer.encode_batch([texts[i] for i in rows])
            width = max(len(e.ids) for e in encoded)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for r, e in enumerate(encoded):
                ids[r, : len(e.ids)], mask[r, : len(e.ids)] = e.ids, 1
            hidden = session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0]
            pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
            out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out

    return run


REFERENCE = "raw onnxruntime, one text per call, a thread per core on a 1-thread session"
BUILD_PASS = "qa build pass (OnnxEmbedder.embed_spans)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", default="../shared/data/squad/dev-v1.1.json")
    parser.add_argument("--texts", type=int, default=600)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--torch", action="store_true", help="also time sentence-transformers on torch")
    add_record_flag(parser)
    args = parser.parse_args()
    report = Report("embed_throughput", "Embedding throughput in the build (issue 5)", args.record)
    embedder = OnnxEmbedder()
    chunker = _chunker(embedder, BuildSettings())
    chunks: list[str] = []
    spans: list[list[tuple[int, int]]] = []
    for article in load_squad(args.squad).articles:
        measured = chunker.measure(article.text, split_sentences(article.text))
        units = [unit for unit, _ in measured]
        for first, last in chunker.pack(size for _, size in measured):
            offset = units[first].start
            chunks.append(article.text[offset : units[last - 1].end])
            spans.append([(u.start - offset, u.end - offset) for u in units[first:last]])
        if len(chunks) >= args.texts:
            break
    chunks, spans = chunks[: args.texts], spans[: args.texts]
    tokens = sum(embedder.count_tokens(c) for c in chunks)
    exported = Path(tempfile.mkdtemp()) / "masked"
    export(_load(embedder.name), embedder.name, exported, one_text=False)
    masked = str(exported / "model.onnx")
    contenders: dict[str, Callable[[list[str]], object]] = {
        BUILD_PASS: lambda texts: embedder.embed_spans(texts, spans),
        "raw onnxruntime, one text per call, a thread per core on a 1-thread session": raw_parallel(embedder),
        "raw onnxruntime, one text per call": raw_onnxruntime(embedder, masked, 1),
        "raw onnxruntime, padded batches of 64": raw_onnxruntime(embedder, masked, 64),
    }
    if args.torch:
        torch_embedder = SentenceTransformerEmbedder()
        contenders["sentence-transformers on torch (batches of 64)"] = torch_embedder.embed
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.runs):
        for name, contender in contenders.items():
            t = time.perf_counter()
            contender(chunks)
            times[name].append(time.perf_counter() - t)
    report.line(
        f"{len(chunks)} SQuAD chunks, {tokens / len(chunks):.0f} word pieces on average; median of {args.runs} runs"
    )
    report.line()
    reference = statistics.median(times[REFERENCE])
    report.line("| path | chunks/s | ratio to the same done by hand (a thread per core, one text per call) |")
    report.line("| --- | --- | --- |")
    for name, values in times.items():
        seconds = statistics.median(values)
        report.line(f"| {name} | {len(chunks) / seconds:.1f} | {reference / seconds:.2f} |")
    report.line()
    build_ratio = reference / statistics.median(times[BUILD_PASS])
    report.target("build-pass throughput as a share of raw onnxruntime", build_ratio, 0.9, at_least=True)
    report.save()


if __name__ == "__main__":
    run(main)
