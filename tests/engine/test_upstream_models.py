"""Every upstream model file maps onto a database of each backend and serves each of its collections.

In-process (ASGI, no uvicorn) on purpose: what is checked here is the model-to-SQLite mapping for
many models at once; the HTTP server itself is exercised by the process-level tests, and starting
fourteen servers would cost more than the rest of the suite.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import quote

import httpx
from backends import NewDatabase, PostgresBackend, SqliteBackend

from pim_engine.app import create_app
from pim_engine.loader import load_model
from tests.support.upstream import upstream_dir, upstream_models


async def check(path: Path, database: SqliteBackend | PostgresBackend) -> None:
    model = load_model(path)
    app = create_app(model, str(database.path) if isinstance(database, SqliteBackend) else database.url)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://engine") as api,
        ):
            assert (await api.get("/ready")).status_code == 200
            paths = (await api.get("/openapi.json")).json()["paths"]
            for entity in model.entities:
                collection = f"/api/v1/{quote(entity.collection)}"
                listing = await api.get(collection)
                assert listing.status_code == 200, f"{path.name} {entity.name}: {listing.text}"
                assert listing.json()["total"] == 0
                assert collection in paths
    finally:
        await app.state.database.stop()


def test_every_upstream_model_is_served(new_database: NewDatabase) -> None:
    models = upstream_models()
    assert models, f"no model files in {upstream_dir()}"
    for path in models:
        asyncio.run(check(path, new_database()))
