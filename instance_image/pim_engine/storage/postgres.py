"""The shared backend: a PostgreSQL database reached through a pool of asyncpg connections.

Why asyncpg: measured on the engine's own statements (``bench/pg_driver_bench.py``, BENCHMARKS.md),
asyncpg costs the engine's process 1.1 to 1.4× less CPU per statement than psycopg 3 (async, with
``psycopg_pool``, prepared statements and autocommit) and 3.3 to 4.8× less than SQLAlchemy 2 Core on
asyncpg, and half that again through the engine's own pool (``postgres_pool.py``). The engine is
CPU-bound on one core per replica, so that is its throughput; asyncpg also speaks the binary
protocol with ``NUMERIC``, ``TIMESTAMPTZ`` and ``JSONB`` codecs of its own, caches prepared
statements per connection, and is pure asyncio (no thread pool), like the rest of the engine.

Lifecycle: ``start`` (in the app's lifespan) migrates under the advisory lock and opens the pool.
A database that cannot be reached then, or later, never stops the process: ``/health`` stays 200,
``/ready`` answers 503 with the reason (``Unreachable``, ``MigrationRefused``), requests that need
the database answer 503 (507 when its storage is full), and the engine retries by itself: the
start in the background with a growing pause, the pool by replacing broken connections on the next
request. Nothing needs a restart when the database returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import asyncpg

from pim_engine.database_url import DatabaseUrl
from pim_engine.loader.constraints import Rule
from pim_engine.migrate import MigrationRefused
from pim_engine.model import Model
from pim_engine.schema import Table, quote
from pim_engine.storage import (
    MIGRATION_REFUSED,
    UNREACHABLE,
    Problem,
    StorageError,
    StorageFull,
    Unavailable,
)
from pim_engine.storage.postgres_migrate import Outcome, migrate
from pim_engine.storage.postgres_pool import ConnectionPool
from pim_engine.storage.postgres_schema import check_names, composite_unique_fields, constraint_fields
from pim_engine.storage.postgres_store import PostgresEntityStore

T = TypeVar("T")

DEFAULT_POOL_SIZE = 10
#: Longest a request's statement may run.
STATEMENT_TIMEOUT = 30.0
#: Longest ``/ready`` waits for the database's answer.
READY_TIMEOUT = 2.0
#: After the database failed to answer, requests fail at once for this long (no pile-up of waits).
FAIL_FAST = 1.0
#: Pauses between attempts to reach a database that was not there at start.
RETRY_PAUSES = (0.5, 1.0, 2.0, 5.0)
#: A statement rolled back by a deadlock or serialization failure is run again up to this many times,
#: after a random pause of up to ``TRANSIENT_PAUSE * 2**attempt`` s (racers that retried in step would
#: meet again before the winner commits; each deadlock costs the server's ``deadlock_timeout``).
TRANSIENT_RETRIES = 8
TRANSIENT_PAUSE = 0.01
#: Row counts for ``pim_entity_rows`` are read again this often (other replicas write too).
COUNT_INTERVAL = 15.0

#: Errors that mean the database cannot be reached or used now (the request may succeed later).
UNREACHABLE_ERRORS = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.InvalidPasswordError,
    asyncpg.InvalidCatalogNameError,
    asyncpg.ClientConfigurationError,
)


def describe(err: BaseException) -> str:
    """A one-line account of a connection failure, for ``/ready`` and logs (never a password)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


class PostgresDatabase:
    """One instance's PostgreSQL database: stores, pool, readiness, migration at start."""

    def __init__(
        self,
        url: DatabaseUrl,
        model: Model,
        tables: Mapping[str, Table],
        rules: Mapping[str, Sequence[Rule]] | None = None,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        allow_destructive: bool = False,
    ) -> None:
        check_names(tables)
        self.url = url
        self.model = model
        self.tables = tables
        self.pool_size = pool_size
        self.allow_destructive = allow_destructive
        self.constraints = constraint_fields(tables)
        self.composite_uniques = composite_unique_fields(tables)
        self.stores: dict[str, PostgresEntityStore] = {
            name: PostgresEntityStore(self, t, (rules or {}).get(name, ())) for name, t in tables.items()
        }
        self.counts: dict[str, int] = dict.fromkeys(tables, 0)
        self.outcome: Outcome | None = None
        self._pool: ConnectionPool | None = None
        self._problem: Problem | None = Problem(UNREACHABLE, "not connected yet")
        self._ready_at = 0.0
        self._ready_problem: Problem | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._failed_at: float | None = None

    # --- connections ----------------------------------------------------------------------------

    def _connect_args(self) -> dict[str, Any]:
        settings = {"application_name": self.url.application_name or "pim-engine"}
        return {"dsn": self.url.dsn, "timeout": self.url.connect_timeout, "server_settings": settings}

    async def connect(self) -> asyncpg.Connection:
        """One connection outside the pool (migrations: no statement timeout, they may wait on the lock)."""
        return await asyncpg.connect(**self._connect_args(), command_timeout=None)

    async def _pooled_connection(self) -> asyncpg.Connection:
        return await asyncpg.connect(**self._connect_args(), command_timeout=STATEMENT_TIMEOUT)

    async def migrate(self) -> Outcome:
        conn = await self.connect()
        try:
            return await migrate(conn, str(self.url), self.model, self.tables, allow_destructive=self.allow_destructive)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)

    async def _open(self) -> None:
        self.outcome = await self.migrate()
        pool = ConnectionPool(self._pooled_connection, self.pool_size)
        pool.release(await pool.acquire())  # one connection now: the database answers
        self._pool, self._problem, self._ready_at = pool, None, 0.0
        await self._count_rows()
        self._tasks.append(asyncio.create_task(self._count_loop(), name="pim-row-counts"))

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Migrate and open the pool; when the database cannot be reached, keep trying in the background."""
        if not await self._attempt():
            self._tasks.append(asyncio.create_task(self._retry(), name="pim-db-connect"))

    async def _attempt(self) -> bool:
        """True when done (connected, or refused for good); False to try again later."""
        try:
            await self._open()
        except MigrationRefused as err:
            self._problem = Problem(MIGRATION_REFUSED, str(err))
            return True
        except UNREACHABLE_ERRORS as err:
            self._problem = Problem(UNREACHABLE, f"cannot connect to {self.url}: {describe(err)}")
            return False
        except asyncpg.PostgresError as err:
            self._problem = Problem(UNREACHABLE, f"database {self.url} failed: {describe(err)}")
            return False
        return True

    async def _retry(self) -> None:
        attempt = 0
        while True:
            await asyncio.sleep(RETRY_PAUSES[min(attempt, len(RETRY_PAUSES) - 1)])
            attempt += 1
            if await self._attempt():
                return

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 10)
            except (TimeoutError, Exception):
                pool.terminate()

    # --- readiness and metrics ----------------------------------------------------------------

    async def check_ready(self, max_age: float = 1.0) -> Problem | None:
        """``None`` when a statement runs now, else why not; cached for ``max_age`` s."""
        if self._pool is None:
            return self._problem
        if time.monotonic() - self._ready_at < max_age:
            return self._ready_problem
        self._failed_at = None  # the probe itself always tries
        try:
            await asyncio.wait_for(self.fetch("SELECT 1", []), READY_TIMEOUT)
            problem = None
        except StorageFull:
            problem = None  # reads go on; writes answer 507
        except Unavailable as err:
            problem = Problem(UNREACHABLE, str(err))
        except TimeoutError:
            problem = Problem(UNREACHABLE, f"database {self.url} did not answer within {READY_TIMEOUT:g} s")
        self._ready_at, self._ready_problem = time.monotonic(), problem
        return problem

    def row_counts(self) -> Mapping[str, int]:
        return self.counts

    async def _count_rows(self) -> None:
        parts = [f"(SELECT count(*) FROM {quote(name)})" for name in self.tables]
        if not parts:
            return
        row = await self.fetchrow("SELECT " + ", ".join(parts), [])
        self.counts = dict(zip(self.tables, row, strict=True))

    async def _count_loop(self) -> None:
        while True:
            await asyncio.sleep(COUNT_INTERVAL)
            with contextlib.suppress(StorageError):
                await self._count_rows()

    # --- statements ---------------------------------------------------------------------------

    async def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``fn(connection, *args)`` on a pooled connection; failures of the database become ``Unavailable``.

        Constraint violations (``IntegrityConstraintViolationError``) pass through for the store to name.
        """
        pool = self._pool
        if pool is None:
            problem = self._problem
            raise Unavailable(f"database not available: {problem.detail if problem else 'closed'}")
        failed_at = self._failed_at
        if failed_at is not None and time.monotonic() - failed_at < FAIL_FAST:
            raise Unavailable(f"database unreachable: {self._ready_problem.detail if self._ready_problem else ''}")
        try:
            for attempt in range(TRANSIENT_RETRIES):
                conn = await pool.acquire()
                broken = True
                try:
                    result = await fn(conn, *args)
                    broken = False
                    break
                except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
                    # Writers racing for one unique text value can deadlock on its hash exclusion
                    # constraint; the statement was rolled back, and run again it meets the winner.
                    broken = False
                    if attempt == TRANSIENT_RETRIES - 1:
                        raise
                except (asyncpg.PostgresError, StorageError):
                    broken = False  # the server answered (or a rule refused): the connection is fine
                    raise
                finally:
                    pool.release(conn, broken=broken)
                await asyncio.sleep(random.uniform(0, TRANSIENT_PAUSE * 2**attempt))  # noqa: S311 (jitter)
            if failed_at is not None:
                self._failed_at = None
            return result
        except (asyncpg.IntegrityConstraintViolationError, asyncpg.ProgramLimitExceededError, StorageError):
            raise
        except asyncpg.DiskFullError as err:
            raise StorageFull(
                f"storage full: the database has no space left, writes fail until space is freed ({err})"
            ) from None
        except asyncpg.ReadOnlySQLTransactionError:
            pool.expire()  # a standby after a failover: reconnect to the new primary
            raise Unavailable("database is read-only now (a failover in progress?); try again") from None
        except UNREACHABLE_ERRORS as err:
            self._ready_at, self._failed_at = 0.0, time.monotonic()
            self._ready_problem = Problem(UNREACHABLE, describe(err))
            raise Unavailable(f"database unreachable: {describe(err)}") from None
        except asyncpg.PostgresError as err:
            raise Unavailable(f"database error {err.sqlstate}: {describe(err)}") from None

    async def fetchrow(self, sql: str, params: Sequence[Any]) -> Any:
        return await self.run(_fetchrow, sql, params)

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        return await self.run(_fetch, sql, params)

    async def execute(self, sql: str, params: Sequence[Any]) -> str:
        return await self.run(_execute, sql, params)


async def _fetchrow(conn: asyncpg.Connection, sql: str, params: Sequence[Any]) -> Any:
    return await conn.fetchrow(sql, *params)


async def _fetch(conn: asyncpg.Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    return await conn.fetch(sql, *params)


async def _execute(conn: asyncpg.Connection, sql: str, params: Sequence[Any]) -> str:
    return await conn.execute(sql, *params)
