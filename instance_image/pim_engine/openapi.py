"""The OpenAPI 3.1 document and the ``/docs`` page, derived from the model.

The JSON Schemas are written out directly from the attributes instead of generating pydantic
classes: the result is the same document, costs nothing at start-up (it is built on the first
request for it), and keeps pydantic out of the request path.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from pim_engine.model import Attribute, Model
from pim_engine.routes import API_PREFIX, DEFAULT_LIMIT, MAX_LIMIT, collection_path
from pim_engine.schema import Column, Table
from pim_engine.validation import EntityCodec

_COMPONENT_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


def _scalar(attr: Attribute, key_type: str | None, *, request: bool) -> dict[str, Any]:
    kind = key_type if attr.type == "reference" and key_type else attr.type
    schema: dict[str, Any]
    match kind:
        case "string" | "text":
            schema = {"type": "string"}
            if attr.max_length is not None:
                schema["maxLength"] = attr.max_length
        case "integer":
            schema = {"type": "integer", "format": "int64"}
        case "float":
            schema = {"type": "number", "format": "double"}
        case "decimal":
            text = {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$"}
            schema = {"anyOf": [text, {"type": "number"}]} if request else text
        case "boolean":
            schema = {"type": "boolean"}
        case "date":
            schema = {"type": "string", "format": "date"}
        case "time":
            schema = {"type": "string", "format": "time"}
        case "datetime":
            schema = {"type": "string", "format": "date-time"}
        case "enum":
            schema = {"type": "string", "enum": list(attr.enum or ())}
        case _:
            schema = {}
    if attr.type == "reference":
        schema["description"] = f"id of a {attr.reference}"
        schema["x-references"] = attr.reference
    if attr.description:
        schema["description"] = (schema.get("description", "") + " " + attr.description).strip()
    return schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    inner = {k: v for k, v in schema.items() if k != "description"}
    out: dict[str, Any] = {"anyOf": [inner, {"type": "null"}]}
    if "description" in schema:
        out["description"] = schema["description"]
    return out


def component_names(tables: Mapping[str, Table]) -> dict[str, str]:
    """Component names must match ``[A-Za-z0-9._-]+``; other names get ``EntityN`` plus a title."""
    return {name: name if _COMPONENT_NAME.match(name) else f"Entity{i}" for i, name in enumerate(tables, 1)}


def _entity_schemas(
    table: Table, codec: EntityCodec, key_types: Mapping[str, str], component: str
) -> dict[str, dict[str, Any]]:
    def prop(column: Column, *, request: bool, optional: bool) -> dict[str, Any]:
        schema = _scalar(column.attribute, key_types.get(column.references or ""), request=request)
        if column.attribute.default is not None and request:
            schema["default"] = column.attribute.default
        return _nullable(schema) if optional else schema

    read_props: dict[str, Any] = {}
    write_props: dict[str, Any] = {}
    patch_props: dict[str, Any] = {}
    write_required: list[str] = []
    for column in table.columns:
        attr = column.attribute
        server_set = column.name in codec.read_only
        out = prop(column, request=False, optional=not (attr.required or column.is_key))
        if server_set:
            out["readOnly"] = True
        read_props[column.name] = out
        if server_set:
            continue
        required = (attr.required or column.is_key) and attr.default is None
        write_props[column.name] = prop(column, request=True, optional=not (attr.required or column.is_key))
        if required:
            write_required.append(column.name)
        if not column.is_key:
            patch_props[column.name] = prop(column, request=True, optional=not attr.required)
    title = table.name
    base = {"title": title, "description": table.entity.description} if table.entity.description else {"title": title}
    return {
        component: {
            **base,
            "type": "object",
            "properties": read_props,
            "required": [c.name for c in table.columns],
        },
        f"{component}Create": {
            "title": f"{title} (create or replace)",
            "type": "object",
            "properties": write_props,
            "required": write_required,
            "additionalProperties": False,
        },
        f"{component}Patch": {
            "title": f"{title} (partial update)",
            "type": "object",
            "properties": patch_props,
            "additionalProperties": False,
        },
        f"{component}List": {
            "title": f"{title} list",
            "type": "object",
            "required": ["items", "total", "skip", "limit"],
            "properties": {
                "items": {"type": "array", "items": _ref(component)},
                "total": {"type": "integer"},
                "skip": {"type": "integer"},
                "limit": {"type": "integer"},
            },
        },
    }


def _ref(component: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{component}"}


def _json_content(component: str) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(component)}}


_ERRORS = {
    "400": {"description": "Bad query parameter", "content": _json_content("Error")},
    "404": {"description": "Unknown id or collection", "content": _json_content("Error")},
    "422": {"description": "Invalid body", "content": _json_content("Error")},
}


def _operations(table: Table, component: str, op: str) -> dict[str, dict[str, Any]]:
    tag = table.name
    key = table.key.attribute
    id_param = {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"} if key.type == "integer" else {"type": "string"},
    }
    list_params: list[dict[str, Any]] = [
        {"name": "skip", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
        {
            "name": "limit",
            "in": "query",
            "description": f"capped at {MAX_LIMIT}",
            "schema": {"type": "integer", "minimum": 0, "default": DEFAULT_LIMIT},
        },
        {
            "name": "sort",
            "in": "query",
            "description": "comma-separated attributes, '-' prefix for descending",
            "schema": {"type": "string"},
        },
    ]
    for column in table.columns:
        if column.attribute.type != "json":
            list_params.append(
                {
                    "name": column.name,
                    "in": "query",
                    "description": "equality filter",
                    "schema": {"type": "string"},
                }
            )
    conflict = {
        "409": {
            "description": "Unique value taken or row still referenced",
            "content": _json_content("Error"),
        }
    }
    body = {"required": True, "content": _json_content(f"{component}Create")}
    ok = {"description": "The item", "content": _json_content(component)}
    return {
        "collection": {
            "get": {
                "tags": [tag],
                "summary": f"List {table.name}",
                "operationId": f"list_{op}",
                "parameters": list_params,
                "responses": {
                    "200": {"description": "A page of items", "content": _json_content(f"{component}List")},
                    "400": _ERRORS["400"],
                },
            },
            "post": {
                "tags": [tag],
                "summary": f"Create a {table.name}",
                "operationId": f"create_{op}",
                "requestBody": body,
                "responses": {
                    "201": {"description": "Created", "content": _json_content(component)},
                    "422": _ERRORS["422"],
                    **conflict,
                },
            },
        },
        "item": {
            "parameters": [id_param],
            "get": {
                "tags": [tag],
                "summary": f"Get a {table.name}",
                "operationId": f"get_{op}",
                "responses": {"200": ok, "404": _ERRORS["404"]},
            },
            "put": {
                "tags": [tag],
                "summary": f"Replace a {table.name}",
                "operationId": f"replace_{op}",
                "requestBody": body,
                "responses": {"200": ok, "404": _ERRORS["404"], "422": _ERRORS["422"], **conflict},
            },
            "patch": {
                "tags": [tag],
                "summary": f"Update some attributes of a {table.name}",
                "operationId": f"update_{op}",
                "requestBody": {"required": True, "content": _json_content(f"{component}Patch")},
                "responses": {"200": ok, "404": _ERRORS["404"], "422": _ERRORS["422"], **conflict},
            },
            "delete": {
                "tags": [tag],
                "summary": f"Delete a {table.name}",
                "operationId": f"delete_{op}",
                "responses": {"204": {"description": "Deleted"}, "404": _ERRORS["404"], **conflict},
            },
        },
    }


def _ops_endpoints() -> dict[str, Any]:
    def plain(summary: str, description: str) -> dict[str, Any]:
        return {
            "get": {
                "tags": ["ops"],
                "summary": summary,
                "operationId": summary.lower().replace(" ", "_"),
                "responses": {"200": {"description": description}},
            }
        }

    ready = plain("Readiness", "Model loaded and database writable")
    ready["get"]["responses"]["503"] = {"description": "Not ready; the body says why"}
    return {
        "/health": plain("Liveness", "The process serves"),
        "/ready": ready,
        "/metrics": plain("Metrics", "Prometheus text exposition"),
        "/model": plain("Model", "The normalized model with its digest"),
    }


def build_openapi(model: Model, tables: Mapping[str, Table], codecs: Mapping[str, EntityCodec]) -> dict[str, Any]:
    key_types = {name: t.key.attribute.type for name, t in tables.items()}
    names = component_names(tables)
    schemas: dict[str, Any] = {
        "Error": {
            "title": "Error",
            "type": "object",
            "required": ["detail"],
            "properties": {
                "detail": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["loc", "msg", "type"],
                        "properties": {
                            "loc": {
                                "type": "array",
                                "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                            },
                            "msg": {"type": "string"},
                            "type": {"type": "string"},
                        },
                    },
                }
            },
        },
    }
    paths: dict[str, Any] = {}
    for name, table in tables.items():
        component = names[name]
        schemas.update(_entity_schemas(table, codecs[name], key_types, component))
        ops = _operations(table, component, component.replace(".", "_").replace("-", "_"))
        base = collection_path(table.entity.collection)
        paths[base] = ops["collection"]
        paths[base + "/{id}"] = ops["item"]
    paths.update(_ops_endpoints())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": model.domain,
            "version": model.version,
            "description": model.description or f"REST API of the {model.domain} model",
            "x-model-digest": model.digest,
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": schemas},
        "tags": [{"name": t.name, "description": t.entity.description} for t in tables.values()]
        + [{"name": "ops", "description": "Probes, metrics and the model"}],
        "x-api-prefix": API_PREFIX,
    }


def docs_html(title: str, openapi_url: str = "/openapi.json") -> str:
    """A Swagger UI page for the document; the UI assets load from the jsDelivr CDN."""
    cdn = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)} - API docs</title>
<link rel="stylesheet" href="{cdn}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<noscript>The interactive docs need JavaScript; the raw document is at
<a href="{openapi_url}">{openapi_url}</a>.</noscript>
<script src="{cdn}/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{url: "{openapi_url}", dom_id: "#swagger-ui", deepLinking: true}});
</script>
</body>
</html>
"""
