"""The databases an engine under test runs on: an SQLite file, or a database on a real PostgreSQL server.

Tests that look at what was stored go through a ``Backend``: row counts, raw column values, the
schema's indexes and columns, and a digest of everything (to prove a refused migration changed
nothing), each answered by the database itself (``sqlite3``, or ``psql``/``pg_dump``).
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import pytest

from tests.support.postgres import PostgresServer

BACKENDS = [b.strip() for b in os.environ.get("PIM_ENGINE_BACKENDS", "sqlite,postgresql").split(",") if b.strip()]
if os.environ.get("CI") and set(BACKENDS) != {"sqlite", "postgresql"}:
    raise RuntimeError("CI runs the engine tests on both backends: unset PIM_ENGINE_BACKENDS")


class Backend(Protocol):
    name: str

    def engine_args(self) -> list[str]: ...

    def rows(self, table: str) -> int: ...

    def column(self, sql: str) -> list[str]:
        """The first column of the rows of ``sql``, as text."""
        ...

    def indexes(self, table: str) -> dict[str, list[str]]: ...

    def uses_index(self, sql: str) -> str:
        """The query plan of ``sql``, as text."""
        ...

    def columns(self, table: str) -> list[str]: ...

    def tables(self) -> list[str]: ...

    def digest(self) -> str: ...


class SqliteBackend:
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path

    def engine_args(self) -> list[str]:
        return ["--db", str(self.path)]

    def _read(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)

    def rows(self, table: str) -> int:
        with self._read() as conn:
            return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]

    def column(self, sql: str) -> list[str]:
        with self._read() as conn:
            conn.text_factory = bytes
            return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for (v, *_) in conn.execute(sql)]

    def indexes(self, table: str) -> dict[str, list[str]]:
        with self._read() as conn:
            sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL"
            names = [r[0] for r in conn.execute(sql, (table,))]
            return {n: [r[2] for r in conn.execute(f'PRAGMA index_info("{n}")')] for n in names}

    def uses_index(self, sql: str) -> str:
        with self._read() as conn:
            return str(conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall())

    def columns(self, table: str) -> list[str]:
        with self._read() as conn:
            return [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]

    def tables(self) -> list[str]:
        if not self.path.exists():
            return []
        with self._read() as conn:
            return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]

    def digest(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


class PostgresBackend:
    name = "postgresql"

    def __init__(self, server: PostgresServer, database: str, url: str | None = None) -> None:
        self.server = server
        self.database = database
        self.url = url or server.url(database)

    def engine_args(self) -> list[str]:
        return ["--database-url", self.url]

    def psql(self, sql: str) -> str:
        return self.server.psql(sql, self.database)

    def rows(self, table: str) -> int:
        return int(self.psql(f'SELECT count(*) FROM "{table}"'))

    def column(self, sql: str) -> list[str]:
        out = self.psql(sql)
        return out.splitlines() if out else []

    def indexes(self, table: str) -> dict[str, list[str]]:
        """Index name -> the columns it covers (a unique text column is indexed by ``pim_digest(column)``)."""
        out = self.psql(
            "SELECT i.relname || '=' || string_agg(pg_get_indexdef(x.indexrelid, k.n::int, true), ',' ORDER BY k.n) "
            "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "CROSS JOIN LATERAL generate_series(1, x.indnatts) k(n) "
            f"WHERE t.relname = '{table}' AND NOT x.indisprimary GROUP BY i.relname"
        )
        out = re.sub(r"pim_digest\(\(?([^()]+?)\)?(?:::text)?\)", r"\1", out).replace('"', "")
        return {line.split("=", 1)[0]: line.split("=", 1)[1].split(",") for line in out.splitlines()}

    def uses_index(self, sql: str) -> str:
        return self.psql(f"SET enable_seqscan = off; EXPLAIN {sql}")

    def columns(self, table: str) -> list[str]:
        sql = (
            f"SELECT column_name FROM information_schema.columns WHERE table_name = '{table}' ORDER BY ordinal_position"
        )
        return self.column(sql)

    def tables(self) -> list[str]:
        return self.column("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")

    def digest(self) -> str:
        return self.server.digest(self.database)


NewDatabase = Callable[[], Backend]


def database_factory(request: pytest.FixtureRequest, backend: str, directory: Path) -> NewDatabase:
    """Fresh, empty databases of ``backend``: files in ``directory``, or databases on the session's server."""
    counter = iter(range(1_000_000))
    if backend == "sqlite":
        return lambda: SqliteBackend(directory / f"db{next(counter)}.sqlite")
    server: PostgresServer = request.getfixturevalue("pg_server")
    return lambda: PostgresBackend(server, server.create_database())
