"""CRUD routers: ``/api/v1/{collection}`` and ``/api/v1/{collection}/{id}`` for every entity.

Request bodies are declared with the generated Pydantic models, so FastAPI validates them and
documents them. Four parts of FastAPI's per-request machinery are bypassed, with its own means:

* Responses are ``Response`` objects holding JSON the store already made JSON-ready (decimals and
  dates as strings): FastAPI returns a ``Response`` as it is, skipping ``response_model``
  validation and ``jsonable_encoder``, which would rebuild every item twice. The response models
  still document the routes.
* The ``{id}`` path parameter is read from ``request.path_params`` and checked here (documented
  through ``openapi_extra``): an integer id is ASCII digits only, so ``01``, ``+1``, ``1_0`` and
  full-width digits are not ``1``, and a malformed id is a missing row (404), not a 422.
* The query string of a list is read in one pass and each value converted with a Pydantic
  ``TypeAdapter`` built at start-up (one per attribute, one each for ``skip``, ``limit`` and
  ``sort``), all documented through ``openapi_extra``. Declared as FastAPI query parameters, the
  three paging parameters alone cost more than the SQL of the page (FastAPI resolves each
  parameter's annotation, alias and default on every request), and a parameter per attribute
  would multiply that; unknown parameters would also pass silently instead of answering 422.
* Routes whose endpoint takes only the request (reads, lists, deletes) are called without
  dependency solving (``EngineRoute``, FastAPI's custom route class hook), until a dependency is
  added to them.

Bodies go through ``EngineRoute`` too: writes must be ``application/json`` (or ``+json``; else 415,
so no web page can post a form to an instance), at most ``--max-body-bytes`` long (413), and are
parsed by ``json_body.parse_body``. Endpoints are ``async`` (no thread-pool hop); the store decides
where SQL runs.
"""

import inspect
import re
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl
from urllib.parse import quote as url_quote

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from starlette.responses import JSONResponse, Response

from pim_engine.entity_models import INT64_MAX, INT64_MIN, BodyShape, EntityModels
from pim_engine.errors import ApiError, api_error, dumps, error
from pim_engine.json_body import BodyError, parse_body
from pim_engine.schema import Column, Table
from pim_engine.storage import EntityStore, ListQuery

API_PREFIX = "/api/v1"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_JSON = "application/json"
_INTEGER_ID = re.compile(r"(?:0|-?[1-9][0-9]{0,18})")
_RESERVED = frozenset({"skip", "limit", "sort"})
_UNKNOWN = object()
#: The paging parameters (one ``TypeAdapter`` each; declared for the OpenAPI document below).
_SKIP = Annotated[int, Field(ge=0, le=INT64_MAX, description="rows to skip")]
_LIMIT = Annotated[int, Field(ge=1, le=MAX_LIMIT, description="rows per page")]
_SORT = Annotated[str, Field(max_length=1024, description="comma-separated attributes; '-' for descending")]
_PAGING: dict[str, TypeAdapter[Any]] = {
    "skip": TypeAdapter(_SKIP),
    "limit": TypeAdapter(_LIMIT),
    "sort": TypeAdapter(_SORT),
}
_PAGING_PARAMS = [
    {"name": "skip", "in": "query", "required": False, "schema": {**_PAGING["skip"].json_schema(), "default": 0}},
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {**_PAGING["limit"].json_schema(), "default": DEFAULT_LIMIT},
    },
    {"name": "sort", "in": "query", "required": False, "schema": _PAGING["sort"].json_schema()},
]


def collection_path(collection: str) -> str:
    """The route path of a collection as clients write it (non-ASCII percent-encoded)."""
    return f"{API_PREFIX}/{url_quote(collection, safe='')}"


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error the API answers: FastAPI's validation-error shape."""

    detail: list[ErrorItem]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        404: "No such row or collection",
        409: "Unique value taken, or row still referenced",
        413: "Body too large",
        415: "Body is not application/json",
        422: "Invalid body or query",
    }
    return {code: {"model": ErrorBody, "description": text[code]} for code in codes}


def is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == _JSON or (media.startswith("application/") and media.endswith("+json"))


class JsonRequest(Request):
    """A request whose body is limited in size and whose ``json()`` is the engine's parser.

    The limit is checked against ``Content-Length`` before anything is read, and again while a
    chunked body streams in. (FastAPI's own ``max_body_size`` answers 413 in plain text, replacing
    the JSON error body of the API's other errors.)
    """

    shape: BodyShape | None = None
    max_body_bytes: int = 1 << 20

    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            limit = self.max_body_bytes
            declared = self.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise _too_large(limit)
            chunks: list[bytes] = []
            size = 0
            async for chunk in self.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
            self._body = b"".join(chunks)
        return self._body

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            shape = self.shape
            try:
                self._json = parse_body(
                    await self.body(),
                    decimal_fields=shape.decimal_fields if shape else (),
                    max_keys=shape.max_keys if shape else None,
                )
            except BodyError as err:
                raise ApiError(422, [error(err.loc, err.msg, err.kind)]) from None
        return self._json


def _too_large(limit: int) -> ApiError:
    return api_error(413, ["body"], f"body larger than {limit} bytes", "body_too_large")


class EngineRoute(APIRoute):
    """The CRUD routes' class (FastAPI's custom route class hook).

    A route whose endpoint takes only the request, with no dependencies, is called directly:
    FastAPI's dependency solving has nothing to solve there, yet costs more than the SQL of a read
    by key. Once a dependency or parameter is added to such a route, FastAPI's handler is used.
    Routes taking a body accept JSON only, parsed by ``parse_body``.
    """

    max_body_bytes = 1 << 20

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        dependant = self.dependant
        plain = dependant.request_param_name is not None and not (
            dependant.dependencies
            or dependant.path_params
            or dependant.query_params
            or dependant.header_params
            or dependant.cookie_params
            or dependant.body_params
            or dependant.response_param_name
            or dependant.background_tasks_param_name
            or dependant.security_scopes_param_name
        )
        if (
            plain
            and inspect.iscoroutinefunction(self.endpoint)
            and len(inspect.signature(self.endpoint).parameters) == 1
        ):
            endpoint = self.endpoint
            return endpoint  # type: ignore[return-value]
        handler = super().get_route_handler()
        if not self.methods & {"POST", "PUT", "PATCH"}:
            return handler
        model = self.body_field.field_info.annotation if self.body_field is not None else None
        request_class = type(
            "JsonRequest",
            (JsonRequest,),
            {"shape": getattr(model, "pim_body", None), "max_body_bytes": self.max_body_bytes},
        )

        async def json_only(request: Request) -> Response:
            if not is_json(request.headers.get("content-type")):
                raise api_error(415, ["header", "content-type"], "the body must be application/json", "content_type")
            return await handler(request_class(request.scope, request.receive))

        return json_only


def key_parser(table: Table, key_auto: bool) -> Callable[[str], Any]:
    """Path text -> key value; a malformed id names no row (404)."""
    name = table.name
    integer = table.key.attribute.type == "integer"

    def parse(text: str) -> Any:
        if not integer:
            return text
        if _INTEGER_ID.fullmatch(text) is None or not INT64_MIN <= (value := int(text)) <= INT64_MAX:
            raise api_error(404, ["path", "id"], f"no {name} with id {text!r}", "not_found")
        return value

    return parse


def _filter_adapter(column: Column, key_type: str | None) -> TypeAdapter[Any] | None:
    """Query text -> value of one attribute (lax, as query strings are text); None: not filterable."""
    from datetime import date, time
    from decimal import Decimal

    attr = column.attribute
    kind = key_type if attr.type == "reference" and key_type else attr.type
    if attr.type == "reference" and not key_type:
        kind = "integer"
    types: dict[str, Any] = {
        "string": str,
        "text": str,
        "integer": Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)],
        "float": Annotated[float, Field(allow_inf_nan=False)],
        "decimal": Annotated[Decimal, Field(max_digits=100, allow_inf_nan=False)],
        "boolean": bool,
        "date": date,
        "time": time,
        "datetime": datetime,
    }
    if kind == "enum":
        from typing import Literal

        return TypeAdapter(Literal[tuple(attr.enum or ())])  # type: ignore[misc]
    return TypeAdapter(types[kind]) if kind in types else None


def add_entity_routes(
    router: APIRouter,
    table: Table,
    models: EntityModels,
    store: EntityStore,
    key_types: Mapping[str, str],
    max_body_bytes: int,
) -> None:
    """Add the two paths of one entity to ``router`` (the app's own: an included router would add a
    level of indirection to every request's routing)."""
    entity = table.entity
    name = entity.name
    base = f"{API_PREFIX}/{entity.collection}"  # routing sees the decoded path
    item_url = collection_path(entity.collection) + "/"
    key_name = models.key
    parse_key = key_parser(table, models.key_auto)
    stamped_on_create = models.auto_now_add + models.auto_now
    stamped_on_update = models.auto_now
    filters = {c.name: _filter_adapter(c, key_types.get(c.references or "")) for c in table.columns}
    sortable = frozenset(c.name for c in table.columns)

    def not_found(key: Any) -> ApiError:
        return api_error(404, ["path", "id"], f"no {name} with id {key!r}", "not_found")

    def item_response(item: dict[str, Any], status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
        return Response(dumps(item), status, headers, media_type=_JSON)

    def key_mismatch(body: BaseModel, key: Any) -> None:
        given = body.__dict__.get(key_name)
        if given is not None and given != key:
            raise api_error(422, ["body", key_name], "does not match the id in the path", "key_mismatch")

    # --- endpoints ---

    async def create_item(body: BaseModel) -> Response:
        values = dict(body.__dict__)
        if stamped_on_create:
            now = datetime.now(UTC)
            for column in stamped_on_create:
                values[column] = now
        item = await store.create(values)
        return item_response(item, 201, {"location": item_url + url_quote(str(item[key_name]), safe="")})

    async def list_items(request: Request) -> Response:
        skip, limit, sort = 0, DEFAULT_LIMIT, ""
        errors: list[dict[str, Any]] = []
        found: dict[str, list[Any]] = {}
        query = request.scope["query_string"]
        for param, text in parse_qsl(query.decode("latin-1"), keep_blank_values=True) if query else ():
            if param in _RESERVED:
                try:
                    value = _PAGING[param].validate_python(text)
                except ValidationError as err:
                    errors.append(error(["query", param], err.errors()[0]["msg"], err.errors()[0]["type"]))
                    continue
                if param == "skip":
                    skip = value
                elif param == "limit":
                    limit = value
                else:
                    sort = value
                continue
            adapter = filters.get(param, _UNKNOWN)
            if adapter is _UNKNOWN:
                msg = f"{name} has no attribute {param!r} to filter on"
                errors.append(error(["query", param], msg, "unknown_filter"))
            elif adapter is None:
                errors.append(error(["query", param], "json attributes cannot be filtered on", "filter_unsupported"))
            else:
                try:
                    found.setdefault(param, []).append(adapter.validate_python(text))
                except ValidationError as err:
                    errors.append(error(["query", param], err.errors()[0]["msg"], err.errors()[0]["type"]))
        order: list[tuple[str, bool]] = []
        for raw in filter(None, (part.strip() for part in sort.split(","))):
            column = raw.lstrip("+-")
            if column not in sortable:
                msg = f"{name} has no attribute {column!r} to sort by"
                errors.append(error(["query", "sort"], msg, "unknown_sort"))
            elif all(column != c for c, _ in order):
                order.append((column, raw.startswith("-")))
        if errors:
            raise ApiError(422, errors)
        page = ListQuery(tuple((k, tuple(v)) for k, v in found.items()), tuple(order), skip, limit)
        items, total = await store.list(page)
        return Response(dumps({"items": items, "total": total, "skip": skip, "limit": limit}), media_type=_JSON)

    async def get_item(request: Request) -> Response:
        key = parse_key(request.path_params["id"])
        item = await store.get(key)
        if item is None:
            raise not_found(key)
        return item_response(item)

    async def replace_item(request: Request, body: BaseModel) -> Response:
        key = parse_key(request.path_params["id"])
        key_mismatch(body, key)
        values = dict(body.__dict__)
        values.pop(key_name, None)
        return await _update(key, values)

    async def patch_item(request: Request, body: BaseModel) -> Response:
        key = parse_key(request.path_params["id"])
        key_mismatch(body, key)
        given = body.__dict__
        values = {k: given[k] for k in body.model_fields_set if k != key_name}
        return await _update(key, values)

    async def _update(key: Any, values: dict[str, Any]) -> Response:
        if stamped_on_update and values is not None:
            now = datetime.now(UTC)
            for column in stamped_on_update:
                values[column] = now
        item = await store.update(key, values)
        if item is None:
            raise not_found(key)
        return item_response(item)

    async def delete_item(request: Request) -> Response:
        key = parse_key(request.path_params["id"])
        if not await store.delete(key):
            raise not_found(key)
        return Response(status_code=204)

    _typed(create_item, body=models.create)
    _typed(replace_item, body=models.replace)
    _typed(patch_item, body=models.patch)

    op = re.sub(r"\W", "_", models.read.__name__)

    route_class = type("EngineRoute", (EngineRoute,), {"max_body_bytes": max_body_bytes})
    item_path = base + "/{id}"

    id_param = {
        "parameters": [
            {
                "name": "id",
                "in": "path",
                "required": True,
                "description": f"the {key_name} of a {name}"
                + (" (ASCII digits, no sign or leading zero)" if table.key.attribute.type == "integer" else ""),
                "schema": {"type": "integer", "format": "int64"}
                if table.key.attribute.type == "integer"
                else {"type": "string"},
            }
        ]
    }
    filter_params = [
        {
            "name": c.name,
            "in": "query",
            "required": False,
            "description": "equality filter; repeat for any of several values",
            "schema": {"type": "string"},
        }
        for c in table.columns
        if filters[c.name] is not None and c.name not in _RESERVED
    ]
    # (path, endpoint, method, status, operation id prefix, summary, error codes, takes the id)
    table_of_routes = (
        (base, list_items, "GET", 200, "list", f"List {name}", (422,), False),
        (base, create_item, "POST", 201, "create", f"Create a {name}", (409, 413, 415, 422), False),
        (item_path, get_item, "GET", 200, "get", f"Get a {name}", (404,), True),
        (item_path, replace_item, "PUT", 200, "replace", f"Replace a {name}", (404, 409, 413, 415, 422), True),
        (
            item_path,
            patch_item,
            "PATCH",
            200,
            "update",
            f"Update some attributes of a {name}",
            (404, 409, 413, 415, 422),
            True,
        ),
        (item_path, delete_item, "DELETE", 204, "delete", f"Delete a {name}", (404, 409), True),
    )
    for path, endpoint, method, status, verb, summary, codes, by_id in table_of_routes:
        router.add_api_route(
            path,
            endpoint,
            methods=[method],
            status_code=status,
            response_model=None if status == 204 else models.list if verb == "list" else models.read,
            response_class=Response if status == 204 else JSONResponse,
            summary=summary,
            operation_id=f"{verb}_{op}",
            responses=_errors(*codes),
            openapi_extra=id_param
            if by_id
            else {"parameters": _PAGING_PARAMS + filter_params}
            if verb == "list"
            else None,
            tags=[name],
            route_class_override=route_class,
        )


def _typed(endpoint: Callable[..., Any], **annotations: type[BaseModel]) -> None:
    """Give a generated endpoint its entity's body model (FastAPI reads the signature)."""
    signature = inspect.signature(endpoint)
    params = [p.replace(annotation=annotations.get(p.name, p.annotation)) for p in signature.parameters.values()]
    endpoint.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
