"""A keyed work queue in the manner of client-go's: level-triggered, coalescing, with backoff.

Any number of events for one key while it waits collapse into one reconcile; a key is never
reconciled twice at once (an event during a run marks it dirty, and it runs again after); a
failing key is retried with exponential backoff instead of spinning.

Keys can be added while no worker runs (a standby replica): they wait, deduplicated, and ``stop``
puts an interrupted key back, so a queue can be stopped and started again as leadership comes and goes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from pim_operator import metrics

K = TypeVar("K", bound=Hashable)
log = logging.getLogger(__name__)


class WorkQueue(Generic[K]):
    def __init__(
        self,
        name: str,
        handler: Callable[[K], Awaitable[None]],
        *,
        workers: int = 4,
        base_delay: float = 0.5,
        max_delay: float = 300.0,
    ) -> None:
        self.name = name
        self._handler = handler
        self._workers = workers
        self._base = base_delay
        self._max = max_delay
        self._queue: asyncio.Queue[K] = asyncio.Queue()
        self._waiting: set[K] = set()
        self._running: set[K] = set()
        self._dirty: set[K] = set()
        self._failures: dict[K, int] = {}
        self._timers: dict[K, asyncio.TimerHandle] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._idle.set()

    def add(self, key: K) -> None:
        """Ask for ``key`` to be reconciled (again); cheap and idempotent."""
        if key in self._running:
            self._dirty.add(key)
            return
        if key in self._waiting:
            return
        self._waiting.add(key)
        self._idle.clear()
        self._queue.put_nowait(key)
        metrics.QUEUE_DEPTH.labels(kind=self.name).set(len(self._waiting))

    def add_after(self, key: K, delay: float) -> None:
        if key in self._timers:
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.pop(key, None)
            self.add(key)

        self._timers[key] = loop.call_later(delay, fire)

    def forget(self, key: K) -> None:
        """Drop backoff state (the object is gone)."""
        self._failures.pop(key, None)
        timer = self._timers.pop(key, None)
        if timer:
            timer.cancel()

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    def start(self) -> None:
        if self._tasks:
            return
        for i in range(self._workers):
            self._tasks.append(asyncio.create_task(self._work(), name=f"{self.name}-worker-{i}"))

    async def stop(self) -> None:
        """Cancel the workers (and their reconciles in flight); queued and interrupted keys stay queued."""
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for key, timer in self._timers.items():
            timer.cancel()
            self.add(key)
        self._timers.clear()
        self._failures.clear()

    async def wait_idle(self) -> None:
        await self._idle.wait()

    def __len__(self) -> int:
        return len(self._waiting) + len(self._running)

    async def _work(self) -> None:
        while True:
            key = await self._queue.get()
            self._waiting.discard(key)
            self._running.add(key)
            metrics.QUEUE_DEPTH.labels(kind=self.name).set(len(self._waiting))
            try:
                await self._run(key)
            except asyncio.CancelledError:
                self._dirty.add(key)  # interrupted: it runs again when the queue starts again
                raise
            finally:
                self._running.discard(key)
                if key in self._dirty:
                    self._dirty.discard(key)
                    self.add(key)
                if not self._waiting and not self._running:
                    self._idle.set()

    async def _run(self, key: K) -> None:
        with metrics.RECONCILE_DURATION.labels(kind=self.name).time():
            try:
                await self._handler(key)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                n = self._failures.get(key, 0) + 1
                self._failures[key] = n
                delay = min(self._max, self._base * 2 ** (n - 1))
                metrics.RECONCILES.labels(kind=self.name, result="error").inc()
                metrics.RECONCILE_ERRORS.labels(kind=self.name, error=type(exc).__name__).inc()
                # The message says it all too: kopf's plain log format shows no extra fields.
                log.warning(
                    "reconcile of %s %s failed (%s: %s), retrying in %gs",
                    self.name,
                    "/".join(map(str, key)) if isinstance(key, tuple) else key,
                    type(exc).__name__,
                    str(exc)[:300],
                    delay,
                    extra={"kind": self.name, "key": str(key), "error": str(exc), "retry_in": delay},
                )
                self.add_after(key, delay)
                return
        self._failures.pop(key, None)
        metrics.RECONCILES.labels(kind=self.name, result="success").inc()
