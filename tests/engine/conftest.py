"""Fixtures of the engine tests: each backend, and one shop engine per backend shared by the session.

Tests that take ``shop_engine``, ``api`` or ``database`` run once per backend: ``sqlite`` (a file in
a temporary directory) and ``postgresql`` (a database on one real PostgreSQL server for the session,
started with Debian's ``initdb``/``pg_ctl`` in a temporary directory, ``support/postgres.py``).
``PIM_ENGINE_BACKENDS=sqlite`` narrows a local run; CI runs both. A PostgreSQL that cannot start
fails the tests that need it, with the reason: it never skips them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from backends import BACKENDS, Backend, NewDatabase, database_factory
from engine_harness import SHOP_MODEL, Engine

from tests.support.postgres import PostgresServer, PostgresUnavailable


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session (only started when a PostgreSQL test runs)."""
    try:
        server = PostgresServer().start()
    except PostgresUnavailable as err:
        pytest.fail(f"PostgreSQL could not start, so the PostgreSQL-backed engine tests cannot run: {err}")
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(params=BACKENDS)
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> NewDatabase:
    """Makes empty databases of this test's backend."""
    return database_factory(request, request.param, tmp_path)


@pytest.fixture
def database(new_database: NewDatabase) -> Backend:
    """An empty database of this test's backend."""
    return new_database()


@pytest.fixture(scope="session", params=BACKENDS)
def shop_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One engine per backend for the whole session on the shop model; tests create their own rows."""
    new = database_factory(request, request.param, tmp_path_factory.mktemp("shop"))
    with Engine(SHOP_MODEL, new()) as engine:
        yield engine


@pytest.fixture
def api(shop_engine: Engine) -> Iterator[httpx.Client]:
    with shop_engine.client() as client:
        yield client
