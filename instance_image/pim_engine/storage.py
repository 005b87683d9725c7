"""The instance database: one SQLite file, one connection, one thread that owns it.

Every statement runs on a single dedicated thread. SQLite serializes writers anyway, a single
connection needs no locking, and the event loop never blocks on disk, so ``/health`` keeps
answering while a slow query runs. SQL text is built once per entity (``EntitySql``); only the
column list of a PATCH varies, and those statements are cached too.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, TypeVar

from pim_engine.schema import Table, quote

T = TypeVar("T")

DECIMAL_COLLATION = "pim_decimal"


def _compare_decimals(left: str, right: str) -> int:
    """Numeric order for decimal text; anything unparsable (left by a forced migration) sorts as text."""
    try:
        a, b = Decimal(left), Decimal(right)
    except ArithmeticError:
        return (left > right) - (left < right)
    return (a > b) - (a < b)


def connect(path: str) -> sqlite3.Connection:
    """Open the database with the engine's pragmas (WAL, foreign keys, busy timeout)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.create_collation(DECIMAL_COLLATION, _compare_decimals)
    return conn


class EntitySql:
    """The precompiled statements of one table."""

    def __init__(self, table: Table, write_columns: Sequence[str]) -> None:
        self.table = table
        t = quote(table.name)
        key = quote(table.key.name)
        self.columns = tuple(c.name for c in table.columns)
        cols = ", ".join(quote(c) for c in self.columns)
        self.select_cols = cols
        self.write_columns = tuple(write_columns)
        placeholders = ", ".join("?" for _ in write_columns)
        self.insert = (
            f"INSERT INTO {t} ({', '.join(quote(c) for c in write_columns)}) VALUES ({placeholders}) RETURNING {cols}"
        )
        self.get = f"SELECT {cols} FROM {t} WHERE {key} = ?"
        self.exists = f"SELECT 1 FROM {t} WHERE {key} = ?"
        self.delete = f"DELETE FROM {t} WHERE {key} = ?"
        self.count = f"SELECT count(*) FROM {t}"
        self.table_sql = t
        self.key_sql = key
        self._updates: dict[tuple[str, ...], str] = {}
        self.replace_columns = tuple(c for c in write_columns if c != table.key.name)
        self.replace = self.update_sql(self.replace_columns)

    def update_sql(self, columns: tuple[str, ...]) -> str:
        sql = self._updates.get(columns)
        if sql is None:
            if columns:
                sets = ", ".join(f"{quote(c)} = ?" for c in columns)
                sql = f"UPDATE {self.table_sql} SET {sets} WHERE {self.key_sql} = ? RETURNING {self.select_cols}"
            else:
                sql = self.get
            if len(self._updates) < 256:
                self._updates[columns] = sql
        return sql


class Store:
    """The database of one instance, reached only through its own thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pim-db")
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._ready_at = 0.0
        self._ready_error: str | None = "not checked yet"
        self._executor.submit(self._open).result()

    def _open(self) -> None:
        self._conn = connect(self.path)

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection; only valid on the database thread."""
        if self._conn is None:
            raise RuntimeError("the database is closed")
        return self._conn

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` on the database thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(self._call, fn, *args))

    def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        return self._executor.submit(self._call, fn, *args).result()

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(self.conn, *args)

    async def check_writable(self, max_age: float = 1.0) -> str | None:
        """``None`` when a write transaction can start now, else the reason; cached for ``max_age`` s."""
        if time.monotonic() - self._ready_at < max_age:
            return self._ready_error
        try:
            await self.run(_probe_write)
            error = None
        except (sqlite3.Error, RuntimeError) as err:
            error = f"database not writable: {err}"
        self._ready_at, self._ready_error = time.monotonic(), error
        return error

    def close(self) -> None:
        """Checkpoint the WAL into the main file and close; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._executor.submit(self._close).result()
        self._executor.shutdown(wait=True)

    def _close(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._conn.close()
            self._conn = None


def _probe_write(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("ROLLBACK")


def count_rows(conn: sqlite3.Connection, tables: Mapping[str, Table]) -> dict[str, int]:
    return {name: conn.execute(f"SELECT count(*) FROM {quote(name)}").fetchone()[0] for name in tables}
