"""The engine's PostgreSQL connection pool, on its own: bound, order, broken connections, cancellation.

Pure asyncio with stand-in connections (the pool only asks a connection whether it is closed or
inside a transaction, and terminates it): the pool's bookkeeping is what is under test here; the
engine's HTTP tests run it against a real server.
"""

from __future__ import annotations

import asyncio

import pytest

from pim_engine.storage.postgres_pool import ConnectionPool, PoolClosed

pytestmark = pytest.mark.unit


class Conn:
    def __init__(self, n: int) -> None:
        self.n = n
        self.closed = False
        self.in_transaction = False

    def is_closed(self) -> bool:
        return self.closed

    def is_in_transaction(self) -> bool:
        return self.in_transaction

    def terminate(self) -> None:
        self.closed = True

    async def close(self) -> None:
        self.closed = True


class Opener:
    def __init__(self, fail: int = 0) -> None:
        self.opened: list[Conn] = []
        self.fail = fail

    async def __call__(self) -> Conn:
        await asyncio.sleep(0)
        if self.fail:
            self.fail -= 1
            raise OSError("connection refused")
        conn = Conn(len(self.opened))
        self.opened.append(conn)
        return conn


def run(coro):
    return asyncio.run(coro)


def test_opens_on_demand_up_to_the_bound_and_reuses_last_in_first_out() -> None:
    async def scenario() -> None:
        opener = Opener()
        pool = ConnectionPool(opener, 2)
        a, b = await pool.acquire(), await pool.acquire()
        assert len(opener.opened) == pool.opened == 2
        third = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.01)
        assert not third.done()  # waits: the bound is 2
        pool.release(a)
        assert await third is a  # handed over directly
        pool.release(b)
        pool.release(a)
        assert await pool.acquire() is a  # last in, first out
        assert len(opener.opened) == 2

    run(scenario())


def test_broken_closed_and_mid_transaction_connections_are_replaced() -> None:
    async def scenario() -> None:
        opener = Opener()
        pool = ConnectionPool(opener, 1)
        first = await pool.acquire()
        pool.release(first, broken=True)
        assert first.closed
        second = await pool.acquire()
        assert second is not first
        second.in_transaction = True
        pool.release(second)
        assert second.closed
        third = await pool.acquire()
        pool.release(third)
        third.closed = True  # the server went away while it was idle
        fourth = await pool.acquire()
        assert fourth is not third
        assert pool.opened == 1
        assert len(opener.opened) == 4

    run(scenario())


def test_a_failed_connect_frees_its_slot_for_a_waiter() -> None:
    async def scenario() -> None:
        opener = Opener(fail=1)
        pool = ConnectionPool(opener, 1)
        with pytest.raises(OSError, match="refused"):
            await pool.acquire()
        assert pool.opened == 0
        held = await pool.acquire()
        waiter = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.01)
        pool.release(held, broken=True)  # the slot passes to the waiter, which connects itself
        conn = await waiter
        assert conn is not held
        assert pool.opened == 1

    run(scenario())


def test_a_cancelled_waiter_loses_nothing() -> None:
    async def scenario() -> None:
        pool = ConnectionPool(Opener(), 1)
        held = await pool.acquire()
        waiter = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        pool.release(held)
        assert await asyncio.wait_for(pool.acquire(), 1) is held

    run(scenario())


def test_expire_replaces_every_connection_and_close_refuses_new_ones() -> None:
    async def scenario() -> None:
        opener = Opener()
        pool = ConnectionPool(opener, 2)
        idle, busy = await pool.acquire(), await pool.acquire()
        pool.release(idle)
        pool.expire()
        assert idle.closed
        pool.release(busy)  # from before the expiry: closed on return
        assert busy.closed
        fresh = await pool.acquire()
        assert fresh not in (idle, busy)
        pool.release(fresh)
        await pool.close()
        assert fresh.closed
        with pytest.raises(PoolClosed):
            await pool.acquire()

    run(scenario())
