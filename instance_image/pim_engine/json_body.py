"""Request bodies as JSON that every backend can store and every client can read back, parsed fast.

FastAPI parses bodies with the standard library as it is: it accepts ``NaN`` and ``Infinity``, hands
out lone surrogates from ``"\\ud800"`` escapes (SQLite then fails to encode them: a 500), and a
decimal sent as a JSON number goes through a binary float. ``parse_body`` is the engine's
``Request.json()``. It keeps the standard library's C parser at full speed for everything a body may
hold (1 MiB of numbers parses in tens of milliseconds, where a per-number Python hook would hold the
event loop several times as long) and fixes up only what needs it:

* ``NaN``/``Infinity`` become a ``Refused`` marker; Pydantic rejects it like any value of the wrong
  type and ``errors.py`` reports the marker's reason under the field's name.
* Decimal attributes given as JSON numbers are read again from their own text as ``Decimal`` (the
  top-level keys are walked only when one of them holds a float, and only for bodies with no more
  keys than the entity has attributes), so ``19.90`` stays ``19.90``.
* Strings with lone surrogates (only possible when the body has ``\\uD8xx``-style escapes) become
  markers naming their top-level field.
* Numbers too long to convert (the parser refuses integers over 4,300 digits; ``1e300000`` is just
  an infinite float, refused by the fields) and nesting too deep for the parser are answered with the
  field's name. A body with more keys than the entity has attributes is refused before validation
  (Pydantic would build one error per unknown key).

``check_json_value`` is the validator of ``json`` attributes: a fixed depth, no refused values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from decimal import Decimal
from typing import Any

from pydantic_core import PydanticCustomError

#: Deepest nesting of objects and arrays inside one ``json`` attribute value.
MAX_JSON_DEPTH = 32
#: Top-level keys walked at most when locating the culprit of a parse error.
_MAX_WALK = 1000
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_WS = re.compile(r"[ \t\n\r]*")
_SCALARS = frozenset({str, int, float, bool, type(None)})


class Refused:
    """A parsed value that must never be stored; ``reason`` becomes the error message."""

    __slots__ = ("kind", "reason")

    def __init__(self, reason: str, kind: str) -> None:
        self.reason = reason
        self.kind = kind

    def __repr__(self) -> str:
        return f"<refused: {self.reason}>"


_NON_FINITE = Refused("NaN and Infinity are not JSON numbers", "finite_number")
_SURROGATE = Refused("string holds a lone UTF-16 surrogate, which is not Unicode text", "string_unicode")


class BodyError(ValueError):
    """A body refused before validation; ``loc`` points into the body where known."""

    def __init__(self, msg: str, loc: tuple[str | int, ...], kind: str = "json_invalid") -> None:
        super().__init__(msg)
        self.msg = msg
        self.loc = loc
        self.kind = kind


def _non_finite(_: str) -> Refused:
    return _NON_FINITE


_fast = json.JSONDecoder(parse_constant=_non_finite)
_exact = json.JSONDecoder(parse_constant=_non_finite, parse_float=Decimal)


def parse_body(body: bytes, *, decimal_fields: Collection[str] = (), max_keys: int | None = None) -> Any:
    """The parsed body; ``BodyError`` for bytes that are not JSON, or too many keys, too deep, too long."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BodyError(f"body is not UTF-8 text (byte {err.start})", ("body",)) from None
    try:
        value = _fast.decode(text)
    except json.JSONDecodeError as err:
        raise BodyError(f"invalid JSON: {err.msg} (line {err.lineno} column {err.colno})", ("body",)) from None
    except RecursionError:
        raise BodyError(f"nests deeper than {MAX_JSON_DEPTH} levels", _culprit(text), "json_too_deep") from None
    except ValueError as err:  # an integer literal over the interpreter's 4,300-digit limit
        raise BodyError(f"number too long: {err}", _culprit(text), "number_too_large") from None
    if not isinstance(value, dict):
        return value
    if max_keys is not None and len(value) > max_keys:
        raise BodyError(f"has {len(value)} attributes; at most {max_keys} are known", ("body",), "too_many_keys")
    if decimal_fields and any(type(value.get(f)) is float for f in decimal_fields):
        value = _with_exact_decimals(text, value, decimal_fields)
    if _SURROGATE_ESCAPE.search(body) is not None:
        value = {printable(k): (v if _encodable(v) else _SURROGATE) for k, v in value.items()}
    return value


def _top_level(
    text: str, scan: Any, exact: Collection[str] = (), stop_after: int | None = None
) -> list[tuple[str, Any]] | None:
    """The top-level ``(key, value)`` pairs of an object, ``exact`` keys' values with Decimals.

    Stops once ``stop_after`` of the ``exact`` keys were read. None if ``text`` is not one object
    or has more keys than are walked; a value the parser fails on is given as its exception.
    """
    pairs: list[tuple[str, Any]] = []
    found = 0
    index = _WS.match(text, 0).end()  # type: ignore[union-attr]
    if text[index : index + 1] != "{":
        return None
    index = _WS.match(text, index + 1).end()  # type: ignore[union-attr]
    if text[index : index + 1] == "}":
        return pairs
    while len(pairs) < _MAX_WALK:
        key, index = scan(text, index)
        index = _WS.match(text, index).end()  # type: ignore[union-attr]
        if text[index : index + 1] != ":":
            return None
        index = _WS.match(text, index + 1).end()  # type: ignore[union-attr]
        try:
            item, index = (_exact.scan_once if key in exact else scan)(text, index)
        except (RecursionError, ValueError) as err:
            if isinstance(err, json.JSONDecodeError):
                return None
            pairs.append((key, err))
            return pairs
        pairs.append((key, item))
        if key in exact:
            found += 1
            if found == stop_after:
                return pairs
        index = _WS.match(text, index).end()  # type: ignore[union-attr]
        if text[index : index + 1] != ",":
            return pairs
        index = _WS.match(text, index + 1).end()  # type: ignore[union-attr]
    return None


def _culprit(text: str) -> tuple[str | int, ...]:
    """``("body", key)`` for the top-level value the parser failed on (error path only)."""
    try:
        pairs = _top_level(text, json.JSONDecoder().scan_once)
    except (StopIteration, RecursionError, ValueError):
        pairs = None
    for key, item in pairs or ():
        if isinstance(item, Exception):
            return ("body", key)
    return ("body",)


def _with_exact_decimals(text: str, value: dict[str, Any], decimal_fields: Collection[str]) -> dict[str, Any]:
    """The body again, its decimal attributes read from their text as ``Decimal`` (not via float)."""
    wanted = [k for k in decimal_fields if type(value.get(k)) is float]
    pairs = _top_level(text, _fast.scan_once, wanted, len(wanted))
    if pairs is None:
        return value
    exact = dict(pairs)
    return {k: exact[k] if k in wanted and k in exact else v for k, v in value.items()}


def _encodable(value: Any) -> bool:
    """Whether ``value`` holds no lone surrogate (checked at C speed through the JSON encoder)."""
    if isinstance(value, str):
        return _LONE_SURROGATE.search(value) is None
    if isinstance(value, dict | list):
        try:
            json.dumps(value, ensure_ascii=False, default=repr).encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


def printable(text: str) -> str:
    """``text`` with lone surrogates spelled as escapes, safe to put in a UTF-8 response."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


# --- json attributes --------------------------------------------------------------------------------


def check_json_value(value: Any) -> Any:
    """A ``json`` attribute's value, checked for depth and refused values.

    Non-finite numbers (``1e400`` parses as an infinite float) are refused where the value is
    encoded for storage, with ``allow_nan=False``: one pass at C speed instead of a walk here.
    """
    _check_containers(value, 1)
    return value


def _check_containers(value: Any, depth: int) -> None:
    if isinstance(value, Refused):
        raise PydanticCustomError(value.kind, value.reason)
    if not isinstance(value, list | dict):
        return
    if depth > MAX_JSON_DEPTH:
        raise PydanticCustomError("json_too_deep", "nests deeper than {depth} levels", {"depth": MAX_JSON_DEPTH})
    items = value.values() if isinstance(value, dict) else value
    if _SCALARS.issuperset(map(type, items)):  # the common flat case, at C speed
        return
    for item in items:
        _check_containers(item, depth + 1)
