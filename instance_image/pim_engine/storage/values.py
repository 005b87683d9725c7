"""Value conversions every backend shares: canonical decimal text, JSON text, comparable instants.

Decimals are served as canonical fixed-point text (``19.90`` keeps its scale, ``1E+2`` is ``100``)
whatever the column type; JSON is written compact with NaN and Infinity refused (the last guard
before a database: ``json.dumps(allow_nan=False)``); rules such as "end after start" compare
dates, times and datetimes as values, a naive datetime read as UTC.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from datetime import time as dtime
from decimal import Decimal
from typing import Any


def canonical_decimal(value: Decimal) -> str:
    """Fixed-point text that keeps the value's scale (``19.90`` stays ``19.90``, ``1E+2`` is ``100``)."""
    text = format(value, "f")
    return text[1:] if text.startswith("-") and value.is_zero() else text


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


#: Rows written before NaN was refused may hold it in JSON text: served as null, never as a 500.
stored_json = json.JSONDecoder(parse_constant=lambda _: None)


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
