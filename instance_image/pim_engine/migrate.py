"""Bring an instance database in line with the model it is started with.

The plan is pure: ``plan(old_tables, new_tables, facts)`` compares the schema the database holds
(rebuilt from the model JSON kept in ``_pim_meta``) with the new one and classifies each change:

* ``safe``: nothing stored is lost or made invalid (new tables, new columns, dropped empty tables...);
* ``destructive``: data would be dropped, retyped or left violating the model; applied only when
  explicitly allowed;
* ``blocked``: cannot be applied at all (a required column without default on a non-empty table,
  a unique constraint over duplicate values); the message says how to get past it.

Facts about the data (row counts, duplicates...) come from a ``Facts`` object, so the rules are
unit-tested without a database. Applying happens only after the whole plan is accepted, in one
transaction; a refused plan is decided on a read-only connection and leaves the file untouched.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Literal, Protocol

from pim_engine.model import Model, canonical_json
from pim_engine.schema import (
    MAPPING_VERSION,
    META_TABLE,
    Column,
    Table,
    column_index_sqls,
    column_sql,
    create_table_sql,
    entities_from_dicts,
    index_name,
    index_sqls,
    lookup_index_name,
    lookup_index_sql,
    quote,
    sql_literal,
    tables_for,
    unique_index_sql,
)
from pim_engine.storage.sqlite import canonical_decimal

Safety = Literal["safe", "destructive", "blocked"]

#: Type changes that keep every stored value valid and meaningful.
_WIDENINGS: frozenset[tuple[str, str]] = frozenset(
    {
        ("string", "text"),
        ("text", "string"),
        ("enum", "string"),
        ("enum", "text"),
        ("integer", "decimal"),
        ("integer", "float"),
    }
)


class Facts(Protocol):
    """What the planner may ask about the stored data; each answer is a count of rows."""

    def rows(self, table: str) -> int: ...

    def duplicates(self, table: str, column: str) -> int: ...

    def nulls(self, table: str, column: str) -> int: ...

    def longer_than(self, table: str, column: str, length: int) -> int: ...

    def outside(self, table: str, column: str, values: Sequence[str]) -> int: ...


@dataclass(frozen=True)
class Change:
    """One difference between the stored schema and the new one."""

    kind: str
    entity: str
    attribute: str | None
    detail: str
    safety: Safety
    #: The table must be rebuilt (copy into a new table) to apply this change.
    rebuild: bool = False
    #: The columns of an index that is added or dropped.
    columns: tuple[str, ...] = ()

    def describe(self) -> str:
        where = self.entity if self.attribute is None else f"{self.entity}.{self.attribute}"
        return f"{where}: {self.detail}"


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)

    def offending(self, allow_destructive: bool) -> list[Change]:
        """The changes that stop the migration under the given permission."""
        refused: tuple[str, ...] = ("blocked",) if allow_destructive else ("blocked", "destructive")
        return [c for c in self.changes if c.safety in refused]


class MigrationRefused(Exception):
    """The database cannot be migrated to the model without permission (or at all)."""

    def __init__(self, path: str, changes: Sequence[Change], allow_destructive: bool) -> None:
        self.changes = list(changes)
        listing = "; ".join(c.describe() for c in changes)
        hint = (
            ""
            if allow_destructive or any(c.safety == "blocked" for c in changes)
            else (" (pass --allow-destructive-migration to apply anyway)")
        )
        super().__init__(f"{path}: migration refused, {len(changes)} offending change(s): {listing}{hint}")


# --- planning (pure) ---------------------------------------------------------------------------------


def _rows_phrase(n: int) -> str:
    return f"{n} row" + ("" if n == 1 else "s")


def plan(old: Mapping[str, Table], new: Mapping[str, Table], facts: Facts) -> Plan:
    """Every change from ``old`` to ``new``, each classified; order: tables, then columns."""
    out = Plan()
    for name in new:
        if name not in old:
            out.changes.append(Change("create_table", name, None, "new entity", "safe"))
    for name in old:
        if name not in new:
            rows = facts.rows(name)
            safety: Safety = "destructive" if rows else "safe"
            out.changes.append(
                Change(
                    "drop_table",
                    name,
                    None,
                    f"entity removed, dropping its table with {_rows_phrase(rows)}",
                    safety,
                )
            )
    for name, table in new.items():
        if name in old:
            out.changes.extend(_table_changes(old[name], table, facts))
    return out


def _table_changes(old: Table, new: Table, facts: Facts) -> list[Change]:
    name = new.name
    changes: list[Change] = []
    rows = None

    def row_count() -> int:
        nonlocal rows
        if rows is None:
            rows = facts.rows(name)
        return rows

    if old.key.name != new.key.name or old.key.sql_type != new.key.sql_type:
        n = row_count()
        changes.append(
            Change(
                "change_key",
                name,
                new.key.name,
                f"primary key changes from {old.key.name!r} to {new.key.name!r}"
                + (f" over {_rows_phrase(n)}" if n else ""),
                "destructive" if n else "safe",
                rebuild=True,
            )
        )
    for column in new.columns:
        before = old.column(column.name)
        if before is None:
            changes.append(_added(new, column, row_count))
        elif not (column.is_key or before.is_key):
            changes.extend(_modified(name, before, column, facts, row_count))
    for columns in new.entity.indexes:
        if columns not in old.entity.indexes:
            changes.append(
                Change("add_index", name, None, f"new index ({', '.join(columns)})", "safe", columns=columns)
            )
    for columns in old.entity.indexes:
        if columns not in new.entity.indexes:
            changes.append(
                Change("drop_index", name, None, f"index ({', '.join(columns)}) removed", "safe", columns=columns)
            )
    for column in old.columns:
        if new.column(column.name) is None and not column.is_key:
            n = row_count()
            changes.append(
                Change(
                    "drop_column",
                    name,
                    column.name,
                    "attribute removed" + (f", losing its values in {_rows_phrase(n)}" if n else ""),
                    "destructive" if n else "safe",
                    rebuild=True,
                )
            )
    return changes


def _added(table: Table, column: Column, row_count: object) -> Change:
    attr = column.attribute
    server_set = attr.auto_now or attr.auto_now_add or column.is_key
    rebuild = column.references is not None and attr.default is not None
    if attr.required and attr.default is None and not server_set:
        assert callable(row_count)
        n = row_count()
        if n:
            return Change(
                "add_column",
                table.name,
                column.name,
                f"new required attribute without a default, but the table has {_rows_phrase(n)}; "
                "give it a default or make it optional",
                "blocked",
            )
    return Change("add_column", table.name, column.name, "new attribute", "safe", rebuild=rebuild)


def _modified(table: str, old: Column, new: Column, facts: Facts, row_count: object) -> list[Change]:
    assert callable(row_count)
    changes: list[Change] = []
    a, b = old.attribute, new.attribute
    old_type = f"reference to {old.references}" if old.references else a.type
    new_type = f"reference to {new.references}" if new.references else b.type
    if old_type != new_type or old.sql_type != new.sql_type:
        rebuild = old.sql_type != new.sql_type or (old.references != new.references)
        n = row_count()
        widening = (a.type, b.type) in _WIDENINGS and old.references is None and new.references is None
        safety: Safety = "destructive" if n and not widening else "safe"
        changes.append(
            Change(
                "retype_column",
                table,
                b.name,
                f"type changes from {old_type} to {new_type}"
                + (f" over {_rows_phrase(n)}" if n and not widening else ""),
                safety,
                rebuild=rebuild,
            )
        )
    if b.unique and not a.unique:
        dups = facts.duplicates(table, b.name)
        changes.append(
            Change(
                "add_unique",
                table,
                b.name,
                f"becomes unique but {_rows_phrase(dups)} hold duplicate values; remove them first"
                if dups
                else "becomes unique",
                "blocked" if dups else "safe",
            )
        )
    elif a.unique and not b.unique:
        changes.append(Change("drop_unique", table, b.name, "no longer unique", "safe"))
    if b.required and not a.required and b.default is None and not (b.auto_now or b.auto_now_add):
        nulls = facts.nulls(table, b.name)
        if nulls:
            changes.append(
                Change(
                    "require_column",
                    table,
                    b.name,
                    f"becomes required but {_rows_phrase(nulls)} hold no value",
                    "destructive",
                )
            )
    if b.type == "enum" and a.type == "enum" and set(a.enum or ()) - set(b.enum or ()):
        removed = sorted(set(a.enum or ()) - set(b.enum or ()))
        n = facts.outside(table, b.name, tuple(b.enum or ()))
        if n:
            changes.append(
                Change(
                    "narrow_enum",
                    table,
                    b.name,
                    f"drops enum value(s) {', '.join(removed)} still held by {_rows_phrase(n)}",
                    "destructive",
                )
            )
    if b.max_length is not None and (a.max_length is None or b.max_length < a.max_length):
        n = facts.longer_than(table, b.name, b.max_length)
        if n:
            changes.append(
                Change(
                    "shorten_column",
                    table,
                    b.name,
                    f"max_length {b.max_length} is exceeded by {_rows_phrase(n)}",
                    "destructive",
                )
            )
    return changes


# --- the database side ---------------------------------------------------------------------------


class SqliteFacts:
    """``Facts`` answered by queries on an open connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._rows: dict[str, int] = {}

    def _one(self, sql: str, params: Sequence[object] = ()) -> int:
        return int(self.conn.execute(sql, params).fetchone()[0] or 0)

    def rows(self, table: str) -> int:
        if table not in self._rows:
            self._rows[table] = self._one(f"SELECT count(*) FROM {quote(table)}")
        return self._rows[table]

    def duplicates(self, table: str, column: str) -> int:
        c = quote(column)
        return self._one(
            f"SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM {quote(table)} "
            f"WHERE {c} IS NOT NULL GROUP BY {c} HAVING count(*) > 1)"
        )

    def nulls(self, table: str, column: str) -> int:
        return self._one(f"SELECT count(*) FROM {quote(table)} WHERE {quote(column)} IS NULL")

    def longer_than(self, table: str, column: str, length: int) -> int:
        return self._one(f"SELECT count(*) FROM {quote(table)} WHERE length({quote(column)}) > ?", (length,))

    def outside(self, table: str, column: str, values: Sequence[str]) -> int:
        marks = ", ".join("?" for _ in values) or "NULL"
        return self._one(
            f"SELECT count(*) FROM {quote(table)} WHERE {quote(column)} IS NOT NULL "
            f"AND {quote(column)} NOT IN ({marks})",
            tuple(values),
        )


@dataclass(frozen=True)
class Stored:
    """What ``_pim_meta`` says the database holds."""

    digest: str
    model: dict[str, object]
    mapping_version: int


@dataclass(frozen=True)
class Outcome:
    """What ``migrate`` did: ``created``, ``unchanged`` or ``migrated`` (with the applied changes)."""

    action: str
    changes: tuple[Change, ...] = ()


def read_stored(conn: sqlite3.Connection) -> Stored | None:
    """The meta record, or ``None`` for a database the engine never wrote."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (META_TABLE,)).fetchone()
    if not exists:
        return None
    meta = dict(conn.execute(f"SELECT key, value FROM {quote(META_TABLE)}").fetchall())
    return Stored(str(meta.get("digest", "")), json.loads(meta.get("model", "{}")), int(meta.get("mapping_version", 0)))


def _user_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != ?",
        (META_TABLE,),
    ).fetchall()
    return [r[0] for r in rows]


def _open_for_planning(path: str) -> sqlite3.Connection:
    """A connection that cannot change the file: immutable after a clean shutdown, else read-only."""
    from urllib.parse import quote as url_quote

    uri = "file:" + url_quote(os.path.abspath(path))
    if os.path.exists(path + "-wal"):
        return sqlite3.connect(uri + "?mode=ro", uri=True, isolation_level=None)
    return sqlite3.connect(uri + "?mode=ro&immutable=1", uri=True, isolation_level=None)


def migrate(path: str, model: Model, tables: Mapping[str, Table], *, allow_destructive: bool = False) -> Outcome:
    """Create or migrate the database at ``path`` for ``model``; raise ``MigrationRefused`` untouched."""
    digest = model.digest
    fresh = not os.path.exists(path) or os.path.getsize(path) == 0
    changes: list[Change] = []
    if not fresh:
        conn = _open_for_planning(path)
        try:
            stored = read_stored(conn)
            if stored is None:
                leftovers = _user_tables(conn)
                if leftovers:
                    blocked = [
                        Change(
                            "foreign_database",
                            t,
                            None,
                            "table not created by pim-engine (no _pim_meta)",
                            "blocked",
                        )
                        for t in leftovers
                    ]
                    raise MigrationRefused(path, blocked, allow_destructive)
                fresh = True
            elif stored.digest == digest and stored.mapping_version == MAPPING_VERSION:
                return Outcome("unchanged")
            else:
                if stored.mapping_version != MAPPING_VERSION:
                    raise MigrationRefused(
                        path,
                        [
                            Change(
                                "mapping_version",
                                META_TABLE,
                                None,
                                f"database layout version {stored.mapping_version} is not {MAPPING_VERSION}",
                                "blocked",
                            )
                        ],
                        allow_destructive,
                    )
                old = tables_for(entities_from_dicts(stored.model.get("entities", ())))  # type: ignore[arg-type]
                changes = plan(old, tables, SqliteFacts(conn)).changes
                offending = Plan(changes).offending(allow_destructive)
                if offending:
                    raise MigrationRefused(path, offending, allow_destructive)
        finally:
            conn.close()
    _apply(path, model, tables, None if fresh else changes)
    return Outcome("created" if fresh else "migrated", tuple(changes))


def _apply(path: str, model: Model, tables: Mapping[str, Table], changes: list[Change] | None) -> None:
    """Create (``changes is None``) or change the schema and record the model, all in one transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = OFF")  # rebuilds copy tables out of reference order
        conn.execute("BEGIN IMMEDIATE")
        try:
            if changes is None:
                _create_all(conn, tables)
            else:
                _apply_changes(conn, tables, changes)
            bad = conn.execute("PRAGMA foreign_key_check").fetchall()
            if bad:
                raise sqlite3.IntegrityError(f"migration would break {len(bad)} reference(s), first: {bad[0]}")
            _write_meta(conn, model)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _create_all(conn: sqlite3.Connection, tables: Mapping[str, Table]) -> None:
    conn.execute(f"CREATE TABLE IF NOT EXISTS {quote(META_TABLE)} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    for table in tables.values():
        conn.execute(create_table_sql(table))
        for sql in index_sqls(table):
            conn.execute(sql)


def _apply_changes(conn: sqlite3.Connection, tables: Mapping[str, Table], changes: list[Change]) -> None:
    rebuild = {c.entity for c in changes if c.rebuild}
    for change in changes:
        if change.kind == "drop_table":
            conn.execute(f"DROP TABLE {quote(change.entity)}")
        elif change.kind == "create_table":
            table = tables[change.entity]
            conn.execute(create_table_sql(table))
            for sql in index_sqls(table):
                conn.execute(sql)
    for name in rebuild:
        _rebuild(conn, tables[name])
    for change in changes:
        if change.entity in rebuild or change.kind in ("drop_table", "create_table"):
            continue
        table = tables[change.entity]
        if change.kind == "add_column":
            column = table.column(change.attribute or "")
            assert column is not None
            conn.execute(f"ALTER TABLE {quote(table.name)} ADD COLUMN {column_sql(column, _default_sql(column))}")
            for sql in column_index_sqls(table.name, column):
                conn.execute(sql)
        elif change.kind == "add_unique":
            conn.execute(unique_index_sql(table.name, change.attribute or ""))
        elif change.kind == "drop_unique":
            conn.execute(f"DROP INDEX IF EXISTS {quote(index_name(table.name, change.attribute or '', 'uq'))}")
        elif change.kind == "add_index":
            conn.execute(lookup_index_sql(table.name, change.columns))
        elif change.kind == "drop_index":
            conn.execute(f"DROP INDEX IF EXISTS {quote(lookup_index_name(table.name, change.columns))}")


#: Defaults of temporal attributes that mean "at the time of the write": no SQL default for those.
_NOW_WORDS = frozenset({"now", "today", "current_timestamp", "current_date", "current_time", "now()"})


def _default_sql(column: Column) -> str | None:
    """The stored form of the attribute's default as an SQL literal (for columns added to full tables)."""
    attr = column.attribute
    value = attr.default
    if value is None or attr.type == "reference":
        return None
    try:
        if attr.type == "boolean":
            value = int(bool(value))
        elif attr.type == "decimal":
            value = canonical_decimal(Decimal(str(value)))
        elif attr.type == "json":
            value = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        elif attr.type in ("date", "time", "datetime"):
            if str(value).lower() in _NOW_WORDS:
                return None
            parse = {"date": date.fromisoformat, "time": time.fromisoformat, "datetime": datetime.fromisoformat}
            value = parse[attr.type](str(value)).isoformat()
    except (ArithmeticError, ValueError, TypeError):
        return None
    return sql_literal(value)


def _rebuild(conn: sqlite3.Connection, table: Table) -> None:
    """Copy the table into its new shape (SQLite cannot alter column types or drop keyed columns)."""
    temp = f"{table.name}__pim_rebuild"
    conn.execute(create_table_sql(table, temp))
    existing = {row[1] for row in conn.execute(f"PRAGMA table_info({quote(table.name)})")}
    copied = [c for c in table.columns if c.name in existing]
    targets = ", ".join(quote(c.name) for c in copied)
    sources = ", ".join(f"CAST({quote(c.name)} AS {c.sql_type})" for c in copied)
    if copied:
        conn.execute(f"INSERT INTO {quote(temp)} ({targets}) SELECT {sources} FROM {quote(table.name)}")
    for column in table.columns:
        default = _default_sql(column)
        if column.name not in existing and default is not None:
            conn.execute(f"UPDATE {quote(temp)} SET {quote(column.name)} = {default}")
    conn.execute(f"DROP TABLE {quote(table.name)}")
    conn.execute(f"ALTER TABLE {quote(temp)} RENAME TO {quote(table.name)}")
    for sql in index_sqls(table):
        conn.execute(sql)


def _write_meta(conn: sqlite3.Connection, model: Model) -> None:
    conn.execute(f"CREATE TABLE IF NOT EXISTS {quote(META_TABLE)} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    values = {
        "digest": model.digest,
        "model": canonical_json(model.to_dict()),
        "mapping_version": str(MAPPING_VERSION),
        "applied_at": datetime.now(UTC).isoformat(),
    }
    conn.executemany(
        f"INSERT INTO {quote(META_TABLE)} (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        values.items(),
    )
