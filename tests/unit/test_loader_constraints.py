"""What people write about their entities: reference phrasings, ``indexes:``, checkable constraints."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from pim_engine.loader import load_model_text, model_from_dict
from pim_engine.loader.constraints import Rule, entity_constraints, parse_constraint
from pim_engine.model import Attribute, Entity, ModelError

pytestmark = pytest.mark.unit

ENTITY = Entity(
    "Booking",
    (
        Attribute("price", "decimal"),
        Attribute("stock", "integer"),
        Attribute("rating", "float"),
        Attribute("code", "string"),
        Attribute("note", "text"),
        Attribute("startDate", "date"),
        Attribute("endDate", "date"),
        Attribute("opens", "datetime"),
        Attribute("meta", "json"),
        Attribute("价格", "decimal"),
        Attribute("库存", "integer"),
        Attribute("编号", "string"),
        Attribute("开始日期", "date"),
        Attribute("结束日期", "date"),
    ),
)


@pytest.mark.parametrize(
    ("text", "rules"),
    [
        ("price must be positive", [Rule("gt", "price", Decimal(0))]),
        ("The price must be positive.", [Rule("gt", "price", Decimal(0))]),
        ("price should be strictly positive", [Rule("gt", "price", Decimal(0))]),
        ("Price > 0", [Rule("gt", "price", Decimal(0))]),
        ("stock cannot be negative", [Rule("ge", "stock", Decimal(0))]),
        ("stock must be non-negative", [Rule("ge", "stock", Decimal(0))]),
        ("stock must not be negative", [Rule("ge", "stock", Decimal(0))]),
        ("stock >= 0", [Rule("ge", "stock", Decimal(0))]),
        ("rating between 1 and 5", [Rule("ge", "rating", Decimal(1)), Rule("le", "rating", Decimal(5))]),
        (
            "rating must be between 0.5 and 4.5",
            [Rule("ge", "rating", Decimal("0.5")), Rule("le", "rating", Decimal("4.5"))],
        ),
        ("stock must be at most 100", [Rule("le", "stock", Decimal(100))]),
        ("stock must be less than 100", [Rule("lt", "stock", Decimal(100))]),
        ("stock ≤ 9", [Rule("le", "stock", Decimal(9))]),
        ("code must be unique", [Rule("unique", "code")]),
        ("code is unique", [Rule("unique", "code")]),
        ("`code` must be unique", [Rule("unique", "code")]),
        ("endDate must be after startDate", [Rule("after", "endDate", other="startDate")]),
        ("endDate must be later than startDate", [Rule("after", "endDate", other="startDate")]),
        ("price: min 0", [Rule("ge", "price", Decimal(0))]),
        ("price: maximum 99.5", [Rule("le", "price", Decimal("99.5"))]),
        ("code: min_length 3", [Rule("min_length", "code", Decimal(3))]),
        ("价格必须为正数", [Rule("gt", "价格", Decimal(0))]),
        ("价格必须大于0", [Rule("gt", "价格", Decimal(0))]),
        ("price 大于0", [Rule("gt", "price", Decimal(0))]),
        ("库存不能为负数", [Rule("ge", "库存", Decimal(0))]),
        ("库存非负", [Rule("ge", "库存", Decimal(0))]),
        ("stock 大于等于0", [Rule("ge", "stock", Decimal(0))]),
        ("库存在0到100之间", [Rule("ge", "库存", Decimal(0)), Rule("le", "库存", Decimal(100))]),
        ("库存不超过500", [Rule("le", "库存", Decimal(500))]),
        ("编号唯一", [Rule("unique", "编号")]),
        ("编号必须唯一", [Rule("unique", "编号")]),
        ("编号不能重复", [Rule("unique", "编号")]),
        ("结束日期必须晚于开始日期", [Rule("after", "结束日期", other="开始日期")]),
        ("结束日期必须在开始日期之后", [Rule("after", "结束日期", other="开始日期")]),
    ],
)
def test_checkable_constraints_become_rules(text: str, rules: list[Rule]) -> None:
    assert parse_constraint(text, ENTITY) == rules


@pytest.mark.parametrize(
    "text",
    [
        "status must be valid enum value",  # names no attribute
        "price must be reasonable",  # says nothing checkable
        "code must be positive",  # does not fit a string
        "meta must be unique",  # json cannot be compared
        "endDate must be after opens",  # date against datetime
        "startDate must be after nothing",
        "rating between 5 and 1",  # an empty range
        "prices must be positive",  # a longer word is not the attribute
        "订单提交后不可修改",
        "",
    ],
)
def test_other_constraints_stay_documentation(text: str) -> None:
    assert parse_constraint(text, ENTITY) == []


def test_entity_constraints_report_enforcement() -> None:
    entity = Entity("Booking", ENTITY.attributes, constraints=("price must be positive", "be nice"))
    assert [(c.text, c.enforced) for c in entity_constraints(entity)] == [
        ("price must be positive", True),
        ("be nice", False),
    ]
    assert entity_constraints(entity)[0].to_dict() == {
        "entity": "Booking",
        "text": "price must be positive",
        "enforced": True,
        "rules": [{"kind": "gt", "attribute": "price", "value": "0"}],
    }


REFERENCES = """\
# Clinic

## Entities

### Patient
- name: string, required

### Visit
- a: reference Patient
- b: reference to Patient
- c: references Patient
- d: ref Patient
- e: → Patient
- f (reference to Patient)
- g: reference to Patient, required - who came
- h → Patient
- i: -> patient
- j: refers to Patient
- k: string, references Patient
"""


def test_markdown_references_as_people_write_them() -> None:
    visit = load_model_text(REFERENCES, "markdown").entity("Visit")
    assert visit is not None
    refs = {a.name: (a.type, a.reference) for a in visit.attributes if a.name != "id"}
    assert refs == {name: ("reference", "Patient") for name in "abcdefghijk"}
    g = visit.attribute("g")
    assert g is not None
    assert (g.required, g.description) == (True, "who came")


def test_markdown_reference_to_an_unknown_entity_is_an_error() -> None:
    text = REFERENCES.replace("- a: reference Patient", "- a: reference to Doctor")
    with pytest.raises(ModelError, match="Doctor"):
        load_model_text(text, "markdown")


INDEXED = """\
domain: shop
entities:
  - name: User
    attributes:
      email: string
      status: {type: enum, values: [active, blocked]}
      city: string
      handle: string
    constraints:
      - handle must be unique
    indexes:
      - email
      - [status, city]
      - {fields: [city], unique: false}
      - {fields: [email], unique: true}
      - {fields: [status, handle], unique: true}
"""


def test_yaml_indexes() -> None:
    user = load_model_text(INDEXED, "yaml").entity("User")
    assert user is not None
    assert user.indexes == (("email",), ("status", "city"), ("city",))
    unique = {a.name for a in user.attributes if a.unique}
    assert unique == {"email", "handle"}  # a one-column unique index, and the "must be unique" text
    assert user.uniques == (("status", "handle"),)  # a composite unique index is enforced, not documented
    assert user.constraints == ("handle must be unique",)
    assert user.to_dict()["indexes"] == [["email"], ["status", "city"], ["city"]]
    assert user.to_dict()["uniques"] == [["status", "handle"]]


def test_indexes_travel_through_the_normalized_form() -> None:
    model = load_model_text(INDEXED, "yaml")
    again = model_from_dict(model.to_dict())
    assert again == model
    assert again.digest == model.digest


def test_models_without_indexes_keep_their_normalized_form() -> None:
    model = load_model_text("domain: d\nentities:\n  - name: A\n    attributes:\n      x: string\n", "yaml")
    assert "indexes" not in model.to_dict()["entities"][0]
    assert "uniques" not in model.to_dict()["entities"][0]


PAIRS = """\
domain: shop
entities:
  - name: Line
    attributes:
      customer_id: integer
      sku: string
      batch: {type: string, required: false}
      lot: {type: string, required: false}
      bin: {type: string, required: false}
      shelf: {type: string, required: false}
    constraints:
      - (lot, bin) must be unique
      - the combination of shelf and bin must be unique
      - sku and batch must be unique
    indexes:
      - {columns: "customer_id, sku", unique: true}
      - [customer_id, sku]
    unique_together:
      - [sku, customer_id]
      - [batch, customer_id]
"""


def test_composite_unique_forms() -> None:
    """Unique indexes, ``unique_together`` and constraint texts that say "together" all enforce."""
    line = load_model_text(PAIRS, "yaml").entity("Line")
    assert line is not None
    assert line.uniques == (("customer_id", "sku"), ("batch", "customer_id"), ("lot", "bin"), ("shelf", "bin"))
    assert line.indexes == ()  # the unique index over (customer_id, sku) serves its lookups
    assert not any(a.unique for a in line.attributes if a.name != "id")  # "sku and batch": each? together? neither
    enforced = {c.text: c.enforced for c in entity_constraints(line)}
    assert enforced == {
        "(lot, bin) must be unique": True,
        "the combination of shelf and bin must be unique": True,
        "sku and batch must be unique": False,
    }


@pytest.mark.parametrize(
    "text",
    ["unique (a, b)", "a + b must be unique", "a and b must be unique together", "(a，b)唯一", "a和b组合唯一"],
)
def test_composite_unique_phrasings(text: str) -> None:
    model = f"domain: d\nentities:\n  - name: T\n    attributes: {{a: string, b: string}}\n    constraints: ['{text}']"
    entity = load_model_text(model, "yaml").entity("T")
    assert entity is not None
    assert entity.uniques == (("a", "b"),)


def test_composite_unique_travels_through_the_normalized_form() -> None:
    model = load_model_text(PAIRS, "yaml")
    data = model.to_dict()
    assert data["entities"][0]["uniques"] == [
        ["customer_id", "sku"],
        ["batch", "customer_id"],
        ["lot", "bin"],
        ["shelf", "bin"],
    ]
    again = model_from_dict(data)
    assert again == model
    assert again.digest == model.digest


MD_LINE = "# Shop\n\n## 实体\n\n### Line\n\n- customer: integer\n- sku: string\n- bin: string\n\n"


@pytest.mark.parametrize(
    ("part", "constraints"),
    [
        ("**Constraints:**\n\n- unique (customer, sku)\n- (sku, bin) must be unique\n", None),
        # Index sections were skipped whole; a unique item in one is now enforced, lookups stay skipped.
        (
            "#### 索引\n\n- customer, sku (unique)\n- bin\n- 联合唯一（sku, bin）\n",
            ("customer, sku (unique)", "联合唯一（sku, bin）"),
        ),
    ],
)
def test_markdown_composite_uniques(part: str, constraints: tuple[str, ...] | None) -> None:
    line = load_model_text(MD_LINE + part, "markdown").entity("Line")
    assert line is not None
    assert line.uniques == (("customer", "sku"), ("sku", "bin"))
    if constraints is not None:
        assert line.constraints == constraints
    missing = part.replace("customer, sku", "customer, skux")
    with pytest.raises(ModelError, match="entity Line: unique \\(customer, skux\\) names no attribute 'skux'"):
        load_model_text(MD_LINE + missing, "markdown")


@pytest.mark.parametrize(
    ("entity_part", "message"),
    [
        ("indexes: [nope]", "index (nope) names no attribute 'nope'"),
        ("indexes: [[email, nope]]", "index (email, nope) names no attribute 'nope'"),
        ("indexes: email", "'indexes' must be a list"),
        ("indexes: [{unique: true}]", "an index must name attributes"),
        ("indexes: [[]]", "an index must name attributes"),
        ("indexes: [{fields: [email, nope], unique: true}]", "unique (email, nope) names no attribute 'nope'"),
        ("unique_together: [[email, nope]]", "unique (email, nope) names no attribute 'nope'"),
        ("unique_together: [[email, email]]", "names an attribute twice"),
        ("unique_together: email", "'unique_together' must be a list"),
        ("unique_together: [{unique: true}]", "a unique constraint must name attributes"),
        ("constraints: ['unique (email, nope)']", "unique (email, nope) names no attribute 'nope'"),
    ],
)
def test_bad_indexes_and_composite_uniques_name_the_culprit(entity_part: str, message: str) -> None:
    text = f"domain: d\nentities:\n  - name: A\n    attributes:\n      email: string\n    {entity_part}\n"
    with pytest.raises(ModelError, match=re.escape(message)) as caught:
        load_model_text(text, "yaml")
    assert "entity A" in str(caught.value)


def test_a_normalized_composite_unique_naming_a_missing_attribute_is_refused() -> None:
    data = load_model_text(PAIRS, "yaml").to_dict()
    del data["digest"]
    data["entities"][0]["uniques"] = [["customer_id", "gone"]]
    with pytest.raises(ModelError, match="unique \\(customer_id, gone\\) names no attribute 'gone'"):
        model_from_dict(data)
    data["entities"][0]["uniques"] = "customer_id"
    with pytest.raises(ModelError, match="'uniques' must be a list"):
        model_from_dict(data)
