"""Every error the API answers, in FastAPI's validation-error shape: ``{"detail": [{loc, msg, type}]}``.

FastAPI's own handlers echo the offending input back (``input``, ``ctx``); these do not, so a 1 MiB
hostile value is not mirrored and an unprintable one cannot break the response. Storage failures
(``pim_engine.storage``) map to status codes here, the same for every backend.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match

from pim_engine.json_body import Refused, printable
from pim_engine.storage import (
    MissingReference,
    RuleViolation,
    StillReferenced,
    StorageError,
    StorageFull,
    UniqueViolation,
)

Loc = Sequence[str | int]


def dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def error(loc: Loc, msg: str, kind: str) -> dict[str, Any]:
    return {"loc": [printable(p) if isinstance(p, str) else p for p in loc], "msg": printable(msg), "type": kind}


def error_response(status: int, errors: list[dict[str, Any]], headers: Mapping[str, str] | None = None) -> Response:
    return Response(dumps({"detail": errors}), status, headers, media_type="application/json")


class ApiError(HTTPException):
    """A refused request with its field errors (an ``HTTPException``, so FastAPI lets it through)."""

    def __init__(self, status: int, errors: list[dict[str, Any]], headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status, errors[0]["msg"] if errors else "", dict(headers or {}))
        self.errors = errors


def api_error(status: int, loc: Loc, msg: str, kind: str) -> ApiError:
    return ApiError(status, [error(loc, msg, kind)])


async def validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    out = []
    for e in exc.errors():
        value = e.get("input")
        if isinstance(value, Refused):
            out.append(error(e["loc"], value.reason, value.kind))
        else:
            out.append(error(e["loc"], e["msg"], e["type"]))
    return error_response(422, out)


def _collections(app: Any) -> frozenset[str]:
    return getattr(app.state, "collections", frozenset())


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if isinstance(exc, ApiError):
        return error_response(exc.status_code, exc.errors, headers)
    status = exc.status_code
    if status == 404:
        return error_response(404, [_not_found(request)])
    if status == 405:
        allowed = _allowed_methods(request) or headers.get("Allow") or headers.get("allow", "")
        headers["Allow"] = allowed
        msg = f"{request.method} is not allowed here" + (f"; use {allowed}" if allowed else "")
        return error_response(405, [error(["method"], msg, "method_not_allowed")], headers)
    if status == 413:
        return error_response(413, [error(["body"], "body too large", "body_too_large")])
    return error_response(status, [error(["request"], str(exc.detail), f"http_{status}")], headers)


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (FastAPI keeps one route per method)."""
    methods: set[str] = set()
    probe = {"type": "http", "path": request.scope["path"], "root_path": request.scope.get("root_path", "")}
    probe["method"] = "\x00"
    for route in getattr(request.app, "routes", ()):
        match, _ = route.matches(probe)
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    order = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
    return ", ".join(sorted(methods, key=lambda m: order.index(m) if m in order else len(order)))


def _not_found(request: Request) -> dict[str, Any]:
    path = request.scope.get("path", "")
    parts = path.split("/")
    if path.startswith("/api/v1/") and len(parts) >= 4:
        name = parts[3]
        if name and unquote(name) not in _collections(request.app) and name not in _collections(request.app):
            return error(["path", "collection"], f"no collection {name!r}", "not_found")
    return error(["path"], f"no route for {path!r}", "not_found")


async def storage_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StorageError)
    if isinstance(exc, UniqueViolation):
        # One attribute, or every attribute of a composite unique constraint, each named in the message.
        message = f"a {exc.entity} with this {' and '.join(exc.fields)} already exists"
        errors = [error(["body", f], message, "unique") for f in exc.fields]
        return error_response(409, errors)
    if isinstance(exc, MissingReference):
        return error_response(422, [error(["body", exc.field], str(exc), "reference_not_found")])
    if isinstance(exc, StillReferenced):
        return error_response(409, [error(["path", "id"], str(exc), "referenced")])
    if isinstance(exc, RuleViolation):
        return error_response(422, [error(["body", f], m, t) for f, m, t in exc.violations])
    if isinstance(exc, StorageFull):
        return error_response(507, [error(["database"], str(exc), "storage_full")])
    return error_response(503, [error(["database"], str(exc), "unavailable")], {"retry-after": "1"})


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(StorageError, storage_error)
