"""What both backends do with the rows of one table: SQL text built once, values encoded on the way
in and decoded on the way out, the model's "after" rules checked.

A backend gives its placeholder style (``?`` or ``$1``) and its value codecs; everything else about
a row is the same in SQLite and PostgreSQL, so it is written once here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pim_engine.loader.constraints import Rule
from pim_engine.schema import Column, Table, quote
from pim_engine.storage import Item, RuleViolation
from pim_engine.storage.values import Unstorable, comparable

Codec = Callable[[str], Callable[[Any], Any] | None]


def kind(column: Column) -> str:
    """The attribute type that decides how values are encoded (a reference's is its key's)."""
    if column.references is not None:
        return "integer" if column.sql_type == "INTEGER" else "string"
    return column.attribute.type


class TableRows:
    """The rows of one table as SQL sees them; stores of both backends build on it."""

    def __init__(
        self, table: Table, rules: Sequence[Rule], encoder: Codec, decoder: Codec, mark: Callable[[int], str]
    ) -> None:
        self.table = table
        self.name = table.name
        self.key = table.key.name
        self.columns = tuple(c.name for c in table.columns)
        self.kinds = {c.name: kind(c) for c in table.columns}
        self.encoders = {c: encoder(k) for c, k in self.kinds.items()}
        self.decoded = tuple((c, d) for c in self.columns if (d := decoder(self.kinds[c])) is not None)
        self.json_columns = frozenset(c for c, k in self.kinds.items() if k == "json")
        self.mark = mark
        self.table_sql = quote(table.name)
        self.key_sql = quote(self.key)
        self.select_cols = ", ".join(quote(c) for c in self.columns)
        self.get_sql = f"SELECT {self.select_cols} FROM {self.table_sql} WHERE {self.key_sql} = {mark(1)}"
        self.delete_sql = f"DELETE FROM {self.table_sql} WHERE {self.key_sql} = {mark(1)}"
        self._inserts: dict[tuple[str, ...], str] = {}
        self._updates: dict[tuple[str, ...], str] = {}
        self.after_rules = [(r.attribute, r.other or "", self.kinds[r.attribute]) for r in rules if r.kind == "after"]
        self.after_columns = frozenset(c for a, b, _ in self.after_rules for c in (a, b))

    def insert_sql(self, columns: tuple[str, ...]) -> str:
        sql = self._inserts.get(columns)
        if sql is None:
            names = ", ".join(quote(c) for c in columns)
            marks = ", ".join(self.mark(i) for i in range(1, len(columns) + 1))
            sql = f"INSERT INTO {self.table_sql} ({names}) VALUES ({marks}) RETURNING {self.select_cols}"
            if len(self._inserts) < 64:
                self._inserts[columns] = sql
        return sql

    def update_sql(self, columns: tuple[str, ...]) -> str:
        sql = self._updates.get(columns)
        if sql is None:
            sets = ", ".join(f"{quote(c)} = {self.mark(i)}" for i, c in enumerate(columns, 1))
            where = f"{self.key_sql} = {self.mark(len(columns) + 1)}"
            sql = f"UPDATE {self.table_sql} SET {sets} WHERE {where} RETURNING {self.select_cols}"
            if len(self._updates) < 256:
                self._updates[columns] = sql
        return sql

    def encode(self, values: Mapping[str, Any]) -> list[Any]:
        """Stored values in order; what the database cannot hold is a ``RuleViolation`` naming each field."""
        out = []
        bad = []
        for name, value in values.items():
            convert = self.encoders[name]
            try:
                out.append(value if value is None or convert is None else convert(value))
            except Unstorable as err:
                bad.append((name, str(err), err.kind))
            except ValueError:  # json.dumps(allow_nan=False): the last guard before the database
                bad.append((name, "holds NaN, Infinity or a number that overflows a float", "json_number"))
        if bad:
            raise RuleViolation(bad)
        return out

    def to_item(self, row: Sequence[Any], written: Mapping[str, Any] | None = None) -> Item:
        """The item of a row; JSON just ``written`` is taken as it was given, not parsed again."""
        item = dict(zip(self.columns, row, strict=True))
        for name, decode in self.decoded:
            value = item[name]
            if value is not None:
                if written is not None and name in self.json_columns and name in written:
                    item[name] = written[name]
                else:
                    item[name] = decode(value)
        return item

    def violations(self, values: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        found = []
        for first, second, k in self.after_rules:
            a, b = values.get(first), values.get(second)
            if a is not None and b is not None and not comparable(a, k) > comparable(b, k):
                found.append((first, f"must be after {second}", "after"))
        return found
