"""The HTTP layer in front of Gradio's routes (a plain ASGI middleware; it imports no Gradio).

- A plain `POST /gradio_api/call/<endpoint>` may leave out trailing inputs that have defaults,
  as a curl user writes it (`{"data": ["what happened?"]}`). Gradio checks the number of inputs
  before the handler runs and answers a short list with its own message naming component
  objects, so the defaults are filled in here, from the handler's own signature: one source
  for the API docs, `gradio_client` and plain HTTP.
- File uploads are closed: the app has no file input, and Gradio's upload route would otherwise
  keep whatever anyone posts in its temporary folder for as long as the server runs.
- After a plain call's event stream ends, `forget` drops what Gradio kept for it (see
  `qa.app.forget_plain_call`): each plain call is a session of its own, and Gradio keeps every
  session until its capacity is reached.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

API_PREFIX = "/gradio_api"
_CALL = re.compile(rf"{API_PREFIX}/call/(?P<name>[\w-]+)/?")
_STREAM = re.compile(rf"{API_PREFIX}/call/(?P<name>[\w-]+)/(?P<event_id>[\w-]+)/?")
_UPLOADS = (f"{API_PREFIX}/upload", f"{API_PREFIX}/process_recording")
_REQUIRED = inspect.Parameter.empty


def defaults_of(handler: Callable[..., object]) -> list[tuple[str, object]]:
    """A handler's inputs in order, each with its default (`inspect.Parameter.empty` if none)."""
    return [(p.name, p.default) for p in inspect.signature(handler).parameters.values()]


class Gate:
    """Pads plain API calls with their defaults, refuses uploads, and lets go of finished calls."""

    def __init__(
        self,
        app: ASGIApp,
        endpoints: Mapping[str, Callable[..., object]],
        forget: Callable[[Any, str], None],
    ) -> None:
        self.app = app
        self.inputs = {name: defaults_of(handler) for name, handler in endpoints.items()}
        # What a refused post is told to send: the endpoint's required inputs, in order.
        self.shapes = {
            name: f'post {{"data": [{", ".join(n for n, default in inputs if default is _REQUIRED)}]}}'
            for name, inputs in self.inputs.items()
        }
        self.forget = forget

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = _own_path(scope), scope["method"]
        if method == "POST" and path.rstrip("/") in _UPLOADS:
            await _reply(send, 404, "this server takes no file uploads; ask with text through /ask or /chat")
            return
        call = _CALL.fullmatch(path)
        if method == "POST" and call and call["name"] in self.inputs:
            await self._padded(scope, receive, send, call["name"])
            return
        stream = _STREAM.fullmatch(path)
        await self.app(scope, receive, send)
        if method == "GET" and stream and stream["name"] in self.inputs:
            # The stream ends once the event has completed and its result was sent.
            self.forget(scope.get("app"), stream["event_id"])

    async def _padded(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None  # Gradio answers malformed JSON itself
        if isinstance(payload, dict):
            if not isinstance(payload.get("data"), list):
                # Gradio would answer with its request model's raw validation error.
                await _reply(send, 422, f'/{name} takes its inputs as a "data" list: {self.shapes[name]}')
                return
            missing = self.inputs[name][len(payload["data"]) :]
            required = [n for n, default in missing if default is _REQUIRED]
            if required:
                await _reply(send, 422, f"/{name} needs its {required[0]}: {self.shapes[name]}")
                return
            if missing:
                payload["data"] = [*payload["data"], *(default for _, default in missing)]
                body = bytearray(json.dumps(payload).encode())
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()  # after the body, only a disconnect can come
            sent = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)


def _own_path(scope: Scope) -> str:
    """The request path without the prefix the app is mounted under, if any."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


async def _reply(send: Send, status: int, detail: str) -> None:
    """A JSON error in the shape Gradio's own HTTP errors have: {"detail": ...}."""
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
