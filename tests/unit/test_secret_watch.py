"""The watches of referenced Secrets: one per Secret, started by the first user, stopped by the last.

The API server is a small in-memory stand-in here (a dict and an event queue per watch); the real
one is in tests/cluster/test_database.py and tests/cluster/test_secret_watch_streams.py.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest

from pim_operator.kube import kinds
from pim_operator.kube.client import ApiError
from pim_operator.secret_watch import SecretWatches

pytestmark = pytest.mark.unit


def body(name: str, rv: str, **data: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "resourceVersion": rv},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


class Server:
    """Secrets by name, and the events each open watch receives."""

    def __init__(self) -> None:
        self.secrets: dict[str, dict[str, Any]] = {}
        self.watches: dict[str, asyncio.Queue[dict[str, Any] | Exception]] = {}
        self.gets: list[str] = []
        self.watched_from: list[str | None] = []

    async def get(self, kind: kinds.Kind, namespace: str, name: str) -> dict[str, Any] | None:
        assert kind is kinds.SECRET
        self.gets.append(name)
        return self.secrets.get(name)

    async def watch_one(
        self, kind: kinds.Kind, namespace: str, name: str, *, resource_version: str | None
    ) -> AsyncIterator[dict[str, Any]]:
        self.watched_from.append(resource_version)
        queue = self.watches[name] = asyncio.Queue()
        try:
            while True:
                item = await queue.get()
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            self.watches.pop(name, None)

    def send(self, name: str, event: dict[str, Any] | Exception) -> None:
        self.watches[name].put_nowait(event)


def run_async(test: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """An async test as pytest runs it here (no async plugin): on its own loop, at most 10 s."""

    @functools.wraps(test)
    def run() -> None:
        asyncio.run(asyncio.wait_for(test(), timeout=10))

    return run


def watching(server: Server) -> tuple[list[tuple[str, str]], SecretWatches]:
    """SecretWatches on ``server``, and the instances it has said changed, in order."""
    changed: list[tuple[str, str]] = []
    return changed, SecretWatches(server, changed.append, retry=0)  # type: ignore[arg-type]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@run_async
async def test_one_watch_per_secret_for_as_long_as_someone_uses_it() -> None:
    server = Server()
    server.secrets["db"] = body("db", "10", uri="postgresql://a:b@h/d")
    changed, watches = watching(server)
    first = await watches.use(("ns", "a"), ("ns", "db"))
    again = await watches.use(("ns", "b"), ("ns", "db"))
    await settle()
    assert first == again
    assert first is not None
    assert first.uris == {"uri"}
    assert server.gets == ["db"]  # read once, then watched from that version
    assert server.watched_from == ["10"]
    assert len(watches) == 1

    server.send("db", {"type": "MODIFIED", "object": body("db", "11", uri="postgresql://a:c@h/d")})
    await settle()
    assert sorted(changed) == [("ns", "a"), ("ns", "b")]
    changed.clear()
    # a new resourceVersion with the same values (a label edited, say) wakes nobody
    server.send("db", {"type": "MODIFIED", "object": body("db", "12", uri="postgresql://a:c@h/d")})
    await settle()
    assert changed == []

    watches.forget(("ns", "a"))
    await settle()
    assert len(watches) == 1
    await watches.use(("ns", "b"), None)  # b no longer references it: the watch stops
    await settle()
    assert len(watches) == 0
    assert "db" not in server.watches


@run_async
async def test_a_missing_secret_is_watched_until_it_appears_and_after_it_goes() -> None:
    server = Server()
    changed, watches = watching(server)
    assert await watches.use(("ns", "a"), ("ns", "db")) is None
    await settle()
    assert server.watched_from == [None]  # from now on: the server sends it when it is created
    server.send("db", {"type": "ADDED", "object": body("db", "5", uri="postgresql://x")})
    await settle()
    assert changed == [("ns", "a")]
    assert (await watches.use(("ns", "a"), ("ns", "db"))).keys == {"uri"}  # type: ignore[union-attr]
    server.send("db", {"type": "DELETED", "object": body("db", "6", uri="postgresql://x")})
    await settle()
    assert changed == [("ns", "a"), ("ns", "a")]
    assert await watches.use(("ns", "a"), ("ns", "db")) is None
    await watches.stop()


@run_async
async def test_a_broken_watch_reads_the_secret_again_and_resumes() -> None:
    server = Server()
    server.secrets["db"] = body("db", "1", uri="postgresql://one")
    changed, watches = watching(server)
    await watches.use(("ns", "a"), ("ns", "db"))
    await settle()
    # changed while the watch was down, and the version we had is too old: 410 Gone
    server.secrets["db"] = body("db", "9", uri="postgresql://two")
    server.send("db", ApiError(410, "Expired", "too old resource version"))
    await settle()
    assert server.gets == ["db", "db"]
    assert server.watched_from == ["1", "9"]
    assert changed == [("ns", "a")]
    await watches.stop()
    assert len(watches) == 0


@run_async
async def test_an_unexpected_error_does_not_end_the_watch() -> None:
    # A watch task that died would leave its Secret followed by no one, silently, for good.
    logged: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: logged.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("pim_operator.secret_watch").addHandler(handler)
    server = Server()
    server.secrets["db"] = body("db", "1", uri="postgresql://one")
    changed, watches = watching(server)
    await watches.use(("ns", "a"), ("ns", "db"))
    await settle()
    server.secrets["db"] = body("db", "2", uri="postgresql://two")
    server.send("db", RuntimeError("the transport's own bug"))
    await settle()
    assert server.watched_from == ["1", "2"]
    assert changed == [("ns", "a")]
    logging.getLogger("pim_operator.secret_watch").removeHandler(handler)
    assert logged == ["watch of Secret ns/db broke: RuntimeError: the transport's own bug"]
    server.send("db", {"type": "MODIFIED", "object": body("db", "3", uri="postgresql://three")})
    await settle()
    assert changed == [("ns", "a"), ("ns", "a")]
    await watches.stop()
