"""Bring an instance database in line with the model it is started with.

The plan is pure: ``plan(old_tables, new_tables, facts)`` compares the schema the database holds
(rebuilt from the model JSON kept in ``_pim_meta``) with the new one and classifies each change:

* ``safe``: nothing stored is lost or made invalid (new tables, new columns, dropped empty tables...);
* ``destructive``: data would be dropped, retyped or left violating the model; applied only when
  explicitly allowed;
* ``blocked``: cannot be applied at all (a required column without default on a non-empty table,
  a unique constraint, on one attribute or several together, over duplicate values); the message
  says how to get past it, and names an example of the duplicates for a composite one.

Facts about the data (row counts, duplicates...) come from a ``Facts`` object, so the rules are
unit-tested without a database, and the operator plans with assumed facts before it rolls a model
out. Applying is the backend's job (``storage/sqlite_migrate.py``): only after the whole plan is
accepted, in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from pim_engine.schema import (
    Column,
    Table,
)
from pim_engine.storage.values import default_value

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


@dataclass(frozen=True)
class Duplicates:
    """Rows whose values in some columns are held by another row too (NULLs never count)."""

    rows: int = 0
    #: One such combination of values (as text, in the columns' order), and how many rows hold it.
    example: tuple[str, ...] = ()
    example_rows: int = 0


class Facts(Protocol):
    """What the planner may ask about the stored data: counts of rows, and duplicated combinations."""

    def rows(self, table: str) -> int: ...

    def duplicates(self, table: str, column: str) -> int: ...

    def duplicates_together(self, table: str, columns: tuple[str, ...]) -> Duplicates: ...

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
    changes.extend(_unique_together_changes(old, new, facts, row_count))
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


def _unique_together_changes(old: Table, new: Table, facts: Facts, row_count: object) -> list[Change]:
    """Composite unique constraints added (refused over duplicate values) and dropped."""
    assert callable(row_count)
    changes = [
        Change("drop_unique_together", new.name, None, f"unique ({', '.join(c)}) removed", "safe", columns=c)
        for c in old.entity.uniques
        if c not in new.entity.uniques
    ]
    for columns in new.entity.uniques:
        if columns in old.entity.uniques:
            continue
        dups = _duplicates_after(old, new, columns, facts, row_count)
        listed = ", ".join(columns)
        detail = f"unique ({listed}) added"
        if dups.rows:
            example = ", ".join(f"{c}={v}" for c, v in zip(columns, dups.example, strict=True))
            detail += (
                f" but {_rows_phrase(dups.rows)} hold duplicate combinations of {listed}, "
                f"e.g. {example} in {_rows_phrase(dups.example_rows)}; remove them first"
            )
        changes.append(
            Change("add_unique_together", new.name, None, detail, "blocked" if dups.rows else "safe", columns=columns)
        )
    return changes


def _duplicates_after(old: Table, new: Table, columns: tuple[str, ...], facts: Facts, row_count: object) -> Duplicates:
    """The duplicates the stored rows will hold in ``columns`` once the new attributes are added.

    A new attribute holds its default in every row (one value: it splits no group) or NULL (no
    row then clashes).
    """
    assert callable(row_count)
    stored = tuple(c for c in columns if old.column(c) is not None)
    defaults: dict[str, str] = {}
    for name in columns:
        column = new.column(name)
        if name in stored or column is None:
            continue
        value = default_value(column.attribute)
        if value is None:
            return Duplicates()
        defaults[name] = str(value)
    if not stored:
        n = row_count()
        return Duplicates(n, tuple(defaults[c] for c in columns), n) if n > 1 else Duplicates()
    found = facts.duplicates_together(new.name, stored)
    if not found.rows:
        return found
    values = dict(zip(stored, found.example, strict=True)) | defaults
    return Duplicates(found.rows, tuple(values[c] for c in columns), found.example_rows)


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
