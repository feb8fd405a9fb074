"""Server memory over many plain-HTTP `/ask` calls: `qa serve`'s RSS every 1,000 requests.

    .venv/bin/python benchmarks/memory.py [--index index] [--requests 20000] [--clients 4]

Starts `qa serve` in its own process, warms it up, then `--clients` threads make `--requests`
plain calls in all (`POST /gradio_api/call/ask`, then the event stream) while the server's RSS
is read from /proc every `--every` requests. Gradio used to keep a session per plain call
(about 40 KB each, up to 10,000 of them); qa now lets each go when its stream ends
(`qa.app.forget_plain_call`), so RSS should level off after the first thousands of calls.
"""

from __future__ import annotations

import argparse
import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from _results import Report, add_record_flag, run
from _serve import QUESTIONS, plain_ask, rss_mib, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default="index")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--every", type=int, default=1_000)
    parser.add_argument("--clients", type=int, default=4)
    add_record_flag(parser)
    args = parser.parse_args()
    report = Report("memory", "`qa serve` memory over plain-HTTP `/ask` calls (issue 14)", args.record)
    with server(args.index) as (url, pid):
        for question in QUESTIONS:
            plain_ask(url, [question, 3])  # both inputs: the same calls run against older servers
        samples = [(0, rss_mib(pid), 0.0)]
        counter = itertools.count(1)
        errors: list[str] = []
        lock = threading.Lock()
        start = time.perf_counter()

        def client(_: int) -> None:
            while (n := next(counter)) <= args.requests:
                try:
                    plain_ask(url, [QUESTIONS[n % len(QUESTIONS)], 3])
                except Exception as exc:  # counted and shown
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
                if n % args.every == 0:
                    with lock:
                        samples.append((n, rss_mib(pid), time.perf_counter() - start))
                        print(f"{n} requests: {samples[-1][1]:.0f} MiB", flush=True)

        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(client, range(args.clients)))
    samples.sort()
    report.line(f"index {args.index}; {args.requests} requests from {args.clients} clients; {len(errors)} errors")
    report.line()
    report.line("| requests | server RSS | since the warm-up |")
    report.line("| --- | --- | --- |")
    for n, rss, _ in samples:
        report.line(f"| {n} | {rss:.0f} MiB | {rss - samples[0][1]:+.0f} MiB |")
    half = samples[len(samples) // 2]
    last = samples[-1]
    if last[0] > half[0]:
        per_call = (last[1] - half[1]) * 1024 / (last[0] - half[0])
        report.line()
        report.line(f"Growth over the second half ({half[0]} to {last[0]} requests): {per_call:.2f} KB a request.")
    report.save()


if __name__ == "__main__":
    run(main)
