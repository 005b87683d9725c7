"""How values are stored in SQLite and served back: one encoder and one decoder per attribute type.

Decimals are canonical fixed-point text (``19.90`` keeps its scale, ``1E+2`` is ``100``), booleans
0/1, dates and times ISO 8601 text, JSON compact text with NaN and Infinity refused (the last guard
before the database: ``json.dumps(allow_nan=False)``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from datetime import time as dtime
from decimal import Decimal
from typing import Any


def canonical_decimal(value: Decimal) -> str:
    """Fixed-point text that keeps the value's scale (``19.90`` stays ``19.90``, ``1E+2`` is ``100``)."""
    text = format(value, "f")
    return text[1:] if text.startswith("-") and value.is_zero() else text


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _iso(value: date | dtime | datetime) -> str:
    return value.isoformat()


def encoder(kind: str) -> Callable[[Any], Any] | None:
    """Python value -> stored value for one attribute type (``None`` passes through unchanged)."""
    return {
        "decimal": canonical_decimal,
        "boolean": int,
        "date": _iso,
        "time": _iso,
        "datetime": _iso,
        "json": _json_text,
    }.get(kind)


#: Rows written before NaN was refused may hold it in JSON text: served as null, never as a 500.
_stored_json = json.JSONDecoder(parse_constant=lambda _: None)


def decoder(kind: str) -> Callable[[Any], Any] | None:
    """Stored value -> JSON-ready value."""
    return {"boolean": bool, "json": _stored_json.decode}.get(kind)


def comparable(value: Any, kind: str) -> Any:
    """Dates, times and datetimes from Python values or ISO text, naive ones read as UTC."""
    if isinstance(value, str):
        value = {"date": date.fromisoformat, "time": dtime.fromisoformat, "datetime": datetime.fromisoformat}[kind](
            value
        )
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if isinstance(value, dtime) and value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    return value
