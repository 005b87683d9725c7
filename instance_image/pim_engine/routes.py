"""CRUD over HTTP for every entity: ``/api/v1/{collection}`` and ``/api/v1/{collection}/{id}``.

Endpoints are plain Starlette routes rather than FastAPI path operations: checks and SQL are
compiled once per entity (``EntityService``), so a request costs one JSON parse, a few converter
calls and one hop to the database thread. The OpenAPI document is built separately from the same
model (``openapi.py``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import quote as url_quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pim_engine.schema import Table, quote
from pim_engine.storage import DECIMAL_COLLATION, EntitySql, Store
from pim_engine.validation import EntityCodec, FieldError, Invalid, RequestError, single

API_PREFIX = "/api/v1"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_RESERVED = frozenset({"skip", "limit", "sort"})


def dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(dumps(data), status, headers, media_type="application/json")


def error_response(err: RequestError) -> Response:
    return json_response(err.to_dict(), err.status)


def collection_path(collection: str) -> str:
    """The route path of a collection as clients write it (non-ASCII percent-encoded)."""
    return f"{API_PREFIX}/{url_quote(collection, safe='')}"


class EntityService:
    """Everything one entity needs at request time; the ``_db_*`` methods run on the database thread."""

    def __init__(self, table: Table, codec: EntityCodec, counts: dict[str, int]) -> None:
        self.table = table
        self.name = table.name
        self.codec = codec
        self.sql = EntitySql(table, codec.write_columns)
        self.counts = counts
        #: (column, target entity, existence query) for each reference column.
        self.references: list[tuple[str, str, str]] = [
            (
                c.name,
                c.references,
                f"SELECT 1 FROM {quote(c.references)} WHERE {quote(c.references_column or '')} = ?",
            )
            for c in table.columns
            if c.references is not None
        ]
        #: (entity.column, query) for each reference *to* this entity, filled in by ``link``.
        self.referenced_by: list[tuple[str, str]] = []
        self.decimal_columns = frozenset(c.name for c in table.columns if c.attribute.type == "decimal")
        self.sortable = frozenset(c.name for c in table.columns)

    def link(self, services: Mapping[str, EntityService]) -> None:
        for other in services.values():
            for column, target, _ in other.references:
                if target == self.name:
                    self.referenced_by.append(
                        (
                            f"{other.name}.{column}",
                            f"SELECT 1 FROM {quote(other.name)} WHERE {quote(column)} = ? LIMIT 1",
                        )
                    )

    # --- database thread ---

    def _check_references(self, conn: sqlite3.Connection, values: Mapping[str, Any]) -> None:
        errors = []
        for column, target, sql in self.references:
            value = values.get(column)
            if value is not None and conn.execute(sql, (value,)).fetchone() is None:
                errors.append(FieldError(("body", column), f"no {target} with id {value!r}", "reference_not_found"))
        if errors:
            raise RequestError(422, errors)

    def _conflict(self, err: sqlite3.IntegrityError) -> RequestError:
        text = str(err)
        if "UNIQUE" in text or "PRIMARY KEY" in text:
            prefix = f"{self.name}."
            columns = [
                p.strip()[len(prefix) :] if p.strip().startswith(prefix) else p.strip()
                for p in text.split(":", 1)[-1].split(",")
            ]
            return RequestError(
                409,
                [FieldError(("body", c), f"a {self.name} with this {c} already exists", "unique") for c in columns],
            )
        return single(409, ("body",), f"{self.name}: {text}", "conflict")

    def db_create(self, conn: sqlite3.Connection, values: dict[str, Any]) -> tuple[Any, ...]:
        self._check_references(conn, values)
        try:
            row = conn.execute(self.sql.insert, [values[c] for c in self.sql.write_columns]).fetchone()
        except sqlite3.IntegrityError as err:
            raise self._conflict(err) from None
        self.counts[self.name] += 1
        return row

    def db_get(self, conn: sqlite3.Connection, key: Any) -> tuple[Any, ...] | None:
        return conn.execute(self.sql.get, (key,)).fetchone()

    def db_update(self, conn: sqlite3.Connection, key: Any, values: dict[str, Any]) -> tuple[Any, ...] | None:
        self._check_references(conn, values)
        columns = tuple(values)
        sql = self.sql.update_sql(columns)
        params = [values[c] for c in columns]
        params.append(key)
        try:
            return conn.execute(sql, params).fetchone()
        except sqlite3.IntegrityError as err:
            raise self._conflict(err) from None

    def db_delete(self, conn: sqlite3.Connection, key: Any) -> bool:
        for where, sql in self.referenced_by:
            if conn.execute(sql, (key,)).fetchone() is not None:
                raise single(409, ("path", "id"), f"{self.name} {key!r} is still referenced by {where}", "referenced")
        try:
            deleted = conn.execute(self.sql.delete, (key,)).rowcount
        except sqlite3.IntegrityError as err:
            raise single(409, ("path", "id"), f"{self.name} {key!r} is still referenced: {err}", "referenced") from None
        if deleted:
            self.counts[self.name] -= 1
        return bool(deleted)

    def db_list(
        self, conn: sqlite3.Connection, where: str, params: list[Any], order: str, limit: int, skip: int
    ) -> tuple[list[tuple[Any, ...]], int]:
        t = self.sql.table_sql
        total = conn.execute(f"SELECT count(*) FROM {t}{where}", params).fetchone()[0]
        rows = conn.execute(
            f"SELECT {self.sql.select_cols} FROM {t}{where} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, limit, skip],
        ).fetchall()
        return rows, total

    # --- query parsing (event loop) ---

    def parse_query(self, query: str) -> tuple[str, list[Any], str, int, int]:
        errors: list[FieldError] = []
        filters: dict[str, list[Any]] = {}
        skip, limit, sort = 0, DEFAULT_LIMIT, ""
        for name, value in parse_qsl(query, keep_blank_values=True):
            if name == "skip" or name == "limit":
                try:
                    number = int(value)
                    if number < 0:
                        raise ValueError
                except ValueError:
                    errors.append(
                        FieldError(("query", name), f"must be a non-negative integer, not {value!r}", "int_parsing")
                    )
                    continue
                if name == "skip":
                    skip = number
                else:
                    limit = min(number, MAX_LIMIT)
            elif name == "sort":
                sort = value
            else:
                convert = self.codec.filters.get(name)
                if convert is None:
                    errors.append(
                        FieldError(
                            ("query", name),
                            f"{self.name} has no attribute {name!r} to filter on",
                            "unknown_filter",
                        )
                    )
                    continue
                try:
                    filters.setdefault(name, []).append(convert(value))
                except Invalid as err:
                    errors.append(FieldError(("query", name), err.msg, err.kind))
        order = self._order(sort, errors)
        if errors:
            raise RequestError(400, errors)
        clauses: list[str] = []
        params: list[Any] = []
        for name, values in filters.items():
            column = quote(name)
            if name in self.decimal_columns:
                column += f" COLLATE {DECIMAL_COLLATION}"
            if len(values) == 1:
                clauses.append(f"{column} = ?")
            else:
                clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
            params.extend(values)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        return where, params, order, limit, skip

    def _order(self, sort: str, errors: list[FieldError]) -> str:
        terms: list[str] = []
        seen: set[str] = set()
        for raw in filter(None, (part.strip() for part in sort.split(","))):
            descending = raw.startswith("-")
            name = raw.lstrip("+-")
            if name not in self.sortable:
                errors.append(
                    FieldError(("query", "sort"), f"{self.name} has no attribute {name!r} to sort by", "unknown_sort")
                )
                continue
            if name in seen:
                continue
            seen.add(name)
            column = quote(name)
            if name in self.decimal_columns:
                column += f" COLLATE {DECIMAL_COLLATION}"
            terms.append(column + (" DESC" if descending else " ASC"))
        if self.codec.key_name not in seen:
            terms.append(quote(self.codec.key_name) + " ASC")
        return ", ".join(terms)


def _parse_body(body: bytes) -> Any:
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as err:
        raise single(422, ("body",), f"invalid JSON: {err}", "json_invalid") from None


def entity_routes(service: EntityService, store: Store) -> list[Route]:
    """The two routes of one entity, with both the raw and the percent-encoded path resolving."""
    codec = service.codec
    collection = service.table.entity.collection
    item_url = collection_path(collection) + "/"

    def not_found(key: Any) -> RequestError:
        return single(404, ("path", "id"), f"no {service.name} with id {key!r}", "not_found")

    async def collection_endpoint(request: Request) -> Response:
        try:
            if request.method == "POST":
                values = codec.for_create(_parse_body(await request.body()))
                row = await store.run(service.db_create, values)
                item = codec.to_item(row)
                location = item_url + url_quote(str(item[codec.key_name]), safe="")
                return json_response(item, 201, {"location": location})
            where, params, order, limit, skip = service.parse_query(request.scope["query_string"].decode("latin-1"))
            rows, total = await store.run(service.db_list, where, params, order, limit, skip)
            to_item = codec.to_item
            return json_response({"items": [to_item(r) for r in rows], "total": total, "skip": skip, "limit": limit})
        except RequestError as err:
            return error_response(err)

    async def item_endpoint(request: Request) -> Response:
        try:
            key = codec.parse_key(request.path_params["id"])
            method = request.method
            row: tuple[Any, ...] | None
            if method == "GET":
                row = await store.run(service.db_get, key)
            elif method == "DELETE":
                if not await store.run(service.db_delete, key):
                    raise not_found(key)
                return Response(status_code=204)
            else:
                body = _parse_body(await request.body())
                values = codec.for_replace(body, key) if method == "PUT" else codec.for_patch(body, key)
                row = await store.run(service.db_update, key, values)
            if row is None:
                raise not_found(key)
            return json_response(codec.to_item(row))
        except RequestError as err:
            return error_response(err)

    base = f"{API_PREFIX}/{collection}"
    return [
        Route(base, collection_endpoint, methods=["GET", "POST"], name=f"collection:{service.name}"),
        Route(
            base + "/{id}",
            item_endpoint,
            methods=["GET", "PUT", "PATCH", "DELETE"],
            name=f"item:{service.name}",
        ),
    ]


def unknown_collection_routes(collections: frozenset[str]) -> list[Route]:
    """Catch-alls after the entity routes: 404 naming an unknown collection, 405 for a known one."""
    item_methods = "GET, PUT, PATCH, DELETE"

    async def unknown(request: Request) -> Response:
        name = request.path_params["collection"]
        if name in collections:
            allowed = item_methods if "rest" in request.path_params else "GET, POST"
            err = single(405, ("method",), f"{request.method} is not allowed here; use {allowed}", "method")
            return json_response(err.to_dict(), 405, {"allow": allowed})
        return error_response(single(404, ("path", "collection"), f"no collection {name!r}", "not_found"))

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return [
        Route(API_PREFIX + "/{collection}", unknown, methods=methods),
        Route(API_PREFIX + "/{collection}/{rest:path}", unknown, methods=methods),
    ]


def build_services(tables: Mapping[str, Table], counts: dict[str, int]) -> dict[str, EntityService]:
    key_types = {name: t.key.attribute.type for name, t in tables.items()}
    services = {name: EntityService(t, EntityCodec(t, key_types), counts) for name, t in tables.items()}
    for service in services.values():
        service.link(services)
    return services
