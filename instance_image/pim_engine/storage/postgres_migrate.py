"""Migrating a PostgreSQL database: one transaction under an advisory lock, planned by ``migrate.py``.

Replicas of an instance start at once against one database. Each takes the transaction-scoped
advisory lock ``LOCK_KEY`` first, so exactly one plans and applies the change while the others
wait; they then find the model already recorded in ``_pim_meta`` and serve. The plan, the DDL and
the meta record commit together or not at all: a refused or failing plan leaves the database as it
was. Every applied migration is also recorded in ``_pim_migrations`` (who applied what, when).

The planner asks its ``Facts`` synchronously; the answers come from queries here, so the plan is
made twice: once to learn the questions (all answered 0), then with the real answers. Which
questions the planner asks depends on the two schemas only, never on the answers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from pim_engine.migrate import Change, Duplicates, MigrationRefused, Plan, plan
from pim_engine.model import Model, canonical_json
from pim_engine.schema import META_TABLE, MIGRATIONS_TABLE, Column, Table, entities_from_dicts, quote, tables_for
from pim_engine.storage.postgres_schema import (
    DIGEST_FUNCTION_SQL,
    PG_MAPPING_VERSION,
    TEXT,
    column_index_sqls,
    column_sql,
    composite_unique_sql,
    constraint_sqls,
    create_table_sql,
    fk_name,
    index_sqls,
    ix_name,
    lookup_index_sql,
    pg_type,
    unique_sql,
    uq_name,
    uqc_name,
)
from pim_engine.storage.values import default_value

#: The advisory lock every replica takes before looking at the schema (any 64-bit number of our own).
LOCK_KEY = int.from_bytes(hashlib.sha256(b"pim-engine schema migration").digest()[:8], "big", signed=True)


@dataclass(frozen=True)
class Outcome:
    """What ``migrate`` did: ``created``, ``unchanged`` or ``migrated`` (with the applied changes)."""

    action: str
    changes: tuple[Change, ...] = ()


class _Questions:
    """``Facts`` that answer 0 and remember what was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, tuple[object, ...]]] = []

    def _ask(self, what: str, *args: object) -> int:
        self.asked.append((what, args))
        return 0

    def _ask_duplicates(self, table: str, columns: tuple[str, ...]) -> Duplicates:
        self.asked.append(("duplicates_together", (table, columns)))
        return Duplicates()

    def rows(self, table: str) -> int:
        return self._ask("rows", table)

    def duplicates(self, table: str, column: str) -> int:
        return self._ask("duplicates", table, column)

    def duplicates_together(self, table: str, columns: tuple[str, ...]) -> Duplicates:
        return self._ask_duplicates(table, columns)

    def nulls(self, table: str, column: str) -> int:
        return self._ask("nulls", table, column)

    def longer_than(self, table: str, column: str, length: int) -> int:
        return self._ask("longer_than", table, column, length)

    def outside(self, table: str, column: str, values: Sequence[str]) -> int:
        return self._ask("outside", table, column, tuple(values))


class _Answers(_Questions):
    def __init__(self, answers: Mapping[tuple[str, tuple[object, ...]], int | Duplicates]) -> None:
        super().__init__()
        self.answers = answers

    def _ask(self, what: str, *args: object) -> int:
        answer = self.answers[(what, args)]
        assert isinstance(answer, int)
        return answer

    def _ask_duplicates(self, table: str, columns: tuple[str, ...]) -> Duplicates:
        answer = self.answers[("duplicates_together", (table, columns))]
        assert isinstance(answer, Duplicates)
        return answer


async def _duplicates_together(conn: asyncpg.Connection, table: Table, columns: tuple[str, ...]) -> Duplicates:
    """Groups as the composite unique index compares (JSON by its text, as its digest does)."""
    keys = [f"{quote(c)}::text" if pg_type(_column_of(table, c)) == "JSONB" else quote(c) for c in columns]
    present = " AND ".join(f"{quote(c)} IS NOT NULL" for c in columns)
    shown = ", ".join(f"(array_agg({quote(c)}::text))[1]" for c in columns)
    groups = (
        f"SELECT {shown}, count(*) AS n FROM {quote(table.name)} WHERE {present} "
        f"GROUP BY {', '.join(keys)} HAVING count(*) > 1"
    )
    row = await conn.fetchrow(f"WITH g AS ({groups}) SELECT g.*, (SELECT sum(n) FROM g) FROM g ORDER BY n DESC LIMIT 1")
    if row is None:
        return Duplicates()
    return Duplicates(int(row[-1]), tuple(str(v) for v in list(row)[: len(columns)]), int(row[len(columns)]))


def _column_of(table: Table, name: str) -> Column:
    column = table.column(name)
    assert column is not None  # the planner asks about stored columns only
    return column


async def _answer(conn: asyncpg.Connection, what: str, args: tuple[object, ...]) -> int:
    t = quote(str(args[0]))
    if what == "rows":
        sql, params = f"SELECT count(*) FROM {t}", []
    else:
        c = quote(str(args[1]))
        if what == "duplicates":
            groups = f"SELECT count(*) AS n FROM {t} WHERE {c} IS NOT NULL GROUP BY {c} HAVING count(*) > 1"
            sql = f"SELECT coalesce(sum(n), 0) FROM ({groups}) d"
            params = []
        elif what == "nulls":
            sql, params = f"SELECT count(*) FROM {t} WHERE {c} IS NULL", []
        elif what == "longer_than":
            sql, params = f"SELECT count(*) FROM {t} WHERE length({c}::text) > $1", [args[2]]
        else:
            sql, params = (
                f"SELECT count(*) FROM {t} WHERE {c} IS NOT NULL AND NOT ({c}::text = ANY($1))",
                [list(args[2])],
            )  # type: ignore[arg-type]
    return int(await conn.fetchval(sql, *params) or 0)


async def _plan(conn: asyncpg.Connection, old: Mapping[str, Table], new: Mapping[str, Table]) -> list[Change]:
    questions = _Questions()
    plan(old, new, questions)
    answers: dict[tuple[str, tuple[object, ...]], int | Duplicates] = {}
    for what, args in dict.fromkeys(questions.asked):
        if what == "duplicates_together":
            table, columns = args
            assert isinstance(table, str)
            assert isinstance(columns, tuple)
            answers[(what, args)] = await _duplicates_together(conn, old[table], columns)
        else:
            answers[(what, args)] = await _answer(conn, what, args)
    return plan(old, new, _Answers(answers)).changes


async def _stored(conn: asyncpg.Connection) -> dict[str, str] | None:
    exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", quote(META_TABLE))
    if not exists:
        return None
    return dict(await conn.fetch(f"SELECT key, value FROM {quote(META_TABLE)}"))


async def _user_tables(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
    return [r[0] for r in rows if r[0] not in (META_TABLE, MIGRATIONS_TABLE)]


def _refused(where: str, kind: str, entity: str, detail: str) -> MigrationRefused:
    return MigrationRefused(where, [Change(kind, entity, None, detail, "blocked")], False)


async def migrate(
    conn: asyncpg.Connection, where: str, model: Model, tables: Mapping[str, Table], *, allow_destructive: bool
) -> Outcome:
    """Create or migrate the database ``conn`` is connected to; ``MigrationRefused`` leaves it untouched.

    ``where`` names the database in messages (a URL without its password).
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
        meta = await _stored(conn)
        if meta is None:
            leftovers = await _user_tables(conn)
            if leftovers:
                detail = "table not created by pim-engine (no _pim_meta)"
                raise MigrationRefused(
                    where, [Change("foreign_database", t, None, detail, "blocked") for t in leftovers], False
                )
            await _create_all(conn, tables)
            outcome = Outcome("created")
        elif meta.get("digest") == model.digest and meta.get("mapping_version") == str(PG_MAPPING_VERSION):
            return Outcome("unchanged")
        else:
            if meta.get("mapping_version") == "1":
                await _upgrade_layout_1(conn)
                meta["mapping_version"] = str(PG_MAPPING_VERSION)
            if meta.get("mapping_version") != str(PG_MAPPING_VERSION):
                version = meta.get("mapping_version")
                raise _refused(
                    where,
                    "mapping_version",
                    META_TABLE,
                    f"database layout version {version} is not {PG_MAPPING_VERSION}",
                )
            old = tables_for(entities_from_dicts(json.loads(meta.get("model", "{}")).get("entities", ())))
            changes = await _plan(conn, old, tables)
            offending = Plan(changes).offending(allow_destructive)
            if offending:
                raise MigrationRefused(where, offending, allow_destructive)
            try:
                await _apply(conn, old, tables, changes)
            except asyncpg.PostgresError as err:
                raise _refused(where, "apply_failed", "database", f"applying the migration failed: {err}") from None
            outcome = Outcome("migrated", tuple(changes))
        await _write_meta(conn, model, outcome)
    return outcome


async def _upgrade_layout_1(conn: asyncpg.Connection) -> None:
    """Layout 1 -> 2: unique text and JSON values move from hash exclusion constraints to digest indexes.

    The values are unique already, so the new indexes (made by ``_ensure_constraints``) build.
    """
    await conn.execute(DIGEST_FUNCTION_SQL)
    rows = await conn.fetch(
        "SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint c "
        "JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE n.nspname = current_schema() AND c.contype = 'x' AND c.conname LIKE 'uq\\_\\_%'"
    )
    for table, name in rows:
        await conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")


async def _create_all(conn: asyncpg.Connection, tables: Mapping[str, Table]) -> None:
    await conn.execute(f"CREATE TABLE {quote(META_TABLE)} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    await conn.execute(
        f"CREATE TABLE {quote(MIGRATIONS_TABLE)} (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "digest TEXT NOT NULL, action TEXT NOT NULL, changes TEXT NOT NULL, "
        "applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), applied_by TEXT NOT NULL DEFAULT current_user)"
    )
    for table in tables.values():
        await conn.execute(create_table_sql(table))
    await _ensure_constraints(conn, tables)


async def _ensure_constraints(conn: asyncpg.Connection, tables: Mapping[str, Table]) -> None:
    """Every index (``IF NOT EXISTS``) and every constraint the schema has, added where missing."""
    sql = (
        "SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE n.nspname = current_schema()"
    )
    present = {r[0] for r in await conn.fetch(sql)}
    await conn.execute(DIGEST_FUNCTION_SQL)
    for table in tables.values():
        for index in index_sqls(table):
            await conn.execute(index)
        for name, constraint in constraint_sqls(table):
            if name not in present:
                await conn.execute(constraint)


async def _apply(
    conn: asyncpg.Connection, old: Mapping[str, Table], new: Mapping[str, Table], changes: list[Change]
) -> None:
    rekeyed = {c.entity for c in changes if c.kind == "change_key"}
    for change in changes:
        if change.kind == "drop_table":
            await conn.execute(f"DROP TABLE {quote(change.entity)} CASCADE")
        elif change.kind == "create_table":
            await conn.execute(create_table_sql(new[change.entity]))
    for name in rekeyed:
        await _rebuild(conn, old[name], new[name])
    await _declare_try_casts(conn)
    await conn.execute(DIGEST_FUNCTION_SQL)
    for change in changes:
        if change.entity in rekeyed or change.kind in ("drop_table", "create_table", "change_key"):
            continue
        table, name = new[change.entity], quote(change.entity)
        column = table.column(change.attribute or "")
        if change.kind == "add_column":
            assert column is not None
            await conn.execute(f"ALTER TABLE {name} ADD COLUMN {column_sql(column, default_sql(column))}")
            for sql in column_index_sqls(table.name, column):
                await conn.execute(sql)
        elif change.kind == "drop_column":
            await conn.execute(f"ALTER TABLE {name} DROP COLUMN {quote(change.attribute or '')} CASCADE")
        elif change.kind == "retype_column":
            before = old[change.entity].column(change.attribute or "")
            assert column is not None
            assert before is not None
            uniques = [u for u in old[change.entity].entity.uniques if before.name in u]
            await _retype(conn, table.name, before, column, uniques)
        elif change.kind == "add_unique":
            assert column is not None
            await conn.execute(unique_sql(table.name, column))
        elif change.kind == "drop_unique":
            unique = quote(uq_name(table.name, change.attribute or ""))
            await conn.execute(f"ALTER TABLE {name} DROP CONSTRAINT IF EXISTS {unique}")
            await conn.execute(f"DROP INDEX IF EXISTS {unique}")
        elif change.kind == "add_unique_together":
            await conn.execute(composite_unique_sql(table, change.columns))
        elif change.kind == "drop_unique_together":
            await conn.execute(f"DROP INDEX IF EXISTS {quote(uqc_name(table.name, change.columns))}")
        elif change.kind == "add_index":
            await conn.execute(lookup_index_sql(table, change.columns))
        elif change.kind == "drop_index":
            await conn.execute(f"DROP INDEX IF EXISTS {quote(ix_name(table.name, change.columns))}")
        # require_column, narrow_enum, shorten_column: enforced by the API, nothing stored changes
    await _ensure_constraints(conn, new)


#: Target types reached through a function that gives NULL for a value that does not convert.
_TRY_CASTS = {"BIGINT": "numeric::bigint", "DOUBLE PRECISION": "double precision", "NUMERIC": "numeric"}
_TRY_CASTS |= {"BOOLEAN": "boolean", "DATE": "date", "TIMESTAMPTZ": "timestamptz"}


def _cast_function(pg: str) -> str:
    return "pg_temp.pim_try_" + pg.lower().replace(" ", "_")


async def _declare_try_casts(conn: asyncpg.Connection) -> None:
    for pg, cast in _TRY_CASTS.items():
        await conn.execute(
            f"CREATE OR REPLACE FUNCTION {_cast_function(pg)}(v text) RETURNS {pg} LANGUAGE plpgsql AS "
            f"$$BEGIN RETURN v::{cast}; EXCEPTION WHEN others THEN RETURN NULL; END$$"
        )


def _converted(column: str, before: str, after: str) -> str:
    """SQL for ``column`` (of type ``before``) as a value of type ``after``: NULL where it does not convert."""
    if before == after:
        return column
    if after == "JSONB":
        return f"to_jsonb({column})"
    if after == TEXT:
        return f"({column} #>> '{{}}')" if before == "JSONB" else f"{column}::text"
    source = f"({column} #>> '{{}}')" if before == "JSONB" else f"{column}::text"
    return f"{_cast_function(after)}({source})"


async def _retype(
    conn: asyncpg.Connection, table: str, before: Column, after: Column, uniques: Sequence[tuple[str, ...]]
) -> None:
    """Change the column's type; its foreign key and unique constraints (its own, and ``uniques``,
    the composite ones it is part of) are dropped and made again at the end."""
    if before.references is not None:
        await conn.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT IF EXISTS {quote(fk_name(table, before.name))}")
    if before.attribute.unique:
        unique = quote(uq_name(table, before.name))
        await conn.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT IF EXISTS {unique}")
        await conn.execute(f"DROP INDEX IF EXISTS {unique}")
    for columns in uniques:  # a digest over text cannot stay on a column that becomes a number
        await conn.execute(f"DROP INDEX IF EXISTS {quote(uqc_name(table, columns))}")
    old_type, new_type = pg_type(before), pg_type(after)
    if old_type != new_type:
        c = quote(after.name)
        await conn.execute(
            f"ALTER TABLE {quote(table)} ALTER COLUMN {c} TYPE {new_type} USING {_converted(c, old_type, new_type)}"
        )


async def _rebuild(conn: asyncpg.Connection, old: Table, new: Table) -> None:
    """A table whose key changed: copied aside, created anew, copied back (values converted)."""
    name = quote(new.name)
    await conn.execute(f"CREATE TEMP TABLE pim_rebuild ON COMMIT DROP AS SELECT * FROM {name}")
    await conn.execute(f"DROP TABLE {name} CASCADE")
    await conn.execute(create_table_sql(new))
    await _declare_try_casts(conn)
    copied = [(c, old.column(c.name)) for c in new.columns if old.column(c.name) is not None]
    if copied:
        targets = ", ".join(quote(c.name) for c, _ in copied)
        sources = ", ".join(_converted(quote(c.name), pg_type(b), pg_type(c)) for c, b in copied if b is not None)
        await conn.execute(f"INSERT INTO {name} ({targets}) SELECT {sources} FROM pim_rebuild")
    for column in new.columns:
        default = default_sql(column)
        if old.column(column.name) is None and default is not None:
            await conn.execute(f"UPDATE {name} SET {quote(column.name)} = {default}")
    if new.key.attribute.auto_increment and new.key.sql_type == "INTEGER":
        key = quote(new.key.name)
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence($1, $2), coalesce((SELECT max({key}) FROM {name}), 0) + 1, false)",
            name,
            new.key.name,
        )
    await conn.execute("DROP TABLE pim_rebuild")


def default_sql(column: Column) -> str | None:
    """The attribute's default as a typed SQL literal (for columns added to tables with rows)."""
    value = default_value(column.attribute)
    if value is None:
        return None
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if "\x00" in text:
        return None
    return "'" + text.replace("'", "''") + "'::" + pg_type(column).replace(' COLLATE "C"', "")


async def _write_meta(conn: asyncpg.Connection, model: Model, outcome: Outcome) -> None:
    values = {
        "digest": model.digest,
        "model": canonical_json(model.to_dict()),
        "mapping_version": str(PG_MAPPING_VERSION),
        "applied_at": datetime.now().astimezone().isoformat(),
    }
    await conn.executemany(
        f"INSERT INTO {quote(META_TABLE)} (key, value) VALUES ($1, $2) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        list(values.items()),
    )
    changes = json.dumps([c.describe() for c in outcome.changes], ensure_ascii=False)
    await conn.execute(
        f"INSERT INTO {quote(MIGRATIONS_TABLE)} (digest, action, changes) VALUES ($1, $2, $3)",
        model.digest,
        outcome.action,
        changes,
    )
