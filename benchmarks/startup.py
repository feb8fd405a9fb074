"""Seconds from `qa serve` to the first answer over HTTP, per backend, on the seed corpus.

    .venv/bin/python benchmarks/startup.py [--runs 3]

Builds the seed corpus once per backend into a temporary folder, then for each run starts
`qa serve` as a new process and polls `/ask` until it answers. Prints the median per backend.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _results import Report, add_record_flag, run

ROOT = Path(__file__).resolve().parents[1]


def first_answer_seconds(index: Path) -> float:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    start = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "qa", "serve", "--index", str(index), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    body = json.dumps({"data": ["what guarantees did Russia demand?", 3]}).encode()
    try:
        while time.perf_counter() - start < 120:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/gradio_api/call/ask",
                    data=body,
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=10) as response:
                    event = json.loads(response.read())["event_id"]
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/gradio_api/call/ask/{event}", timeout=30
                ) as stream:
                    if b"event: complete" in stream.read():
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("no answer within 120 s")
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    add_record_flag(parser)
    args = parser.parse_args()
    report = Report(
        "startup", "Start to first answer (`qa serve` to an `/ask` answer over HTTP, seed corpus)", args.record
    )
    report.line("| backend | median s | runs |")
    report.line("| --- | --- | --- |")
    medians = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("onnx", "torch"):
            index = Path(tmp) / backend
            subprocess.run(
                [sys.executable, "-m", "qa", "build", "--corpus", str(ROOT / "corpus"), "--index", str(index), "--backend", backend],
                check=True, capture_output=True,
            )  # fmt: skip
            times = [first_answer_seconds(index) for _ in range(args.runs)]
            medians[backend] = statistics.median(times)
            report.line(f"| {backend} | {medians[backend]:.2f} | {', '.join(f'{t:.2f}' for t in times)} |")
    report.line()
    report.target("start to first answer with onnx (s)", medians["onnx"], 3.0, at_least=False)
    report.save()


if __name__ == "__main__":
    run(main)
