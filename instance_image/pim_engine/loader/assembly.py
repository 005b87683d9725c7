"""Checks and normalizations every format shares: attribute defaults, primary keys, cross-references.

The formats only parse; they hand their findings to ``build_attribute`` and ``assemble`` so a model
means the same, and fails the same way, whichever dialect it was written in.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from pim_engine.loader.constraints import settle
from pim_engine.model import TYPES, Attribute, Entity, Flow, Model, ModelError, Service

_NAME = re.compile(r"^[^\W\d]\w*$")
_TRUE = {"true", "yes", "y", "on", "1", "是", "真", "对"}
_FALSE = {"false", "no", "n", "off", "0", "否", "假", "错"}
_NOW = {"now", "today", "current_timestamp", "current_date", "current_time", "now()"}


@dataclass(frozen=True)
class Locator:
    """Where errors point: the file name used as the message prefix."""

    source: str | None

    def error(self, reason: str, *, element: str | None = None, line: int | None = None) -> ModelError:
        return ModelError(reason, source=self.source, element=element, line=line)


def entity_element(entity: str, attribute: str | None = None) -> str:
    return f"entity {entity}" + (f": attribute {attribute}" if attribute is not None else "")


def check_name(name: str, what: str, where: Locator, *, element: str | None, line: int | None) -> str:
    """Entity and attribute names become URL segments and SQL columns: letters, digits, underscores."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise where.error(
            f"{what} name {name!r} must start with a letter and hold only letters, digits and underscores",
            element=element,
            line=line,
        )
    return name


def coerce_default(value: Any, attr_type: str, raw: str | None = None) -> Any:
    """The default converted to the attribute's type; raises ValueError with a readable reason."""
    if value is None:
        return None
    if attr_type == "integer":
        if isinstance(value, bool):
            raise ValueError(f"default {value!r} is not an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            return int(value)
        raise ValueError(f"default {value!r} is not an integer")
    if attr_type in ("float", "decimal"):
        text = raw if raw is not None else str(value)
        if isinstance(value, bool):
            raise ValueError(f"default {value!r} is not a number")
        try:
            number = Decimal(text.strip())
        except InvalidOperation:
            raise ValueError(f"default {text!r} is not a number") from None
        if not number.is_finite():
            raise ValueError(f"default {text!r} is not a finite number")
        return str(number) if attr_type == "decimal" else float(number)
    if attr_type == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"default {value!r} is not a boolean")
    if attr_type in ("date", "time", "datetime"):
        return _coerce_temporal(value, attr_type)
    if attr_type == "json":
        return value
    if attr_type == "reference" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, dict | list):
        raise ValueError(f"default {value!r} is not a {attr_type}")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _coerce_temporal(value: Any, attr_type: str) -> str:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    text = str(value).strip()
    if text.lower() in _NOW:
        return text.lower()
    parse = {
        "date": dt.date.fromisoformat,
        "time": dt.time.fromisoformat,
        "datetime": dt.datetime.fromisoformat,
    }
    try:
        parse[attr_type](text)
    except ValueError:
        raise ValueError(f"default {text!r} is not an ISO {attr_type}") from None
    return text


def build_attribute(
    entity: str,
    name: str,
    attr_type: str,
    where: Locator,
    *,
    line: int | None = None,
    required: bool = True,
    unique: bool = False,
    default: Any = None,
    raw_default: str | None = None,
    enum: Sequence[Any] | None = None,
    reference: str | None = None,
    max_length: Any = None,
    primary_key: bool = False,
    auto_increment: bool = False,
    auto_now: bool = False,
    auto_now_add: bool = False,
    description: str = "",
) -> Attribute:
    """One validated attribute: known type, enum values present, default of the right type and in range."""
    element = entity_element(entity, name)
    check_name(name, "attribute", where, element=entity_element(entity), line=line)
    if attr_type not in TYPES:
        raise where.error(f"unknown type {attr_type!r}; allowed types: {', '.join(TYPES)}", element=element, line=line)
    values: tuple[str, ...] | None = None
    if attr_type == "enum":
        values = tuple(str(v).strip() for v in (enum or ()) if str(v).strip())
        if not values:
            raise where.error("enum has no values", element=element, line=line)
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise where.error(f"enum value {twice[0]!r} is listed twice", element=element, line=line)
    elif enum:
        raise where.error(f"enum values given for a {attr_type} attribute", element=element, line=line)
    if attr_type == "reference":
        if not reference:
            raise where.error("reference without a target entity", element=element, line=line)
    elif reference:
        raise where.error(f"reference target given for a {attr_type} attribute", element=element, line=line)
    if max_length is not None:
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length <= 0:
            raise where.error(f"max_length {max_length!r} is not a positive integer", element=element, line=line)
        if attr_type not in ("string", "text"):
            raise where.error(f"max_length given for a {attr_type} attribute", element=element, line=line)
    try:
        value = coerce_default(default, attr_type, raw_default)
    except ValueError as exc:
        raise where.error(str(exc), element=element, line=line) from None
    if values is not None and value is not None and value not in values:
        raise where.error(f"default {value!r} is not one of {', '.join(values)}", element=element, line=line)
    if max_length is not None and isinstance(value, str) and len(value) > max_length:
        raise where.error(f"default {value!r} is longer than max_length {max_length}", element=element, line=line)
    if auto_increment and attr_type != "integer":
        raise where.error(f"auto_increment on a {attr_type} attribute", element=element, line=line)
    if (auto_now or auto_now_add) and attr_type not in ("date", "time", "datetime"):
        raise where.error(f"auto_now/auto_now_add on a {attr_type} attribute", element=element, line=line)
    generated = auto_increment or auto_now or auto_now_add
    return Attribute(
        name=name,
        type=attr_type,
        required=bool(required) and not generated,
        unique=bool(unique),
        default=value,
        enum=values,
        reference=reference if attr_type == "reference" else None,
        max_length=max_length,
        primary_key=bool(primary_key),
        auto_increment=bool(auto_increment),
        auto_now=bool(auto_now),
        auto_now_add=bool(auto_now_add),
        description=description.strip(),
        line=line,
    )


def with_primary_key(entity: Entity, where: Locator) -> Entity:
    """Give the entity its ``id``: keep a declared key, promote an ``id`` attribute, or add one."""
    keys = [a for a in entity.attributes if a.primary_key]
    element = entity_element(entity.name)
    if len(keys) > 1:
        raise where.error(
            f"more than one primary key ({', '.join(a.name for a in keys)})",
            element=element,
            line=keys[1].line,
        )
    if keys:
        return entity
    attrs = list(entity.attributes)
    for index, attr in enumerate(attrs):
        if attr.name.lower() != "id":
            continue
        if attr.type not in ("integer", "string"):
            raise where.error(
                f"an id attribute must be an integer or a string, not {attr.type}",
                element=entity_element(entity.name, attr.name),
                line=attr.line,
            )
        serial = attr.type == "integer"
        attrs[index] = replace(
            attr,
            name="id",
            primary_key=True,
            auto_increment=serial or attr.auto_increment,
            required=attr.required and not serial,
        )
        return replace(entity, attributes=tuple(attrs))
    generated = Attribute(name="id", type="integer", required=False, primary_key=True, auto_increment=True)
    return replace(entity, attributes=(generated, *attrs))


def _check_attributes(entity: Entity, where: Locator) -> None:
    seen: dict[str, Attribute] = {}
    for attr in entity.attributes:
        key = attr.name.lower()
        if key in seen:
            raise where.error(
                f"attribute {attr.name!r} is declared twice (first at line {seen[key].line})"
                if seen[key].line
                else f"attribute {attr.name!r} is declared twice",
                element=entity_element(entity.name),
                line=attr.line,
            )
        seen[key] = attr


def assemble(
    where: Locator,
    *,
    domain: str,
    version: str,
    description: str,
    entities: Iterable[Entity],
    services: Iterable[Service] = (),
    flows: Iterable[Flow] = (),
    rules: Iterable[tuple[str, str]] = (),
) -> Model:
    """The final model, after the cross-checks that need every part at once."""
    entity_list = list(entities)
    if not entity_list:
        raise where.error("the model defines no entities")
    if not isinstance(domain, str) or not domain.strip():
        raise where.error("the model has no domain")
    collections: dict[str, Entity] = {}
    finished: list[Entity] = []
    for entity in entity_list:
        check_name(entity.name, "entity", where, element=entity_element(entity.name), line=entity.line)
        clash = collections.get(entity.collection)
        if clash is not None:
            same = "declared twice" if clash.name == entity.name else f"clashes with entity {clash.name}"
            first = f" (line {clash.line})" if clash.line else ""
            raise where.error(
                f"{same}{first}: both would be served at /api/v1/{entity.collection}",
                element=entity_element(entity.name),
                line=entity.line,
            )
        collections[entity.collection] = entity
        _check_attributes(entity, where)
        entity, problem = settle(with_primary_key(entity, where))
        if problem is not None:
            raise where.error(problem, element=entity_element(entity.name), line=entity.line)
        finished.append(entity)
    names = {e.name for e in finished}
    for entity in finished:
        for attr in entity.attributes:
            if attr.type == "reference" and attr.reference not in names:
                raise where.error(
                    f"reference to unknown entity {attr.reference!r}; entities: {', '.join(sorted(names))}",
                    element=entity_element(entity.name, attr.name),
                    line=attr.line,
                )
    rule_list = list(rules)
    seen_rules: set[str] = set()
    for rule_id, _ in rule_list:
        if rule_id in seen_rules:
            raise where.error(f"rule {rule_id!r} is declared twice")
        seen_rules.add(rule_id)
    service_list = list(services)
    _unique((s.name for s in service_list), "service", where)
    for service in service_list:
        _unique((m.name for m in service.methods), f"service {service.name}: method", where)
    flow_list = list(flows)
    _unique((f.name for f in flow_list), "flow", where)
    return Model(
        domain=domain.strip(),
        version=str(version).strip() or "1.0.0",
        description=description.strip(),
        entities=tuple(finished),
        services=tuple(service_list),
        flows=tuple(flow_list),
        rules=tuple(rule_list),
        source=where.source,
    )


def _unique(names: Iterable[str], what: str, where: Locator) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise where.error(f"{what} {name!r} is declared twice")
        seen.add(name)
