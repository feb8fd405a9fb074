"""The vector index part on its own: exact (flat) against HNSW search as the index grows.

    .venv/bin/python benchmarks/faiss_curve.py [--sizes 10000,100000,300000,1000000] [--queries 200]

Synthetic clustered unit vectors of the model's size (384): 2,000 centres, each point a centre
plus noise, so a point's neighbours sit at cosine near 0.5 as real sentence vectors do; queries
are perturbed copies of random points. Both indexes are made by `qa._store.make_vector_index`,
exactly as a build makes them, and searched for 100 neighbours as a question asks. Prints per
size: build time, serialised size, query p50/p95 (one query at a time) and HNSW's recall@100
against exact search.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import faiss
import numpy as np
from _results import Report, add_record_flag, run

from qa._retrieve import CANDIDATE_CHUNKS
from qa._store import EXACT_LIMIT, make_vector_index

DIMENSIONS = 384


def clustered(n: int, rng: np.random.Generator, centres: np.ndarray, noise: float = 1.0) -> np.ndarray:
    out = np.empty((n, DIMENSIONS), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        picks = centres[rng.integers(0, len(centres), stop - start)]
        block = picks + noise * rng.standard_normal((stop - start, DIMENSIONS), dtype=np.float32) / np.sqrt(DIMENSIONS)
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def timed_search(index: object, queries: np.ndarray, k: int) -> tuple[list[float], np.ndarray]:
    latencies, found = [], []
    for q in queries:
        t = time.perf_counter()
        _, ids = index.search(q.reshape(1, -1), k)  # type: ignore[attr-defined]
        latencies.append((time.perf_counter() - t) * 1000)
        found.append(ids[0])
    return latencies, np.vstack(found)


def p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,30000,100000,300000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    add_record_flag(parser)
    args = parser.parse_args()
    report = Report("faiss_curve", "FAISS index type by size: synthetic clustered vectors (issue 5)", args.record)
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((2000, DIMENSIONS), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    k = CANDIDATE_CHUNKS
    report.line(
        f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads; exact up to {EXACT_LIMIT:,} chunks, then HNSW"
    )
    report.line()
    report.line("| vectors | index | build s | size MiB | p50 ms | p95 ms | recall@100 vs exact |")
    report.line("| --- | --- | --- | --- | --- | --- | --- |")
    for n in (int(s) for s in args.sizes.split(",")):
        vectors = clustered(n, rng, centres)
        queries = clustered(args.queries, rng, vectors[rng.integers(0, n, args.queries)], noise=0.7)
        exact_ids = None
        for kind in ("flat", "hnsw"):
            t = time.perf_counter()
            index = make_vector_index(vectors, kind)
            build = time.perf_counter() - t
            size = len(faiss.serialize_index(index)) / 2**20
            timed_search(index, queries[:10], k)  # warm-up
            latencies, ids = timed_search(index, queries, k)
            if kind == "flat":
                exact_ids, recall = ids, "1 (exact)"
            else:
                assert exact_ids is not None
                hits = [len(set(a.tolist()) & set(b.tolist())) / k for a, b in zip(ids, exact_ids, strict=True)]
                recall = f"{statistics.mean(hits):.3f}"
            report.line(
                f"| {n:,} | {kind} | {build:.1f} | {size:.0f} | {statistics.median(latencies):.2f} | "
                f"{p95(latencies):.2f} | {recall} |",
            )
            del index
        del vectors
    report.line()
    report.line(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")

    report.save()


if __name__ == "__main__":
    run(main)
