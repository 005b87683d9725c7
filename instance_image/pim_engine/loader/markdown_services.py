"""Service sections: each service's methods, from bullets (``name(a: T): R - text``) or sub-headings.

A method's details (``输入``, ``输出``, ``流程``, ``规则``) come as labelled lines or nested bullets; its
rules and flowcharts join the model-wide ones (``markdown_rules_flows``) under the method's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pim_engine.loader.markdown_attributes import split_top
from pim_engine.loader.markdown_doc import Code, Item, ItemList, Paragraph, Section
from pim_engine.loader.markdown_rules_flows import Gathered, add_flow
from pim_engine.loader.markdown_sections import DESCRIPTION_LABELS, clean_title, flatten, split_alias, split_label
from pim_engine.loader.mermaid import is_flowchart
from pim_engine.loader.yaml_format import param_type
from pim_engine.model import Method, Parameter, Service

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


_SIGNATURE = re.compile(
    r"^`?(?P<name>[^\s(（`:：]+?)\((?P<params>[^)]*)\)`?\s*(?:(?:->|→|:|：)\s*(?P<returns>[^\s,，;；]+))?\s*(?P<rest>.*)$"
)


def read_services(section: Section, gathered: Gathered) -> list[Service]:
    services = []
    own = [b for b in section.blocks if isinstance(b, ItemList)]
    if own and not section.children:
        name, _ = split_alias(section.title)
        services.append(_service(section, name, None, gathered))
    for child in section.children:
        if clean_title(child.title).lower() in _METHOD_CONTAINERS:
            continue
        name, alias = split_alias(child.title)
        services.append(_service(child, name, alias, gathered))
    return services


def _service(section: Section, name: str, alias: str | None, gathered: Gathered) -> Service:
    description: list[str] = [alias] if alias else []
    methods: list[Method] = []
    for block in section.blocks:
        if isinstance(block, Paragraph):
            labelled = split_label(block.text)
            if labelled and labelled[0] in _METHOD_CONTAINERS:
                continue
            description.append(
                labelled[1] if labelled and labelled[0] in DESCRIPTION_LABELS else block.text.replace("**", "")
            )
        elif isinstance(block, ItemList):
            methods.extend(_method_item(item, name, gathered) for item in block.items)
    for child in section.children:
        if clean_title(child.title).lower() in _METHOD_CONTAINERS:
            for block in child.blocks:
                if isinstance(block, ItemList):
                    methods.extend(_method_item(item, name, gathered) for item in block.items)
            for grandchild in child.children:
                methods.extend(_method_section(grandchild, name, gathered))
        else:
            methods.extend(_method_section(child, name, gathered))
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


def _method_item(item: Item, service: str, gathered: Gathered) -> Method:
    name, params, returns, description = _method_head(item.text)
    parts = _MethodParts(description=[description] if description else [], parameters=params, returns=returns)
    for child in item.children:
        labelled = split_label(child.text)
        if labelled and params and labelled[0] in _INPUT:
            parts.description.append(flatten(child))  # the signature already names the parameters
        elif labelled and parts.take(*labelled):
            if labelled[0] in _RULES:
                parts.rules.extend(flatten(c) for c in child.children)
            continue
        parts.description.append(flatten(child))
    return _make_method(name, parts, service, gathered)


def _method_section(section: Section, service: str, gathered: Gathered) -> list[Method]:
    name, alias = split_alias(section.title)
    parts = _MethodParts(description=[alias] if alias else [])
    mode = ""
    for block in section.blocks:
        if isinstance(block, Paragraph):
            labelled = split_label(block.text)
            if labelled and parts.take(*labelled):
                mode = labelled[0]
            else:
                parts.description.append(block.text.replace("**", ""))
                mode = ""
        elif isinstance(block, ItemList):
            if mode in _RULES:
                parts.rules.extend(flatten(i) for i in block.items)
            elif mode in _INPUT:
                parts.parameters.extend(p for i in block.items for p in _inputs(flatten(i)))
            else:
                parts.description.extend(flatten(i) for i in block.items)
        elif isinstance(block, Code) and is_flowchart(block.text):
            flow_name = f"{service}.{name}"
            add_flow(gathered, flow_name, block, " ".join(parts.description))
            parts.flow = parts.flow or flow_name
    names = [n.strip() for n in name.split("/")] if re.fullmatch(r"[A-Za-z_]\w*(?:/[A-Za-z_]\w*)+", name) else [name]
    return [_make_method(n, parts, service, gathered) for n in names]


def _make_method(name: str, parts: _MethodParts, service: str, gathered: Gathered) -> Method:
    rule_ids = tuple(
        gathered.add_rule(f"{service}.{name}.{number}", text) for number, text in enumerate(parts.rules, start=1)
    )
    return Method(
        name=name,
        description=" ".join(d for d in parts.description if d),
        parameters=tuple(parts.parameters),
        returns=parts.returns,
        flow=parts.flow,
        rules=rule_ids,
    )
