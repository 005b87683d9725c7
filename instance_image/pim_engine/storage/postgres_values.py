"""How values go to PostgreSQL and come back: asyncpg's own codecs, plus what they leave to us.

asyncpg sends ``Decimal``, ``bool``, ``int``, ``float``, ``date`` and aware ``datetime`` values in
binary as they are. Left to this module: naive datetimes (read as UTC, as the rules compare
them), times of day and JSON as text, and the one thing PostgreSQL cannot store that SQLite can:
the NUL character (refused, naming the field, instead of failing in the driver). Coming back,
decimals become canonical fixed-point text, dates and datetimes ISO 8601 (datetimes in UTC,
``+00:00``), JSON is parsed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Any

from pim_engine.storage.values import Unstorable, canonical_decimal, json_text, stored_json

NUL_MESSAGE = "PostgreSQL cannot store the NUL character (\\u0000) in text"


def _text(value: str) -> str:
    if "\x00" in value:
        raise Unstorable(NUL_MESSAGE, "string_nul")
    return value


def _json(value: Any) -> str:
    text = json_text(value)  # a ValueError for NaN: reported by ``TableRows.encode``
    if "\\u0000" in text:
        raise Unstorable(NUL_MESSAGE, "string_nul")
    return text


def _datetime(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _time(value: dtime) -> str:
    return value.isoformat()


def encoder(kind: str) -> Callable[[Any], Any] | None:
    """Python value -> the value asyncpg sends; ``None``: sent as it is."""
    return {
        "string": _text,
        "text": _text,
        "enum": _text,
        "time": _time,
        "datetime": _datetime,
        "json": _json,
    }.get(kind)


def _iso(value: date | datetime) -> str:
    return value.isoformat()


def decoder(kind: str) -> Callable[[Any], Any] | None:
    """Value asyncpg returns -> JSON-ready value; ``None``: served as it is."""
    return {
        "decimal": canonical_decimal,
        "date": _iso,
        "datetime": _iso,
        "json": stored_json.decode,
    }.get(kind)
