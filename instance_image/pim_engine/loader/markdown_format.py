"""Markdown models: find the entity, service, flow and rule sections by their headings, then read them.

Sections are recognized by words in their titles (``## Entities``, ``## 业务实体``, ``## 领域对象``,
``## 核心实体``; ``服务``/``Services``; ``规则``/``约束``/``Rules``; ``流程``/``Flows``), so the
reader does not depend on one author's template. Entities are headings under an entity section that
hold attribute bullets (or a table); headings in between are only groups.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import PurePath

import yaml

from pim_engine.loader.assembly import Locator, assemble, entity_element
from pim_engine.loader.constraints import composite_unique
from pim_engine.loader.markdown_attributes import finish_attribute, read_attribute_line, split_top, table_lines
from pim_engine.loader.markdown_doc import (
    Code,
    Document,
    Item,
    ItemList,
    Paragraph,
    Section,
    Table,
    parse_document,
)
from pim_engine.loader.mermaid import MermaidError, is_flowchart, parse_flowchart
from pim_engine.loader.yaml_format import param_type
from pim_engine.model import Attribute, Entity, Flow, FlowEdge, FlowStep, Method, Model, Parameter, Service

_META = {
    "domain": ("domain", "domain name", "领域", "领域名称", "域", "domain_name"),
    "version": ("version", "版本", "版本号"),
    "description": (
        "description",
        "overview",
        "summary",
        "background",
        "描述",
        "说明",
        "概述",
        "简介",
        "系统概述",
        "业务概述",
        "系统描述",
        "业务描述",
        "领域概述",
        "业务背景",
        "系统简介",
        "项目概述",
        "背景",
    ),
}
_KINDS = (
    ("rules", ("规则", "约束", "rule", "constraint", "invariant")),
    ("flows", ("流程", "flow", "process", "workflow")),
    ("entities", ("实体", "领域对象", "数据模型", "业务对象", "entit", "data model", "domain object")),
    ("services", ("服务", "service", "业务操作", "系统功能", "功能列表", "operations", "api")),
    ("container", ("模型", "model", "领域", "domain", "设计", "design")),
)
_ATTRIBUTE_LABELS = {
    "属性",
    "属性列表",
    "字段",
    "字段列表",
    "attributes",
    "fields",
    "properties",
    "columns",
    "数据项",
}
_SKIP_LABELS = {
    "关系",
    "关联",
    "关联关系",
    "relationships",
    "relations",
    "associations",
    "方法",
    "行为",
    "操作",
    "methods",
    "operations",
    "behaviors",
    "behaviours",
}
#: Index sections: lookups are the database's business, but a composite unique one is a constraint.
_INDEX_LABELS = {"索引", "indexes", "唯一约束", "unique constraints"}
_CONSTRAINT_LABELS = {
    "约束",
    "约束条件",
    "业务规则",
    "规则",
    "constraints",
    "rules",
    "invariants",
    "validation",
    "校验",
}
_MODES = (("attributes", _ATTRIBUTE_LABELS), ("constraints", _CONSTRAINT_LABELS), ("indexes", _INDEX_LABELS))
_DESCRIPTION_LABELS = {"定义", "描述", "说明", "description", "definition", "summary"}
_METHOD_CONTAINERS = {
    "方法",
    "方法列表",
    "操作列表",
    "操作",
    "methods",
    "operations",
    "接口",
    "接口列表",
    "功能",
    "功能列表",
    "api",
}
_LABEL = re.compile(r"^(?:\*\*|__)?\s*(?P<label>[^*_:：]{1,24}?)\s*(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?\s*(?P<rest>.*)$")
_KEY_LINE = re.compile(r"^(?:\*\*|__)?\s*(?P<key>[\w ]+?)\s*(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?\s*(?P<value>\S.*)$")


def _clean(title: str) -> str:
    """A heading's words without numbering, emphasis, code ticks or a trailing colon."""
    text = re.sub(r"^(?:\d+(?:\.\d+)*[.、)]?|[一二三四五六七八九十]+[、.])\s*", "", title.strip())
    text = text.replace("**", "").replace("__", "").replace("`", "")
    return text.strip().rstrip(":：").strip()


def _label(text: str) -> tuple[str, str] | None:
    match = _LABEL.match(text.strip())
    if not match:
        return None
    return match["label"].strip().lower(), match["rest"].strip()


def _kind(title: str) -> str | None:
    words = _clean(title).lower()
    for kind, names in _META.items():
        if words in names:
            return kind
    for kind, keys in _KINDS:
        if any(k in words for k in keys) and not words.startswith("非"):
            return kind
    return None


def split_alias(title: str) -> tuple[str, str | None]:
    """``用户 (User)`` -> ``("User", "用户")``; ``Order`` -> ``("Order", None)``."""
    text = re.sub(r"^(?:实体|entity|service|服务|对象)\s*[:：]\s*", "", _clean(title), flags=re.I)
    match = re.match(r"^(?P<a>.*?)\s*[(（]\s*(?P<b>[^()（）]+?)\s*[)）]\s*$", text)
    if not match or not match["a"]:
        return _identifier(text), None
    first, second = match["a"].strip(), match["b"].strip()
    if re.fullmatch(r"[A-Za-z_][\w ./]*", second) and not re.fullmatch(r"[A-Za-z_][\w ]*", first):
        return _identifier(second), first
    return _identifier(first), second


def _identifier(text: str) -> str:
    """Multi-word English names become PascalCase (``Order Item`` -> ``OrderItem``); others lose spaces."""
    text = text.strip()
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9 ]*", text) and " " in text:
        return "".join(w[:1].upper() + w[1:] for w in text.split())
    return re.sub(r"\s+", "", text)


def domain_slug(title: str) -> str:
    """A domain from a title: ASCII words when there are any, the title's own words otherwise."""
    text = re.sub(r"^[^:：]*(?:模型|PIM|Model)[^:：]*[:：]\s*", "", title.strip(), flags=re.I)
    text = re.sub(r"[(（]\s*PIM\s*[)）]", " ", text, flags=re.I)
    text = re.sub(r"(?<![A-Za-z])PIM(?:\s+Model)?(?![A-Za-z])", " ", text, flags=re.I)
    text = re.sub(r"\s+Model\s*$", "", text.strip(), flags=re.I)
    ascii_words = re.findall(r"[A-Za-z0-9]+", text)
    if any(re.search(r"[A-Za-z]", w) for w in ascii_words):
        return "-".join(w.lower() for w in ascii_words)
    return "-".join(re.findall(r"\w+", text)).lower()


@dataclass
class _EntityDraft:
    name: str
    alias: str | None
    section: Section
    description: list[str] = field(default_factory=list)
    attribute_items: list[Item] = field(default_factory=list)
    table_rows: list[tuple[int, str]] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    index_items: list[str] = field(default_factory=list)


@dataclass
class _Context:
    where: Locator
    rules: list[tuple[str, str]] = field(default_factory=list)
    rule_ids: set[str] = field(default_factory=set)
    flows: list[Flow] = field(default_factory=list)
    claimed: set[int] = field(default_factory=set)  # id() of code blocks already turned into flows

    def add_rule(self, rule_id: str, text: str, scope: str = "") -> str:
        candidate = rule_id
        if candidate in self.rule_ids and scope:
            candidate = f"{scope}.{rule_id}"
        number = 2
        base = candidate
        while candidate in self.rule_ids:
            candidate, number = f"{base}#{number}", number + 1
        self.rule_ids.add(candidate)
        self.rules.append((candidate, text))
        return candidate


def parse_markdown(text: str, where: Locator) -> Model:
    doc = parse_document(text)
    meta = _front_matter(doc, where)
    title, intro, sections = _layout(doc)
    context = _Context(where)
    for block in intro:
        if isinstance(block, Paragraph) and (match := _KEY_LINE.match(block.text)):
            key = match["key"].strip().lower()
            for field_name, names in _META.items():
                if key in names and field_name != "description":
                    meta.setdefault(field_name, match["value"].strip())
    classified = _classify(sections)
    for kind, section in classified:
        if kind in ("domain", "version", "description"):
            value = _first_text(section)
            if value:
                meta.setdefault(kind, value)
    if "description" not in meta:
        value = next((b.text for b in intro if isinstance(b, Paragraph) and not _KEY_LINE.match(b.text)), "")
        if value:
            meta["description"] = value
    drafts = [d for kind, s in classified if kind == "entities" for d in _entity_drafts(s, where)]
    names: dict[str, str] = {}
    for draft in drafts:
        names.setdefault(draft.name, draft.name)
        if draft.alias:
            names.setdefault(draft.alias, draft.name)
    entities = [_entity(d, names, where) for d in drafts]
    services = [svc for kind, s in classified if kind == "services" for svc in _services(s, context)]
    for kind, section in classified:
        if kind == "flows":
            _flows_section(section, context)
        if kind == "rules":
            _rules_section(section, context)
    for section in doc.root.walk():
        _stray_flows(section, context)
    domain = str(meta.get("domain") or "").strip() or (domain_slug(title) if title else "")
    if not domain and where.source:
        domain = domain_slug(PurePath(where.source).stem.replace("_", " "))
    return assemble(
        where,
        domain=domain,
        version=str(meta.get("version") or "1.0.0"),
        description=str(meta.get("description") or ""),
        entities=entities,
        services=services,
        flows=context.flows,
        rules=context.rules,
    )


def _front_matter(doc: Document, where: Locator) -> dict[str, object]:
    if doc.front_matter is None:
        return {}
    try:
        data = yaml.safe_load(doc.front_matter)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = doc.front_matter_line + mark.line if mark else doc.front_matter_line
        raise where.error(f"front matter is not valid YAML: {getattr(exc, 'problem', exc)}", line=line) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise where.error("front matter must be a mapping", line=doc.front_matter_line)
    found = {}
    for key in ("domain", "version", "description"):
        if data.get(key) is not None:
            found[key] = str(data[key]).strip()
    if "domain" not in found and data.get("name"):
        found["domain"] = str(data["name"]).strip()
    return found


def _layout(doc: Document) -> tuple[str, list[object], list[Section]]:
    """The title, the blocks before the first section and the top-level sections."""
    top = doc.root.children
    if len(top) == 1 and top[0].level == 1:
        return _clean(top[0].title), doc.root.blocks + top[0].blocks, top[0].children
    if top and top[0].level == 1 and _kind(top[0].title) is None:
        return _clean(top[0].title), doc.root.blocks + top[0].blocks, top[0].children + top[1:]
    title = next((_clean(s.title) for s in doc.root.walk() if s.level == 1 and _kind(s.title) is None), "")
    return title, list(doc.root.blocks), top


def _classify(sections: Iterable[Section]) -> list[tuple[str, Section]]:
    found = []
    for section in sections:
        kind = _kind(section.title)
        if kind == "container":
            found.extend(_classify(section.children))
        elif kind is not None:
            found.append((kind, section))
    return found


def _first_text(section: Section) -> str:
    for block in section.blocks:
        if isinstance(block, Paragraph):
            return block.text.strip().strip("`")
        if isinstance(block, Code):
            return block.text.strip()
    return ""


# Entities -------------------------------------------------------------------------------------


def _entity_drafts(section: Section, where: Locator) -> list[_EntityDraft]:
    drafts: list[_EntityDraft] = []
    for child in section.children:
        _visit_entity(child, drafts, where)
    if not section.children and _has_attributes(section):
        raise where.error(
            "attribute bullets need an entity heading (### Name) above them",
            element=_clean(section.title),
            line=section.line,
        )
    return drafts


def _has_attributes(section: Section) -> bool:
    return any(isinstance(b, ItemList | Table) for b in section.blocks)


def _visit_entity(section: Section, drafts: list[_EntityDraft], where: Locator) -> None:
    title = _clean(section.title).lower()
    if title in _SKIP_LABELS | _INDEX_LABELS or title in {"实体关系", "relationships", "关系图", "er图", "er diagram"}:
        return
    labelled = [
        c
        for c in section.children
        if _clean(c.title).lower() in _ATTRIBUTE_LABELS | _SKIP_LABELS | _CONSTRAINT_LABELS | _INDEX_LABELS
    ]
    if _has_attributes(section) or labelled:
        name, alias = split_alias(section.title)
        draft = _EntityDraft(name=name, alias=alias, section=section)
        _read_entity_body(draft, section.blocks, "attributes")
        for child in labelled:
            label = _clean(child.title).lower()
            mode = next((m for m, labels in _MODES if label in labels), "skip")
            _read_entity_body(draft, child.blocks, mode)
        drafts.append(draft)
        return
    if section.children:
        for child in section.children:
            _visit_entity(child, drafts, where)
        return
    name, _ = split_alias(section.title)
    raise where.error("the entity lists no attributes", element=entity_element(name), line=section.line)


def _read_entity_body(draft: _EntityDraft, blocks: list[object], mode: str) -> None:
    for block in blocks:
        if isinstance(block, Paragraph):
            labelled = _label(block.text)
            label, rest = labelled if labelled else ("", "")
            if label in _ATTRIBUTE_LABELS:
                mode = "attributes"
            elif label in _SKIP_LABELS:
                mode = "skip"
            elif label in _INDEX_LABELS:
                mode = "indexes"
                if rest:
                    draft.index_items.append(rest)
            elif label in _CONSTRAINT_LABELS:
                mode = "constraints"
                if rest:
                    draft.constraints.append(rest)
            elif label in _DESCRIPTION_LABELS:
                draft.description.append(rest)
            else:
                draft.description.append(block.text.replace("**", ""))
        elif isinstance(block, ItemList):
            if mode == "attributes":
                draft.attribute_items.extend(block.items)
            elif mode == "constraints":
                draft.constraints.extend(_flatten(i) for i in block.items)
            elif mode == "indexes":
                draft.index_items.extend(_flatten(i) for i in block.items)
        elif isinstance(block, Table) and mode == "attributes":
            draft.table_rows.extend(table_lines(block))


def _flatten(item: Item) -> str:
    parts = [item.text.replace("**", "")] + [_flatten(c) for c in item.children]
    return "; ".join(p for p in parts if p)


def _entity(draft: _EntityDraft, names: dict[str, str], where: Locator) -> Entity:
    attributes: list[Attribute] = []
    constraints = list(draft.constraints)
    lines = [(i.line, i.text, [_flatten(c) for c in i.children]) for i in draft.attribute_items]
    lines += [(number, text, []) for number, text in draft.table_rows]
    for line, text, sub_items in lines:
        attr_draft = read_attribute_line(text, line, where, draft.name)
        attribute, checks = finish_attribute(attr_draft, draft.name, names, where, sub_items)
        attributes.append(attribute)
        constraints.extend(checks)
    text = " ".join(d.strip() for d in draft.description if d.strip())
    description = f"{draft.alias}: {text}" if draft.alias and text else draft.alias or text
    entity = Entity(name=draft.name, attributes=tuple(attributes), description=description, line=draft.section.line)
    # An index item saying its attributes are unique together (or naming a missing one) is a constraint.
    constraints += [t for t in draft.index_items if composite_unique(t, entity) != (None, None)]
    return replace(entity, constraints=tuple(constraints))


# Services -------------------------------------------------------------------------------------

_SIGNATURE = re.compile(
    r"^`?(?P<name>[^\s(（`:：]+?)\((?P<params>[^)]*)\)`?\s*(?:(?:->|→|:|：)\s*(?P<returns>[^\s,，;；]+))?\s*(?P<rest>.*)$"
)


def _services(section: Section, context: _Context) -> list[Service]:
    services = []
    own = [b for b in section.blocks if isinstance(b, ItemList)]
    if own and not section.children:
        name, _ = split_alias(section.title)
        services.append(_service(section, name, None, context))
    for child in section.children:
        if _clean(child.title).lower() in _METHOD_CONTAINERS:
            continue
        name, alias = split_alias(child.title)
        services.append(_service(child, name, alias, context))
    return services


def _service(section: Section, name: str, alias: str | None, context: _Context) -> Service:
    description: list[str] = [alias] if alias else []
    methods: list[Method] = []
    for block in section.blocks:
        if isinstance(block, Paragraph):
            labelled = _label(block.text)
            if labelled and labelled[0] in _METHOD_CONTAINERS:
                continue
            description.append(
                labelled[1] if labelled and labelled[0] in _DESCRIPTION_LABELS else block.text.replace("**", "")
            )
        elif isinstance(block, ItemList):
            methods.extend(_method_item(item, name, context) for item in block.items)
    for child in section.children:
        if _clean(child.title).lower() in _METHOD_CONTAINERS:
            for block in child.blocks:
                if isinstance(block, ItemList):
                    methods.extend(_method_item(item, name, context) for item in block.items)
            for grandchild in child.children:
                methods.extend(_method_section(grandchild, name, context))
        else:
            methods.extend(_method_section(child, name, context))
    return Service(name=name, description=" ".join(d for d in description if d), methods=tuple(_dedupe(methods)))


def _dedupe(methods: list[Method]) -> list[Method]:
    """Methods written twice in one service (a slip, not a second meaning) are kept once."""
    seen: dict[str, Method] = {}
    for method in methods:
        seen.setdefault(method.name, method)
    return list(seen.values())


def _method_head(text: str) -> tuple[str, list[Parameter], str | None, str]:
    """Name, parameters, return type and description of ``name(a: T, b): R - text`` and friends."""
    text = text.strip()
    match = re.match(r"^(?:\*\*|__)(?P<inner>.+?)(?:\*\*|__)\s*(?P<rest>.*)$", text)
    head, tail = (match["inner"], match["rest"]) if match else (text, "")
    signature = _SIGNATURE.match(head.strip("` "))
    if signature:
        params = [_parameter(p) for p in split_top(signature["params"], ",，") if p.strip()]
        rest = " ".join(p for p in (signature["rest"], tail) if p)
        return signature["name"].strip("`*"), params, signature["returns"], _strip_separator(rest)
    parts = re.split(r"\s*[:：]\s*|\s+[-—–]+\s+|\s*[—–]+\s*", head, maxsplit=1)
    name, rest = parts[0], (parts[1] if len(parts) > 1 else "")
    note = re.match(r"^(?P<name>.+?)\s*[（(](?P<note>[^()（）]*)[)）]\s*$", name)
    if note:
        name, rest = note["name"], " ".join(p for p in (note["note"], rest) if p)
    return name.strip("`* "), [], None, _strip_separator(" ".join(p for p in (rest, tail) if p))


def _strip_separator(text: str) -> str:
    return re.sub(r"^[-—–:：]+\s*", "", text.strip()).strip()


def _parameter(text: str) -> Parameter:
    parts = re.split(r"\s*[:：]\s*", text.strip(), maxsplit=1)
    name = parts[0].strip("` ")
    optional = name.endswith("?")
    return Parameter(
        name=name.rstrip("?"), type=param_type(parts[1]) if len(parts) > 1 else "any", required=not optional
    )


def _inputs(text: str) -> list[Parameter]:
    if text.strip().lower() in ("", "无", "none", "-", "n/a"):
        return []
    params = []
    for part in split_top(text, ",，、;；"):
        note = re.match(r"^(?P<name>[^（(]+?)\s*[（(](?P<note>.*)[)）]$", part)
        if note:
            params.append(Parameter(name=note["name"].strip(), type="any", description=note["note"].strip()))
        else:
            params.append(_parameter(part))
    return params


_INPUT = {"输入", "参数", "入参", "input", "inputs", "parameters", "params"}
_OUTPUT = {"输出", "返回", "返回值", "出参", "output", "outputs", "returns", "return"}
_FLOW = {"流程", "flow", "业务流程"}
_RULES = {"业务规则", "规则", "约束", "rules", "business rules", "constraints"}


@dataclass
class _MethodParts:
    description: list[str] = field(default_factory=list)
    parameters: list[Parameter] = field(default_factory=list)
    returns: str | None = None
    flow: str | None = None
    rules: list[str] = field(default_factory=list)

    def take(self, label: str, rest: str) -> bool:
        """Apply an ``输入: ...`` style detail; False when the label means nothing to a method."""
        if label in _INPUT:
            self.parameters.extend(_inputs(rest))
        elif label in _OUTPUT:
            self.returns = rest or self.returns
        elif label in _FLOW:
            self.flow = rest or self.flow
        elif label in _RULES:
            if rest:
                self.rules.append(rest)
        else:
            return False
        return True


def _method_item(item: Item, service: str, context: _Context) -> Method:
    name, params, returns, description = _method_head(item.text)
    parts = _MethodParts(description=[description] if description else [], parameters=params, returns=returns)
    for child in item.children:
        labelled = _label(child.text)
        if labelled and params and labelled[0] in _INPUT:
            parts.description.append(_flatten(child))  # the signature already names the parameters
        elif labelled and parts.take(*labelled):
            if labelled[0] in _RULES:
                parts.rules.extend(_flatten(c) for c in child.children)
            continue
        parts.description.append(_flatten(child))
    return _make_method(name, parts, service, context)


def _method_section(section: Section, service: str, context: _Context) -> list[Method]:
    name, alias = split_alias(section.title)
    parts = _MethodParts(description=[alias] if alias else [])
    mode = ""
    for block in section.blocks:
        if isinstance(block, Paragraph):
            labelled = _label(block.text)
            if labelled and parts.take(*labelled):
                mode = labelled[0]
            else:
                parts.description.append(block.text.replace("**", ""))
                mode = ""
        elif isinstance(block, ItemList):
            if mode in _RULES:
                parts.rules.extend(_flatten(i) for i in block.items)
            elif mode in _INPUT:
                parts.parameters.extend(p for i in block.items for p in _inputs(_flatten(i)))
            else:
                parts.description.extend(_flatten(i) for i in block.items)
        elif isinstance(block, Code) and is_flowchart(block.text):
            flow_name = f"{service}.{name}"
            _add_flow(context, flow_name, block, " ".join(parts.description))
            parts.flow = parts.flow or flow_name
    names = [n.strip() for n in name.split("/")] if re.fullmatch(r"[A-Za-z_]\w*(?:/[A-Za-z_]\w*)+", name) else [name]
    return [_make_method(n, parts, service, context) for n in names]


def _make_method(name: str, parts: _MethodParts, service: str, context: _Context) -> Method:
    rule_ids = tuple(
        context.add_rule(f"{service}.{name}.{number}", text) for number, text in enumerate(parts.rules, start=1)
    )
    return Method(
        name=name,
        description=" ".join(d for d in parts.description if d),
        parameters=tuple(parts.parameters),
        returns=parts.returns,
        flow=parts.flow,
        rules=rule_ids,
    )


# Flows ----------------------------------------------------------------------------------------


def _flow_name(title: str) -> str:
    return re.sub(r"\s+(?:流程|flow|process)$", "", _clean(title), flags=re.I).strip()


def _add_flow(context: _Context, name: str, block: Code, description: str) -> None:
    if id(block) in context.claimed:
        return
    context.claimed.add(id(block))
    try:
        graph = parse_flowchart(block.text)
    except MermaidError as exc:
        raise context.where.error(f"diagram: {exc}", element=f"flow {name}", line=block.line + exc.offset) from None
    taken = {f.name for f in context.flows}
    unique, number = name, 2
    while unique in taken:
        unique, number = f"{name} ({number})", number + 1
    context.flows.append(
        Flow(
            name=unique,
            description=description,
            steps=graph.steps(),
            edges=graph.edges,
            diagram=block.text.strip(),
        )
    )


def _flows_section(section: Section, context: _Context) -> None:
    for child in section.walk()[1:] if section.children else [section]:
        diagrams = [b for b in child.blocks if isinstance(b, Code) and is_flowchart(b.text)]
        description = " ".join(
            b.text.replace("**", "") for b in child.blocks if isinstance(b, Paragraph) and not _label(b.text)
        )
        if diagrams:
            for block in diagrams:
                _add_flow(context, _flow_name(child.title), block, description)
            continue
        ordered = [i for b in child.blocks if isinstance(b, ItemList) for i in b.items if i.ordered]
        if ordered:
            steps = [f"step{n}" for n in range(1, len(ordered) + 1)]
            edges = tuple(FlowEdge(source=a, target=b) for a, b in itertools.pairwise(steps))
            context.flows.append(
                Flow(
                    name=_flow_name(child.title),
                    description=description,
                    steps=tuple(
                        FlowStep(
                            id=s,
                            label=_flatten(i),
                            type="action",
                            next=(steps[n + 1],) if n + 1 < len(steps) else (),
                        )
                        for n, (s, i) in enumerate(zip(steps, ordered, strict=True))
                    ),
                    edges=edges,
                )
            )


def _stray_flows(section: Section, context: _Context) -> None:
    """Flowcharts outside flow and method sections still describe flows; name them by their heading."""
    for block in section.blocks:
        if isinstance(block, Code) and id(block) not in context.claimed and is_flowchart(block.text):
            _add_flow(context, _flow_name(section.title) or "flow", block, "")


# Rules ----------------------------------------------------------------------------------------


def _rules_section(section: Section, context: _Context) -> None:
    for child in section.walk():
        scope = _clean(child.title)
        for block in child.blocks:
            if not isinstance(block, ItemList):
                continue
            for item in block.items:
                rule_id, text = _rule(item)
                context.add_rule(rule_id or f"R{len(context.rules) + 1}", text, scope)


def _rule(item: Item) -> tuple[str, str]:
    """``**唯一性**：邮箱必须唯一`` -> (``唯一性``, ``邮箱必须唯一``); nested bullets join the text."""
    text = item.text.strip()
    title, rest = "", text
    bold = re.match(r"^(?:\*\*|__)(?P<title>[^*_]+?)(?:\*\*|__)\s*[:：]?\s*(?P<rest>.*)$", text)
    if bold:
        title, rest = bold["title"].strip().rstrip(":：").strip(), bold["rest"]
    else:
        plain = re.match(r"^(?P<title>[^:：，,。]{1,20})[:：]\s*(?P<rest>.+)$", text)
        if plain:
            title, rest = plain["title"].strip(), plain["rest"]
        elif item.children and len(text) <= 30:
            title, rest = text.rstrip(":："), ""
    lines = [rest.strip()] if rest.strip() else []
    lines += [_flatten(c) for c in item.children]
    return title.replace("`", ""), "\n".join(lines) or title
