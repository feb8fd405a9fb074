"""`/ask` latency through the Gradio API: plain HTTP (POST + event stream) and gradio_client.

    .venv/bin/python benchmarks/api_latency.py [--index index] [--calls 100]

Starts a real server on a free local port over the given index, warms it up, then times
`--calls` calls each way and prints p50/p95 and their ratio to in-process `Engine.ask`.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import time
import urllib.request

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from _results import Report, add_record_flag, run
from gradio_client import Client

from qa import Engine
from qa.app import create_app, launch

QUESTIONS = [
    "what guarantees did Russia demand?",
    "What did Grushko say Moscow will seek?",
    "When will Trump speak to Putin?",
    "How many drones were destroyed?",
    "What is the boiling point of water?",
]


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


def http_ask(base: str, question: str) -> dict[str, object]:
    body = json.dumps({"data": [question, 3]}).encode()
    request = urllib.request.Request(
        base + "gradio_api/call/ask", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        event_id = json.loads(response.read())["event_id"]
    with urllib.request.urlopen(f"{base}gradio_api/call/ask/{event_id}", timeout=60) as stream:
        lines = stream.read().decode().splitlines()
    answer: dict[str, object] = json.loads(lines[lines.index("event: complete") + 1].removeprefix("data: "))[0]
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default="index")
    parser.add_argument("--calls", type=int, default=100)
    add_record_flag(parser)
    args = parser.parse_args()
    report = Report("api_latency", "`/ask` latency through the Gradio API", args.record)
    engine = Engine(args.index)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo = create_app(engine)
    launch(demo, "127.0.0.1", port, block=False)
    base = f"http://127.0.0.1:{port}/"
    client = Client(base, verbose=False)
    try:
        timings: dict[str, list[float]] = {"in-process Engine.ask": [], "plain HTTP": [], "gradio_client": []}
        calls = {
            "in-process Engine.ask": lambda q: engine.ask(q).to_dict(),
            "plain HTTP": lambda q: http_ask(base, q),
            "gradio_client": lambda q: client.predict(q, api_name="/ask"),
        }
        for name, call in calls.items():
            for q in QUESTIONS:  # warm-up
                call(q)
            for i in range(args.calls):
                start = time.perf_counter()
                result = call(QUESTIONS[i % len(QUESTIONS)])
                timings[name].append(time.perf_counter() - start)
                assert "citations" in result
        base_p50, _ = percentiles(timings["in-process Engine.ask"])
        report.line(f"index {args.index}, {args.calls} calls each way after {len(QUESTIONS)} warm-up calls")
        report.line()
        report.line("| path | p50 | p95 | p50 vs in-process |")
        report.line("| --- | --- | --- | --- |")
        for name, samples in timings.items():
            p50, p95 = percentiles(samples)
            report.line(f"| {name} | {p50:.1f} ms | {p95:.1f} ms | x{p50 / base_p50:.1f} |")
    finally:
        demo.close()
    report.save()


if __name__ == "__main__":
    run(main)
