"""The original engine's YAML schema, read through yaml's node tree so errors carry line numbers.

``yaml.safe_load`` forgets where things came from and silently keeps the last of two duplicate
keys; composing nodes and converting them here keeps both the line of every key and the right to
refuse duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from pim_engine.loader.assembly import Locator, assemble, build_attribute, entity_element
from pim_engine.loader.mermaid import Graph, MermaidError, is_flowchart, parse_flowchart
from pim_engine.loader.types import UnknownType, canonical_word, parse_type, split_values
from pim_engine.loader.yaml_parts import constraint_text, entity_indexes, model_rules
from pim_engine.model import Attribute, Entity, Flow, FlowEdge, FlowStep, Method, Model, Parameter, Service

_ATTRIBUTE_KEYS = {
    "type",
    "required",
    "optional",
    "nullable",
    "unique",
    "default",
    "enum",
    "values",
    "choices",
    "reference",
    "ref",
    "references",
    "foreign_key",
    "target",
    "max_length",
    "maxLength",
    "max_len",
    "primary_key",
    "primaryKey",
    "pk",
    "auto_increment",
    "autoincrement",
    "autoIncrement",
    "auto_now",
    "auto_now_add",
    "description",
    "desc",
    "comment",
    "label",
    "title",
    "example",
    "index",
    "indexed",
}
#: Validation hints the engine does not enforce but keeps as readable entity constraints.
_CONSTRAINT_KEYS = {"min", "max", "minimum", "maximum", "min_length", "minLength", "pattern", "format"}
_ENTITY_KEYS = {
    "name",
    "description",
    "attributes",
    "fields",
    "constraints",
    "relationships",
    "indexes",
    "unique_together",
    "table",
    "label",
    "title",
    "comment",
}
_STEP_TYPES = {
    "start": "start",
    "begin": "start",
    "end": "end",
    "finish": "end",
    "stop": "end",
    "action": "action",
    "process": "action",
    "task": "action",
    "step": "action",
    "activity": "action",
    "decision": "decision",
    "condition": "decision",
    "branch": "decision",
    "gateway": "decision",
    "choice": "decision",
}


class YMap(dict[str, Any]):
    """A YAML mapping that remembers the line of itself, of each key and of each value."""

    line: int
    key_lines: dict[str, int]
    value_lines: dict[str, int]
    raw: dict[str, str]

    def at(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class YList(list[Any]):
    line: int
    item_lines: list[int]


def parse_yaml(text: str, where: Locator) -> Model:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise where.error("the YAML document is empty", line=1)
        data = _convert(node, loader, where, set())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = " ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        raise where.error(f"YAML syntax error: {reason}", line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise where.error(f"YAML error: {exc}") from None
    finally:
        loader.dispose()
    if not isinstance(data, YMap):
        kind = "a list" if isinstance(data, list) else f"{type(data).__name__} {data!r}"
        raise where.error(f"the YAML document must be a mapping, not {kind}", line=node.start_mark.line + 1)
    return _model(data, where)


def _convert(node: yaml.Node, loader: yaml.SafeLoader, where: Locator, active: set[int]) -> Any:
    if id(node) in active:
        raise where.error("recursive YAML alias", line=node.start_mark.line + 1)
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_object(node, deep=True)
    active.add(id(node))
    try:
        if isinstance(node, yaml.SequenceNode):
            items = YList(_convert(n, loader, where, active) for n in node.value)
            items.line = node.start_mark.line + 1
            items.item_lines = [n.start_mark.line + 1 for n in node.value]
            return items
        loader.flatten_mapping(node)
        result = YMap()
        result.line = node.start_mark.line + 1
        result.key_lines, result.value_lines, result.raw = {}, {}, {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise where.error("mapping keys must be plain words", line=key_node.start_mark.line + 1)
            key = str(key_node.value)
            if key in result:
                raise where.error(
                    f"key {key!r} appears twice (first at line {result.key_lines[key]})",
                    line=key_node.start_mark.line + 1,
                )
            result[key] = _convert(value_node, loader, where, active)
            result.key_lines[key] = key_node.start_mark.line + 1
            block = isinstance(value_node, yaml.ScalarNode) and value_node.style in ("|", ">")
            result.value_lines[key] = value_node.start_mark.line + 1 + (1 if block else 0)
            if isinstance(value_node, yaml.ScalarNode):
                result.raw[key] = value_node.value
        return result
    finally:
        active.discard(id(node))


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _model(data: YMap, where: Locator) -> Model:
    domain = _text(data.get("domain") or data.get("name"))
    if not domain:
        raise where.error("missing 'domain'", line=data.line)
    raw_entities = data.get("entities")
    if raw_entities is None:
        raise where.error("the model defines no entities ('entities' is missing)", line=data.line)
    specs = _named_items(raw_entities, "entities", data, where)
    names = {name: name for name, _, _ in specs}
    entities = [_entity(name, spec, line, names, where) for name, spec, line in specs]
    return assemble(
        where,
        domain=domain,
        version=_text(data.get("version")) or "1.0.0",
        description=_text(data.get("description")),
        entities=entities,
        services=[
            _service(n, s, ln, where) for n, s, ln in _named_items(data.get("services"), "services", data, where)
        ],
        flows=[_flow(n, s, ln, where) for n, s, ln in _named_items(data.get("flows"), "flows", data, where)],
        rules=model_rules(data.get("rules"), data, where),
    )


def _named_items(value: Any, what: str, parent: YMap, where: Locator) -> list[tuple[str, Any, int]]:
    """Entities, services and flows come as a list of ``{name: ...}`` or a mapping from name to spec."""
    if value is None:
        return []
    if isinstance(value, YMap):
        return [(key, spec, value.at(key)) for key, spec in value.items()]
    if not isinstance(value, YList):
        raise where.error(f"'{what}' must be a list or a mapping", line=parent.at(what))
    items = []
    for item, line in zip(value, value.item_lines, strict=True):
        if not isinstance(item, YMap):
            raise where.error(f"each of '{what}' must be a mapping with a name, not {item!r}", line=line)
        name = _text(item.get("name") or item.get("id"))
        if not name:
            raise where.error(f"an item of '{what}' has no name", line=line)
        items.append((name, item, item.at("name") if "name" in item else line))
    return items


def _entity(name: str, spec: Any, line: int, entities: Mapping[str, str], where: Locator) -> Entity:
    element = entity_element(name)
    if not isinstance(spec, YMap):
        raise where.error("an entity must be a mapping with 'attributes'", element=element, line=line)
    unknown = sorted(set(spec) - _ENTITY_KEYS)
    if unknown:
        raise where.error(
            f"unknown key {unknown[0]!r}; expected one of {', '.join(sorted(_ENTITY_KEYS))}",
            element=element,
            line=spec.at(unknown[0]),
        )
    raw_attrs = spec.get("attributes", spec.get("fields"))
    constraints = [constraint_text(c) for c in spec.get("constraints") or () if constraint_text(c)]
    attrs: list[Attribute] = []
    if isinstance(raw_attrs, YMap):
        pairs = [(key, value, raw_attrs.at(key)) for key, value in raw_attrs.items()]
    elif isinstance(raw_attrs, YList):
        pairs = []
        for item, item_line in zip(raw_attrs, raw_attrs.item_lines, strict=True):
            if not isinstance(item, YMap) or not _text(item.get("name")):
                raise where.error("each attribute in a list needs a 'name'", element=element, line=item_line)
            rest = YMap({k: v for k, v in item.items() if k != "name"})
            rest.line, rest.key_lines, rest.value_lines, rest.raw = (
                item.line,
                item.key_lines,
                item.value_lines,
                item.raw,
            )
            pairs.append((_text(item["name"]), rest, item_line))
    elif raw_attrs is None:
        pairs = []
    else:
        raise where.error(
            "'attributes' must be a mapping from name to type", element=element, line=spec.at("attributes")
        )
    for attr_name, attr_spec, attr_line in pairs:
        attrs.append(_attribute(name, attr_name, attr_spec, attr_line, entities, constraints, where))
    attrs, indexes, uniques = entity_indexes(spec, attrs, element, where)
    return Entity(
        name=name,
        attributes=tuple(attrs),
        description=_text(spec.get("description")),
        constraints=tuple(constraints),
        indexes=indexes,
        uniques=uniques,
        line=line,
    )


def _attribute(
    entity: str,
    name: str,
    spec: Any,
    line: int,
    entities: Mapping[str, str],
    constraints: list[str],
    where: Locator,
) -> Attribute:
    element = entity_element(entity, name)
    if isinstance(spec, str):
        spec_map = YMap(type=spec)
        spec_map.line, spec_map.key_lines, spec_map.value_lines, spec_map.raw = line, {}, {}, {}
        spec = spec_map
    if not isinstance(spec, YMap):
        raise where.error("an attribute must be a type name or a mapping with 'type'", element=element, line=line)
    unknown = sorted(set(spec) - _ATTRIBUTE_KEYS - _CONSTRAINT_KEYS)
    if unknown:
        raise where.error(
            f"unknown key {unknown[0]!r}; expected one of " + ", ".join(sorted(_ATTRIBUTE_KEYS | _CONSTRAINT_KEYS)),
            element=element,
            line=spec.at(unknown[0]),
        )
    for key in sorted(set(spec) & _CONSTRAINT_KEYS, key=list(spec).index):
        constraints.append(f"{name}: {key} {spec[key]}")

    def flag(*keys: str) -> bool | None:
        for key in keys:
            if key in spec:
                value = spec[key]
                if not isinstance(value, bool):
                    raise where.error(
                        f"'{key}' must be true or false, not {value!r}", element=element, line=spec.at(key)
                    )
                return value
        return None

    values_key = next((k for k in ("enum", "values", "choices") if k in spec), None)
    values = spec.get(values_key) if values_key else None
    if isinstance(values, str):
        values = split_values(values)
    elif values is not None and not isinstance(values, list):
        raise where.error(f"'{values_key}' must be a list", element=element, line=spec.at(values_key))
    ref_key = next((k for k in ("reference", "ref", "references", "foreign_key", "target") if k in spec), None)
    reference = _text(spec.get(ref_key)) if ref_key else None
    type_text = _text(spec.get("type"))
    type_line = spec.at("type")
    if not type_text:
        if values:
            type_text = "enum"
        elif reference:
            type_text = "reference"
        else:
            raise where.error("no type given", element=element, line=line)
    try:
        parsed = parse_type(type_text, entities)
    except UnknownType as exc:
        raise where.error(str(exc), element=element, line=type_line) from None
    attr_type = parsed.type
    if reference:
        attr_type = "reference"
        reference = entities.get(reference, reference)
    else:
        reference = parsed.reference
    max_length = next((spec[k] for k in ("max_length", "maxLength", "max_len") if k in spec), parsed.max_length)
    required = flag("required")
    if required is None:
        optional, nullable = flag("optional"), flag("nullable")
        required = not (optional or nullable or spec.get("default") is not None)
    return build_attribute(
        entity,
        name,
        attr_type,
        where,
        line=line,
        required=required,
        unique=bool(flag("unique")),
        default=spec.get("default"),
        raw_default=spec.raw.get("default") if isinstance(spec.get("default"), float | int) else None,
        enum=values if values is not None else parsed.enum,
        reference=reference,
        max_length=max_length,
        primary_key=bool(flag("primary_key", "primaryKey", "pk")),
        auto_increment=bool(flag("auto_increment", "autoincrement", "autoIncrement")),
        auto_now=bool(flag("auto_now")),
        auto_now_add=bool(flag("auto_now_add")),
        description=_text(spec.get("description", spec.get("desc", spec.get("comment")))),
    )


def _service(name: str, spec: Any, line: int, where: Locator) -> Service:
    if not isinstance(spec, YMap):
        raise where.error("a service must be a mapping with 'methods'", element=f"service {name}", line=line)
    methods = [_method(n, m, ln, name, where) for n, m, ln in _named_items(spec.get("methods"), "methods", spec, where)]
    return Service(name=name, description=_text(spec.get("description")), methods=tuple(methods))


def param_type(spelling: Any) -> str:
    """Parameters may name entities or collections; only spellings of known types are canonicalized."""
    text = _text(spelling)
    return canonical_word(text) or text or "any"


def _method(name: str, spec: Any, line: int, service: str, where: Locator) -> Method:
    element = f"service {service}: method {name}"
    if not isinstance(spec, YMap):
        raise where.error("a method must be a mapping", element=element, line=line)
    raw = spec.get("parameters") or spec.get("params")
    params: list[Parameter] = []
    if isinstance(raw, YMap):
        for key, value in raw.items():
            if isinstance(value, YMap):
                params.append(_parameter(key, value))
            else:
                params.append(Parameter(name=key, type=param_type(value)))
    elif isinstance(raw, YList):
        for item, item_line in zip(raw, raw.item_lines, strict=True):
            if isinstance(item, str):
                params.append(Parameter(name=item.strip(), type="any"))
            elif isinstance(item, YMap) and _text(item.get("name")):
                params.append(_parameter(_text(item["name"]), item))
            else:
                raise where.error("each parameter needs a 'name'", element=element, line=item_line)
    elif raw is not None:
        raise where.error("'parameters' must be a mapping or a list", element=element, line=spec.at("parameters"))
    rules = spec.get("rules")
    rules = [] if rules is None else rules
    if not isinstance(rules, list):
        raise where.error("'rules' must be a list of rule ids", element=element, line=spec.at("rules"))
    return Method(
        name=name,
        description=_text(spec.get("description")),
        parameters=tuple(params),
        returns=_text(spec.get("returns")) or None,
        flow=_text(spec.get("flow")) or None,
        rules=tuple(_text(r) for r in rules),
    )


def _parameter(name: str, spec: YMap) -> Parameter:
    required = spec.get("required")
    if not isinstance(required, bool):
        required = not (spec.get("optional") is True or spec.get("default") is not None)
    return Parameter(
        name=name,
        type=param_type(spec.get("type")),
        required=required,
        description=_text(spec.get("description")),
    )


def _flow(name: str, spec: Any, line: int, where: Locator) -> Flow:
    element = f"flow {name}"
    if not isinstance(spec, YMap):
        raise where.error("a flow must be a mapping", element=element, line=line)
    diagram = spec.get("diagram") or ""
    if not isinstance(diagram, str):
        raise where.error("'diagram' must be text", element=element, line=spec.at("diagram"))
    graph: Graph | None = None
    if diagram.strip() and is_flowchart(diagram):
        try:
            graph = parse_flowchart(diagram)
        except MermaidError as exc:
            raise where.error(
                f"diagram: {exc}", element=element, line=spec.value_lines.get("diagram", line) + exc.offset
            ) from None
    steps, step_edges = _steps(spec.get("steps"), graph, element, spec, where)
    if graph is not None:
        edges = graph.edges
        steps = steps or graph.steps()
    else:
        edges = step_edges
    return Flow(
        name=name,
        description=_text(spec.get("description")),
        steps=steps,
        edges=edges,
        diagram=diagram.strip(),
    )


def _steps(
    raw: Any, graph: Graph | None, element: str, spec: YMap, where: Locator
) -> tuple[tuple[FlowStep, ...], tuple[FlowEdge, ...]]:
    if raw is None:
        return (), ()
    if not isinstance(raw, YList):
        raise where.error("'steps' must be a list", element=element, line=spec.at("steps"))
    nodes = {n.id: n for n in graph.nodes} if graph else {}
    shapes = {s.id: s for s in graph.steps()} if graph else {}
    steps: list[FlowStep] = []
    edges: list[FlowEdge] = []
    lines: dict[str, int] = {}
    for item, line in zip(raw, raw.item_lines, strict=True):
        if not isinstance(item, YMap) or not _text(item.get("id")):
            raise where.error("each step needs an 'id'", element=element, line=line)
        step_id = _text(item["id"])
        if step_id in lines:
            raise where.error(f"step {step_id!r} is declared twice", element=element, line=line)
        lines[step_id] = line
        kind_text = _text(item.get("type")).lower()
        if kind_text:
            kind = _STEP_TYPES.get(kind_text)
            if kind is None:
                raise where.error(
                    f"step {step_id}: unknown type {kind_text!r}; expected start, end, action or decision",
                    element=element,
                    line=item.at("type"),
                )
        else:
            kind = shapes[step_id].type if step_id in shapes else "action"
        following = item.get("next")
        if isinstance(following, YMap):
            targets = [(str(k), _text(v)) for k, v in following.items()]
        elif isinstance(following, list):
            targets = [("", _text(v)) for v in following]
        elif following is None:
            targets = []
        else:
            targets = [("", _text(following))]
        node = nodes.get(step_id)
        label = _text(item.get("label")) or (node.label if node else "") or _text(item.get("description"))
        steps.append(FlowStep(id=step_id, label=label, type=kind, next=tuple(t for _, t in targets)))
        edges.extend(FlowEdge(source=step_id, target=t, label=lab) for lab, t in targets)
    known = set(lines) | set(nodes)
    for step in steps:
        for target in step.next:
            if target not in known:
                raise where.error(
                    f"step {step.id}: next {target!r} is not a step", element=element, line=lines[step.id]
                )
    return tuple(steps), tuple(edges)
