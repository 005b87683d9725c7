"""What every request passes before routing: URL length, encoded slashes, HEAD.

* A request target longer than the limit gets 414 before anything parses its query.
* ``%2F`` in a path would be decoded into a ``/`` before routing, so ``/api/v1/items%2F1`` would
  reach item 1 under a name that is not its URL: such paths are 404.
* ``HEAD`` is answered wherever ``GET`` is, by routing it as ``GET`` and sending no body (FastAPI
  routes declare ``GET`` only).

A pure ASGI middleware (no ``BaseHTTPMiddleware``): it adds a few comparisons to a request.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pim_engine.errors import dumps, error


class RequestGuard:
    def __init__(self, app: ASGIApp, max_url_bytes: int) -> None:
        self.app = app
        self.max_url_bytes = max_url_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = scope.get("raw_path") or scope["path"].encode()
        if len(raw) + len(scope.get("query_string", b"")) > self.max_url_bytes:
            detail = error(["url"], f"request target longer than {self.max_url_bytes} bytes", "url_too_long")
            await _answer(send, 414, [detail])
            return
        if b"%" in raw and b"%2f" in raw.lower():
            await _answer(send, 404, [error(["path"], "an encoded slash (%2F) names no resource", "not_found")])
            return
        if scope["method"] == "HEAD":
            scope = {**scope, "method": "GET"}
            send = _without_body(send)
        await self.app(scope, receive, send)


def _without_body(send: Send) -> Send:
    async def send_head(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return send_head


async def _answer(send: Send, status: int, errors: list[dict[str, object]]) -> None:
    body = dumps({"detail": errors})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
