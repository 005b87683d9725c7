"""The YAML format: every attribute form, and errors that name file, element and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pim_engine.loader import load_model, load_model_text
from pim_engine.model import ModelError

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[1] / "engine" / "fixtures" / "models"


def test_fixture_model_loads_every_form() -> None:
    model = load_model(FIXTURES / "garden_shop.yaml")
    assert (model.domain, model.version) == ("garden-shop", "2.1.0")
    supplier, plant, order = model.entities
    code = supplier.attribute("code")
    assert (code.type, code.primary_key, code.max_length) == ("string", True, 12)
    assert [a.name for a in supplier.attributes] == ["code", "company", "rating"]
    assert supplier.attribute("rating").type == "float"
    assert plant.attributes[0].name == "id"
    assert plant.attributes[0].auto_increment
    price = plant.attribute("price")
    assert (price.type, price.default, price.required) == ("decimal", "4.10", False)
    assert plant.attribute("season").enum == ("spring", "summer", "autumn")
    assert plant.attribute("hardy").default is False
    assert plant.attribute("supplier").reference == "Supplier"
    assert plant.attribute("tags").type == "json"
    key = order.attribute("id")
    assert (key.type, key.primary_key, key.auto_increment) == ("string", True, False)
    assert order.attribute("plant").reference == "Plant"
    assert "quantity: min 1" in order.constraints
    assert not order.attribute("placed_at").required
    flow = model.flows[0]
    assert [(e.source, e.target, e.label) for e in flow.edges] == [
        ("go", "check", ""),
        ("check", "book", "yes"),
        ("book", "done", ""),
        ("check", "done", "no"),
    ]
    assert [s.type for s in flow.steps] == ["start", "decision", "action", "end"]
    assert flow.steps[2].label == "Book the order"
    assert dict(model.rules)["price_floor"] == "Prices are never below one cent"


def test_comments_and_whitespace_do_not_change_the_digest() -> None:
    text = (FIXTURES / "garden_shop.yaml").read_text()
    noisy = "# leading comment\n\n" + text.replace("\n  - name: Plant", "\n\n  # plants\n  - name: Plant")
    assert noisy != text
    assert load_model_text(noisy, "yaml").digest == load_model_text(text, "yaml").digest


def test_attribute_order_is_meaningful() -> None:
    one = "domain: d\nentities:\n  - name: A\n    attributes:\n      x: string\n      y: integer\n"
    two = "domain: d\nentities:\n  - name: A\n    attributes:\n      y: integer\n      x: string\n"
    assert load_model_text(one, "yaml").digest != load_model_text(two, "yaml").digest


def test_entities_as_a_mapping_and_service_parameters_as_a_mapping() -> None:
    text = """
domain: d
entities:
  Box:
    attributes:
      size: {type: integer, default: 3}
services:
  - name: Packing
    methods:
      - name: pack
        parameters: {box: Box, count: int}
"""
    model = load_model_text(text, "yaml")
    assert model.entities[0].attribute("size").default == 3
    params = model.services[0].methods[0].parameters
    assert [(p.name, p.type) for p in params] == [("box", "Box"), ("count", "integer")]


def write(tmp_path: Path, text: str, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


BASE = "domain: d\nentities:\n  - name: Order\n    attributes:\n"


@pytest.mark.parametrize(
    ("body", "element", "line", "reason"),
    [
        (
            "      status:\n        type: enum\n        enum: [pending, shipped]\n        default: lost\n",
            "entity Order: attribute status",
            5,
            "default 'lost' is not one of pending, shipped",
        ),
        ("      status:\n        type: enum\n", "entity Order: attribute status", 5, "enum has no values"),
        (
            "      total:\n        type: bigmoney\n",
            "entity Order: attribute total",
            6,
            "unknown type 'bigmoney'",
        ),
        ("      buyer: Customer\n", "entity Order: attribute buyer", 5, "unknown type 'Customer'"),
        (
            "      buyer:\n        type: reference\n        reference: Customer\n",
            "entity Order: attribute buyer",
            5,
            "reference to unknown entity 'Customer'",
        ),
        ("      n: integer\n      n: string\n", None, 6, "key 'n' appears twice"),
        (
            "      qty:\n        type: integer\n        default: many\n",
            "entity Order: attribute qty",
            5,
            "not an integer",
        ),
        (
            "      qty:\n        type: integer\n        requird: false\n",
            "entity Order: attribute qty",
            7,
            "unknown key 'requird'",
        ),
        (
            "      qty:\n        type: integer\n        required: maybe\n",
            "entity Order: attribute qty",
            7,
            "true or false",
        ),
        (
            "      due:\n        type: date\n        default: someday\n",
            "entity Order: attribute due",
            5,
            "ISO date",
        ),
    ],
)
def test_attribute_errors_name_file_element_and_line(
    tmp_path: Path, body: str, element: str | None, line: int, reason: str
) -> None:
    path = write(tmp_path, BASE + body)
    with pytest.raises(ModelError) as caught:
        load_model(path)
    error = caught.value
    assert (error.source, error.element, error.line) == (str(path), element, line)
    assert reason in str(error)
    assert str(error).startswith(f"{path}:{line}: ")


def test_the_message_style(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        BASE + "      status:\n        type: enum\n        enum: [pending, shipped]\n        default: lost\n",
    )
    with pytest.raises(ModelError) as caught:
        load_model(path)
    assert str(caught.value) == (
        f"{path}:5: entity Order: attribute status: default 'lost' is not one of pending, shipped"
    )


@pytest.mark.parametrize(
    ("text", "element", "line", "reason"),
    [
        (
            "domain: d\nentities:\n  - name: A\n    attributes: {x: string}\n"
            "  - name: A\n    attributes: {y: string}\n",
            "entity A",
            5,
            "declared twice",
        ),
        (
            "domain: d\nentities:\n  - name: Item\n    attributes: {x: string}\n"
            "  - name: ITEM\n    attributes: {y: string}\n",
            "entity ITEM",
            5,
            "clashes with entity Item",
        ),
        (
            "domain: d\nentities:\n  - name: A\n    attributes:\n"
            "      - {name: x, type: string}\n      - {name: X, type: integer}\n",
            "entity A",
            6,
            "attribute 'X' is declared twice",
        ),
        (
            "domain: d\nentities:\n  - name: A\n    attributes:\n"
            "      a: {type: integer, primary_key: true}\n"
            "      b: {type: integer, primary_key: true}\n",
            "entity A",
            6,
            "more than one primary key",
        ),
        (
            "domain: d\nentities:\n  - name: A\n    atributes: {x: string}\n",
            "entity A",
            4,
            "unknown key 'atributes'",
        ),
        (
            "domain: d\nentities:\n  - name: 'A B'\n    attributes: {x: string}\n",
            "entity A B",
            3,
            "must start with a letter",
        ),
        ("domain: d\nentities: []\n", None, None, "defines no entities"),
        ("domain: d\n", None, 1, "no entities"),
        ("- just\n- a list\n", None, 1, "must be a mapping, not a list"),
        ("domain: d\nentities:\n  - name: A\n    attributes: {x: string\n", None, 5, "YAML syntax error"),
        ("", None, 1, "empty"),
    ],
)
def test_model_errors(tmp_path: Path, text: str, element: str | None, line: int | None, reason: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ModelError) as caught:
        load_model(path)
    error = caught.value
    assert (error.source, error.element, error.line) == (str(path), element, line)
    assert reason in str(error)


def test_flow_step_pointing_nowhere(tmp_path: Path) -> None:
    text = (
        "domain: d\nentities:\n  - name: A\n    attributes: {x: string}\nflows:\n  f:\n    steps:\n"
        "      - id: a\n        next: [ghost]\n"
    )
    with pytest.raises(ModelError) as caught:
        load_model(write(tmp_path, text))
    assert (caught.value.element, caught.value.line) == ("flow f", 8)
    assert "next 'ghost' is not a step" in str(caught.value)


def test_bad_diagram_line(tmp_path: Path) -> None:
    text = (
        "domain: d\nentities:\n  - name: A\n    attributes: {x: string}\nflows:\n  f:\n    diagram: |\n"
        "      flowchart TD\n        A --> B\n        B -->\n"
    )
    with pytest.raises(ModelError) as caught:
        load_model(write(tmp_path, text))
    assert (caught.value.element, caught.value.line) == ("flow f", 10)


def test_file_level_errors(tmp_path: Path) -> None:
    missing = tmp_path / "gone.yaml"
    with pytest.raises(ModelError, match="cannot read the file") as caught:
        load_model(missing)
    assert caught.value.source == str(missing)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"domain: d\n\xff\xfe\n")
    with pytest.raises(ModelError, match="not UTF-8") as caught:
        load_model(binary)
    assert caught.value.line == 2
    with pytest.raises(ModelError, match="unknown model file type"):
        load_model(write(tmp_path, "domain: d", "model.txt"))
    with pytest.raises(ModelError, match="unknown format"):
        load_model_text("domain: d", "toml")  # type: ignore[arg-type]
