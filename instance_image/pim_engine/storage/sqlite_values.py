"""How values are stored in SQLite and served back: one encoder and one decoder per attribute type.

Decimals are canonical fixed-point text, booleans 0/1, dates and times ISO 8601 text, JSON compact
text with NaN and Infinity refused (``values.py`` holds the conversions both backends share).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from datetime import time as dtime
from typing import Any

from pim_engine.storage.values import canonical_decimal, comparable, json_text, stored_json

__all__ = ["canonical_decimal", "comparable", "decoder", "encoder"]


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
        "json": json_text,
    }.get(kind)


def decoder(kind: str) -> Callable[[Any], Any] | None:
    """Stored value -> JSON-ready value."""
    return {"boolean": bool, "json": stored_json.decode}.get(kind)
