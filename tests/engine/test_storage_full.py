"""A full volume, on each backend: writes answer 507 with a clear message, reads go on, the instance
stays ready, and writes work again once space is freed, without a restart.

The volume is a small tmpfs mounted for the test (root only): SQLite's file lives on it; for
PostgreSQL, a tablespace on it holds the test database (the server's WAL stays on its own disk, as
a data volume fills before the WAL volume in a real server too). Then a file fills what is left.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from backends import BACKENDS, Backend, PostgresBackend, SqliteBackend
from engine_harness import SHOP_MODEL, Engine

from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.parametrize("backend", BACKENDS)


@contextlib.contextmanager
def small_volume(size: str, owner: int | None = None) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on a new directory (``owner`` gets it), unmounted afterwards."""
    if os.geteuid() != 0:
        reason = "mounting a small tmpfs needs root"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    where = Path(tempfile.mkdtemp(prefix="pim-full-"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        where.rmdir()
        pytest.fail(f"cannot mount a tmpfs for the full-volume test: {done.stderr.decode().strip()}")
    try:
        if owner is not None:
            os.chown(where, owner, owner)
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        where.rmdir()


def fill(volume: Path) -> Path:
    """Write a file until the volume has no space left, down to the last block; the file."""
    filler = volume / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        size = 1 << 20
        while size >= 512:
            try:
                os.write(fd, b"\0" * size)
            except OSError as err:
                if err.errno != errno.ENOSPC:
                    raise
                size //= 2
    finally:
        os.close(fd)
    return filler


@pytest.fixture
def on_small_volume(backend: str, request: pytest.FixtureRequest) -> Iterator[tuple[Backend, Path]]:
    if backend == "sqlite":
        with small_volume("4m") as volume:
            yield SqliteBackend(volume / "shop.db"), volume
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    uid = server.run_as.pw_uid if server.run_as is not None else None
    with small_volume("24m", owner=uid) as volume:
        space = "full_" + uuid.uuid4().hex[:8]
        server.psql(f"CREATE TABLESPACE {space} LOCATION '{volume}'")
        name = server.create_database(tablespace=space)
        try:
            yield PostgresBackend(server, name), volume
        finally:
            server.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            server.psql(f"DROP TABLESPACE IF EXISTS {space}")


def test_a_full_volume_refuses_writes_with_507_and_reads_go_on(
    backend: str, on_small_volume: tuple[Backend, Path]
) -> None:
    database, volume = on_small_volume
    with Engine(SHOP_MODEL, database) as engine, engine.client() as api:
        kept = api.post("/api/v1/customers", json={"name": "Kept", "email": "kept@example.org"}).json()
        filler = fill(volume)
        refused = None
        for n in range(5000):  # free room inside pages and the WAL is used up first
            answer = api.post("/api/v1/customers", json={"name": "x", "email": f"{n}-{'e' * 2000}"})
            if answer.status_code != 201:
                refused = answer
                break
        assert refused is not None, "the volume never filled up"
        assert refused.status_code == 507, refused.text
        [error] = refused.json()["detail"]
        assert error["type"] == "storage_full"
        assert "storage full" in error["msg"]
        assert "space" in error["msg"]
        assert api.get(f"/api/v1/customers/{kept['id']}").json() == kept
        assert api.get("/api/v1/customers", params={"email": "kept@example.org"}).json()["total"] == 1
        assert api.get("/ready").status_code == 200  # stays in the Service: reads are served
        assert api.get("/health").status_code == 200
        filler.unlink()
        again = api.post("/api/v1/customers", json={"name": "After", "email": "after@example.org"})
        assert again.status_code == 201, again.text
        assert api.get(f"/api/v1/customers/{again.json()['id']}").json() == again.json()
