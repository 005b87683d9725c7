"""What only the PostgreSQL backend has: replicas sharing one database, a server that goes away and
comes back, URIs as Kubernetes Secrets hold them, a bounded pool. Real servers, real processes."""

from __future__ import annotations

import concurrent.futures
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from backends import PostgresBackend
from engine_harness import LIBRARY_MODEL, SHOP_MODEL, Engine, write_model

from tests.support.postgres import PostgresServer, PostgresUnavailable
from tests.support.waiting import wait_for

REPLICAS = 4
MODEL = LIBRARY_MODEL.replace("      pages: {type: integer, required: false}\n", "")


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    """A server of this test's own, to stop and start (the session's stays up for the others).

    Commits wait for the WAL write here: the tests stop it the hard way and count on acknowledged rows.
    """
    try:
        server = PostgresServer(settings={"synchronous_commit": "on"}).start()
    except PostgresUnavailable as err:
        pytest.fail(f"PostgreSQL could not start: {err}")
    try:
        yield server
    finally:
        server.destroy()


write = write_model


def ready(engine: Engine) -> httpx.Response:
    return httpx.get(engine.url + "/ready", timeout=10)


def migrations(db: PostgresBackend) -> list[str]:
    return db.column("SELECT action FROM _pim_migrations ORDER BY id")


def start_all(engines: list[Engine]) -> None:
    """Spawn every engine before waiting for any: they meet the database at the same moment."""
    for engine in engines:
        engine.spawn()
    for engine in engines:
        engine.wait_ready(60)


def test_replicas_started_at_once_apply_each_migration_exactly_once(tmp_path: Path, pg_server: PostgresServer) -> None:
    db = PostgresBackend(pg_server, pg_server.create_database())
    v1 = write(tmp_path, "v1.yaml", MODEL)
    engines = [Engine(v1, db) for _ in range(REPLICAS)]
    try:
        start_all(engines)
        assert migrations(db) == ["created"]
        author = httpx.post(engines[0].url + "/api/v1/authors", json={"name": "Le Guin"}).json()
        for engine in engines:  # one dataset behind every replica
            assert httpx.get(f"{engine.url}/api/v1/authors/{author['id']}").json() == author
    finally:
        for engine in engines:
            engine.stop()
    v2 = write(tmp_path, "v2.yaml", MODEL + "      pages: {type: integer, required: false}\n")
    engines = [Engine(v2, db) for _ in range(REPLICAS)]
    try:
        start_all(engines)
        assert migrations(db) == ["created", "migrated"]
        for engine in engines:
            created = httpx.post(engine.url + "/api/v1/books", json={"title": "Earthsea", "pages": 200})
            assert created.status_code == 201, created.text
            assert created.json()["pages"] == 200
        assert db.rows("Book") == REPLICAS
    finally:
        for engine in engines:
            assert engine.stop() == 0


def test_losing_the_database_is_503_and_the_engine_recovers_by_itself(
    tmp_path: Path, own_server: PostgresServer
) -> None:
    db = PostgresBackend(own_server, own_server.create_database())
    with Engine(SHOP_MODEL, db) as engine, engine.client() as api:
        customer = api.post("/api/v1/customers", json={"name": "Ann", "email": "ann@example.org"}).json()
        pid = engine.proc.pid if engine.proc else None
        own_server.stop("immediate")

        def unreachable() -> httpx.Response | None:
            answer = api.get("/ready")
            return answer if answer.status_code == 503 else None

        down = wait_for(unreachable, 30, "/ready to say the database is gone").json()
        assert down["status"] == "unavailable"
        assert down["reason"] == "Unreachable"
        assert down["detail"]
        assert api.get("/health").status_code == 200
        for response in (
            api.get(f"/api/v1/customers/{customer['id']}"),
            api.get("/api/v1/customers"),
            api.post("/api/v1/customers", json={"name": "Bob", "email": "bob@example.org"}),
        ):
            assert response.status_code == 503, response.text
            [error] = response.json()["detail"]
            assert error["loc"] == ["database"]
            assert "database" in error["msg"]
        own_server.start()
        wait_for(lambda: api.get("/ready").status_code == 200, 30, "/ready after the database came back")
        assert api.get(f"/api/v1/customers/{customer['id']}").json() == customer
        assert api.post("/api/v1/customers", json={"name": "Bob", "email": "bob@example.org"}).status_code == 201
        assert engine.proc is not None
        assert engine.proc.pid == pid
        assert engine.proc.poll() is None


def test_a_database_missing_at_start_is_waited_for(tmp_path: Path, own_server: PostgresServer) -> None:
    db = PostgresBackend(own_server, own_server.create_database())
    own_server.stop()
    engine = Engine(SHOP_MODEL, db).spawn()
    try:
        answer = wait_for(lambda: _answer(engine), 30, "the engine to answer /ready")
        assert answer.status_code == 503
        assert answer.json()["reason"] == "Unreachable"
        assert httpx.get(engine.url + "/health").status_code == 200
        own_server.start()
        engine.wait_ready(30)
        assert migrations(db) == ["created"]
        with engine.client() as api:
            assert api.post("/api/v1/customers", json={"name": "A", "email": "a@example.org"}).status_code == 201
    finally:
        engine.stop()


def test_a_refused_migration_found_later_is_the_ready_reason(tmp_path: Path, own_server: PostgresServer) -> None:
    db = PostgresBackend(own_server, own_server.create_database())
    with Engine(write(tmp_path, "v1.yaml", MODEL), db) as first, first.client() as api:
        assert api.post("/api/v1/authors", json={"name": "Le Guin"}).status_code == 201
    before = db.digest()
    own_server.stop()
    without_authors = MODEL.split("  - name: Book")[0].replace("Author", "Writer")
    engine = Engine(write(tmp_path, "v2.yaml", without_authors), db).spawn()
    try:
        wait_for(lambda: _answer(engine), 30, "the engine to answer /ready")
        own_server.start()

        def refused() -> dict | None:
            body = ready(engine).json()
            return body if body.get("reason") == "MigrationRefused" else None

        body = wait_for(refused, 30, "/ready to report the refused migration")
        assert "migration refused" in body["detail"]
        assert "Author" in body["detail"]
        assert "pim-test-password" not in body["detail"]
        assert httpx.get(engine.url + "/api/v1/writers").status_code == 503
    finally:
        engine.stop()
    assert db.digest() == before


def _answer(engine: Engine) -> httpx.Response | None:
    try:
        return ready(engine)
    except httpx.TransportError:
        return None


class FromEnvironment(PostgresBackend):
    """A database the engine finds through its environment (no flag)."""

    def engine_args(self) -> list[str]:
        return []


def test_uris_as_kubernetes_secrets_hold_them(tmp_path: Path, pg_server: PostgresServer) -> None:
    """A CloudNativePG ``-app``/Crunchy ``pguser`` style URI from a mounted file, with an awkward password."""
    name = pg_server.create_database()
    password = "p@ss:w/rd%?#&="
    literal = password.replace("'", "''")
    pg_server.psql(f"CREATE ROLE app LOGIN PASSWORD '{literal}'; ALTER DATABASE \"{name}\" OWNER TO app", name)
    pg_server.psql("ALTER SCHEMA public OWNER TO app", name)
    from urllib.parse import quote

    uri = f"postgresql://app:{quote(password, safe='')}@127.0.0.1:{pg_server.port}/{name}"
    uri += "?sslmode=prefer&connect_timeout=3&application_name=orders-engine"
    secret = tmp_path / "uri"
    secret.write_text(uri + "\n")
    db = FromEnvironment(pg_server, name)
    with Engine(SHOP_MODEL, db, env={"PIM_DATABASE_URL_FILE": str(secret)}) as engine, engine.client() as api:
        assert api.post("/api/v1/customers", json={"name": "A", "email": "a@example.org"}).status_code == 201
        apps = db.column(f"SELECT DISTINCT application_name FROM pg_stat_activity WHERE datname = '{name}'")
        assert "orders-engine" in apps
        assert db.column("SELECT tableowner FROM pg_tables WHERE tablename = 'Customer'") == ["app"]


def test_the_pool_never_opens_more_connections_than_its_size(pg_server: PostgresServer) -> None:
    db = PostgresBackend(pg_server, pg_server.create_database())
    with Engine(SHOP_MODEL, db, env={"PIM_POOL_SIZE": "2"}) as engine:
        counts: list[int] = []

        def load() -> None:
            with engine.client() as api:
                for n in range(40):
                    assert api.post("/api/v1/customers", json={"name": "x", "email": f"{os.urandom(8).hex()}{n}"})
                    assert api.get("/api/v1/customers", params={"limit": 50}).status_code == 200

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(load) for _ in range(8)]
            while not all(f.done() for f in futures):
                counts.append(
                    int(
                        db.psql(
                            "SELECT count(*) FROM pg_stat_activity "
                            f"WHERE datname = '{db.database}' AND application_name = 'pim-engine'"
                        )
                    )
                )
                time.sleep(0.05)
            for future in futures:
                future.result()
        assert max(counts) == 2, counts


def test_a_layout_1_database_moves_its_unique_text_to_a_digest_index_keeping_rows(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    """Layout 1 enforced unique text with a hash exclusion constraint (deadlocks racing writers)."""
    db = PostgresBackend(pg_server, pg_server.create_database())
    with Engine(SHOP_MODEL, db) as engine:
        assert httpx.post(engine.url + "/api/v1/customers", json={"name": "Ann", "email": "a@x.org"}).status_code == 201
    # What layout 1 left behind: the exclusion constraint in place of the index, and its version.
    db.psql('DROP INDEX "uq__Customer__email"')
    db.psql('ALTER TABLE "Customer" ADD CONSTRAINT "uq__Customer__email" EXCLUDE USING hash ("email" WITH =)')
    db.psql("UPDATE _pim_meta SET value = '1' WHERE key = 'mapping_version'")
    with Engine(SHOP_MODEL, db) as engine:
        clash = httpx.post(engine.url + "/api/v1/customers", json={"name": "Bob", "email": "a@x.org"})
        assert clash.status_code == 409, clash.text
        assert clash.json()["detail"][0]["loc"] == ["body", "email"]
    assert db.rows("Customer") == 1
    assert db.column("SELECT contype FROM pg_constraint WHERE conname = 'uq__Customer__email'") == []
    assert db.column("SELECT indexdef LIKE '%pim_digest%' FROM pg_indexes WHERE indexname = 'uq__Customer__email'") == [
        "t"
    ]
    assert db.column("SELECT value FROM _pim_meta WHERE key = 'mapping_version'") == ["2"]
