"""A stop that keep-alive clients never see as a dropped request.

Clients behind a Service keep their connections open, and a connection stays with the pod it was
opened to after the Service has dropped that pod. uvicorn's own stop closes idle connections at
once, so a client that sends its next request at that moment gets a connection closed without a
response. While draining, the engine keeps serving but answers every response with
``Connection: close``: each client's next request opens a new connection, through the Service, to
a pod that stays. Only then does the server stop. A second signal stops it at once.

The operator's pods get SIGTERM after their preStop pause (when the Service has dropped the pod),
and drain for ``PIM_DRAIN_SECONDS`` after it; outside Kubernetes the default is no drain.
"""

from __future__ import annotations

import time
from types import FrameType

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CLOSE = (b"connection", b"close")


class Drain:
    """Whether the engine is draining: set once, by the first stop signal."""

    def __init__(self) -> None:
        self.active = False


class CloseWhileDraining:
    """ASGI wrapper: while draining, every response says ``Connection: close``."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app, self.drain = app, drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        drain = self.drain

        async def send_closing(message: Message) -> None:
            if drain.active and message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), CLOSE]}
            await send(message)

        await self.app(scope, receive, send_closing)


class DrainingServer(uvicorn.Server):
    """uvicorn's server, whose first stop signal starts ``seconds`` of draining before the stop."""

    def __init__(self, config: uvicorn.Config, drain: Drain, seconds: float) -> None:
        super().__init__(config)
        self.drain, self.seconds = drain, seconds
        self._until: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.seconds > 0 and not self.drain.active and not self.should_exit:
            self._captured_signals.append(sig)  # as uvicorn does: raised again after the stop
            self.drain.active = True
            self._until = time.monotonic() + self.seconds
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self._until is not None and time.monotonic() >= self._until:
            self.should_exit = True
        return await super().on_tick(counter)
