"""How a model maps onto SQLite: one table per entity, one column per attribute.

This mapping is the single place that decides table and column names, SQL types, keys and
indexes, so the CRUD layer and the migration planner cannot disagree about the database layout.
An entity without a primary-key attribute gets an engine-managed ``id INTEGER`` key; an attribute
named ``id`` is taken as the key when no attribute is flagged as one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pim_engine.model import Attribute, Entity, ModelError

#: Tables the engine keeps for itself; no entity may be stored under these names.
META_TABLE = "_pim_meta"
MIGRATIONS_TABLE = "_pim_migrations"  # PostgreSQL: every applied migration

#: Bumped when the mapping below changes in a way existing databases must be told about.
MAPPING_VERSION = 1

_SQL_TYPES: dict[str, str] = {
    "string": "TEXT",
    "text": "TEXT",
    "integer": "INTEGER",
    "float": "REAL",
    "decimal": "TEXT",
    "boolean": "INTEGER",
    "date": "TEXT",
    "time": "TEXT",
    "datetime": "TEXT",
    "json": "TEXT",
    "enum": "TEXT",
}


@dataclass(frozen=True)
class Column:
    """One stored attribute; ``references`` names the target table of a reference."""

    attribute: Attribute
    sql_type: str
    references: str | None = None
    references_column: str | None = None
    implicit: bool = False

    @property
    def name(self) -> str:
        return self.attribute.name

    @property
    def is_key(self) -> bool:
        return self.attribute.primary_key


@dataclass(frozen=True)
class Table:
    """The stored form of one entity; ``columns`` starts with the key."""

    entity: Entity
    key: Column
    columns: tuple[Column, ...]

    @property
    def name(self) -> str:
        return self.entity.name

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


def quote(identifier: str) -> str:
    """Quote an SQL identifier; model names may hold any character, Chinese included."""
    return '"' + identifier.replace('"', '""') + '"'


def key_attribute(entity: Entity) -> tuple[Attribute, bool]:
    """The entity's key attribute, and whether the engine had to add it."""
    flagged = [a for a in entity.attributes if a.primary_key]
    if len(flagged) > 1:
        names = ", ".join(a.name for a in flagged)
        raise ModelError(f"more than one primary key ({names}); composite keys are not supported", element=entity.name)
    if flagged:
        return flagged[0], False
    named = entity.attribute("id")
    if named is not None:
        return _as_key(named), False
    return Attribute(
        name="id",
        type="integer",
        primary_key=True,
        auto_increment=True,
        description="Assigned by the server.",
    ), True


def _as_key(attr: Attribute) -> Attribute:
    return replace(attr, primary_key=True, required=True, auto_increment=attr.auto_increment or attr.type == "integer")


def tables_for(entities: Iterable[Entity]) -> dict[str, Table]:
    """Map every entity to its table, keyed by entity name; references must name an entity."""
    entities = tuple(entities)
    keys = {e.name: key_attribute(e) for e in entities}
    tables: dict[str, Table] = {}
    for entity in entities:
        if entity.name in (META_TABLE, MIGRATIONS_TABLE) or entity.name.lower().startswith("sqlite_"):
            raise ModelError("this name is reserved for the engine's own tables", element=entity.name)
        key, implicit = keys[entity.name]
        if key.type not in ("integer", "string"):
            raise ModelError(f"primary key {key.name!r} must be integer or string, not {key.type}", element=entity.name)
        columns = [Column(key, _SQL_TYPES[key.type], implicit=implicit)]
        for attr in entity.attributes:
            if attr.name == key.name:
                continue
            columns.append(_column(entity, attr, keys))
        seen: set[str] = set()
        for column in columns:
            folded = column.name.lower()  # SQLite column names are case-insensitive
            if folded in seen:
                raise ModelError(
                    f"attribute {column.name!r} is defined twice (names are case-insensitive)",
                    element=entity.name,
                )
            seen.add(folded)
        tables[entity.name] = Table(entity, columns[0], tuple(columns))
    folded_names: dict[str, str] = {}
    for name in tables:
        other = folded_names.setdefault(name.lower(), name)
        if other != name:
            raise ModelError(f"entities {other!r} and {name!r} differ only by case", element=name)
    return tables


def _column(entity: Entity, attr: Attribute, keys: Mapping[str, tuple[Attribute, bool]]) -> Column:
    if attr.type == "reference":
        target = attr.reference
        if target is None or target not in keys:
            raise ModelError(f"attribute {attr.name!r} references unknown entity {target!r}", element=entity.name)
        target_key = keys[target][0]
        return Column(attr, _SQL_TYPES[target_key.type], references=target, references_column=target_key.name)
    if attr.type not in _SQL_TYPES:
        raise ModelError(f"attribute {attr.name!r} has unknown type {attr.type!r}", element=entity.name)
    return Column(attr, _SQL_TYPES[attr.type])


def column_sql(column: Column, default_sql: str | None = None) -> str:
    """The column definition; NOT NULL is enforced by the API so optionality can change freely."""
    parts = [quote(column.name), column.sql_type]
    if column.is_key:
        parts.append("PRIMARY KEY")
        if column.sql_type == "INTEGER" and column.attribute.auto_increment:
            parts.append("AUTOINCREMENT")
        parts.append("NOT NULL")
    if column.references is not None:
        parts.append(f"REFERENCES {quote(column.references)}({quote(column.references_column or '')})")
    if default_sql is not None:
        parts.append(f"DEFAULT {default_sql}")
    return " ".join(parts)


def create_table_sql(table: Table, name: str | None = None) -> str:
    body = ", ".join(column_sql(c) for c in table.columns)
    return f"CREATE TABLE {quote(name or table.name)} ({body})"


def index_name(table: str, column: str, kind: str) -> str:
    return f"{kind}__{table}__{column}"


def index_sqls(table: Table) -> list[str]:
    """Unique indexes (kept separate so they can be added and dropped), reference lookups, and the
    model's own ``indexes``."""
    out: list[str] = []
    for column in table.columns:
        if column.is_key:
            continue
        out.extend(column_index_sqls(table.name, column))
    out.extend(lookup_index_sql(table.name, columns) for columns in table.entity.indexes)
    out.extend(composite_unique_sql(table.name, columns) for columns in table.entity.uniques)
    return out


def composite_unique_name(table: str, columns: tuple[str, ...]) -> str:
    """``uqc__`` (not ``uq__``) so it cannot meet a one-column unique index on a column named ``a__b``."""
    return f"uqc__{table}__" + "__".join(columns)


def composite_unique_sql(table: str, columns: tuple[str, ...]) -> str:
    """One of the entity's ``uniques``: rows holding NULL in any of its columns never clash (SQL)."""
    name = quote(composite_unique_name(table, columns))
    return f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {quote(table)} ({', '.join(quote(c) for c in columns)})"


def lookup_index_name(table: str, columns: tuple[str, ...]) -> str:
    return f"ix__{table}__" + "__".join(columns)


def lookup_index_sql(table: str, columns: tuple[str, ...]) -> str:
    """One index of the model's ``indexes`` (named by its columns, so a rename is a drop and an add)."""
    name = quote(lookup_index_name(table, columns))
    return f"CREATE INDEX IF NOT EXISTS {name} ON {quote(table)} ({', '.join(quote(c) for c in columns)})"


def column_index_sqls(table: str, column: Column) -> list[str]:
    out: list[str] = []
    if column.attribute.unique:
        out.append(unique_index_sql(table, column.name))
    if column.references is not None:
        name = quote(index_name(table, column.name, "ref"))
        out.append(f"CREATE INDEX IF NOT EXISTS {name} ON {quote(table)} ({quote(column.name)})")
    return out


def unique_index_sql(table: str, column: str) -> str:
    name = quote(index_name(table, column, "uq"))
    return f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {quote(table)} ({quote(column)})"


def sql_literal(value: Any) -> str:
    """An SQL literal for a stored value (used for ``DEFAULT`` when adding a column)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def entities_from_dicts(data: Iterable[Mapping[str, Any]]) -> tuple[Entity, ...]:
    """Rebuild entities from their ``to_dict`` form, as kept in ``_pim_meta``."""
    entities = []
    for raw in data:
        attrs = []
        for a in raw.get("attributes", ()):
            fields = dict(a)
            if fields.get("enum") is not None:
                fields["enum"] = tuple(fields["enum"])
            attrs.append(Attribute(**{k: v for k, v in fields.items() if k in Attribute.__dataclass_fields__}))
        entities.append(
            Entity(
                name=raw["name"],
                attributes=tuple(attrs),
                description=raw.get("description", ""),
                constraints=tuple(raw.get("constraints", ())),
                indexes=tuple(tuple(i) for i in raw.get("indexes", ())),
                uniques=tuple(tuple(u) for u in raw.get("uniques", ())),
            )
        )
    return tuple(entities)
