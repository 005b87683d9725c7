"""Assemble the FastAPI app of one model instance: CRUD routers, probes, metrics, model, docs.

``create_app`` migrates the database first, so a refused migration never serves. The OpenAPI
document, ``/docs`` and ``/redoc`` are FastAPI's, built on the first request for them (FastAPI's
default), which keeps them out of the cold start.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote as url_quote

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.responses import Response

from pim_engine import errors
from pim_engine.entity_models import build_models, component_names
from pim_engine.guard import RequestGuard
from pim_engine.loader.constraints import entity_constraints
from pim_engine.metrics import CONTENT_TYPE, Metrics, MetricsMiddleware
from pim_engine.model import Model
from pim_engine.routes import add_entity_routes
from pim_engine.schema import tables_for
from pim_engine.storage.sqlite import SqliteDatabase
from pim_engine.storage.sqlite_migrate import migrate

#: Default request body limit (``--max-body-bytes``).
MAX_BODY_BYTES = 1 << 20
#: Longest request target (path plus query) served; longer ones get 414.
MAX_URL_BYTES = 8192
_JSON = "application/json"


def model_document(model: Model) -> dict[str, Any]:
    """``/model``: the normalized model, plus every constraint with whether the engine enforces it."""
    return {
        **model.to_dict(),
        "enforcement": [c.to_dict() for e in model.entities for c in entity_constraints(e)],
    }


def create_app(
    model: Model,
    db_path: str,
    *,
    allow_destructive_migration: bool = False,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """Migrate ``db_path`` to ``model`` and return the app serving it.

    Raises ``ModelError`` for a model the engine cannot map and ``MigrationRefused`` (database
    untouched) for a change that needs ``allow_destructive_migration`` or cannot be applied.
    """
    tables = tables_for(model.entities)
    rules = {e.name: [r for c in entity_constraints(e) for r in c.rules] for e in model.entities}
    key_types = {name: t.key.attribute.type for name, t in tables.items()}
    names = component_names(tables)
    models = {name: build_models(t, key_types, rules[name], names[name]) for name, t in tables.items()}
    outcome = migrate(db_path, model, tables, allow_destructive=allow_destructive_migration)
    database = SqliteDatabase(db_path, tables, rules)
    metrics = Metrics(model, database.row_counts)
    model_body = errors.dumps(model_document(model))

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            database.close()

    app = FastAPI(
        title=model.domain,
        version=model.version,
        description=model.description or f"REST API of the {model.domain} model",
        redirect_slashes=False,
        lifespan=lifespan,
        # The engine exports Prometheus metrics of its own; FastAPI's OpenTelemetry hooks would
        # look up the OTel providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        openapi_tags=[{"name": t.name, "description": t.entity.description} for t in tables.values()]
        + [{"name": "ops", "description": "Probes, metrics and the model"}],
    )
    errors.install(app)

    @app.get("/health", tags=["ops"], summary="Liveness", response_class=Response)
    async def health() -> Response:
        return Response(b'{"status":"ok"}', media_type=_JSON)

    @app.get("/ready", tags=["ops"], summary="Readiness: model loaded, database writable", response_class=Response)
    async def ready() -> Response:
        problem = await database.check_ready()
        if problem is not None:
            return Response(errors.dumps({"status": "not ready", "reason": problem}), 503, media_type=_JSON)
        body = {"status": "ready", "model": model.domain, "digest": model.digest}
        return Response(errors.dumps(body), media_type=_JSON)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=Response)
    async def metrics_endpoint() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/model", tags=["ops"], summary="The normalized model and its constraints", response_class=Response)
    async def model_endpoint() -> Response:
        return Response(model_body, media_type=_JSON)

    builtin = list(app.router.routes)
    app.router.routes.clear()
    for name, table in tables.items():
        add_entity_routes(app.router, table, models[name], database.stores[name], key_types, max_body_bytes)
    # The router tries routes in order and FastAPI's matching is not free: CRUD routes come first.
    app.router.routes.extend(builtin)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            schema["info"]["x-model-digest"] = model.digest
            # Collections may have non-ASCII names; a path in the document is the URL clients send.
            schema["paths"] = {url_quote(p, safe="/{}"): ops for p, ops in schema["paths"].items()}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(RequestGuard, max_url_bytes=MAX_URL_BYTES)
    app.state.model = model
    app.state.database = database
    app.state.metrics = metrics
    app.state.migration = outcome
    app.state.collections = frozenset(t.entity.collection for t in tables.values())
    return app
