"""The console's web apps: the API and UI on the main port, a relay per instance port, health.

Two guards sit in front of everything. Writes from another web site are refused (a browser says
so in ``Origin`` and ``Sec-Fetch-Site``; curl says nothing), which is what lets v2's own examples
post JSON without a JSON content type (``curl -d '{...}'``) without opening the console to
cross-site requests. And every error is JSON: ``{"detail": "..."}`` as v2 (a FastAPI app) answered.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from pim_console import __version__, actions, ports
from pim_console.api import ui, v2
from pim_console.api.common import allow, instance_verb
from pim_console.auth import AuthError
from pim_console.kube.client import ApiError
from pim_console.runtime import Console

log = logging.getLogger("pim_console")
STATIC = Path(__file__).parent / "static"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: v2 routes whose JSON bodies curl sends as form data in v2's own examples.
JSON_ANYWAY = frozenset({("POST", "/models/load"), ("POST", "/instances")})


def cross_site(headers: dict[str, str]) -> str | None:
    """Why a write must be refused as coming from another site, or None."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site in ("cross-site", "same-site"):
        return f"Sec-Fetch-Site: {fetch_site}"
    origin = headers.get("origin")
    if origin and origin != "null":
        if urlsplit(origin).netloc.lower() != headers.get("host", "").lower():
            return f"Origin {origin} is not this console"
    elif origin == "null":
        return "Origin: null"
    return None


class Guard:
    """Refuse cross-site writes; read v2's JSON bodies whatever their content type says."""

    def __init__(self, app: ASGIApp, *, json_anyway: frozenset[tuple[str, str]] = frozenset()) -> None:
        self.app = app
        self.json_anyway = json_anyway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        why = cross_site(headers)
        if why is not None:
            resp = JSONResponse({"detail": f"cross-site request refused ({why})"}, 403)
            await resp(scope, receive, send)
            return
        if (scope["method"], scope["path"]) in self.json_anyway:
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype in ("", "application/x-www-form-urlencoded", "text/plain"):
                kept = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
                scope = {**scope, "headers": [*kept, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)


def _errors(app: FastAPI) -> None:
    @app.exception_handler(actions.Problem)
    async def problem(_: Request, exc: actions.Problem) -> Response:
        return JSONResponse({"detail": exc.detail}, exc.status)

    @app.exception_handler(AuthError)
    async def auth_error(_: Request, exc: AuthError) -> Response:
        headers = {"WWW-Authenticate": 'Bearer realm="pim-console"'} if exc.status == 401 else None
        return JSONResponse({"detail": exc.detail}, exc.status, headers=headers)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> Response:
        log.warning("API server refused a console call: %s", exc)
        problem = actions.from_api(exc, "the API server refused the console")
        return JSONResponse({"detail": problem.detail}, problem.status)


def create_app(console: Console) -> ASGIApp:
    app = FastAPI(
        title="pim-console",
        version=__version__,
        description="The PIM engine v2 master controller API on PimModels and PimInstances, and a web UI.",
        docs_url=None,  # FastAPI's /docs loads its assets from a CDN; the console serves everything itself
        redoc_url=None,
    )
    app.state.console = console
    _errors(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "synced": console.store.synced}

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.include_router(v2.router)
    app.include_router(ui.router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="static")
    return Guard(app, json_anyway=JSON_ANYWAY)


def instance_port_app(console: Console, port: int) -> ASGIApp:
    """What listens on an instance's v2 port: that instance's whole API, as v2 served it there."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = console
    _errors(app)

    @app.api_route("/{rest:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    async def relay(request: Request, rest: str) -> Response:
        holder = ports.holders(console.store.instances.values()).get(port)
        if holder is None:
            return JSONResponse({"detail": f"no instance uses port {port} now"}, 503)
        await allow(request, instance_verb(request.method), "piminstances", holder.name)
        instance = console.store.instances.get(holder.name)
        if instance is None:
            return JSONResponse({"detail": f"no instance uses port {port} now"}, 503)
        return await v2.relay(request, instance, "/" + rest, prefix=None)

    return Guard(app)


def health_app(console: Console) -> ASGIApp:
    """The kubelet's probes: on every interface, even when the API listens on loopback only."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> Response:
        if not console.store.synced:
            return JSONResponse({"status": "syncing", "errors": console.store.errors()}, 503)
        return JSONResponse({"status": "ready", "namespace": console.namespace})

    return app
