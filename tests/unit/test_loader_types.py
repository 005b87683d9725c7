"""The type vocabulary: every spelling maps onto one of model.TYPES, anything else is refused."""

from __future__ import annotations

import pytest

from pim_engine.loader.types import TYPE_WORDS, UnknownType, parse_type
from pim_engine.model import TYPES

pytestmark = pytest.mark.unit

ENTITIES = {"Customer": "Customer", "客户": "Customer"}


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("string", "string"),
        ("str", "string"),
        ("email", "string"),
        ("uuid", "string"),
        ("字符串", "string"),
        ("text", "text"),
        ("文本", "text"),
        ("integer", "integer"),
        ("int", "integer"),
        ("INT", "integer"),
        ("整数", "integer"),
        ("float", "float"),
        ("number", "float"),
        ("浮点", "float"),
        ("double", "float"),
        ("decimal", "decimal"),
        ("money", "decimal"),
        ("currency", "decimal"),
        ("小数", "decimal"),
        ("boolean", "boolean"),
        ("bool", "boolean"),
        ("布尔", "boolean"),
        ("date", "date"),
        ("日期", "date"),
        ("time", "time"),
        ("时间", "time"),
        ("datetime", "datetime"),
        ("timestamp", "datetime"),
        ("日期时间", "datetime"),
        ("json", "json"),
        ("JSON", "json"),
        ("array", "json"),
        ("list", "json"),
        ("object", "json"),
        ("string[]", "json"),
        ("List[Customer]", "json"),
        ("enum", "enum"),
        ("枚举", "enum"),
    ],
)
def test_spellings(spelling: str, expected: str) -> None:
    assert parse_type(spelling, ENTITIES).type == expected


def test_every_word_maps_to_a_known_type() -> None:
    assert set(TYPE_WORDS.values()) == set(TYPES)


def test_arguments() -> None:
    assert parse_type("varchar(40)", {}).max_length == 40
    assert parse_type("enum(a, b)", {}).enum == ("a", "b")
    assert parse_type("枚举[甲、乙]", {}).enum == ("甲", "乙")
    assert parse_type("decimal(10,2)", {}).type == "decimal"
    assert parse_type("外键(Customer)", ENTITIES).reference == "Customer"


def test_entity_names_become_references() -> None:
    assert parse_type("Customer", ENTITIES).reference == "Customer"
    assert parse_type("customer", ENTITIES).reference == "Customer"
    assert parse_type("客户", ENTITIES).reference == "Customer"


@pytest.mark.parametrize("spelling", ["strng", "Customerz", "varchar(x)", "", "integer(a)"])
def test_unknown_types_list_the_allowed_ones(spelling: str) -> None:
    with pytest.raises(UnknownType) as caught:
        parse_type(spelling, ENTITIES)
    message = str(caught.value)
    assert all(t in message for t in TYPES)
