"""Shared by the load and memory benchmarks: a `qa` server in its own process, plain HTTP calls."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# News questions a reader might ask of the BBC corpus (or of any news index: some abstain).
QUESTIONS = [
    "What did the chancellor say about the economy?",
    "Who won the Oscar for best actor?",
    "How much did the company pay for the takeover?",
    "Why did the airline cut jobs?",
    "When will the new mobile phone go on sale?",
    "What did the prime minister say about the election?",
    "Which team won the match on Saturday?",
    "What guarantees did Russia demand?",
]

# A server with a chosen concurrency and queue size, as `qa serve` builds it otherwise.
_SERVER = """
import sys
from qa import Engine
from qa.app import create_app, launch
index, port, concurrency, queue = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
launch(create_app(Engine(index), concurrency=concurrency, queue_size=queue), "127.0.0.1", port)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(index: str, concurrency: int | None = None, queue_size: int | None = None) -> Iterator[tuple[str, int]]:
    """(url, pid) of a server over `index`: `qa serve` itself, or with the given settings."""
    port = free_port()
    if concurrency is None and queue_size is None:
        command = [sys.executable, "-m", "qa", "serve", "--index", index, "--port", str(port)]
    else:
        from qa.app import CONCURRENCY, QUEUE_SIZE

        settings = [str(concurrency or CONCURRENCY), str(queue_size or QUEUE_SIZE)]
        command = [sys.executable, "-c", _SERVER, index, str(port), *settings]
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT))}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(url, timeout=5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise OSError(f"the server over {index} did not start") from None
                time.sleep(0.3)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=60)


def post(url: str, payload: object, timeout: float = 120) -> Any:
    body = json.dumps(payload).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def plain_ask(base: str, data: list[Any]) -> Any:
    """POST /gradio_api/call/ask, then read its event stream; the answer, or RuntimeError."""
    event_id = post(f"{base}gradio_api/call/ask", {"data": data})["event_id"]
    with urllib.request.urlopen(f"{base}gradio_api/call/ask/{event_id}", timeout=300) as stream:
        lines = stream.read().decode().splitlines()
    if "event: complete" not in lines:
        raise RuntimeError(" ".join(lines)[:200])
    return json.loads(lines[lines.index("event: complete") + 1].removeprefix("data: "))[0]


def rss_mib(pid: int) -> float:
    """A process's resident memory now, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise OSError(f"no VmRSS for process {pid}")
