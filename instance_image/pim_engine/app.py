"""Assemble the FastAPI app of one model instance: CRUD routers, probes, metrics, model, docs.

``create_app`` migrates an SQLite file first, so a refused migration never serves; a PostgreSQL
database is migrated in the lifespan's start (under an advisory lock, see
``storage/postgres_migrate.py``), and until that is done ``/ready`` says why not. The OpenAPI
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
from pim_engine.access.config import OPEN, Access
from pim_engine.database_url import SQLITE, parse
from pim_engine.entity_models import build_models, component_names
from pim_engine.guard import RequestGuard
from pim_engine.loader.constraints import entity_constraints
from pim_engine.metrics import CONTENT_TYPE, Metrics, MetricsMiddleware
from pim_engine.model import Model
from pim_engine.routes import add_entity_routes
from pim_engine.schema import Table, tables_for
from pim_engine.storage import Database

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


def open_database(
    model: Model,
    database: str,
    tables: dict[str, Table],
    rules: dict[str, Any],
    *,
    allow_destructive_migration: bool,
    pool_size: int,
) -> tuple[Database, Any]:
    """The backend ``database`` names (a URL, or the path of an SQLite file), and the SQLite migration's outcome."""
    url = parse(database) if "://" in database else parse("sqlite:///" + database)
    if url.kind == SQLITE:
        from pim_engine.storage.sqlite import SqliteDatabase
        from pim_engine.storage.sqlite_migrate import migrate

        outcome = migrate(url.path, model, tables, allow_destructive=allow_destructive_migration)
        return SqliteDatabase(url.path, tables, rules), outcome
    from pim_engine.storage.postgres import PostgresDatabase

    db = PostgresDatabase(url, model, tables, rules, pool_size=pool_size, allow_destructive=allow_destructive_migration)
    return db, None


def create_app(
    model: Model,
    database: str,
    *,
    allow_destructive_migration: bool = False,
    max_body_bytes: int = MAX_BODY_BYTES,
    pool_size: int = 10,
    access: Access = OPEN,
) -> FastAPI:
    """Return the app serving ``model`` over ``database`` (``sqlite:///...``, ``postgresql://...`` or a file path).

    ``access`` says who may call it (``pim_engine.access``); with its default nobody is asked.

    Raises ``ModelError`` for a model the engine cannot map and, for SQLite, ``MigrationRefused``
    (database untouched) for a change that needs ``allow_destructive_migration`` or cannot be applied.
    """
    tables = tables_for(model.entities)
    rules = {e.name: [r for c in entity_constraints(e) for r in c.rules] for e in model.entities}
    key_types = {name: t.key.attribute.type for name, t in tables.items()}
    names = component_names(tables)
    models = {name: build_models(t, key_types, rules[name], names[name]) for name, t in tables.items()}
    db, outcome = open_database(
        model, database, tables, rules, allow_destructive_migration=allow_destructive_migration, pool_size=pool_size
    )
    metrics = Metrics(model, db.row_counts)
    model_body = errors.dumps(model_document(model))
    guard = _access_guard(access, metrics) if access.enabled else None  # (middleware, its arguments)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await db.start()
        try:
            yield
        finally:
            if guard is not None and guard[1]["reviewer"] is not None:
                await guard[1]["reviewer"].aclose()
            await db.stop()

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
        problem = await db.check_ready()
        if problem is not None:
            body = {"status": "unavailable", "reason": problem.reason, "detail": problem.detail}
            return Response(errors.dumps(body), 503, media_type=_JSON)
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
        add_entity_routes(app.router, table, models[name], db.stores[name], key_types, max_body_bytes)
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
            access.document(schema)
            # Collections may have non-ASCII names; a path in the document is the URL clients send.
            schema["paths"] = {url_quote(p, safe="/{}"): ops for p, ops in schema["paths"].items()}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    # Middleware added last runs first: the request guard, metrics (so refusals are counted), access.
    if guard is not None:
        app.add_middleware(guard[0], **guard[1])
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(RequestGuard, max_url_bytes=MAX_URL_BYTES)
    app.state.model = model
    app.state.database = db
    app.state.metrics = metrics
    app.state.migration = outcome
    app.state.collections = frozenset(t.entity.collection for t in tables.values())
    return app


def _access_guard(access: Access, metrics: Metrics) -> tuple[type, dict[str, Any]]:
    """The access middleware and its arguments (imported here: HTTPX only where auth is on)."""
    from pim_engine.access.guard import AccessGuard
    from pim_engine.access.keys import KeyRing
    from pim_engine.access.kube import Reviewer

    reviewer = None
    if access.api_server is not None and access.instance is not None:
        namespace, name = access.instance
        reviewer = Reviewer(access.api_server, namespace, name, on_review=metrics.count_review)
    keys = KeyRing(access.keys_dir) if access.keys_dir is not None else None
    return AccessGuard, {"mode": access.mode, "reviewer": reviewer, "keys": keys}
