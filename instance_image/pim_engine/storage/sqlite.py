"""The embedded backend: one SQLite file in WAL mode, a writer thread and a reader on the event loop.

Writes and list queries run on one dedicated thread that owns the writing connection: SQLite
serializes writers anyway, one connection needs no locking, and the event loop never waits on a
commit, a checkpoint's fsync or a count over a large table. A read by key is a single B-tree lookup
on its own read-only connection, cheaper than the hop to a thread, so it runs on the event loop
(WAL readers never wait for the writer). SQL text is compiled once per entity; only the column list
of a partial update varies, and those statements are cached too.

Values are encoded here (decimals as canonical fixed-point text, booleans as 0/1, dates as ISO 8601,
JSON as compact text with NaN refused), so nothing the HTTP layer accepted can leave a row behind
that would fail to serialize later.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from datetime import time as dtime
from decimal import Decimal
from typing import Any, TypeVar

from pim_engine.loader.constraints import Rule
from pim_engine.schema import Table, quote
from pim_engine.storage import (
    Item,
    ListQuery,
    MissingReference,
    RuleViolation,
    StillReferenced,
    Unavailable,
    UniqueViolation,
)

T = TypeVar("T")

DECIMAL_COLLATION = "pim_decimal"


def _compare_decimals(left: str, right: str) -> int:
    """Numeric order for decimal text; anything unparsable (left by a forced migration) sorts as text."""
    try:
        a, b = Decimal(left), Decimal(right)
    except ArithmeticError:
        return (left > right) - (left < right)
    return (a > b) - (a < b)


def connect(path: str, *, read_only: bool = False) -> sqlite3.Connection:
    """Open the database with the engine's pragmas (WAL, foreign keys, busy timeout)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    if read_only:
        conn.execute("PRAGMA query_only = ON")
    conn.create_collation(DECIMAL_COLLATION, _compare_decimals)
    return conn


# --- values ----------------------------------------------------------------------------------------


def canonical_decimal(value: Decimal) -> str:
    """Fixed-point text that keeps the value's scale (``19.90`` stays ``19.90``, ``1E+2`` is ``100``)."""
    text = format(value, "f")
    return text[1:] if text.startswith("-") and value.is_zero() else text


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _iso(value: date | dtime | datetime) -> str:
    return value.isoformat()


def encoder(kind: str) -> Callable[[Any], Any] | None:
    """Python value -> stored value for one attribute type (``None`` passes through unchanged)."""
    return {
        "decimal": canonical_decimal,
        "boolean": int,
        "date": _iso,
        "time": _iso,
        "datetime": _iso,
        "json": _json_text,
    }.get(kind)


def decoder(kind: str) -> Callable[[Any], Any] | None:
    """Stored value -> JSON-ready value."""
    return {"boolean": bool, "json": json.loads}.get(kind)


def _kind(table: Table, column: str, key_types: Mapping[str, str]) -> str:
    col = table.column(column)
    assert col is not None
    if col.references is not None:
        return key_types.get(col.references, "integer")
    return col.attribute.type


def _comparable(value: Any, kind: str) -> Any:
    """Dates, times and datetimes from Python values or ISO text, naive ones read as UTC."""
    if isinstance(value, str):
        value = {"date": date.fromisoformat, "time": dtime.fromisoformat, "datetime": datetime.fromisoformat}[kind](
            value
        )
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if isinstance(value, dtime) and value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    return value


# --- one entity ------------------------------------------------------------------------------------


class SqliteEntityStore:
    """The rows of one table; ``_db_*`` methods run on the writer thread."""

    def __init__(self, db: SqliteDatabase, table: Table, key_types: Mapping[str, str], rules: Sequence[Rule]) -> None:
        self.db = db
        self.table = table
        self.name = table.name
        t = quote(table.name)
        self.key = table.key.name
        key = quote(self.key)
        self.columns = tuple(c.name for c in table.columns)
        self.kinds = {c: _kind(table, c, key_types) for c in self.columns}
        self.encoders = {c: encoder(k) for c, k in self.kinds.items()}
        self.decoders = tuple((c, decoder(self.kinds[c])) for c in self.columns)
        cols = ", ".join(quote(c) for c in self.columns)
        self.table_sql, self.select_cols, self.key_sql = t, cols, key
        self.get_sql = f"SELECT {cols} FROM {t} WHERE {key} = ?"
        self.delete_sql = f"DELETE FROM {t} WHERE {key} = ?"
        self._inserts: dict[tuple[str, ...], str] = {}
        self._updates: dict[tuple[str, ...], str] = {}
        self.decimal_columns = frozenset(c for c, k in self.kinds.items() if k == "decimal")
        #: (column, target entity, existence query) for each reference column.
        self.references = [
            (c.name, c.references, f"SELECT 1 FROM {quote(c.references)} WHERE {quote(c.references_column or '')} = ?")
            for c in table.columns
            if c.references is not None
        ]
        #: ("Entity.column", query) for each reference *to* this entity; filled in by the database.
        self.referenced_by: list[tuple[str, str]] = []
        self.after_rules = [(r.attribute, r.other or "", self.kinds[r.attribute]) for r in rules if r.kind == "after"]
        self._after_columns = frozenset(c for a, b, _ in self.after_rules for c in (a, b))

    # SQL

    def insert_sql(self, columns: tuple[str, ...]) -> str:
        sql = self._inserts.get(columns)
        if sql is None:
            names = ", ".join(quote(c) for c in columns)
            marks = ", ".join("?" for _ in columns)
            sql = f"INSERT INTO {self.table_sql} ({names}) VALUES ({marks}) RETURNING {self.select_cols}"
            if len(self._inserts) < 64:
                self._inserts[columns] = sql
        return sql

    def update_sql(self, columns: tuple[str, ...]) -> str:
        sql = self._updates.get(columns)
        if sql is None:
            sets = ", ".join(f"{quote(c)} = ?" for c in columns)
            sql = f"UPDATE {self.table_sql} SET {sets} WHERE {self.key_sql} = ? RETURNING {self.select_cols}"
            if len(self._updates) < 256:
                self._updates[columns] = sql
        return sql

    def encode(self, values: Mapping[str, Any]) -> list[Any]:
        out = []
        for name, value in values.items():
            convert = self.encoders[name]
            out.append(value if value is None or convert is None else convert(value))
        return out

    def to_item(self, row: Sequence[Any]) -> Item:
        item: Item = {}
        for (name, decode), value in zip(self.decoders, row, strict=True):
            item[name] = value if decode is None or value is None else decode(value)
        return item

    def violations(self, values: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        found = []
        for first, second, kind in self.after_rules:
            a, b = values.get(first), values.get(second)
            if a is not None and b is not None and not _comparable(a, kind) > _comparable(b, kind):
                found.append((first, f"must be after {second}", "after"))
        return found

    # API (event loop)

    async def create(self, values: Mapping[str, Any]) -> Item:
        bad = self.violations(values)
        if bad:
            raise RuleViolation(bad)
        row = await self.db.run(self._db_create, tuple(values), self.encode(values), values)
        return self.to_item(row)

    async def get(self, key: Any) -> Item | None:
        try:
            row = self.db.read(self.get_sql, key)
        except _Busy:
            row = await self.db.run(_fetch_one, self.get_sql, key)
        return None if row is None else self.to_item(row)

    async def update(self, key: Any, values: Mapping[str, Any]) -> Item | None:
        if not values:
            return await self.get(key)
        row = await self.db.run(self._db_update, key, tuple(values), self.encode(values), values)
        return None if row is None else self.to_item(row)

    async def delete(self, key: Any) -> bool:
        return await self.db.run(self._db_delete, key)

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
        rows, total = await self.db.run(self._db_list, where, params, ", ".join(terms), query.limit, query.skip)
        to_item = self.to_item
        return [to_item(r) for r in rows], total

    # writer thread

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
        checked = not self._after_columns.isdisjoint(columns)
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
        rows = conn.execute(
            f"SELECT {self.select_cols} FROM {t}{where} ORDER BY {order} LIMIT ? OFFSET ?", [*params, limit, skip]
        ).fetchall()
        return rows, total


# --- the database ----------------------------------------------------------------------------------


class SqliteDatabase:
    """One SQLite file: the writer thread, the event loop's reader, and a store per table."""

    def __init__(
        self, path: str, tables: Mapping[str, Table], rules: Mapping[str, Sequence[Rule]] | None = None
    ) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pim-db")
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._ready_at = 0.0
        self._ready_error: str | None = "not checked yet"
        self._executor.submit(self._open).result()
        self._reader = connect(path, read_only=True)
        self._reader.execute("PRAGMA busy_timeout = 0")
        key_types = {name: t.key.attribute.type for name, t in tables.items()}
        self.stores: dict[str, SqliteEntityStore] = {
            name: SqliteEntityStore(self, t, key_types, (rules or {}).get(name, ())) for name, t in tables.items()
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
        self.counts: dict[str, int] = self.run_sync(_count_rows, tables)

    def _open(self) -> None:
        self._conn = connect(self.path)

    @property
    def conn(self) -> sqlite3.Connection:
        """The writing connection; only valid on the writer thread."""
        if self._conn is None:
            raise RuntimeError("the database is closed")
        return self._conn

    def row_counts(self) -> Mapping[str, int]:
        return self.counts

    def read(self, sql: str, key: Any) -> Sequence[Any] | None:
        """One row by key on the event loop's connection; ``_Busy`` when that would have to wait."""
        try:
            return self._reader.execute(sql, (key,)).fetchone()
        except sqlite3.OperationalError as err:
            if "locked" in str(err) or "busy" in str(err):
                raise _Busy from None
            raise Unavailable(f"database read failed: {err}") from None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` on the writer thread; driver errors become ``Unavailable``."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(self._call, fn, *args))

    def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        return self._executor.submit(self._call, fn, *args).result()

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return fn(self.conn, *args)
        except sqlite3.OperationalError as err:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            full = "full" in str(err)
            raise Unavailable(f"database {'full' if full else 'unavailable'}: {err}") from None

    async def check_ready(self, max_age: float = 1.0) -> str | None:
        """``None`` when a write transaction can start now, else the reason; cached for ``max_age`` s."""
        if time.monotonic() - self._ready_at < max_age:
            return self._ready_error
        try:
            await self.run(_probe_write)
            error = None
        except (Unavailable, sqlite3.Error, RuntimeError) as err:
            error = f"database not writable: {err}"
        self._ready_at, self._ready_error = time.monotonic(), error
        return error

    def close(self) -> None:
        """Checkpoint the WAL into the main file and close; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._reader.close()
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


class _Busy(Exception):
    """The reader would have to wait for a lock: take the read to the writer thread instead."""


def _fetch_one(conn: sqlite3.Connection, sql: str, key: Any) -> Sequence[Any] | None:
    return conn.execute(sql, (key,)).fetchone()


def _probe_write(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("ROLLBACK")


def _count_rows(conn: sqlite3.Connection, tables: Mapping[str, Table]) -> dict[str, int]:
    return {name: conn.execute(f"SELECT count(*) FROM {quote(name)}").fetchone()[0] for name in tables}
