"""The migration planner's rules, on schemas and made-up data facts (no database)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from pim_engine.migrate import Change, Plan, plan
from pim_engine.model import Attribute, Entity
from pim_engine.schema import Table, tables_for

pytestmark = pytest.mark.unit

KEY = Attribute("id", "integer", required=False, primary_key=True, auto_increment=True)


@dataclass
class FakeFacts:
    """Answers the planner's questions from dicts; unknown questions count zero rows."""

    row_counts: dict[str, int] = field(default_factory=dict)
    dups: dict[tuple[str, str], int] = field(default_factory=dict)
    null_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    too_long: dict[tuple[str, str], int] = field(default_factory=dict)
    off_enum: dict[tuple[str, str], int] = field(default_factory=dict)

    def rows(self, table: str) -> int:
        return self.row_counts.get(table, 0)

    def duplicates(self, table: str, column: str) -> int:
        return self.dups.get((table, column), 0)

    def nulls(self, table: str, column: str) -> int:
        return self.null_counts.get((table, column), 0)

    def longer_than(self, table: str, column: str, length: int) -> int:
        return self.too_long.get((table, column), 0)

    def outside(self, table: str, column: str, values: Sequence[str]) -> int:
        return self.off_enum.get((table, column), 0)


def schema(*entities: Entity) -> dict[str, Table]:
    return tables_for(entities)


def entity(name: str, *attrs: Attribute) -> Entity:
    return Entity(name, (KEY, *attrs))


def kinds(changes: list[Change]) -> list[tuple[str, str | None, str]]:
    return [(c.kind, c.attribute, c.safety) for c in changes]


NAME = Attribute("name", "string")
OLD = schema(entity("Item", NAME))


def test_identical_schemas_need_nothing() -> None:
    assert plan(OLD, OLD, FakeFacts()).changes == []


def test_new_entity_and_optional_column_are_safe() -> None:
    new = schema(entity("Item", NAME, Attribute("note", "text", required=False)), entity("Tag", NAME))
    changes = plan(OLD, new, FakeFacts(row_counts={"Item": 5})).changes
    assert kinds(changes) == [("create_table", None, "safe"), ("add_column", "note", "safe")]


def test_required_column_without_default() -> None:
    new = schema(entity("Item", NAME, Attribute("sku", "string")))
    assert kinds(plan(OLD, new, FakeFacts()).changes) == [("add_column", "sku", "safe")]
    [blocked] = plan(OLD, new, FakeFacts(row_counts={"Item": 3})).changes
    assert blocked.safety == "blocked"
    assert "3 rows" in blocked.describe()
    with_default = schema(entity("Item", NAME, Attribute("sku", "string", required=False, default="n/a")))
    assert kinds(plan(OLD, with_default, FakeFacts(row_counts={"Item": 3})).changes) == [("add_column", "sku", "safe")]


def test_dropping_data_is_destructive_only_when_there_is_data() -> None:
    new = schema(entity("Other", NAME))
    empty = plan(OLD, new, FakeFacts()).changes
    assert {c.safety for c in empty} == {"safe"}
    full = plan(OLD, new, FakeFacts(row_counts={"Item": 1})).changes
    assert ("drop_table", None, "destructive") in kinds(full)
    dropped_column = plan(
        schema(entity("Item", NAME, Attribute("x", "integer"))), OLD, FakeFacts(row_counts={"Item": 2})
    ).changes
    assert kinds(dropped_column) == [("drop_column", "x", "destructive")]
    assert dropped_column[0].rebuild


@pytest.mark.parametrize(
    ("before", "after", "safety"),
    [
        ("string", "integer", "destructive"),
        ("decimal", "float", "destructive"),
        ("string", "text", "safe"),
        ("integer", "decimal", "safe"),
        ("enum", "string", "safe"),
    ],
)
def test_type_changes_over_rows(before: str, after: str, safety: str) -> None:
    def attr(kind: str) -> Attribute:
        return Attribute("v", kind, enum=("a",) if kind == "enum" else None)

    changes = plan(
        schema(entity("Item", attr(before))),
        schema(entity("Item", attr(after))),
        FakeFacts(row_counts={"Item": 4}),
    ).changes
    assert kinds(changes) == [("retype_column", "v", safety)]


def test_unique_over_duplicates_is_blocked_even_with_permission() -> None:
    new = schema(entity("Item", Attribute("name", "string", unique=True)))
    assert kinds(plan(OLD, new, FakeFacts()).changes) == [("add_unique", "name", "safe")]
    result = Plan(plan(OLD, new, FakeFacts(dups={("Item", "name"): 2})).changes)
    assert [c.kind for c in result.offending(allow_destructive=True)] == ["add_unique"]


def test_tightening_rules_over_existing_values_is_destructive() -> None:
    old = schema(
        entity(
            "Item",
            Attribute("s", "enum", required=False, enum=("a", "b")),
            Attribute("t", "string", required=False),
        )
    )
    new = schema(entity("Item", Attribute("s", "enum", enum=("a",)), Attribute("t", "string", max_length=3)))
    facts = FakeFacts(null_counts={("Item", "s"): 1}, off_enum={("Item", "s"): 2}, too_long={("Item", "t"): 1})
    result = Plan(plan(old, new, facts).changes)
    assert kinds(result.changes) == [
        ("require_column", "s", "destructive"),
        ("narrow_enum", "s", "destructive"),
        ("shorten_column", "t", "destructive"),
    ]
    assert result.offending(allow_destructive=True) == []
    assert len(result.offending(allow_destructive=False)) == 3
    assert plan(old, new, FakeFacts()).changes == []


def test_reference_retarget_is_a_retype() -> None:
    a, b = entity("A", NAME), entity("B", NAME)
    old = schema(a, b, entity("C", Attribute("ref", "reference", reference="A")))
    new = schema(a, b, entity("C", Attribute("ref", "reference", reference="B")))
    [change] = plan(old, new, FakeFacts(row_counts={"C": 1})).changes
    assert (change.kind, change.safety, change.rebuild) == ("retype_column", "destructive", True)
