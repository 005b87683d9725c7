"""The embedded backend: one SQLite file in WAL mode, served from the event loop.

Every statement a request runs is bounded: a read, write or delete by key (with its reference
checks, all on indexes), or a list page of a table small enough to scan. Those run on the event loop
itself, on one connection: a hop to a thread costs more than the statement (measured: ~0.2 ms per
hop on a busy 2-core machine, against ~0.02 ms for a write), and one connection needs no locking.
What is not bounded stays off the loop: list queries over tables larger than ``INLINE_LIST_ROWS``
(a count or a sort over a large table) run on a worker thread with its own read connection, and WAL
checkpoints (the only fsyncs with ``synchronous=NORMAL``) run on a checkpoint thread, so a commit is
an append to the WAL and never waits for the disk. Durability is SQLite's WAL with
``synchronous=NORMAL``, as in any hand-written app configured the same way.

SQL text is compiled once per entity; only the column list of a partial update varies, and those
statements are cached too. Values are encoded here (decimals as canonical fixed-point text, booleans
as 0/1, dates as ISO 8601, JSON as compact text with NaN refused), so nothing the HTTP layer
accepted can leave a row behind that would fail to serialize later.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, TypeVar

from pim_engine.loader.constraints import Rule
from pim_engine.schema import Table, quote
from pim_engine.storage import (
    UNAVAILABLE,
    Item,
    ListQuery,
    MissingReference,
    Problem,
    RuleViolation,
    StillReferenced,
    StorageFull,
    Unavailable,
    UniqueViolation,
)
from pim_engine.storage.rows import TableRows
from pim_engine.storage.sqlite_values import decoder, encoder

T = TypeVar("T")

DECIMAL_COLLATION = "pim_decimal"
#: Tables up to this many rows are listed on the event loop; larger ones on the worker thread.
INLINE_LIST_ROWS = 20_000
#: A list page stops after the row that brings its stored text past this size (at least one row).
PAGE_BYTES = 4 << 20
#: Checkpoint the WAL after this many writes, or every ``CHECKPOINT_INTERVAL`` seconds after a write.
CHECKPOINT_WRITES = 1000
CHECKPOINT_INTERVAL = 1.0


def _compare_decimals(left: str, right: str) -> int:
    """Numeric order for decimal text; anything unparsable (left by a forced migration) sorts as text."""
    try:
        a, b = Decimal(left), Decimal(right)
    except ArithmeticError:
        return (left > right) - (left < right)
    return (a > b) - (a < b)


def connect(path: str, *, busy_timeout_ms: int = 5000, read_only: bool = False) -> sqlite3.Connection:
    """Open the database with the engine's pragmas (WAL, synchronous=NORMAL, foreign keys)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    if read_only:
        conn.execute("PRAGMA query_only = ON")
    conn.create_collation(DECIMAL_COLLATION, _compare_decimals)
    return conn


# --- one entity ------------------------------------------------------------------------------------


class SqliteEntityStore(TableRows):
    """The rows of one table; ``_db_*`` methods take the connection to run on."""

    def __init__(self, db: SqliteDatabase, table: Table, rules: Sequence[Rule]) -> None:
        super().__init__(table, rules, encoder, decoder, lambda _: "?")
        self.db = db
        self.decimal_columns = frozenset(c for c, k in self.kinds.items() if k == "decimal")
        #: (column, target entity, existence query) for each reference column.
        self.references = [
            (c.name, c.references, f"SELECT 1 FROM {quote(c.references)} WHERE {quote(c.references_column or '')} = ?")
            for c in table.columns
            if c.references is not None
        ]
        #: ("Entity.column", query) for each reference *to* this entity; filled in by the database.
        self.referenced_by: list[tuple[str, str]] = []

    # API (event loop)

    async def create(self, values: Mapping[str, Any]) -> Item:
        bad = self.violations(values)
        if bad:
            raise RuleViolation(bad)
        row = self.db.write(self._db_create, tuple(values), self.encode(values), values)
        return self.to_item(row, values)

    async def get(self, key: Any) -> Item | None:
        row = self.db.inline(_fetch_one, self.get_sql, key)
        return None if row is None else self.to_item(row)

    async def update(self, key: Any, values: Mapping[str, Any]) -> Item | None:
        if not values:
            return await self.get(key)
        row = self.db.write(self._db_update, key, tuple(values), self.encode(values), values)
        return None if row is None else self.to_item(row, values)

    async def delete(self, key: Any) -> bool:
        return self.db.write(self._db_delete, key)

    async def list(self, query: ListQuery) -> tuple[list[Item], int]:
        clauses: list[str] = []
        params: list[Any] = []
        for name, values in query.filters:
            column = quote(name)
            if name in self.decimal_columns:
                column += f" COLLATE {DECIMAL_COLLATION}"
            clauses.append(f"{column} = ?" if len(values) == 1 else f"{column} IN ({', '.join('?' for _ in values)})")
            convert = self.encoders[name]
            params.extend(v if convert is None else convert(v) for v in values)
        terms = []
        for name, descending in query.order:
            column = quote(name)
            if name in self.decimal_columns:
                column += f" COLLATE {DECIMAL_COLLATION}"
            terms.append(column + (" DESC" if descending else " ASC"))
        if self.key not in {n for n, _ in query.order}:
            terms.append(self.key_sql + " ASC")
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        args = (where, params, ", ".join(terms), query.limit, query.skip)
        if self.db.counts[self.name] <= INLINE_LIST_ROWS:
            rows, total = self.db.inline(self._db_list, *args)
        else:
            rows, total = await self.db.off_loop(self._db_list, *args)
        to_item = self.to_item
        return [to_item(r) for r in rows], total

    # statements (the connection is the event loop's, or the worker's for large lists)

    def _check_references(self, conn: sqlite3.Connection, values: Mapping[str, Any]) -> None:
        for column, target, sql in self.references:
            value = values.get(column)
            if value is not None and conn.execute(sql, (value,)).fetchone() is None:
                raise MissingReference(column, target or "", value)

    def _conflict(self, err: sqlite3.IntegrityError) -> Exception:
        text = str(err)
        if "UNIQUE" in text or "PRIMARY KEY" in text:
            prefix = f"{self.name}."
            fields = [p.strip().removeprefix(prefix) for p in text.split(":", 1)[-1].split(",")]
            return UniqueViolation(self.name, fields)
        if "FOREIGN KEY" in text:
            return StillReferenced(self.name, None, "another row")
        return Unavailable(f"{self.name}: {text}")

    def _db_create(
        self, conn: sqlite3.Connection, columns: tuple[str, ...], params: list[Any], values: Mapping[str, Any]
    ) -> Sequence[Any]:
        self._check_references(conn, values)
        try:
            row = conn.execute(self.insert_sql(columns), params).fetchone()
        except sqlite3.IntegrityError as err:
            raise self._conflict(err) from None
        self.db.counts[self.name] += 1
        return row

    def _db_update(
        self,
        conn: sqlite3.Connection,
        key: Any,
        columns: tuple[str, ...],
        params: list[Any],
        values: Mapping[str, Any],
    ) -> Sequence[Any] | None:
        self._check_references(conn, values)
        sql = self.update_sql(columns)
        checked = not self.after_columns.isdisjoint(columns)
        if checked:
            conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(sql, [*params, key]).fetchone()
            if checked and row is not None:
                bad = self.violations(self.to_item(row))
                if bad:
                    raise RuleViolation(bad)
        except BaseException as err:
            if checked:
                conn.execute("ROLLBACK")
            if isinstance(err, sqlite3.IntegrityError):
                raise self._conflict(err) from None
            raise
        if checked:
            conn.execute("COMMIT")
        return row

    def _db_delete(self, conn: sqlite3.Connection, key: Any) -> bool:
        for where, sql in self.referenced_by:
            if conn.execute(sql, (key,)).fetchone() is not None:
                raise StillReferenced(self.name, key, where)
        try:
            deleted = conn.execute(self.delete_sql, (key,)).rowcount
        except sqlite3.IntegrityError:
            raise StillReferenced(self.name, key, "another row") from None
        if deleted:
            self.db.counts[self.name] -= 1
        return bool(deleted)

    def _db_list(
        self, conn: sqlite3.Connection, where: str, params: list[Any], order: str, limit: int, skip: int
    ) -> tuple[list[Sequence[Any]], int]:
        t = self.table_sql
        total = conn.execute(f"SELECT count(*) FROM {t}{where}", params).fetchone()[0]
        cursor = conn.execute(
            f"SELECT {self.select_cols} FROM {t}{where} ORDER BY {order} LIMIT ? OFFSET ?", [*params, limit, skip]
        )
        rows: list[Sequence[Any]] = []
        size = 0
        for row in cursor:
            rows.append(row)
            size += sum(len(v) for v in row if type(v) is str)
            if size > PAGE_BYTES:  # a page of large JSON values would take seconds to serve: cut it
                break
        return rows, total


# --- the database ----------------------------------------------------------------------------------


class SqliteDatabase:
    """One SQLite file: the event loop's connection, a worker thread for large lists, a checkpointer."""

    def __init__(
        self, path: str, tables: Mapping[str, Table], rules: Mapping[str, Sequence[Rule]] | None = None
    ) -> None:
        self.path = path
        # The loop's connection never waits for a lock (there is one writer: this process); a
        # busy file is reported as unavailable rather than stalling every other request.
        self._conn: sqlite3.Connection | None = connect(path, busy_timeout_ms=0)
        self._conn.execute("PRAGMA wal_autocheckpoint = 0")
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pim-db")
        self._worker_conn = self._worker.submit(connect, path, read_only=True).result()
        self._closed = False
        self._writes = 0
        self._wake = threading.Event()
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="pim-checkpoint", daemon=True)
        self._ready_at = 0.0
        self._ready_error: Problem | None = Problem(UNAVAILABLE, "not checked yet")
        self.stores: dict[str, SqliteEntityStore] = {
            name: SqliteEntityStore(self, t, (rules or {}).get(name, ())) for name, t in tables.items()
        }
        for store in self.stores.values():
            for column, target, _ in store.references:
                referenced = self.stores[target or ""]
                referenced.referenced_by.append(
                    (
                        f"{store.name}.{column}",
                        f"SELECT 1 FROM {store.table_sql} WHERE {quote(column)} = ? LIMIT 1",
                    )
                )
        self.counts: dict[str, int] = _count_rows(self.conn, tables)
        self._checkpointer.start()

    @property
    def conn(self) -> sqlite3.Connection:
        """The event loop's connection."""
        if self._conn is None:
            raise RuntimeError("the database is closed")
        return self._conn

    def row_counts(self) -> Mapping[str, int]:
        return self.counts

    def inline(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a bounded statement on the event loop's connection; driver errors become ``Unavailable``."""
        try:
            return fn(self.conn, *args)
        except sqlite3.OperationalError as err:
            conn = self.conn
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise _unavailable(err, self.path) from None

    def write(self, fn: Callable[..., T], *args: Any) -> T:
        """``inline`` for a statement that writes: counts it towards the next checkpoint."""
        result = self.inline(fn, *args)
        self._writes += 1
        if self._writes % CHECKPOINT_WRITES == 0:
            self._wake.set()
        return result

    async def off_loop(self, fn: Callable[..., T], *args: Any) -> T:
        """Run an unbounded read on the worker thread's connection."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, functools.partial(self._on_worker, fn, *args))

    def _on_worker(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return fn(self._worker_conn, *args)
        except sqlite3.OperationalError as err:
            raise _unavailable(err, self.path) from None

    def _checkpoint_loop(self) -> None:
        """Copy the WAL into the database file in the background; PASSIVE never blocks the writer."""
        conn = connect(self.path, busy_timeout_ms=0)
        done = 0
        try:
            while not self._closed:
                self._wake.wait(CHECKPOINT_INTERVAL)
                self._wake.clear()
                writes = self._writes
                if writes == done or self._closed:
                    continue
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    done = writes
                except sqlite3.Error:
                    pass  # busy or failing disk: the next round tries again; /ready reports a full disk
        finally:
            conn.close()

    async def check_ready(self, max_age: float = 1.0) -> Problem | None:
        """``None`` when a write transaction can start now, else why not; cached for ``max_age`` s.

        A full disk is not a reason: reads go on, and writes answer 507 until space is freed.
        """
        if time.monotonic() - self._ready_at < max_age:
            return self._ready_error
        try:
            self.inline(_probe_write)
            error = None
        except StorageFull:
            error = None
        except (Unavailable, sqlite3.Error, RuntimeError) as err:
            error = Problem(UNAVAILABLE, f"database not writable: {err}")
        self._ready_at, self._ready_error = time.monotonic(), error
        return error

    async def start(self) -> None:
        """Nothing to wait for: the file was opened and migrated before the app was built."""

    async def stop(self) -> None:
        self.close()

    def close(self) -> None:
        """Stop the threads, checkpoint the WAL into the main file and close; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._checkpointer.join()
        self._worker.submit(self._worker_conn.close).result()
        self._worker.shutdown(wait=True)
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()


def _unavailable(err: sqlite3.Error, path: str) -> Unavailable:
    """The failure as the API reports it: a full disk (507) or a database that cannot serve now (503)."""
    text = str(err)
    if "full" in text or ("I/O" in text and _no_space_left(path)):
        return StorageFull(f"storage full: no space left for the database, writes fail until space is freed ({text})")
    if "locked" in text or "busy" in text:
        return Unavailable(f"database busy (another process holds it): {text}")
    return Unavailable(f"database unavailable: {text}")


def _no_space_left(path: str) -> bool:
    try:
        stat = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < 64 * 1024


def _fetch_one(conn: sqlite3.Connection, sql: str, key: Any) -> Sequence[Any] | None:
    return conn.execute(sql, (key,)).fetchone()


def _probe_write(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("ROLLBACK")


def _count_rows(conn: sqlite3.Connection, tables: Mapping[str, Table]) -> dict[str, int]:
    return {name: conn.execute(f"SELECT count(*) FROM {quote(name)}").fetchone()[0] for name in tables}
