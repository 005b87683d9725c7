"""A straightforward hand-written FastAPI + sqlite3 service for one entity: the benchmark's yardstick.

It is what a competent developer writes by hand for the same ``Item`` the engine serves from
``bench/item.yaml``: a Pydantic body model, a response model, sync endpoints (FastAPI runs them in its
thread pool) with one sqlite3 connection per thread, and exact decimals stored as text. Durability is
the engine's: WAL with ``synchronous=NORMAL`` (left at ``FULL`` it would fsync every insert and lose
about a third of its throughput for a guarantee the engine does not give either).
Run it with ``uvicorn bench.baseline_app:app`` and ``BASELINE_DB=path``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from decimal import Decimal

from fastapi import FastAPI, HTTPException, Query

from bench.baseline_models import ItemIn, ItemOut, ItemPage

DB_PATH = os.environ.get("BASELINE_DB", "baseline.db")

_local = threading.local()


def db() -> sqlite3.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(DB_PATH, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA busy_timeout = 5000")
        _local.conn = conn
    return conn


db().execute(
    "CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, "
    "quantity INTEGER NOT NULL, price TEXT NOT NULL, active INTEGER NOT NULL)"
)


app = FastAPI(title="baseline")


def _row(row: tuple) -> ItemOut:
    return ItemOut(id=row[0], name=row[1], quantity=row[2], price=Decimal(row[3]), active=bool(row[4]))


@app.post("/api/v1/items", response_model=ItemOut, status_code=201)
def create_item(item: ItemIn) -> ItemOut:
    cur = db().execute(
        "INSERT INTO item (name, quantity, price, active) VALUES (?, ?, ?, ?)",
        (item.name, item.quantity, str(item.price), int(item.active)),
    )
    return ItemOut(id=cur.lastrowid, **item.model_dump())


@app.get("/api/v1/items/{item_id}", response_model=ItemOut)
def get_item(item_id: int) -> ItemOut:
    row = db().execute("SELECT id, name, quantity, price, active FROM item WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        raise HTTPException(404, "item not found")
    return _row(row)


@app.get("/api/v1/items", response_model=ItemPage)
def list_items(skip: int = Query(0, ge=0), limit: int = Query(100, ge=0, le=1000)) -> ItemPage:
    conn = db()
    total = conn.execute("SELECT count(*) FROM item").fetchone()[0]
    rows = conn.execute(
        "SELECT id, name, quantity, price, active FROM item ORDER BY id LIMIT ? OFFSET ?", (limit, skip)
    ).fetchall()
    return ItemPage(items=[_row(r) for r in rows], total=total, skip=skip, limit=limit)


@app.get("/ready")
def ready() -> dict[str, str]:
    db().execute("SELECT 1")
    return {"status": "ready"}
