"""Request payload and query checks derived from the model, compiled once per entity.

Every attribute gets a converter from its JSON form to its stored form and back; the API calls
these per request, so nothing here builds classes or parses the model at request time. Bodies are
parsed with ``parse_float=Decimal`` so decimal attributes never go through binary floating point.
Errors are collected (not raised one at a time) so a client sees every bad field at once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from pim_engine.model import ModelError
from pim_engine.schema import Column, Table

_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
#: Longest decimal accepted, in digits (integer part, fraction and exponent padding together).
MAX_DECIMAL_DIGITS = 100


class Invalid(ValueError):
    """One rejected value; ``kind`` is the machine-readable error type."""

    def __init__(self, msg: str, kind: str) -> None:
        super().__init__(msg)
        self.msg = msg
        self.kind = kind


@dataclass(frozen=True)
class FieldError:
    loc: tuple[str | int, ...]
    msg: str
    type: str

    def to_dict(self) -> dict[str, Any]:
        return {"loc": list(self.loc), "msg": self.msg, "type": self.type}


class RequestError(Exception):
    """A request the API refuses; carries the status and every field error found."""

    def __init__(self, status: int, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in errors))
        self.status = status
        self.errors = errors

    def to_dict(self) -> dict[str, Any]:
        return {"detail": [e.to_dict() for e in self.errors]}


def single(status: int, loc: tuple[str | int, ...], msg: str, kind: str) -> RequestError:
    return RequestError(status, [FieldError(loc, msg, kind)])


# --- scalar converters: JSON value -> stored value -------------------------------------------------


def canonical_decimal(value: Decimal) -> str:
    """Fixed-point text that keeps the value's scale (``19.90`` stays ``19.90``, ``1E+2`` is ``100``)."""
    if not value.is_finite():
        raise Invalid("must be a finite decimal number", "decimal_type")
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    if len(digits) + abs(exponent) > MAX_DECIMAL_DIGITS:
        raise Invalid(f"must have at most {MAX_DECIMAL_DIGITS} digits", "decimal_max_digits")
    text = format(value, "f")
    return text[1:] if text.startswith("-") and value.is_zero() else text


def parse_decimal(value: Any) -> str:
    if isinstance(value, bool):
        raise Invalid("must be a decimal number or a string holding one", "decimal_type")
    if isinstance(value, Decimal):
        return canonical_decimal(value)
    if isinstance(value, int):
        return canonical_decimal(Decimal(value))
    if isinstance(value, float):  # only from callers that parsed JSON without parse_float
        return canonical_decimal(Decimal(repr(value)))
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            raise Invalid(f"{value!r} is not a decimal number", "decimal_parsing") from None
        return canonical_decimal(parsed)
    raise Invalid("must be a decimal number or a string holding one", "decimal_type")


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, Decimal) and value == value.to_integral_value() and value.is_finite():
            value = int(value)
        else:
            raise Invalid("must be an integer", "int_type")
    if not _INT_MIN <= value <= _INT_MAX:
        raise Invalid("is out of the 64-bit integer range", "int_range")
    return value


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise Invalid("must be a number", "float_type")
    out = float(value)
    if not math.isfinite(out):
        raise Invalid("must be a finite number", "float_finite")
    return out


def _boolean(value: Any) -> int:
    if not isinstance(value, bool):
        raise Invalid("must be true or false", "bool_type")
    return int(value)


def _iso(kind: str, parse: Callable[[str], date | time | datetime]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if not isinstance(value, str):
            raise Invalid(f"must be an ISO 8601 {kind} string", f"{kind}_type")
        try:
            return parse(value).isoformat()
        except ValueError:
            raise Invalid(f"{value!r} is not a valid ISO 8601 {kind}", f"{kind}_parsing") from None

    return convert


def _plain_json(value: Any) -> Any:
    """Turn the Decimals of a body parsed with ``parse_float=Decimal`` back into JSON numbers."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_json(v) for v in value]
    return value


def _json(value: Any) -> str:
    return json.dumps(_plain_json(value), ensure_ascii=False, separators=(",", ":"))


def _text(max_length: int | None) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if not isinstance(value, str):
            raise Invalid("must be a string", "string_type")
        if max_length is not None and len(value) > max_length:
            raise Invalid(f"must be at most {max_length} characters long", "string_too_long")
        return value

    return convert


def _enum(values: tuple[str, ...]) -> Callable[[Any], str]:
    allowed = frozenset(values)
    listing = ", ".join(values)

    def convert(value: Any) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise Invalid(f"must be one of: {listing}", "enum")
        return value

    return convert


def body_converter(column: Column, key_type: str | None = None) -> Callable[[Any], Any]:
    """The JSON-value-to-stored-value converter of one column."""
    attr = column.attribute
    kind = attr.type
    if kind == "reference":
        kind = key_type or "integer"
    match kind:
        case "string" | "text":
            return _text(attr.max_length)
        case "integer":
            return _integer
        case "float":
            return _float
        case "decimal":
            return parse_decimal
        case "boolean":
            return _boolean
        case "date":
            return _iso("date", date.fromisoformat)
        case "time":
            return _iso("time", time.fromisoformat)
        case "datetime":
            return _iso("datetime", datetime.fromisoformat)
        case "json":
            return _json
        case "enum":
            return _enum(attr.enum or ())
    raise ModelError(f"attribute {attr.name!r} has unknown type {kind!r}")


def query_converter(column: Column, key_type: str | None = None) -> Callable[[str], Any]:
    """The converter of a query-string value (always text) to the stored form."""
    kind = column.attribute.type
    if kind == "reference":
        kind = key_type or "integer"
    if kind == "json":

        def refuse(_: str) -> Any:
            raise Invalid("json attributes cannot be filtered on", "filter_unsupported")

        return refuse
    if kind == "integer":

        def to_int(text: str) -> int:
            try:
                return _integer(int(text))
            except ValueError:
                raise Invalid(f"{text!r} is not an integer", "int_parsing") from None

        return to_int
    if kind == "float":

        def to_float(text: str) -> float:
            try:
                return _float(float(text))
            except ValueError:
                raise Invalid(f"{text!r} is not a number", "float_parsing") from None

        return to_float
    if kind == "boolean":
        truth = {"true": 1, "1": 1, "false": 0, "0": 0}

        def to_bool(text: str) -> int:
            try:
                return truth[text.lower()]
            except KeyError:
                raise Invalid(f"{text!r} is not true/false", "bool_parsing") from None

        return to_bool
    return body_converter(column, key_type)


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


#: Defaults of temporal attributes that mean "at the time of the write" (as the loader keeps them).
NOW_WORDS = frozenset({"now", "today", "current_timestamp", "current_date", "current_time", "now()"})

_NOW_FACTORIES: dict[str, Callable[[], str]] = {
    "datetime": now_iso,
    "date": lambda: datetime.now(UTC).date().isoformat(),
    "time": lambda: datetime.now(UTC).time().isoformat(),
}


# --- per-entity codec --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    name: str
    convert: Callable[[Any], Any]
    required: bool
    has_default: bool
    default: Any
    default_factory: Callable[[], Any] | None = None


class EntityCodec:
    """Checks bodies for one entity and turns stored rows back into JSON items."""

    def __init__(self, table: Table, key_types: Mapping[str, str]) -> None:
        self.table = table
        self.entity = table.entity
        self.key = table.key
        self.key_name = table.key.name
        self.key_auto = table.key.attribute.auto_increment and table.key.sql_type == "INTEGER"
        self.key_convert = body_converter(table.key)
        self.key_query = query_converter(table.key)
        #: Set by the server, ignored in bodies.
        self.auto_now_add: tuple[str, ...] = tuple(
            c.name for c in table.columns if c.attribute.auto_now_add and not c.attribute.auto_now
        )
        self.auto_now: tuple[str, ...] = tuple(c.name for c in table.columns if c.attribute.auto_now)
        self.read_only = frozenset(self.auto_now_add + self.auto_now + ((self.key_name,) if self.key_auto else ()))
        self.fields: dict[str, _Field] = {}
        self.filters: dict[str, Callable[[str], Any]] = {}
        for column in table.columns:
            key_type = key_types.get(column.references or "")
            self.filters[column.name] = query_converter(column, key_type)
            if column.name in self.read_only:
                continue
            convert = body_converter(column, key_type)
            attr = column.attribute
            has_default = attr.default is not None
            default = None
            factory = None
            dynamic = isinstance(attr.default, str) and attr.default.lower() in NOW_WORDS
            if dynamic and attr.type in _NOW_FACTORIES:
                factory = _NOW_FACTORIES[attr.type]
            elif has_default:
                try:
                    default = convert(attr.default)
                except Invalid as err:
                    raise ModelError(f"default of {attr.name!r} {err.msg}", element=self.entity.name) from None
            self.fields[column.name] = _Field(
                column.name, convert, attr.required or column.is_key, has_default, default, factory
            )
        self.decoders: tuple[tuple[str, Callable[[Any], Any] | None], ...] = tuple(
            (c.name, _decoder(c.attribute.type)) for c in table.columns
        )
        #: Column order of full-row writes (create and replace): the key first unless auto-assigned.
        self.write_columns: tuple[str, ...] = tuple(c.name for c in table.columns if not (c.is_key and self.key_auto))

    # bodies

    def _check_object(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise single(422, ("body",), "must be a JSON object", "model_type")
        return body

    def _convert(self, body: Mapping[str, Any], errors: list[FieldError], *, partial: bool) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, raw in body.items():
            spec = self.fields.get(name)
            if spec is None:
                if name in self.read_only:
                    continue
                errors.append(
                    FieldError(("body", name), "is not an attribute of " + self.entity.name, "extra_forbidden")
                )
                continue
            if raw is None:
                if spec.required:
                    errors.append(FieldError(("body", name), "is required and may not be null", "missing"))
                else:
                    values[name] = None
                continue
            try:
                values[name] = spec.convert(raw)
            except Invalid as err:
                errors.append(FieldError(("body", name), err.msg, err.kind))
        if not partial:
            for spec in self.fields.values():
                if spec.name in body:
                    continue
                if spec.default_factory is not None:
                    values[spec.name] = spec.default_factory()
                elif spec.has_default:
                    values[spec.name] = spec.default
                elif spec.required:
                    errors.append(FieldError(("body", spec.name), "field required", "missing"))
                else:
                    values[spec.name] = None
        return values

    def _check_key(self, body: Mapping[str, Any], key: Any, errors: list[FieldError]) -> None:
        if self.key_name in body and body[self.key_name] is not None:
            try:
                given = self.key_convert(body[self.key_name])
            except Invalid:
                given = object()
            if given != key:
                errors.append(FieldError(("body", self.key_name), "does not match the id in the path", "key_mismatch"))

    def for_create(self, body: Any) -> dict[str, Any]:
        body = self._check_object(body)
        errors: list[FieldError] = []
        values = self._convert(body, errors, partial=False)
        if errors:
            raise RequestError(422, errors)
        stamp = now_iso() if self.auto_now_add or self.auto_now else None
        for name in self.auto_now_add + self.auto_now:
            values[name] = stamp
        return values

    def for_replace(self, body: Any, key: Any) -> dict[str, Any]:
        body = self._check_object(body)
        errors: list[FieldError] = []
        self._check_key(body, key, errors)
        values = self._convert({k: v for k, v in body.items() if k != self.key_name}, errors, partial=False)
        if errors:
            raise RequestError(422, errors)
        values.pop(self.key_name, None)
        for name in self.auto_now:
            values[name] = now_iso()
        return values

    def for_patch(self, body: Any, key: Any) -> dict[str, Any]:
        body = self._check_object(body)
        errors: list[FieldError] = []
        self._check_key(body, key, errors)
        values = self._convert({k: v for k, v in body.items() if k != self.key_name}, errors, partial=True)
        if errors:
            raise RequestError(422, errors)
        for name in self.auto_now:
            values[name] = now_iso()
        return values

    def parse_key(self, text: str) -> Any:
        try:
            return self.key_query(text)
        except Invalid as err:
            raise single(
                404, ("path", "id"), f"no {self.entity.name} with id {text!r} ({err.msg})", "not_found"
            ) from None

    # rows

    def to_item(self, row: tuple[Any, ...]) -> dict[str, Any]:
        item: dict[str, Any] = {}
        for (name, decode), value in zip(self.decoders, row, strict=True):
            item[name] = value if decode is None or value is None else decode(value)
        return item


def _decoder(kind: str) -> Callable[[Any], Any] | None:
    if kind == "boolean":
        return bool
    if kind == "json":
        return json.loads
    return None
