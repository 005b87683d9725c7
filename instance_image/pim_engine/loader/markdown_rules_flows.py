"""Rules and flows: read from their own sections, from services' methods, and (flowcharts) anywhere.

They are gathered model-wide in one ``Gathered`` so that their names stay unique across sections
(a second ``R1`` becomes ``<section>.R1``, a second flow ``name (2)``) and no diagram is read twice.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from pim_engine.loader.assembly import Locator
from pim_engine.loader.markdown_doc import Code, Item, ItemList, Paragraph, Section
from pim_engine.loader.markdown_sections import clean_title, flatten, split_label
from pim_engine.loader.mermaid import MermaidError, is_flowchart, parse_flowchart
from pim_engine.model import Flow, FlowEdge, FlowStep


@dataclass
class Gathered:
    """The model's rules and flows as the readers find them, each name made unique on arrival."""

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


# Flows ----------------------------------------------------------------------------------------


def _flow_name(title: str) -> str:
    return re.sub(r"\s+(?:流程|flow|process)$", "", clean_title(title), flags=re.I).strip()


def add_flow(gathered: Gathered, name: str, block: Code, description: str) -> None:
    if id(block) in gathered.claimed:
        return
    gathered.claimed.add(id(block))
    try:
        graph = parse_flowchart(block.text)
    except MermaidError as exc:
        raise gathered.where.error(f"diagram: {exc}", element=f"flow {name}", line=block.line + exc.offset) from None
    taken = {f.name for f in gathered.flows}
    unique, number = name, 2
    while unique in taken:
        unique, number = f"{name} ({number})", number + 1
    gathered.flows.append(
        Flow(
            name=unique,
            description=description,
            steps=graph.steps(),
            edges=graph.edges,
            diagram=block.text.strip(),
        )
    )


def read_flows(section: Section, gathered: Gathered) -> None:
    for child in section.walk()[1:] if section.children else [section]:
        diagrams = [b for b in child.blocks if isinstance(b, Code) and is_flowchart(b.text)]
        description = " ".join(
            b.text.replace("**", "") for b in child.blocks if isinstance(b, Paragraph) and not split_label(b.text)
        )
        if diagrams:
            for block in diagrams:
                add_flow(gathered, _flow_name(child.title), block, description)
            continue
        ordered = [i for b in child.blocks if isinstance(b, ItemList) for i in b.items if i.ordered]
        if ordered:
            steps = [f"step{n}" for n in range(1, len(ordered) + 1)]
            edges = tuple(FlowEdge(source=a, target=b) for a, b in itertools.pairwise(steps))
            gathered.flows.append(
                Flow(
                    name=_flow_name(child.title),
                    description=description,
                    steps=tuple(
                        FlowStep(
                            id=s,
                            label=flatten(i),
                            type="action",
                            next=(steps[n + 1],) if n + 1 < len(steps) else (),
                        )
                        for n, (s, i) in enumerate(zip(steps, ordered, strict=True))
                    ),
                    edges=edges,
                )
            )


def read_stray_flows(section: Section, gathered: Gathered) -> None:
    """Flowcharts outside flow and method sections still describe flows; name them by their heading."""
    for block in section.blocks:
        if isinstance(block, Code) and id(block) not in gathered.claimed and is_flowchart(block.text):
            add_flow(gathered, _flow_name(section.title) or "flow", block, "")


# Rules ----------------------------------------------------------------------------------------


def read_rules(section: Section, gathered: Gathered) -> None:
    for child in section.walk():
        scope = clean_title(child.title)
        for block in child.blocks:
            if not isinstance(block, ItemList):
                continue
            for item in block.items:
                rule_id, text = _rule(item)
                gathered.add_rule(rule_id or f"R{len(gathered.rules) + 1}", text, scope)


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
    lines += [flatten(c) for c in item.children]
    return title.replace("`", ""), "\n".join(lines) or title
