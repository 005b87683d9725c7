"""Engine processes over their lifetime, on each backend: restarts, model changes, bad input, SIGTERM."""

from __future__ import annotations

import socket
from pathlib import Path

from backends import Backend
from engine_harness import LIBRARY_MODEL, Engine, write_model

from tests.support.waiting import wait_for

BASE = LIBRARY_MODEL
write = write_model


def seed(engine: Engine) -> dict:
    with engine.client() as api:
        author = api.post("/api/v1/authors", json={"name": "Le Guin"}).json()
        book = api.post("/api/v1/books", json={"title": "Earthsea", "author": author["id"], "pages": 200})
        assert book.status_code == 201
        return book.json()


def test_data_survives_a_restart(tmp_path: Path, database: Backend) -> None:
    model, db = write(tmp_path, "m.yaml", BASE), database
    first = Engine(model, db).start()
    book = seed(first)
    assert first.stop() == 0
    second = Engine(model, db).start()
    try:
        with second.client() as api:
            assert api.get(f"/api/v1/books/{book['id']}").json() == book
            assert api.post("/api/v1/books", json={"title": "Next"}).json()["id"] == book["id"] + 1
    finally:
        assert second.stop() == 0


def test_added_entity_and_attributes_are_migrated(tmp_path: Path, database: Backend) -> None:
    db = database
    first = Engine(write(tmp_path, "v1.yaml", BASE), db).start()
    book = seed(first)
    assert first.stop() == 0
    v2 = BASE.replace("version: 1.0.0", "version: 1.1.0") + (
        "      isbn: {type: string, required: false, unique: true}\n"
        "      format: {type: enum, enum: [paper, ebook], default: paper}\n"
        "  - name: Shelf\n"
        "    attributes:\n"
        "      label: {type: string, required: true}\n"
    )
    second = Engine(write(tmp_path, "v2.yaml", v2), db).start()
    try:
        with second.client() as api:
            migrated = api.get(f"/api/v1/books/{book['id']}").json()
            assert migrated == {**book, "isbn": None, "format": "paper"}
            assert api.post("/api/v1/shelfs", json={"label": "A"}).status_code == 201
            assert api.get("/model").json()["version"] == "1.1.0"
    finally:
        assert second.stop() == 0


def test_destructive_change_is_refused_and_the_database_untouched(tmp_path: Path, database: Backend) -> None:
    db = database
    first = Engine(write(tmp_path, "v1.yaml", BASE), db).start()
    seed(first)
    assert first.stop() == 0
    before = db.digest()
    # drops Author (with a row), drops Book.pages, retypes Book.title, and adds a required column
    changed = """\
domain: library
version: 2.0.0
entities:
  - name: Book
    attributes:
      title: {type: integer, required: true}
      author: {type: integer, required: false}
      isbn: {type: string, required: true}
"""
    result = Engine(write(tmp_path, "v2.yaml", changed), db).run()
    assert result.returncode == 2
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1
    assert "Traceback" not in result.stderr
    for culprit in ("Author", "Book.pages", "Book.title", "Book.author", "Book.isbn"):
        assert culprit in message
    assert db.digest() == before


def test_destructive_change_applies_with_the_flag(tmp_path: Path, database: Backend) -> None:
    db = database
    first = Engine(write(tmp_path, "v1.yaml", BASE), db).start()
    book = seed(first)
    assert first.stop() == 0
    without_pages = BASE.replace("      pages: {type: integer, required: false}\n", "")
    model = write(tmp_path, "v2.yaml", without_pages)
    refused = Engine(model, db).run()
    assert refused.returncode == 2
    assert "Book.pages" in refused.stderr
    assert "--allow-destructive-migration" in refused.stderr
    second = Engine(model, db, env={"PIM_ALLOW_DESTRUCTIVE_MIGRATION": "true"}).start()
    try:
        with second.client() as api:
            kept = api.get(f"/api/v1/books/{book['id']}").json()
            assert kept == {k: v for k, v in book.items() if k != "pages"}
            # the rebuilt table still enforces references
            assert api.delete(f"/api/v1/authors/{book['author']}").status_code == 409
    finally:
        assert second.stop() == 0
    columns = db.columns("Book")
    assert "title" in columns
    assert "pages" not in columns


def test_bad_model_exits_1_with_one_line(tmp_path: Path, database: Backend) -> None:
    bad = "domain: x\nentities:\n  - name: A\n    attributes:\n      n: {type: nope}\n"
    model = write(tmp_path, "bad.yaml", bad)
    result = Engine(model, database).run()
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "bad.yaml" in result.stderr
    assert database.tables() == []


def test_sigterm_lets_in_flight_requests_finish(tmp_path: Path, database: Backend) -> None:
    db = database
    engine = Engine(write(tmp_path, "m.yaml", BASE), db).start()
    body = b'{"name": "Slow Writer"}'
    head = (
        b"POST /api/v1/authors HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    with socket.create_connection(("127.0.0.1", engine.port), timeout=10) as sock:
        sock.sendall(head + body[:5])  # the request is now in flight, waiting for its body
        _wait_for_in_flight(engine)
        assert engine.proc is not None
        engine.proc.terminate()
        sock.sendall(body[5:])
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 201"), reply
    assert engine.stop() == 0
    if db.name == "sqlite":  # the WAL was checkpointed into the file
        wal = Path(str(engine.db) + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0
    assert db.column('SELECT name FROM "Author"') == ["Slow Writer"]


def _wait_for_in_flight(engine: Engine) -> None:
    """Make sure the server has read our request head before it is told to stop.

    Our bytes were in the server's socket before this second connection existed; the event loop
    handles readable sockets in order of readiness, so by the time it has accepted, read and
    answered this request it has also started ours.
    """
    with engine.client() as api:
        assert api.get("/health").status_code == 200


TAGS = """\
domain: tags
version: 1.0.0
entities:
  - name: Tag
    attributes:
      code: {type: string, required: true}
      amount: {type: string, required: false}
      score: {type: integer, required: false}
  - name: Label
    attributes:
      name: {type: string, required: true}
"""


def test_allowed_retypes_a_new_unique_and_a_new_key_keep_the_data(tmp_path: Path, database: Backend) -> None:
    first = Engine(write(tmp_path, "v1.yaml", TAGS), database).start()
    with first.client() as api:
        for code, amount, score in (("a", "12.50", 3), ("b", "7", 4)):
            assert api.post("/api/v1/tags", json={"code": code, "amount": amount, "score": score}).status_code == 201
        for name in ("x", "y"):
            assert api.post("/api/v1/labels", json={"name": name}).status_code == 201
    assert first.stop() == 0
    v2 = (
        TAGS.replace("version: 1.0.0", "version: 2.0.0")
        .replace("code: {type: string, required: true}", "code: {type: string, required: true, unique: true}")
        .replace("amount: {type: string", "amount: {type: decimal")
        .replace("score: {type: integer", "score: {type: float")
        .replace("name: {type: string, required: true}", "name: {type: string, required: true, primary_key: true}")
    )
    model = write(tmp_path, "v2.yaml", v2)
    refused = Engine(model, database).run()
    assert refused.returncode == 2
    assert "Tag.amount" in refused.stderr
    assert "Label" in refused.stderr
    second = Engine(model, database, "--allow-destructive-migration").start()
    try:
        with second.client() as api:
            tags = api.get("/api/v1/tags", params={"sort": "code"}).json()["items"]
            assert [(t["code"], t["amount"], t["score"]) for t in tags] == [("a", "12.50", 3.0), ("b", "7", 4.0)]
            assert api.post("/api/v1/tags", json={"code": "a"}).status_code == 409
            assert api.get("/api/v1/labels/x").json() == {"name": "x"}
            assert api.post("/api/v1/labels", json={"name": "x"}).status_code == 409
            assert api.post("/api/v1/labels", json={"name": "z"}).status_code == 201
    finally:
        assert second.stop() == 0


def test_draining_after_sigterm_tells_keep_alive_clients_to_reconnect(tmp_path: Path, database: Backend) -> None:
    """With --drain-seconds the engine keeps serving after SIGTERM, and every answer closes its
    connection: a client holding a keep-alive connection to this pod reconnects (through the
    Service, to another one) instead of meeting a connection closed under its next request."""
    engine = Engine(write(tmp_path, "m.yaml", BASE), database, "--drain-seconds", "30").start()
    assert engine.proc is not None
    with engine.client() as api:
        before = api.post("/api/v1/authors", json={"name": "Before"})
        assert before.status_code == 201
        assert before.headers.get("connection", "").lower() != "close"  # keep-alive as usual
        engine.proc.terminate()
        # the signal is handled between two of the loop's ticks: from then on every answer closes
        draining = wait_for(lambda: (r := api.get("/health")).headers.get("connection") == "close" and r, 10, "drain")
        assert draining.status_code == 200
        during = api.post("/api/v1/authors", json={"name": "During"})  # a new connection: still served
        assert during.status_code == 201
        assert during.headers["connection"] == "close"
    assert engine.proc.poll() is None  # still draining (30 s)
    engine.proc.terminate()  # a second signal stops it at once
    assert engine.proc.wait(timeout=20) == 0
    assert sorted(database.column('SELECT name FROM "Author"')) == ["Before", "During"]
