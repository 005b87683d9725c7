"""Several HTTP servers in one event loop: the API, the health port, and one per instance port.

uvicorn's ``Server`` takes over SIGINT/SIGTERM while it serves; with many servers in one loop only
the last would hear them, so these servers leave signals alone and the process stops them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator

import uvicorn
from starlette.types import ASGIApp

from pim_console import ports
from pim_console.runtime import Console

log = logging.getLogger("pim_console.servers")


class Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def make_server(app: ASGIApp, host: str, port: int, log_level: str = "info") -> Server:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="off",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
        proxy_headers=False,
        server_header=False,
    )
    return Server(config)


async def serve(server: Server) -> None:
    """Run until ``should_exit``; a port that cannot be bound is logged, not fatal to the others."""
    try:
        await server.serve()
    except SystemExit:
        log.error("could not serve on %s:%s", server.config.host, server.config.port)


class InstanceListeners:
    """One relay per instance port, kept in step with the instances the watch cache knows."""

    def __init__(self, console: Console, app_for: Callable[[int], ASGIApp], host: str) -> None:
        self.console = console
        self.app_for = app_for
        self.host = host
        self.running: dict[int, tuple[Server, asyncio.Task[None]]] = {}
        self.failed: dict[int, str] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def wanted(self) -> set[int]:
        reserved = self.console.settings.reserved_ports()
        return {p for p in ports.holders(self.console.store.instances.values()) if p >= 1024 and p not in reserved}

    async def reconcile(self) -> None:
        async with self._lock:
            wanted = self.wanted()
            for port in sorted(set(self.running) - wanted):
                server, task = self.running.pop(port)
                server.should_exit = True
                await task
            for port in sorted(wanted - set(self.running)):
                server = make_server(self.app_for(port), self.host, port, self.console.settings.log_level)
                task = asyncio.create_task(serve(server), name=f"instance-port-{port}")
                self.running[port] = (server, task)
                while not server.started and not task.done():
                    await asyncio.sleep(0.02)
                if task.done():
                    self.running.pop(port)
                    self.failed[port] = f"cannot listen on {self.host}:{port}"
                else:
                    self.failed.pop(port, None)
                    log.info("relaying port %d to its instance", port)

    async def ensure(self, port: int) -> None:
        await self.reconcile()

    async def run(self) -> None:
        queue = self.console.store.subscribe()
        try:
            await self.reconcile()
            while True:
                message = await queue.get()
                if message["kind"] in ("instances", "all"):
                    await asyncio.sleep(0.05)  # coalesce a burst of changes
                    while not queue.empty():
                        queue.get_nowait()
                    await self.reconcile()
        finally:
            self.console.store.unsubscribe(queue)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="instance-listeners")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for server, _ in self.running.values():
            server.should_exit = True
        await asyncio.gather(*(t for _, t in self.running.values()), return_exceptions=True)
        self.running.clear()
