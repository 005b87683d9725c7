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

from pim_engine.model import Attribute

#: Defaults of temporal attributes that mean "at the time of the write": no stored default for those.
NOW_WORDS = frozenset({"now", "today", "current_timestamp", "current_date", "current_time", "now()"})


class Unstorable(ValueError):
    """A value a database cannot hold; ``kind`` is the error type the API reports."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


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


def default_value(attr: Attribute) -> Any:
    """The attribute's default as stored (a bool, or canonical text), for columns added to tables with
    rows; ``None`` when there is none to store (no default, "now", a reference, or one that does not parse)."""
    value = attr.default
    if value is None or attr.type == "reference":
        return None
    try:
        if attr.type == "boolean":
            return value is True or str(value).lower() in ("true", "1", "yes")
        if attr.type == "decimal":
            return canonical_decimal(Decimal(str(value)))
        if attr.type == "json":
            return json_text(value)
        if attr.type in ("date", "time", "datetime"):
            if str(value).lower() in NOW_WORDS:
                return None
            parse = {"date": date.fromisoformat, "time": dtime.fromisoformat, "datetime": datetime.fromisoformat}
            return parse[attr.type](str(value)).isoformat()
        if attr.type == "integer":
            return int(value)
        if attr.type == "float":
            return float(value)
    except (ArithmeticError, ValueError, TypeError):
        return None
    return value
