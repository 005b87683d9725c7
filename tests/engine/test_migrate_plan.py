"""The migration planner's rules, on schemas and made-up data facts (no database)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from pim_engine.migrate import Change, Duplicates, Plan, plan
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
    together: dict[tuple[str, tuple[str, ...]], Duplicates] = field(default_factory=dict)

    def rows(self, table: str) -> int:
        return self.row_counts.get(table, 0)

    def duplicates(self, table: str, column: str) -> int:
        return self.dups.get((table, column), 0)

    def duplicates_together(self, table: str, columns: tuple[str, ...]) -> Duplicates:
        return self.together.get((table, columns), Duplicates())

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


# --- composite unique constraints ---------------------------------------------------------------------

CUSTOMER, SKU = Attribute("customer", "integer"), Attribute("sku", "string")
LINE = Entity("Line", (KEY, CUSTOMER, SKU))
PAIRED = Entity("Line", (KEY, CUSTOMER, SKU), uniques=(("customer", "sku"),))


def test_adding_a_composite_unique_on_clean_data_is_safe() -> None:
    facts = FakeFacts(row_counts={"Line": 5})
    changes = plan(schema(LINE), schema(PAIRED), facts).changes
    assert [(c.kind, c.columns, c.safety) for c in changes] == [("add_unique_together", ("customer", "sku"), "safe")]


def test_adding_a_composite_unique_over_duplicates_is_blocked_and_names_an_example() -> None:
    dups = Duplicates(rows=5, example=("7", "A-1"), example_rows=3)
    facts = FakeFacts(row_counts={"Line": 9}, together={("Line", ("customer", "sku")): dups})
    result = plan(schema(LINE), schema(PAIRED), facts)
    [change] = result.offending(allow_destructive=True)
    assert change.safety == "blocked"
    assert change.describe() == (
        "Line: unique (customer, sku) added but 5 rows hold duplicate combinations of customer, sku, "
        "e.g. customer=7, sku=A-1 in 3 rows; remove them first"
    )


def test_dropping_or_reordering_a_composite_unique() -> None:
    assert kinds(plan(schema(PAIRED), schema(LINE), FakeFacts()).changes) == [("drop_unique_together", None, "safe")]
    swapped = Entity("Line", (KEY, CUSTOMER, SKU), uniques=(("sku", "customer"),))
    changes = plan(schema(PAIRED), schema(swapped), FakeFacts()).changes
    assert sorted(c.kind for c in changes) == ["add_unique_together", "drop_unique_together"]


def test_a_composite_unique_over_a_new_attribute() -> None:
    """A new attribute without a default is NULL everywhere (nothing clashes); with one, it splits no group."""
    old = schema(Entity("Line", (KEY, CUSTOMER)))
    facts = FakeFacts(row_counts={"Line": 4}, together={("Line", ("customer",)): Duplicates(2, ("7",), 2)})
    optional = Entity("Line", (KEY, CUSTOMER, Attribute("sku", "string", required=False)), uniques=PAIRED.uniques)
    assert kinds(plan(old, schema(optional), facts).changes) == [
        ("add_column", "sku", "safe"),
        ("add_unique_together", None, "safe"),
    ]
    defaulted = Entity("Line", (KEY, CUSTOMER, Attribute("sku", "string", default="none")), uniques=PAIRED.uniques)
    [_, unique] = plan(old, schema(defaulted), facts).changes
    assert unique.safety == "blocked"
    assert "e.g. customer=7, sku=none in 2 rows" in unique.detail
    both_new = Entity("Line", (KEY, Attribute("a", "integer", default=1), Attribute("b", "integer", default=2)))
    both_new = Entity("Line", both_new.attributes, uniques=(("a", "b"),))
    refused = plan(schema(Entity("Line", (KEY,))), schema(both_new), facts).changes[-1]
    assert (refused.safety, refused.columns) == ("blocked", ("a", "b"))
    assert "4 rows hold duplicate combinations of a, b, e.g. a=1, b=2" in refused.detail
