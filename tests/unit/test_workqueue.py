from __future__ import annotations

import asyncio
import itertools

import pytest

from pim_operator.workqueue import WorkQueue

pytestmark = pytest.mark.unit


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=10))


def test_events_for_a_waiting_key_coalesce():
    seen: list[str] = []

    async def main():
        gate = asyncio.Event()

        async def handler(key):
            await gate.wait()
            seen.append(key)

        q = WorkQueue("t", handler, workers=1)
        for _ in range(5):
            q.add("a")
        q.add("b")
        q.start()
        gate.set()
        await q.wait_idle()
        await q.stop()

    run(main())
    assert sorted(seen) == ["a", "b"]


def test_a_key_never_runs_twice_at_once_and_reruns_when_dirty():
    active: set[str] = set()
    overlaps: list[str] = []
    runs: list[str] = []

    async def main():
        started = asyncio.Event()
        release = asyncio.Event()

        async def handler(key):
            if key in active:
                overlaps.append(key)
            active.add(key)
            runs.append(key)
            started.set()
            await release.wait()
            active.discard(key)

        q = WorkQueue("t", handler, workers=4)
        q.start()
        q.add("a")
        await started.wait()
        q.add("a")  # while running: marks it dirty instead of running in parallel
        q.add("a")
        release.set()
        await q.wait_idle()
        await asyncio.sleep(0)
        await q.wait_idle()
        await q.stop()

    run(main())
    assert overlaps == []
    assert runs == ["a", "a"]


def test_failures_are_retried_with_backoff_until_success():
    calls: list[float] = []

    async def main():
        loop = asyncio.get_running_loop()
        done = asyncio.Event()

        async def handler(key):
            calls.append(loop.time())
            if len(calls) < 3:
                raise RuntimeError("api down")
            done.set()

        q = WorkQueue("t", handler, workers=1, base_delay=0.05, max_delay=1.0)
        q.start()
        q.add("a")
        await done.wait()
        await q.stop()

    run(main())
    assert len(calls) == 3
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert gaps[0] >= 0.045
    assert gaps[1] >= 0.095  # doubled


def test_stopping_keeps_waiting_and_interrupted_keys_for_the_next_start():
    """A standby queues keys without running them; losing leadership interrupts a reconcile, which
    runs again (whole) when the queue starts again."""
    runs: list[str] = []
    done: list[str] = []

    async def main():
        started = asyncio.Event()

        async def handler(key):
            runs.append(key)
            if key == "slow" and runs.count("slow") == 1:
                started.set()
                await asyncio.sleep(60)
            done.append(key)

        q = WorkQueue("t", handler, workers=1)
        q.add("slow")
        assert not q.running
        q.start()
        await started.wait()
        q.add("waiting")
        await q.stop()
        assert not q.running
        assert done == []
        assert len(q) == 2
        q.start()
        await q.wait_idle()
        await q.stop()

    run(main())
    assert sorted(done) == ["slow", "waiting"]
    assert runs.count("slow") == 2
