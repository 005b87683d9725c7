"""Assemble the ASGI app of one model instance: CRUD routes, probes, metrics, docs.

The app is a plain Starlette application (``FastAPI`` subclasses it, so anything that runs one runs
this). FastAPI itself is not imported: it adds ~0.35 s and ~16 MB to start-up for machinery the
generated routes do not use, and the engine's targets are a sub-half-second cold start and a small
resident size. ``create_app`` migrates the database first, so a refused migration never serves.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from pim_engine.metrics import CONTENT_TYPE, Metrics, MetricsMiddleware
from pim_engine.migrate import migrate
from pim_engine.model import Model
from pim_engine.routes import (
    build_services,
    dumps,
    entity_routes,
    json_response,
    unknown_collection_routes,
)
from pim_engine.schema import tables_for
from pim_engine.storage import Store, count_rows


def create_app(model: Model, db_path: str, *, allow_destructive_migration: bool = False) -> Starlette:
    """Migrate ``db_path`` to ``model`` and return the app serving it.

    Raises ``ModelError`` for a model the engine cannot map and ``MigrationRefused`` (database
    untouched) for a change that needs ``allow_destructive_migration`` or cannot be applied.
    """
    tables = tables_for(model.entities)
    outcome = migrate(db_path, model, tables, allow_destructive=allow_destructive_migration)
    store = Store(db_path)
    counts: dict[str, int] = store.run_sync(count_rows, tables)
    services = build_services(tables, counts)
    metrics = Metrics(model, lambda: counts)
    model_body = dumps(model.to_dict())
    openapi_body: list[bytes] = []

    async def health(_: Request) -> Response:
        return json_response({"status": "ok"})

    async def ready(_: Request) -> Response:
        problem = await store.check_writable()
        if problem is not None:
            return json_response({"status": "not ready", "reason": problem}, 503)
        return json_response({"status": "ready", "model": model.domain, "digest": model.digest})

    async def metrics_endpoint(_: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    async def model_endpoint(_: Request) -> Response:
        return Response(model_body, media_type="application/json")

    async def openapi(_: Request) -> Response:
        if not openapi_body:
            from pim_engine.openapi import build_openapi

            openapi_body.append(dumps(build_openapi(model, tables, {n: s.codec for n, s in services.items()})))
        return Response(openapi_body[0], media_type="application/json")

    async def docs(_: Request) -> Response:
        from pim_engine.openapi import docs_html

        return HTMLResponse(docs_html(model.domain))

    routes: list[Any] = [
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/model", model_endpoint, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
    ]
    for service in services.values():
        routes.extend(entity_routes(service, store))
    routes.extend(unknown_collection_routes(frozenset(t.entity.collection for t in tables.values())))

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            store.close()

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return json_response(
            {"detail": [{"loc": ["path"], "msg": exc.detail, "type": f"http_{exc.status_code}"}]},
            exc.status_code,
            exc.headers,
        )

    app = Starlette(
        routes=routes,
        middleware=[Middleware(MetricsMiddleware, metrics=metrics)],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
    app.state.model = model
    app.state.store = store
    app.state.metrics = metrics
    app.state.migration = outcome
    return app
