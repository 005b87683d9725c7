"""Engine test harness: real ``pim-engine serve`` processes on free loopback ports, over a real SQLite
file or a real PostgreSQL database (``backends.py``)."""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from backends import Backend, SqliteBackend

from tests.support.net import free_port

FIXTURES = Path(__file__).parent / "fixtures" / "serve"
SHOP_MODEL = FIXTURES / "shop.yaml"
START_DEADLINE = 20.0


#: A small model with a reference, for lifecycle and migration tests.
LIBRARY_MODEL = """\
domain: library
version: 1.0.0
entities:
  - name: Author
    attributes:
      name: {type: string, required: true}
  - name: Book
    attributes:
      title: {type: string, required: true}
      author: {type: reference, reference: Author, required: false}
      pages: {type: integer, required: false}
"""


def write_model(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Engine:
    """One ``python -m pim_engine.serve`` process; ``start`` waits until ``/ready`` answers 200.

    ``database`` is a ``Backend`` or the path of an SQLite file.
    """

    def __init__(self, model: Path, database: Path | Backend, *extra: str, env: dict[str, str] | None = None) -> None:
        self.model = model
        self.database = SqliteBackend(database) if isinstance(database, Path) else database
        self.extra = extra
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[str] | None = None
        self._new_port()

    def _new_port(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            sys.executable,
            "-m",
            "pim_engine.serve",
            "--model",
            str(self.model),
            *self.database.engine_args(),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            *self.extra,
        ]

    def run(self, timeout: float = START_DEADLINE) -> subprocess.CompletedProcess[str]:
        """Run to completion (for starts that must fail)."""
        return subprocess.run(self.args, env=self.env, capture_output=True, text=True, timeout=timeout)

    @property
    def db(self) -> Path:
        """The SQLite file (tests of SQLite itself)."""
        assert isinstance(self.database, SqliteBackend), "not an SQLite engine"
        return self.database.path

    def start(self) -> Engine:
        """Spawn and wait for ``/ready``; a port taken between ``free_port`` and the bind is retried."""
        for _ in range(3):
            try:
                return self.spawn().wait_ready()
            except AssertionError as err:
                if "address already in use" not in str(err):
                    raise
                self._new_port()
        return self.spawn().wait_ready()

    def spawn(self) -> Engine:
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return self

    def wait_ready(self, deadline_s: float = START_DEADLINE) -> Engine:
        assert self.proc is not None
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                _, err = self.proc.communicate()
                raise AssertionError(f"engine exited with {self.proc.returncode} before ready: {err}")
            try:
                if httpx.get(self.url + "/ready", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.02)
        self.kill()
        raise AssertionError(f"engine not ready within {deadline_s} s")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        finally:
            self.kill()
        return self.proc.returncode

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def race(engine: Engine, collection: str, body: Callable[[int], dict]) -> list[httpx.Response]:
    """20 clients posting at once (a barrier releases them together): exactly one may win."""
    start = threading.Barrier(20)

    def claim(n: int) -> httpx.Response:
        with engine.client() as client:
            start.wait()
            return client.post(f"/api/v1/{collection}", json=body(n))

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(claim, range(20)))
    assert sorted(a.status_code for a in answers) == [201] + [409] * 19, [
        a.text for a in answers if a.status_code == 503
    ]
    return answers


def new_customer(api: httpx.Client, **fields: object) -> dict:
    body = {"name": "Ann", "email": f"{uuid.uuid4().hex}@example.org", **fields}
    response = api.post("/api/v1/customers", json=body)
    assert response.status_code == 201, response.text
    return response.json()
