"""How a model maps onto PostgreSQL: the tables of ``schema.py`` with PostgreSQL's own types.

``schema.py`` decides tables, columns, keys and indexes for every backend; this module only says
how each is spelled here. Types carry their meaning: ``NUMERIC`` for decimals (exact, any scale),
``TIMESTAMPTZ`` for datetimes, ``BOOLEAN``, ``DATE``, ``JSONB``, ``BIGINT``, ``DOUBLE PRECISION``.
Text columns use the ``"C"`` collation, so text sorts by code point as in SQLite, whatever locale
the server was initialised with. Times of day stay ISO text: PostgreSQL's ``timetz`` has no naive
form, and a time sent without an offset must come back without one.

NOT NULL is left to the API (as in SQLite), so optionality can change without a migration.
Constraints and indexes have names of their own (``pk__``, ``fk__``, ``uq__``, ``ref__``, ``ix__``)
so a violation names its column and a migration can drop them; names longer than PostgreSQL's
63 bytes are shortened with a hash rather than truncated into each other.

A B-tree entry holds at most about 2.7 kB, and SQLite has no such limit: a unique text or JSON
attribute is a unique B-tree index over the SHA-256 of its value (``pim_digest``: any size, 32
bytes per entry, no collision anyone can produce). Layout 1 used a hash exclusion constraint; it
deadlocks writers racing for one value (each inserts, then waits for the other's check), and 20
such racers kept PostgreSQL's deadlock detector killing retries for seconds, so layout 2 replaced
it (``postgres_migrate`` upgrades a layout-1 database in place). One-column lookup indexes on
text are hash indexes (the API filters by equality only). What must stay a B-tree (a text primary key, a lookup
index over several columns) refuses a larger value with 422 naming the attribute.

A composite unique constraint (``Entity.uniques``) is a unique B-tree index over its columns, each
text or JSON column by its digest, the others as they are. The entry limit applies to the whole
tuple, so two raw text columns would refuse a pair whose values together pass 2.7 kB (a long note
beside a customer id), where SQLite stores it: digests bound each text column at 32 bytes, so any
values index, and a B-tree unique index (not an exclusion constraint) lets racing writers wait for
each other instead of deadlocking. ``pim_digest`` is STRICT, so a NULL stays NULL and, as SQL says,
rows with a NULL in any column of the constraint never clash. Decimals are not digested: NUMERIC
equality (``1.0 = 1``) is what the constraint must compare, and a digest of the text would not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from pim_engine.model import ModelError
from pim_engine.schema import Column, Table, composite_unique_name, index_name, lookup_index_name, quote

#: Longest identifier PostgreSQL keeps (NAMEDATALEN - 1 bytes); longer ones are silently truncated.
MAX_IDENTIFIER_BYTES = 63
#: Bumped when the mapping below changes in a way existing databases must be told about.
PG_MAPPING_VERSION = 2
#: The function unique text and JSON values are indexed by. ``convert_to`` is only STABLE (it reads
#: the database's encoding), which never changes for a database, so the wrapper may say IMMUTABLE.
DIGEST_FUNCTION_SQL = (
    "CREATE OR REPLACE FUNCTION pim_digest(v text) RETURNS bytea LANGUAGE sql IMMUTABLE STRICT "
    "PARALLEL SAFE AS $$SELECT sha256(convert_to(v, 'UTF8'))$$"
)
TEXT = 'TEXT COLLATE "C"'

_PG_TYPES: dict[str, str] = {
    "string": TEXT,
    "text": TEXT,
    "enum": TEXT,
    "time": TEXT,
    "integer": "BIGINT",
    "float": "DOUBLE PRECISION",
    "decimal": "NUMERIC",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMPTZ",
    "json": "JSONB",
}


def pg_type(column: Column) -> str:
    """The column's PostgreSQL type; a reference has the type of the key it points at."""
    if column.references is not None:
        return "BIGINT" if column.sql_type == "INTEGER" else TEXT
    return _PG_TYPES[column.attribute.type]


def short_name(name: str) -> str:
    """``name`` if PostgreSQL keeps it whole, else a prefix and a hash of the whole (unique, stable)."""
    raw = name.encode()
    if len(raw) <= MAX_IDENTIFIER_BYTES:
        return name
    digest = hashlib.sha256(raw).hexdigest()[:12]
    prefix = raw[: MAX_IDENTIFIER_BYTES - 13].decode("utf-8", "ignore")
    return f"{prefix}_{digest}"


def check_names(tables: Mapping[str, Table]) -> None:
    """Refuse table and column names PostgreSQL would truncate (and so confuse with each other)."""
    for table in tables.values():
        for name in (table.name, *(c.name for c in table.columns)):
            if len(name.encode()) > MAX_IDENTIFIER_BYTES:
                raise ModelError(
                    f"name {name!r} is {len(name.encode())} bytes long; PostgreSQL keeps at most "
                    f"{MAX_IDENTIFIER_BYTES} (shorten it to store this model in PostgreSQL)",
                    element=table.name,
                )


def pk_name(table: str) -> str:
    return short_name(f"pk__{table}")


def fk_name(table: str, column: str) -> str:
    return short_name(index_name(table, column, "fk"))


def uq_name(table: str, column: str) -> str:
    return short_name(index_name(table, column, "uq"))


def ref_name(table: str, column: str) -> str:
    return short_name(index_name(table, column, "ref"))


def ix_name(table: str, columns: tuple[str, ...]) -> str:
    return short_name(lookup_index_name(table, columns))


def uqc_name(table: str, columns: tuple[str, ...]) -> str:
    return short_name(composite_unique_name(table, columns))


def column_sql(column: Column, default_sql: str | None = None) -> str:
    if column.is_key:
        if column.sql_type == "INTEGER" and column.attribute.auto_increment:
            return f"{quote(column.name)} BIGINT GENERATED BY DEFAULT AS IDENTITY NOT NULL"
        return f"{quote(column.name)} {pg_type(column)} NOT NULL"
    return f"{quote(column.name)} {pg_type(column)}" + (f" DEFAULT {default_sql}" if default_sql is not None else "")


def create_table_sql(table: Table) -> str:
    """The table with its primary key; foreign keys come after every table exists (``foreign_key_sqls``)."""
    body = ", ".join(column_sql(c) for c in table.columns)
    pk = f"CONSTRAINT {quote(pk_name(table.name))} PRIMARY KEY ({quote(table.key.name)})"
    return f"CREATE TABLE {quote(table.name)} ({body}, {pk})"


def foreign_key_sql(table: str, column: Column) -> str:
    target, target_key = quote(column.references or ""), quote(column.references_column or "")
    name = quote(fk_name(table, column.name))
    return (
        f"ALTER TABLE {quote(table)} ADD CONSTRAINT {name} FOREIGN KEY ({quote(column.name)}) "
        f"REFERENCES {target} ({target_key})"
    )


def _unbounded(column: Column) -> bool:
    """Values of any size: text and JSON (a B-tree entry cannot hold them)."""
    return pg_type(column) in (TEXT, "JSONB")


def column_index_sqls(table: str, column: Column) -> list[str]:
    """Indexes of one column (``IF NOT EXISTS``)."""
    out = []
    if column.attribute.unique:
        out.append(unique_sql(table, column))
    if column.references is not None:
        using = " USING hash" if _unbounded(column) else ""
        name = quote(ref_name(table, column.name))
        out.append(f"CREATE INDEX IF NOT EXISTS {name} ON {quote(table)}{using} ({quote(column.name)})")
    return out


def unique_sql(table: str, column: Column) -> str:
    """The unique index of a column; text and JSON are indexed by their digest (``DIGEST_FUNCTION_SQL``)."""
    name = quote(uq_name(table, column.name))
    return f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {quote(table)} ({_unique_key(column)})"


def _unique_key(column: Column) -> str:
    """What a unique index compares for the column: text and JSON by their digest."""
    value = quote(column.name)
    if _unbounded(column):
        return f"pim_digest({value}::text)" if pg_type(column) == "JSONB" else f"pim_digest({value})"
    return value


def composite_unique_sql(table: Table, columns: tuple[str, ...]) -> str:
    """One of the entity's ``uniques``: each text or JSON column by its digest (module docstring)."""
    keys = ", ".join(_unique_key(_column(table, c)) for c in columns)
    return f"CREATE UNIQUE INDEX IF NOT EXISTS {quote(uqc_name(table.name, columns))} ON {quote(table.name)} ({keys})"


def _column(table: Table, name: str) -> Column:
    column = table.column(name)
    if column is None:
        raise ModelError(f"unique ({name}) names no attribute {name!r}", element=table.name)
    return column


def lookup_index_sql(table: Table, columns: tuple[str, ...]) -> str:
    cols = ", ".join(quote(c) for c in columns)
    only = table.column(columns[0]) if len(columns) == 1 else None
    using = " USING hash" if only is not None and _unbounded(only) else ""
    return f"CREATE INDEX IF NOT EXISTS {quote(ix_name(table.name, columns))} ON {quote(table.name)}{using} ({cols})"


def index_sqls(table: Table) -> list[str]:
    out: list[str] = []
    for column in table.columns:
        if not column.is_key:
            out.extend(column_index_sqls(table.name, column))
    out.extend(lookup_index_sql(table, columns) for columns in table.entity.indexes)
    out.extend(composite_unique_sql(table, columns) for columns in table.entity.uniques)
    return out


def constraint_sqls(table: Table) -> list[tuple[str, str]]:
    """(name, statement) of each constraint added after the tables exist: the foreign keys."""
    return [
        (fk_name(table.name, column.name), foreign_key_sql(table.name, column))
        for column in table.columns
        if column.references is not None
    ]


def constraint_fields(tables: Mapping[str, Table]) -> dict[str, tuple[str, str]]:
    """Constraint or index name -> (table, column), to name the culprit of a violation."""
    out: dict[str, tuple[str, str]] = {}
    for table in tables.values():
        out[pk_name(table.name)] = (table.name, table.key.name)
        for columns in table.entity.indexes:
            out[ix_name(table.name, columns)] = (table.name, columns[0])
        for columns in table.entity.uniques:
            out[uqc_name(table.name, columns)] = (table.name, columns[0])
        for column in table.columns:
            out[uq_name(table.name, column.name)] = (table.name, column.name)
            if column.references is not None:
                out[fk_name(table.name, column.name)] = (table.name, column.name)
                out[ref_name(table.name, column.name)] = (table.name, column.name)
    return out


def composite_unique_fields(tables: Mapping[str, Table]) -> dict[str, tuple[str, ...]]:
    """Composite unique index name -> its attributes, so a clash names all of them."""
    return {uqc_name(t.name, columns): columns for t in tables.values() for columns in t.entity.uniques}
