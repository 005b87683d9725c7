"""Migrating an SQLite file: the planner's ``Facts`` from queries, the plan applied in one transaction.

A refused plan is decided on a read-only connection and leaves the file untouched; an accepted one
is applied inside a single ``BEGIN IMMEDIATE`` transaction, the model recorded in ``_pim_meta``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pim_engine.migrate import Change, Duplicates, MigrationRefused, Plan, plan
from pim_engine.model import Model, canonical_json
from pim_engine.schema import (
    MAPPING_VERSION,
    META_TABLE,
    Column,
    Table,
    column_index_sqls,
    column_sql,
    composite_unique_name,
    composite_unique_sql,
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
from pim_engine.storage.values import default_value


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

    def duplicates_together(self, table: str, columns: tuple[str, ...]) -> Duplicates:
        cs = ", ".join(quote(c) for c in columns)
        present = " AND ".join(f"{quote(c)} IS NOT NULL" for c in columns)
        groups = f"SELECT {cs}, count(*) AS n FROM {quote(table)} WHERE {present} GROUP BY {cs} HAVING count(*) > 1"
        row = self.conn.execute(f"SELECT *, (SELECT sum(n) FROM ({groups})) FROM ({groups}) ORDER BY {cs} LIMIT 1")
        found = row.fetchone()
        if found is None:
            return Duplicates()
        return Duplicates(int(found[-1]), tuple(str(v) for v in found[: len(columns)]), int(found[len(columns)]))

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
        elif change.kind == "add_unique_together":
            conn.execute(composite_unique_sql(table.name, change.columns))
        elif change.kind == "drop_unique_together":
            conn.execute(f"DROP INDEX IF EXISTS {quote(composite_unique_name(table.name, change.columns))}")
        elif change.kind == "add_index":
            conn.execute(lookup_index_sql(table.name, change.columns))
        elif change.kind == "drop_index":
            conn.execute(f"DROP INDEX IF EXISTS {quote(lookup_index_name(table.name, change.columns))}")


def _default_sql(column: Column) -> str | None:
    """The stored form of the attribute's default as an SQL literal (for columns added to full tables)."""
    value = default_value(column.attribute)
    return None if value is None else sql_literal(int(value) if isinstance(value, bool) else value)


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
