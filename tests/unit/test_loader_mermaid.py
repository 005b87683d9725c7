"""Mermaid flowcharts become nodes, edges and typed steps."""

from __future__ import annotations

import pytest

from pim_engine.loader.mermaid import MermaidError, is_flowchart, parse_flowchart

pytestmark = pytest.mark.unit


def edges(text: str) -> list[tuple[str, str, str]]:
    return [(e.source, e.target, e.label) for e in parse_flowchart(text).edges]


def test_shapes_and_labels() -> None:
    graph = parse_flowchart(
        'flowchart LR\n  S([开始]) --> A[Take "order"] --> B{OK?}\n  B -->|yes| C((Done))\n'
        "  B -- no --> D[(Store)]\n  D -.-> E[[Sub]]\n  E ==> F{{Hex}}\n  F --- G>Flag]\n  G --> H[/Para/]\n"
    )
    shapes = {n.id: (n.label, n.shape) for n in graph.nodes}
    assert shapes["S"] == ("开始", "stadium")
    assert shapes["A"] == ('Take "order"', "box")
    assert shapes["B"] == ("OK?", "rhombus")
    assert shapes["C"] == ("Done", "circle")
    assert shapes["D"] == ("Store", "cylinder")
    assert shapes["H"] == ("Para", "parallelogram")
    assert ("B", "C", "yes") in edges_of(graph)
    assert ("B", "D", "no") in edges_of(graph)
    assert len(graph.edges) == 8


def edges_of(graph) -> list[tuple[str, str, str]]:
    return [(e.source, e.target, e.label) for e in graph.edges]


def test_chains_groups_and_ignored_statements() -> None:
    text = (
        "graph TD;\n  %% a comment\n  classDef hot fill:#f00\n"
        "  subgraph one [First]\n    A --> B --> C;\n  end\n"
        "  A & B --> D:::hot\n  style D fill:#fff\n  linkStyle 0 stroke:#333\n  click A callback\n"
    )
    assert edges(text) == [("A", "B", ""), ("B", "C", ""), ("A", "D", ""), ("B", "D", "")]


def test_steps_types() -> None:
    graph = parse_flowchart("flowchart TD\n  Start --> Check{x}\n  Check -->|a| Work\n  Work --> End\n")
    assert {s.id: s.type for s in graph.steps()} == {
        "Start": "start",
        "Check": "decision",
        "Work": "action",
        "End": "end",
    }
    assert next(s for s in graph.steps() if s.id == "Check").next == ("Work",)


def test_terminal_shapes_without_words() -> None:
    graph = parse_flowchart("flowchart TD\n  a([go]) --> b --> c((stop here))\n")
    assert [s.type for s in graph.steps()] == ["start", "action", "end"]


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("flowchart TD\n  A --> B[oops\n", 1),
        ("flowchart TD\n  A -->\n", 1),
        ("flowchart TD\n  A --> B\n  A ?? B\n", 2),
        ("sequenceDiagram\n  A->>B: hi\n", 0),
    ],
)
def test_errors_point_at_the_statement(text: str, offset: int) -> None:
    with pytest.raises(MermaidError) as caught:
        parse_flowchart(text)
    assert caught.value.offset == offset


def test_is_flowchart() -> None:
    assert is_flowchart("\n%% c\ngraph LR\nA-->B")
    assert not is_flowchart("classDiagram\n class A")
