"""The normalized JSON form (``Model.to_dict()``) read back into a Model.

This is how a model travels between processes (the operator's ConfigMap, ``/model``), so it is read
strictly: canonical type names only, every field of the right kind, and a digest that must match.
"""

from __future__ import annotations

from typing import Any

from pim_engine.loader.assembly import Locator, assemble, build_attribute, entity_element
from pim_engine.model import Attribute, Entity, Flow, FlowEdge, FlowStep, Method, Model, Parameter, Service

_STEP_TYPES = ("start", "end", "action", "decision")


def parse_normalized(data: Any, where: Locator) -> Model:
    if not isinstance(data, dict):
        raise where.error(f"a normalized model must be a JSON object, not {type(data).__name__}")
    entities = [_entity(e, i, where) for i, e in enumerate(_list(data, "entities", "model", where))]
    model = assemble(
        where,
        domain=_str(data, "domain", "model", where, required=True),
        version=_str(data, "version", "model", where) or "1.0.0",
        description=_str(data, "description", "model", where),
        entities=entities,
        services=[_service(s, where) for s in _list(data, "services", "model", where)],
        flows=[_flow(f, where) for f in _list(data, "flows", "model", where)],
        rules=[_rule(r, where) for r in _list(data, "rules", "model", where)],
    )
    digest = data.get("digest")
    if digest is not None and digest != model.digest:
        raise where.error(f"digest {digest} does not match the model's content ({model.digest})")
    return model


def _object(value: Any, what: str, where: Locator) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise where.error(f"expected an object, not {value!r}", element=what)
    return value


def _list(data: dict[str, Any], key: str, what: str, where: Locator) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise where.error(f"'{key}' must be a list", element=what)
    return value


def _str(data: dict[str, Any], key: str, what: str, where: Locator, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise where.error(f"missing '{key}'", element=what)
        return ""
    if not isinstance(value, str):
        raise where.error(f"'{key}' must be a string, not {value!r}", element=what)
    return value


def _bool(data: dict[str, Any], key: str, default: bool, what: str, where: Locator) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise where.error(f"'{key}' must be true or false, not {value!r}", element=what)
    return value


def _entity(raw: Any, index: int, where: Locator) -> Entity:
    data = _object(raw, f"entities[{index}]", where)
    name = _str(data, "name", f"entities[{index}]", where, required=True)
    element = entity_element(name)
    attrs = [_attribute(name, a, where) for a in _list(data, "attributes", element, where)]
    constraints = _list(data, "constraints", element, where)
    if not all(isinstance(c, str) for c in constraints):
        raise where.error("'constraints' must be a list of strings", element=element)
    indexes = _list(data, "indexes", element, where)
    if not all(isinstance(i, list) and i and all(isinstance(c, str) for c in i) for i in indexes):
        raise where.error("'indexes' must be a list of lists of attribute names", element=element)
    uniques = _list(data, "uniques", element, where)
    if not all(isinstance(u, list) and all(isinstance(c, str) for c in u) for u in uniques):
        raise where.error("'uniques' must be a list of lists of attribute names", element=element)
    return Entity(
        name=name,
        attributes=tuple(attrs),
        description=_str(data, "description", element, where),
        constraints=tuple(constraints),
        indexes=tuple(tuple(i) for i in indexes),
        uniques=tuple(tuple(u) for u in uniques),
    )


def _attribute(entity: str, raw: Any, where: Locator) -> Attribute:
    data = _object(raw, entity_element(entity), where)
    name = _str(data, "name", entity_element(entity), where, required=True)
    element = entity_element(entity, name)
    enum = data.get("enum")
    if enum is not None and (not isinstance(enum, list) or not all(isinstance(v, str) for v in enum)):
        raise where.error("'enum' must be a list of strings", element=element)
    return build_attribute(
        entity,
        name,
        _str(data, "type", element, where, required=True),
        where,
        required=_bool(data, "required", True, element, where),
        unique=_bool(data, "unique", False, element, where),
        default=data.get("default"),
        enum=enum,
        reference=_str(data, "reference", element, where) or None,
        max_length=data.get("max_length"),
        primary_key=_bool(data, "primary_key", False, element, where),
        auto_increment=_bool(data, "auto_increment", False, element, where),
        auto_now=_bool(data, "auto_now", False, element, where),
        auto_now_add=_bool(data, "auto_now_add", False, element, where),
        description=_str(data, "description", element, where),
    )


def _service(raw: Any, where: Locator) -> Service:
    data = _object(raw, "services", where)
    name = _str(data, "name", "services", where, required=True)
    element = f"service {name}"
    methods = []
    for m in _list(data, "methods", element, where):
        method = _object(m, element, where)
        method_name = _str(method, "name", element, where, required=True)
        where_method = f"{element}: method {method_name}"
        params = []
        for p in _list(method, "parameters", where_method, where):
            param = _object(p, where_method, where)
            params.append(
                Parameter(
                    name=_str(param, "name", where_method, where, required=True),
                    type=_str(param, "type", where_method, where, required=True),
                    required=_bool(param, "required", True, where_method, where),
                    description=_str(param, "description", where_method, where),
                )
            )
        rules = _list(method, "rules", where_method, where)
        if not all(isinstance(r, str) for r in rules):
            raise where.error("'rules' must be a list of strings", element=where_method)
        methods.append(
            Method(
                name=method_name,
                description=_str(method, "description", where_method, where),
                parameters=tuple(params),
                returns=_str(method, "returns", where_method, where) or None,
                flow=_str(method, "flow", where_method, where) or None,
                rules=tuple(rules),
            )
        )
    return Service(name=name, description=_str(data, "description", element, where), methods=tuple(methods))


def _flow(raw: Any, where: Locator) -> Flow:
    data = _object(raw, "flows", where)
    name = _str(data, "name", "flows", where, required=True)
    element = f"flow {name}"
    steps = []
    for s in _list(data, "steps", element, where):
        step = _object(s, element, where)
        kind = _str(step, "type", element, where) or "action"
        if kind not in _STEP_TYPES:
            raise where.error(f"step type {kind!r} is not one of {', '.join(_STEP_TYPES)}", element=element)
        following = _list(step, "next", element, where)
        if not all(isinstance(t, str) for t in following):
            raise where.error("'next' must be a list of step ids", element=element)
        steps.append(
            FlowStep(
                id=_str(step, "id", element, where, required=True),
                label=_str(step, "label", element, where),
                type=kind,
                next=tuple(following),
            )
        )
    edges = []
    for e in _list(data, "edges", element, where):
        edge = _object(e, element, where)
        edges.append(
            FlowEdge(
                source=_str(edge, "source", element, where, required=True),
                target=_str(edge, "target", element, where, required=True),
                label=_str(edge, "label", element, where),
            )
        )
    return Flow(
        name=name,
        description=_str(data, "description", element, where),
        steps=tuple(steps),
        edges=tuple(edges),
        diagram=_str(data, "diagram", element, where),
    )


def _rule(raw: Any, where: Locator) -> tuple[str, str]:
    data = _object(raw, "rules", where)
    return _str(data, "id", "rules", where, required=True), _str(data, "text", "rules", where)
