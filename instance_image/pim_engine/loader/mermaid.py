"""A reader for mermaid flowcharts: nodes with their labels and shapes, and labelled edges.

Flows are drawn as ``flowchart TD`` diagrams in every dialect; the engine needs the graph, not the
picture, so styling statements are skipped and everything else must parse (or the model is rejected
with the offending line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pim_engine.model import FlowEdge, FlowStep

_HEADER = re.compile(r"^(?:flowchart|graph)\b", re.I)
_SKIP = re.compile(r"^(?:style|classDef|class|linkStyle|click|direction|subgraph|accTitle|accDescr)\s|^end$|^%%")
_ID = re.compile(r"[\w.$]+")
#: (opening, closing, shape) with longer openings first so ``([`` wins over ``(``.
_SHAPES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("(((", (")))",), "circle"),
    ("([", ("])",), "stadium"),
    ("((", ("))",), "circle"),
    ("[(", (")]",), "cylinder"),
    ("[[", ("]]",), "subroutine"),
    ("[/", ("/]", "\\]"), "parallelogram"),
    ("[\\", ("\\]", "/]"), "parallelogram"),
    ("{{", ("}}",), "hexagon"),
    ("[", ("]",), "box"),
    ("(", (")",), "round"),
    ("{", ("}",), "rhombus"),
    (">", ("]",), "flag"),
)
_ARROW = re.compile(
    r"\s*(?:<?(?:-{2,}>|-{3,}|={2,}>|={3,}|-\.+->|-\.+-|--[ox]|==[ox]|~~~))(?:\s*\|(?P<pipe>[^|]*)\|)?\s*"
)
_TEXT_ARROW = re.compile(r"\s*<?(?:--|==|-\.)\s+(?P<text>[^\s].*?)\s+(?:-->|==>|\.->|---|===|-\.-)\s*")
_START_WORDS = {"start", "begin", "开始", "起点"}
_END_WORDS = {"end", "finish", "stop", "done", "结束", "终点"}


class MermaidError(ValueError):
    """A flowchart statement that cannot be read; ``offset`` is its line within the diagram (0-based)."""

    def __init__(self, reason: str, offset: int) -> None:
        self.offset = offset
        super().__init__(reason)


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    shape: str


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[FlowEdge, ...]

    def steps(self) -> tuple[FlowStep, ...]:
        """Nodes as flow steps: rhombi are decisions; start/end come from names or the graph's ends."""
        incoming = {e.target for e in self.edges}
        outgoing = {e.source for e in self.edges}
        steps = []
        for node in self.nodes:
            words = {node.id.lower(), node.label.lower()}
            terminal = node.shape in ("stadium", "circle")
            if node.shape in ("rhombus", "hexagon"):
                kind = "decision"
            elif words & _START_WORDS or (terminal and node.id not in incoming):
                kind = "start"
            elif words & _END_WORDS or (terminal and node.id not in outgoing):
                kind = "end"
            else:
                kind = "action"
            following = tuple(dict.fromkeys(e.target for e in self.edges if e.source == node.id))
            steps.append(FlowStep(id=node.id, label=node.label, type=kind, next=following))
        return tuple(steps)


def is_flowchart(text: str) -> bool:
    first = next((ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("%%")), "")
    return bool(_HEADER.match(first))


def parse_flowchart(text: str) -> Graph:
    """Parse a ``flowchart``/``graph`` diagram; raises MermaidError naming the bad statement."""
    lines = text.splitlines()
    labels: dict[str, Node] = {}
    edges: list[FlowEdge] = []
    header_seen = False
    for offset, raw in enumerate(lines):
        statement = raw.strip().rstrip(";").strip()
        if not statement or _SKIP.match(statement):
            continue
        if not header_seen:
            if not _HEADER.match(statement):
                raise MermaidError(f"not a flowchart: {statement!r}", offset)
            header_seen = True
            continue
        _parse_statement(statement, offset, labels, edges)
    return Graph(nodes=tuple(labels.values()), edges=tuple(edges))


def _parse_statement(statement: str, offset: int, nodes: dict[str, Node], edges: list[FlowEdge]) -> None:
    pos = 0
    groups: list[list[str]] = []
    labels: list[str] = []
    while True:
        group, pos = _node_group(statement, pos, offset, nodes)
        groups.append(group)
        if pos >= len(statement):
            break
        arrow = _ARROW.match(statement, pos) or _TEXT_ARROW.match(statement, pos)
        if arrow is None:
            raise MermaidError(f"cannot read {statement[pos:]!r} in {statement!r}", offset)
        label = arrow.groupdict().get("pipe") or arrow.groupdict().get("text") or ""
        labels.append(label.strip().strip("\"'"))
        pos = arrow.end()
        if pos >= len(statement):
            raise MermaidError(f"edge without a target in {statement!r}", offset)
    for index, label in enumerate(labels):
        for source in groups[index]:
            for target in groups[index + 1]:
                edges.append(FlowEdge(source=source, target=target, label=label))


def _node_group(text: str, pos: int, offset: int, nodes: dict[str, Node]) -> tuple[list[str], int]:
    ids = []
    while True:
        node_id, pos = _node(text, pos, offset, nodes)
        ids.append(node_id)
        amp = re.compile(r"\s*&\s*").match(text, pos)
        if amp is None:
            return ids, pos
        pos = amp.end()


def _node(text: str, pos: int, offset: int, nodes: dict[str, Node]) -> tuple[str, int]:
    pos = len(text) - len(text[pos:].lstrip()) if text[pos:].strip() else pos
    match = _ID.match(text, pos)
    if match is None:
        raise MermaidError(f"expected a node id at {text[pos:]!r} in {text!r}", offset)
    node_id, pos = match.group(), match.end()
    label, shape = "", "plain"
    for opening, closings, name in _SHAPES:
        if not text.startswith(opening, pos):
            continue
        start = pos + len(opening)
        body_end, closing = _closing(text, start, closings)
        if body_end < 0:
            raise MermaidError(f"unclosed {opening!r} after node {node_id!r} in {text!r}", offset)
        label = text[start:body_end].strip()
        if len(label) >= 2 and label[0] == label[-1] == '"':
            label = label[1:-1].strip()
        shape, pos = name, body_end + len(closing)
        break
    cls = re.compile(r":::[\w-]+").match(text, pos)
    if cls:
        pos = cls.end()
    known = nodes.get(node_id)
    if known is None or (label and not known.label):
        nodes[node_id] = Node(node_id, label, shape if label or known is None else known.shape)
    return node_id, pos


def _closing(text: str, start: int, closings: tuple[str, ...]) -> tuple[int, str]:
    """Index of the first closing delimiter after ``start`` (skipping a quoted label), or -1."""
    scan = start
    stripped = text[start:].lstrip()
    if stripped.startswith('"'):
        quote = text.find('"', text.index('"', start) + 1)
        if quote >= 0:
            scan = quote + 1
    found = [(text.find(c, scan), c) for c in closings]
    found = [(i, c) for i, c in found if i >= 0]
    return min(found) if found else (-1, "")
