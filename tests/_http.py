"""Plain HTTP against a real server, as a curl user would: shared by the app and reload tests."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[Any], why: Callable[[], str], seconds: float = 120) -> None:
    """Return once `url` answers; AssertionError with `why()` if the process exits or time runs out."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).close()
            return
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, f"server did not start: {why()}"
            time.sleep(0.3)


def post(url: str, payload: object, timeout: float = 60) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def plain_call(base: str, endpoint: str, data: list[Any], timeout: float = 60) -> tuple[str, Any]:
    """POST /gradio_api/call/<endpoint>, then read its event stream: (event, parsed data)."""
    event_id = post(f"{base}gradio_api/call/{endpoint}", {"data": data}, timeout)["event_id"]
    with urllib.request.urlopen(f"{base}gradio_api/call/{endpoint}/{event_id}", timeout=timeout) as stream:
        lines = stream.read().decode().splitlines()
    event = next(
        line.removeprefix("event: ") for line in lines if line.startswith("event: ") and "heartbeat" not in line
    )
    return event, json.loads(lines[lines.index(f"event: {event}") + 1].removeprefix("data: "))
