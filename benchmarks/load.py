"""Load on `/ask` over plain HTTP: N clients x M calls, errors, p50/p95 and throughput for
several concurrency settings in one run, then the busy error's latency under overload.

    .venv/bin/python benchmarks/load.py --index /tmp/api-bbc [--clients 16] [--calls 200]
        [--concurrency 1,2,4] [--burst 128]

Each setting gets a fresh server in its own process (the clients would otherwise share its
interpreter), a warm-up, then `--clients` threads each making `--calls` plain calls
(`POST /gradio_api/call/ask {"data": [question]}`, then the event stream). The overload part
starts a server with the shipped settings and sends `--burst` calls at once: those beyond the
running and queued ones must get HTTP 503 at once.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor

from _results import Report, add_record_flag, run
from _serve import QUESTIONS, plain_ask, post, server

from qa.app import CONCURRENCY, QUEUE_SIZE


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1)))] * 1000


def load(base: str, clients: int, calls: int) -> tuple[list[float], list[str], float]:
    """(latencies in s, error messages, wall time in s) of clients x calls plain calls."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        for i in range(calls):
            start = time.perf_counter()
            try:
                answer = plain_ask(base, [QUESTIONS[(k + i) % len(QUESTIONS)]])
                assert "citations" in answer
            except Exception as exc:  # every failure is counted and shown
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return latencies, errors, time.perf_counter() - start


def burst(base: str, n: int) -> tuple[list[float], list[float], list[str]]:
    """n calls posted at the same moment: (accepted POST latencies, 503 latencies, other errors)."""
    gate = threading.Barrier(n)
    accepted: list[float] = []
    busy: list[float] = []
    other: list[str] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        gate.wait()
        start = time.perf_counter()
        try:
            post(f"{base}gradio_api/call/ask", {"data": [QUESTIONS[i % len(QUESTIONS)]]})
            kind = accepted
        except urllib.error.HTTPError as exc:
            kind = busy if exc.code == 503 else accepted
            if exc.code != 503:
                other.append(f"HTTP {exc.code}")
        except OSError as exc:
            with lock:
                other.append(f"{type(exc).__name__}: {exc}")
            return
        with lock:
            kind.append(time.perf_counter() - start)

    with ThreadPoolExecutor(n) as pool:
        list(pool.map(one, range(n)))
    return accepted, busy, other


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default="index")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--calls", type=int, default=200, help="calls per client")
    parser.add_argument("--concurrency", default="1,2,4", help="answers running at once, one server each")
    parser.add_argument("--burst", type=int, default=128, help="calls sent at once for the overload figure")
    add_record_flag(parser)
    args = parser.parse_args()
    report = Report("load", "`/ask` under load over plain HTTP (issue 14)", args.record)
    report.line(
        f"index {args.index}; {args.clients} clients x {args.calls} calls each; questions cycle over "
        f"{len(QUESTIONS)}; shipped setting: concurrency {CONCURRENCY}, queue {QUEUE_SIZE}"
    )
    report.line()
    report.line("| concurrency | calls | errors | p50 | p95 | throughput | vs concurrency 1 |")
    report.line("| --- | --- | --- | --- | --- | --- | --- |")
    base_rate = None
    for concurrency in (int(c) for c in args.concurrency.split(",")):
        with server(args.index, concurrency=concurrency) as (url, _):
            for question in QUESTIONS:  # warm-up: the index's pages, each code path once
                plain_ask(url, [question])
            latencies, errors, wall = load(url, args.clients, args.calls)
        rate = len(latencies) / wall
        base_rate = base_rate or rate
        report.line(
            f"| {concurrency} | {len(latencies) + len(errors)} | {len(errors)} | {pct(latencies, 0.5):.0f} ms "
            f"| {pct(latencies, 0.95):.0f} ms | {rate:.1f} calls/s | x{rate / base_rate:.2f} |"
        )
        for message in sorted(set(errors))[:3]:
            report.line(f"  - error: {message}")
    report.line()
    with server(args.index, concurrency=CONCURRENCY, queue_size=QUEUE_SIZE) as (url, _):
        plain_ask(url, [QUESTIONS[0]])
        accepted, busy, other = burst(url, args.burst)
    report.line(
        f"Overload, {args.burst} calls posted at once (concurrency {CONCURRENCY}, queue {QUEUE_SIZE}): "
        f"{len(accepted)} accepted (POST p50 {pct(accepted, 0.5):.0f} ms), {len(busy)} got 503 "
        f"(p50 {pct(busy, 0.5):.0f} ms, max {max(busy, default=0) * 1000:.0f} ms), {len(other)} other errors"
        + (f" ({statistics.mode(other)})" if other else "")
    )
    report.line()
    report.line(
        "The machine is shared with other work (2 cores): figures are noisy; compare the ratios within one run."
    )
    report.save()


if __name__ == "__main__":
    run(main)
