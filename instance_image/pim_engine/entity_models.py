"""Pydantic v2 models generated from the PIM model: per entity create, replace, patch, read and list.

FastAPI validates request bodies with the write models and documents every model in its OpenAPI
document. The field types are chosen so that a value is accepted only in its JSON form: integers
and booleans are strict (no ``"3"``, no ``"yes"``), dates and times must be ISO 8601 strings,
decimals may be JSON numbers (parsed as ``Decimal``, never through a float) or strings, floats and
decimals must be finite, integers fit 64 bits, ``json`` attributes pass ``check_json_value``.

Nulls: a required attribute refuses ``null``; an optional one stores it; an attribute with a
default takes ``null`` to mean its default (on create, replace and patch alike), so a row never
holds ``null`` where the model promises a default. Server-set attributes (an auto-assigned key,
``auto_now``/``auto_now_add`` timestamps) are ignored in bodies, so a GET-modify-PUT round trip works.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError, PydanticUndefined

from pim_engine.json_body import check_json_value
from pim_engine.loader.constraints import Rule
from pim_engine.model import ModelError
from pim_engine.schema import Column, Table
from pim_engine.storage.values import NOW_WORDS

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: Longest decimal accepted, in digits.
MAX_DECIMAL_DIGITS = 100
_COMPONENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_NOW: dict[str, Callable[[], Any]] = {
    "datetime": lambda: datetime.now(UTC),
    "date": lambda: datetime.now(UTC).date(),
    "time": lambda: datetime.now(UTC).time(),
}


def _number_only(value: Any) -> Any:
    if isinstance(value, bool | str):
        raise PydanticCustomError("float_type", "Input should be a JSON number")
    return value


def _iso_text(kind: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, str):
            raise PydanticCustomError(f"{kind}_type", f"Input should be an ISO 8601 {kind} string")
        return value

    return check


def _bounds(rules: Sequence[Rule], cast: Callable[[Decimal], Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for rule in rules:
        if rule.kind in ("gt", "ge", "lt", "le") and rule.value is not None:
            out[rule.kind] = cast(rule.value)
    return out


def write_type(column: Column, key_type: str | None, rules: Sequence[Rule] = ()) -> Any:
    """The request-side type of one attribute (without nullability)."""
    attr = column.attribute
    kind = key_type if attr.type == "reference" and key_type else attr.type
    if attr.type == "reference" and not key_type:
        kind = "integer"
    match kind:
        case "string" | "text":
            min_length = next((int(r.value) for r in rules if r.kind == "min_length" and r.value is not None), None)
            return Annotated[str, StringConstraints(max_length=attr.max_length, min_length=min_length)]
        case "integer":
            bounds = _bounds(rules, int)
            return Annotated[int, Strict(), Field(ge=INT64_MIN, le=INT64_MAX), Field(**bounds)]
        case "float":
            return Annotated[float, BeforeValidator(_number_only), Field(allow_inf_nan=False, **_bounds(rules, float))]
        case "decimal":
            bounds = _bounds(rules, lambda v: v)
            return Annotated[Decimal, Field(max_digits=MAX_DECIMAL_DIGITS, allow_inf_nan=False, **bounds)]
        case "boolean":
            return Annotated[bool, Strict()]
        case "date":
            return Annotated[date, BeforeValidator(_iso_text("date"))]
        case "time":
            return Annotated[time, BeforeValidator(_iso_text("time"))]
        case "datetime":
            return Annotated[datetime, BeforeValidator(_iso_text("datetime"))]
        case "enum":
            return Literal[tuple(attr.enum or ())]  # type: ignore[misc]
        case "json":
            return Annotated[Any, AfterValidator(check_json_value)]
    raise ModelError(f"attribute {attr.name!r} has unknown type {kind!r}")


def read_type(column: Column, key_type: str | None) -> Any:
    """The response-side type of one attribute, for the OpenAPI document only."""
    attr = column.attribute
    kind = key_type if attr.type == "reference" and key_type else attr.type
    match kind:
        case "decimal":
            return Annotated[str, Field(pattern=r"^-?\d+(\.\d+)?$", json_schema_extra={"format": "decimal"})]
        case "string" | "text":
            return Annotated[str, StringConstraints(max_length=attr.max_length)]
        case "integer" | "reference":
            return int
        case "float":
            return float
        case "boolean":
            return bool
        case "date":
            return date
        case "time":
            return time
        case "datetime":
            return datetime
        case "enum":
            return Literal[tuple(attr.enum or ())]  # type: ignore[misc]
    return Any


def component_names(tables: Mapping[str, Table]) -> dict[str, str]:
    """OpenAPI component names must be ASCII identifiers: others become ``EntityN`` (titles keep the name)."""
    return {name: name if _COMPONENT_NAME.match(name) else f"Entity{i}" for i, name in enumerate(tables, 1)}


@dataclass(frozen=True)
class EntityModels:
    """The generated models of one entity and what the routes need to use them."""

    create: type[BaseModel]
    replace: type[BaseModel]
    patch: type[BaseModel]
    read: type[BaseModel]
    list: type[BaseModel]
    key: str
    key_auto: bool
    auto_now_add: tuple[str, ...]
    auto_now: tuple[str, ...]
    #: name -> default factory for attributes whose default is "now".
    now_defaults: Mapping[str, Callable[[], Any]]


def _description(text: str, extra: str = "") -> str | None:
    return " ".join(p for p in (text, extra) if p) or None


def build_models(table: Table, key_types: Mapping[str, str], rules: Sequence[Rule], component: str) -> EntityModels:
    """Generate the models of ``table``; a ``ModelError`` for a default that does not validate."""
    entity = table.entity
    key = table.key
    key_auto = key.attribute.auto_increment and key.sql_type == "INTEGER"
    auto_now_add = tuple(c.name for c in table.columns if c.attribute.auto_now_add and not c.attribute.auto_now)
    auto_now = tuple(c.name for c in table.columns if c.attribute.auto_now)
    server_set = frozenset(auto_now_add + auto_now + ((key.name,) if key_auto else ()))
    by_attribute: dict[str, list[Rule]] = {}
    for rule in rules:
        by_attribute.setdefault(rule.attribute, []).append(rule)

    create_fields: dict[str, Any] = {}
    replace_fields: dict[str, Any] = {}
    patch_fields: dict[str, Any] = {}
    read_fields: dict[str, Any] = {}
    now_defaults: dict[str, Callable[[], Any]] = {}
    for column in table.columns:
        attr = column.attribute
        key_type = key_types.get(column.references or "")
        described = _description(attr.description, f"id of a {attr.reference}" if column.references else "")
        required = attr.required or column.is_key
        nullable = not required
        base = read_type(column, key_type)
        read_fields[column.name] = (
            base if required else base | None,
            Field(description=described, json_schema_extra={"readOnly": True} if column.name in server_set else None),
        )
        if column.name in server_set:
            continue
        value_type = write_type(column, key_type, by_attribute.get(column.name, ()))
        default: Any = PydanticUndefined
        factory: Callable[[], Any] | None = None
        if attr.default is not None:
            if isinstance(attr.default, str) and attr.default.lower() in NOW_WORDS and attr.type in _NOW:
                factory = _NOW[attr.type]
                now_defaults[column.name] = factory
            else:
                try:
                    default = TypeAdapter(value_type).validate_python(attr.default, strict=False)
                except ValidationError as err:
                    msg = err.errors()[0]["msg"]
                    raise ModelError(f"default of {attr.name!r}: {msg}", element=entity.name) from None
        if factory is not None or default is not PydanticUndefined:
            fallback = factory if factory is not None else (lambda d=default: d)
            annotated = Annotated[value_type | None, AfterValidator(_null_means(fallback))]
            hint = "null means the default"
            if factory is not None:
                field = Field(default_factory=factory, description=_description(described or "", hint + " (now)"))
            else:
                field = Field(default=default, description=_description(described or "", hint))
            create_fields[column.name] = (annotated, field)
            patch_fields[column.name] = (annotated, Field(default=None, description=field.description))
        elif nullable:
            create_fields[column.name] = (value_type | None, Field(default=None, description=described))
            patch_fields[column.name] = (value_type | None, Field(default=None, description=described))
        else:
            create_fields[column.name] = (value_type, Field(description=described))
            if not column.is_key:
                # Not nullable, yet optional in a patch: the default None is never validated, only a sent null.
                patch_fields[column.name] = (
                    value_type,
                    Field(default=None, description=described, json_schema_extra=_drop_default),
                )
        if column.is_key:
            continue
        replace_fields[column.name] = create_fields[column.name]
    key_column = table.column(key.name)
    assert key_column is not None
    key_value = write_type(key_column, None)
    key_note = "optional; when given it must equal the id in the path"
    replace_fields = {key.name: (key_value | None, Field(default=None, description=key_note)), **replace_fields}
    patch_fields = {key.name: (key_value | None, Field(default=None, description=key_note)), **patch_fields}

    title = entity.name
    ignored = frozenset(server_set)
    create = _model(f"{component}Create", f"{title} (create)", create_fields, ignored, entity.description)
    replace = _model(f"{component}Replace", f"{title} (replace)", replace_fields, ignored - {key.name}, None)
    patch = _model(f"{component}Patch", f"{title} (partial update)", patch_fields, ignored - {key.name}, None)
    read = create_model(  # type: ignore[call-overload]
        component,
        __config__=ConfigDict(
            title=title, json_schema_extra={"description": entity.description} if entity.description else None
        ),
        **read_fields,
    )
    page = create_model(  # type: ignore[call-overload]
        f"{component}List",
        __config__=ConfigDict(title=f"{title} list"),
        items=(list[read], ...),
        total=(int, ...),
        skip=(int, ...),
        limit=(int, ...),
    )
    return EntityModels(create, replace, patch, read, page, key.name, key_auto, auto_now_add, auto_now, now_defaults)


def _drop_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _null_means(fallback: Callable[[], Any]) -> Callable[[Any], Any]:
    def resolve(value: Any) -> Any:
        return fallback() if value is None else value

    return resolve


def _model(
    name: str, title: str, fields: dict[str, Any], ignored: frozenset[str], description: str | None
) -> type[BaseModel]:
    """A write model: unknown attributes refused, server-set ones dropped before validation."""

    def drop_server_set(cls: type[BaseModel], data: Any) -> Any:
        if isinstance(data, dict) and not ignored.isdisjoint(data):
            return {k: v for k, v in data.items() if k not in ignored}
        return data

    validators = {"drop_server_set": model_validator(mode="before")(classmethod(drop_server_set))} if ignored else {}
    config = ConfigDict(extra="forbid", title=title, allow_inf_nan=False)
    if description:
        config["json_schema_extra"] = {"description": description}
    model = create_model(name, __config__=config, __validators__=validators, **fields)  # type: ignore[call-overload]
    decimals = frozenset(n for n, f in model.model_fields.items() if _mentions(f.annotation, Decimal))
    model.pim_body = BodyShape(decimals, len(model.model_fields) + len(ignored))
    return model


@dataclass(frozen=True)
class BodyShape:
    """What ``json_body.parse_body`` needs to know of a write model (kept on the model class)."""

    decimal_fields: frozenset[str]
    max_keys: int


def _mentions(annotation: Any, kind: type) -> bool:
    if annotation is kind:
        return True
    return any(_mentions(arg, kind) for arg in get_args(annotation))
