"""The rows of one entity in PostgreSQL: one statement per request, violations named by constraint.

A create, read, replace, patch or delete is one statement on one pooled connection (a patch that
touches an "after" rule is an update and its check in one transaction). References and unique
values are enforced by the database's own constraints, so 20 clients racing for one value get one
201 and 19 409s, and a constraint's name (``postgres_schema.py``) says which field was at fault.
A list page is one statement: the count and the page side by side (a lateral join), so it costs one
round trip; rows are read in chunks and a page stops after about ``PAGE_BYTES`` of stored text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import asyncpg

from pim_engine.loader.constraints import Rule
from pim_engine.schema import Table, quote
from pim_engine.storage import (
    Item,
    ListQuery,
    MissingReference,
    RuleViolation,
    StillReferenced,
    StorageError,
    UniqueViolation,
)
from pim_engine.storage.postgres_values import decoder, encoder
from pim_engine.storage.rows import TableRows

if TYPE_CHECKING:
    from pim_engine.storage.postgres import PostgresDatabase

#: A list page stops after the row that brings its stored text past this size (at least one row).
PAGE_BYTES = 4 << 20
#: What a write's statement may break: each is answered naming the field (``_violation``).
_VIOLATIONS = (
    asyncpg.UniqueViolationError,
    asyncpg.ExclusionViolationError,
    asyncpg.ForeignKeyViolationError,
    asyncpg.ProgramLimitExceededError,
)
#: Rows fetched per statement of a list page (a page of up to this many rows is one round trip).
LIST_CHUNK = 100


class PostgresEntityStore(TableRows):
    """The rows of one table; SQL text is built once (updates once per set of columns)."""

    def __init__(self, db: PostgresDatabase, table: Table, rules: Sequence[Rule]) -> None:
        super().__init__(table, rules, encoder, decoder, lambda i: f"${i}")
        self.db = db
        self.references = {c.name: c.references or "" for c in table.columns if c.references is not None}

    # violations

    def _violation(self, err: asyncpg.PostgresError, values: Mapping[str, Any]) -> StorageError:
        """What a write's constraint violation means, naming the field (the constraint's name says which)."""
        constraint = getattr(err, "constraint_name", None) or ""
        _, column = self.db.constraints.get(constraint, (self.name, "?"))
        if isinstance(err, asyncpg.ForeignKeyViolationError):
            return MissingReference(column, self.references.get(column, "?"), values.get(column))
        if isinstance(err, asyncpg.ProgramLimitExceededError):  # over a B-tree entry: a text key, a wide index
            text = str(err)
            index = text.split('index "', 1)[1].split('"', 1)[0] if 'index "' in text else ""
            _, column = self.db.constraints.get(index, (self.name, self.key))
            msg = f"too large for PostgreSQL to index ({text.split(' for index', 1)[0]})"
            return RuleViolation([(column, msg, "value_too_large")])
        return UniqueViolation(self.name, self.db.composite_uniques.get(constraint, (column,)))

    # API

    async def create(self, values: Mapping[str, Any]) -> Item:
        bad = self.violations(values)
        if bad:
            raise RuleViolation(bad)
        params = self.encode(values)
        try:
            row = await self.db.fetchrow(self.insert_sql(tuple(values)), params)
        except _VIOLATIONS as err:
            raise self._violation(err, values) from None
        self.db.counts[self.name] += 1
        return self.to_item(row, values)

    async def get(self, key: Any) -> Item | None:
        row = await self.db.fetchrow(self.get_sql, [key])
        return None if row is None else self.to_item(row)

    async def update(self, key: Any, values: Mapping[str, Any]) -> Item | None:
        if not values:
            return await self.get(key)
        columns = tuple(values)
        params = [*self.encode(values), key]
        try:
            if self.after_columns.isdisjoint(columns):
                row = await self.db.fetchrow(self.update_sql(columns), params)
            else:
                row = await self.db.run(self._update_checked, self.update_sql(columns), params)
        except _VIOLATIONS as err:
            raise self._violation(err, values) from None
        return None if row is None else self.to_item(row, values)

    async def _update_checked(self, conn: asyncpg.Connection, sql: str, params: list[Any]) -> Any:
        """The update and the rules over the row it leaves, in one transaction (rolled back when broken)."""
        async with conn.transaction():
            row = await conn.fetchrow(sql, *params)
            if row is not None:
                bad = self.violations(self.to_item(row))
                if bad:
                    raise RuleViolation(bad)
            return row

    async def delete(self, key: Any) -> bool:
        try:
            status = await self.db.execute(self.delete_sql, [key])
        except asyncpg.ForeignKeyViolationError as err:
            table, column = self.db.constraints.get(err.constraint_name or "", ("another row", ""))
            raise StillReferenced(self.name, key, f"{table}.{column}" if column else table) from None
        deleted = status == "DELETE 1"
        if deleted:
            self.db.counts[self.name] -= 1
        return deleted

    async def list(self, query: ListQuery) -> tuple[list[Item], int]:
        clauses: list[str] = []
        params: list[Any] = []
        for name, values in query.filters:
            convert = self.encoders[name]
            given = [v if convert is None else convert(v) for v in values]
            if len(given) == 1:
                params.append(given[0])
                clauses.append(f"{quote(name)} = ${len(params)}")
            else:
                params.append(given)
                clauses.append(f"{quote(name)} = ANY(${len(params)})")
        terms = [f"{quote(n)} DESC NULLS LAST" if desc else f"{quote(n)} ASC NULLS FIRST" for n, desc in query.order]
        if self.key not in {n for n, _ in query.order}:
            terms.append(self.key_sql + " ASC")
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        page = f"SELECT {self.select_cols} FROM {self.table_sql}{where} ORDER BY {', '.join(terms)}"
        n = len(params)
        first = (
            f"SELECT c.n, p.* FROM (SELECT count(*) AS n FROM {self.table_sql}{where}) c "
            f"LEFT JOIN LATERAL ({page} LIMIT ${n + 1} OFFSET ${n + 2}) p ON true"
        )
        chunk = min(query.limit, LIST_CHUNK)
        records = await self.db.fetch(first, [*params, chunk, query.skip])
        total = records[0][0]
        rows = [tuple(r)[1:] for r in records] if records[0][1] is not None else []
        size = _text_size(rows)
        fetched = len(rows)
        while fetched == chunk and len(rows) < query.limit and size <= PAGE_BYTES:
            chunk = min(query.limit - len(rows), LIST_CHUNK)
            more = await self.db.fetch(
                f"{page} LIMIT ${n + 1} OFFSET ${n + 2}", [*params, chunk, query.skip + len(rows)]
            )
            fetched = len(more)
            rows.extend(tuple(r) for r in more)
            size = _text_size(rows)
        rows = _cut(rows)
        to_item = self.to_item
        return [to_item(r) for r in rows], total


def _text_size(rows: list[tuple[Any, ...]]) -> int:
    return sum(len(v) for row in rows for v in row if type(v) is str)


def _cut(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The rows up to the one that brings the page's stored text past ``PAGE_BYTES``."""
    size = 0
    for i, row in enumerate(rows):
        size += sum(len(v) for v in row if type(v) is str)
        if size > PAGE_BYTES:
            return rows[: i + 1]
    return rows
