"""Request bodies as JSON that every backend can store and every client can read back.

FastAPI parses bodies with the standard library, which accepts ``NaN`` and ``Infinity``, turns
``1e400`` into an infinite float, hands out lone surrogates from ``"\\ud800"`` escapes (SQLite then
fails to encode them: a 500) and converts ``1e300000`` into an integer digit by digit (seconds of
CPU with the event loop held). ``parse_body`` is the engine's ``Request.json()``: the same C parser,
with hooks that see every number literal as text, so a number is refused by its length before
anything converts it, non-finite constants never become numbers, and floats arrive as ``Decimal``
so decimal attributes keep every digit. A refused value becomes a ``Refused`` marker; Pydantic
rejects it like any value of the wrong type, and ``errors.py`` reports the marker's reason under
the field's name. Ordinary bodies pay for one regex search and nothing else.

``check_json_value`` is the validator of ``json`` attributes: a fixed depth, finite floats,
64-bit integers, string keys; it returns plain JSON (floats instead of Decimals).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from pydantic_core import PydanticCustomError

#: Longest number literal accepted anywhere (digits, sign, point and exponent together).
MAX_NUMBER_CHARS = 100
#: Deepest nesting of objects and arrays inside one ``json`` attribute value.
MAX_JSON_DEPTH = 32
_INT64 = (-(2**63), 2**63 - 1)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class Refused:
    """A parsed value that must never be stored; ``reason`` becomes the error message."""

    __slots__ = ("kind", "reason")

    def __init__(self, reason: str, kind: str) -> None:
        self.reason = reason
        self.kind = kind

    def __repr__(self) -> str:
        return f"<refused: {self.reason}>"


_NON_FINITE = Refused("NaN and Infinity are not JSON numbers", "finite_number")
_TOO_LONG = Refused(f"number literal longer than {MAX_NUMBER_CHARS} characters", "number_too_large")
_SURROGATE = Refused("string holds a lone UTF-16 surrogate, which is not Unicode text", "string_unicode")


class BodyError(ValueError):
    """A body that is not JSON at all; ``loc`` points into the body where known."""

    def __init__(self, msg: str, loc: tuple[str | int, ...], kind: str = "json_invalid") -> None:
        super().__init__(msg)
        self.msg = msg
        self.loc = loc
        self.kind = kind


def _parse_int(text: str) -> int | Refused:
    return int(text) if len(text) <= MAX_NUMBER_CHARS else _TOO_LONG


def _parse_float(text: str) -> Decimal | Refused:
    return Decimal(text) if len(text) <= MAX_NUMBER_CHARS else _TOO_LONG


def _parse_constant(_: str) -> Refused:
    return _NON_FINITE


_decoder = json.JSONDecoder(parse_float=_parse_float, parse_int=_parse_int, parse_constant=_parse_constant)


def parse_body(body: bytes) -> Any:
    """The parsed body; ``BodyError`` for bytes that are not JSON or nest beyond the parser."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BodyError(f"body is not UTF-8 text (byte {err.start})", ("body",)) from None
    try:
        value = _decoder.decode(text)
    except json.JSONDecodeError as err:
        raise BodyError(f"invalid JSON: {err.msg} (line {err.lineno} column {err.colno})", ("body",)) from None
    except RecursionError:
        field = _deep_field(text)
        loc: tuple[str | int, ...] = ("body", field) if field is not None else ("body",)
        raise BodyError(f"nests deeper than {MAX_JSON_DEPTH} levels", loc, "json_too_deep") from None
    if _SURROGATE_ESCAPE.search(body) is not None:
        value = _without_surrogates(value, top=True)
    return value


def _deep_field(text: str) -> str | None:
    """The top-level key whose value the parser could not descend into (error path only)."""
    scan = json.JSONDecoder().scan_once
    ws = re.compile(r"\s*")
    index = ws.match(text, 0).end()  # type: ignore[union-attr]
    if text[index : index + 1] != "{":
        return None
    index += 1
    while True:
        index = ws.match(text, index).end()  # type: ignore[union-attr]
        try:
            key, index = scan(text, index)
        except (StopIteration, RecursionError):
            return None
        index = ws.match(text, index).end()  # type: ignore[union-attr]
        if text[index : index + 1] != ":":
            return None
        index = ws.match(text, index + 1).end()  # type: ignore[union-attr]
        try:
            _, index = scan(text, index)
        except RecursionError:
            return key if isinstance(key, str) else None
        except StopIteration:
            return None
        index = ws.match(text, index).end()  # type: ignore[union-attr]
        if text[index : index + 1] != ",":
            return None
        index += 1


def _without_surrogates(value: Any, *, top: bool = False) -> Any:
    """Replace every string holding a lone surrogate with a marker (only when the body has escapes)."""
    if isinstance(value, str):
        return _SURROGATE if _LONE_SURROGATE.search(value) and not _encodable(value) else value
    if isinstance(value, list):
        return [_without_surrogates(v) for v in value]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not _encodable(key):
                if not top:
                    return _SURROGATE
                key = printable(key)
            out[key] = _without_surrogates(item)
        return out
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str) -> str:
    """``text`` with lone surrogates spelled as escapes, safe to put in a UTF-8 response."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


# --- json attributes --------------------------------------------------------------------------------


def check_json_value(value: Any) -> Any:
    """A ``json`` attribute's value as plain, storable JSON; ``PydanticCustomError`` names the problem."""
    return _plain(value, 1)


def _plain(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise PydanticCustomError("json_number", "integer {value} is outside the 64-bit range", {"value": value})
        return value
    if isinstance(value, Decimal | float):
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise PydanticCustomError("json_number", "number overflows a 64-bit float")
        return number
    if isinstance(value, list | dict):
        if depth > MAX_JSON_DEPTH:
            raise PydanticCustomError("json_too_deep", "nests deeper than {depth} levels", {"depth": MAX_JSON_DEPTH})
        if isinstance(value, list):
            return [_plain(v, depth + 1) for v in value]
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise PydanticCustomError("json_type", "object keys must be strings")
            out[key] = _plain(item, depth + 1)
        return out
    if isinstance(value, Refused):
        raise PydanticCustomError(value.kind, value.reason)
    raise PydanticCustomError("json_type", "is not a JSON value")
