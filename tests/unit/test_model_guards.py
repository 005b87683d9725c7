"""Hostile model text gets an error naming it, never a hung or failing reconcile."""

from __future__ import annotations

import time

import pytest

from pim_operator.reconciler.pimmodel.load import load, yaml_nodes

pytestmark = pytest.mark.unit

BOMB = (
    "domain: x\n"
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True))
    + "entities: *i\n"
)


def test_a_billion_laughs_is_measured_without_being_expanded_and_refused():
    started = time.monotonic()
    loaded = load(BOMB, "yaml", "pimmodel/ns/bomb")
    assert time.monotonic() - started < 5
    assert loaded.error is not None
    assert loaded.error.startswith("pimmodel/ns/bomb: YAML aliases expand the model to ")
    assert yaml_nodes(BOMB) > 9**9


def test_ordinary_anchors_and_merge_keys_still_load():
    text = (
        "domain: x\ncommon: &c {type: string}\nentities:\n"
        "  - name: A\n    attributes:\n      a: *c\n      b: {<<: *c, max_length: 5}\n"
    )
    assert load(text, "yaml", "m").model is not None
    assert yaml_nodes(text) < 50


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("yaml", "domain: x\nentities: " + "[" * 3000 + "]" * 3000 + "\n"),
        ("yaml", "domain: x\nentities: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n"),
        ("json", '{"domain": "x", "entities": ' + "[" * 5000 + "]" * 5000 + "}"),
    ],
)
def test_nesting_deeper_than_the_loader_follows_is_an_error_not_a_crash(fmt, text):
    loaded = load(text, fmt, "pimmodel/ns/deep")
    assert loaded.error == "pimmodel/ns/deep: the model nests deeper than the loader can follow"


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        (
            "yaml",
            "domain: shop\nentities:\n  - name: Line\n    attributes: {customer: integer, sku: string}\n"
            "    indexes:\n      - {fields: [customer, skus], unique: true}\n",
        ),
        (
            "markdown",
            "# Shop\n\n## 实体\n\n### Line\n\n- customer: integer\n- sku: string\n\n"
            "约束：\n\n- unique (customer, skus)\n",
        ),
    ],
)
def test_a_composite_unique_naming_a_missing_attribute_is_the_models_error(fmt: str, text: str) -> None:
    """The operator validates with the engine's loader: the PimModel's error names entity and attribute."""
    loaded = load(text, fmt, "pimmodel/ns/shop")
    assert loaded.model is None
    assert loaded.error is not None
    assert loaded.error.startswith("pimmodel/ns/shop:")
    assert "entity Line: unique (customer, skus) names no attribute 'skus'" in loaded.error


def test_a_composite_unique_is_in_the_snapshot_instances_serve() -> None:
    text = "domain: shop\nentities:\n  - name: Line\n    attributes: {customer: integer, sku: string}\n"
    loaded = load(text + "    unique_together: [[customer, sku]]\n", "yaml", "pimmodel/ns/shop")
    assert '"uniques":[["customer","sku"]]' in loaded.snapshot
    assert '"uniques"' not in load(text, "yaml", "pimmodel/ns/shop").snapshot
