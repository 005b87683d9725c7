"""Constraints written in a model, enforced by a real engine over each backend's real database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from backends import BACKENDS, Backend, database_factory
from engine_harness import Engine

MODEL = """\
domain: rentals
version: 1.0.0
entities:
  - name: Item
    attributes:
      sku: string
      price: decimal
      stock: {type: integer, default: 0}
      rating: {type: float, required: false}
      label: {type: string, required: false}
    constraints:
      - sku must be unique
      - price must be positive
      - stock cannot be negative
      - rating between 1 and 5
      - label: min_length 2
      - items are shipped within a week
    indexes:
      - label
      - [stock, rating]
  - name: Rental
    attributes:
      item: {type: reference, reference: Item}
      startDate: date
      endDate: {type: date, required: false}
      pickup: {type: datetime, required: false}
      dropoff: {type: datetime, required: false}
    constraints:
      - endDate must be after startDate
      - dropoff must be later than pickup
  - name: 库存
    attributes:
      编号: string
      数量: integer
      开始日期: date
      结束日期: date
    constraints:
      - 编号唯一
      - 数量必须为正数
      - 结束日期必须晚于开始日期
"""


@pytest.fixture(scope="module", params=BACKENDS)
def rentals(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    tmp = tmp_path_factory.mktemp("rentals")
    model = tmp / "rentals.yaml"
    model.write_text(MODEL, encoding="utf-8")
    with Engine(model, database_factory(request, request.param, tmp)()) as engine:
        yield engine


@pytest.fixture
def api(rentals: Engine) -> Iterator[httpx.Client]:
    with rentals.client() as client:
        yield client


def refused(response: httpx.Response, status: int = 422) -> dict[str, str]:
    assert response.status_code == status, response.text
    return {e["loc"][-1]: e["type"] for e in response.json()["detail"]}


def test_numeric_rules(api: httpx.Client) -> None:
    ok = api.post("/api/v1/items", json={"sku": "a1", "price": "0.01", "rating": 5, "label": "ok"})
    assert ok.status_code == 201, ok.text
    assert refused(api.post("/api/v1/items", json={"sku": "a2", "price": "0"})) == {"price": "greater_than"}
    assert refused(api.post("/api/v1/items", json={"sku": "a3", "price": "-1.5"})) == {"price": "greater_than"}
    assert refused(api.post("/api/v1/items", json={"sku": "a4", "price": 1, "stock": -1})) == {
        "stock": "greater_than_equal"
    }
    assert refused(api.post("/api/v1/items", json={"sku": "a5", "price": 1, "rating": 5.01})) == {
        "rating": "less_than_equal"
    }
    assert refused(api.post("/api/v1/items", json={"sku": "a6", "price": 1, "rating": 0.5})) == {
        "rating": "greater_than_equal"
    }
    assert refused(api.post("/api/v1/items", json={"sku": "a7", "price": 1, "label": "x"})) == {
        "label": "string_too_short"
    }
    url = f"/api/v1/items/{ok.json()['id']}"
    assert refused(api.patch(url, json={"stock": -5})) == {"stock": "greater_than_equal"}
    assert refused(api.put(url, json={"sku": "a1", "price": "-2"})) == {"price": "greater_than"}
    assert api.get(url).json() == ok.json()


def test_unique_from_a_sentence(api: httpx.Client) -> None:
    assert api.post("/api/v1/items", json={"sku": "u1", "price": 1}).status_code == 201
    assert refused(api.post("/api/v1/items", json={"sku": "u1", "price": 2}), 409) == {"sku": "unique"}


def test_after_on_create_replace_and_patch(api: httpx.Client) -> None:
    item = api.post("/api/v1/items", json={"sku": "r1", "price": 1}).json()
    body = {"item": item["id"], "startDate": "2026-05-10", "endDate": "2026-05-09"}
    assert refused(api.post("/api/v1/rentals", json=body)) == {"endDate": "after"}
    assert refused(api.post("/api/v1/rentals", json={**body, "endDate": "2026-05-10"})) == {"endDate": "after"}
    rental = api.post("/api/v1/rentals", json={**body, "endDate": "2026-05-11"})
    assert rental.status_code == 201, rental.text
    url = f"/api/v1/rentals/{rental.json()['id']}"
    # a patch of one side is checked against the stored other side, and changes nothing when refused
    assert refused(api.patch(url, json={"startDate": "2026-06-01"})) == {"endDate": "after"}
    assert refused(api.patch(url, json={"endDate": "2026-01-01"})) == {"endDate": "after"}
    assert api.get(url).json() == rental.json()
    assert api.patch(url, json={"endDate": None}).json()["endDate"] is None  # nothing to compare: allowed
    assert api.patch(url, json={"startDate": "2030-01-01"}).status_code == 200
    # datetimes compare as instants, a naive one read as UTC
    times = {"pickup": "2026-05-10T12:00:00+02:00", "dropoff": "2026-05-10T10:30:00Z"}
    assert api.patch(url, json=times).status_code == 200
    assert refused(api.patch(url, json={"dropoff": "2026-05-10T09:59:59"})) == {"dropoff": "after"}


def test_chinese_constraints(api: httpx.Client) -> None:
    base = {"编号": "K-1", "数量": 3, "开始日期": "2026-01-01", "结束日期": "2026-02-01"}
    assert api.post("/api/v1/库存s", json=base).status_code == 201
    assert refused(api.post("/api/v1/库存s", json={**base, "编号": "K-2", "数量": 0})) == {"数量": "greater_than"}
    assert refused(api.post("/api/v1/库存s", json={**base, "编号": "K-3", "结束日期": "2025-01-01"})) == {
        "结束日期": "after"
    }
    assert refused(api.post("/api/v1/库存s", json=base), 409) == {"编号": "unique"}


def test_model_lists_every_constraint_with_its_enforcement(api: httpx.Client) -> None:
    enforcement = {(c["entity"], c["text"]): c for c in api.get("/model").json()["enforcement"]}
    assert len(enforcement) == 11
    assert enforcement[("Item", "price must be positive")]["rules"] == [
        {"kind": "gt", "attribute": "price", "value": "0"}
    ]
    assert enforcement[("Item", "items are shipped within a week")] == {
        "entity": "Item",
        "text": "items are shipped within a week",
        "enforced": False,
        "rules": [],
    }
    assert all(c["enforced"] for key, c in enforcement.items() if key[1] != "items are shipped within a week")
    assert enforcement[("库存", "结束日期必须晚于开始日期")]["rules"] == [
        {"kind": "after", "attribute": "结束日期", "other": "开始日期"}
    ]


def test_yaml_indexes_are_created_and_used(rentals: Engine, api: httpx.Client) -> None:
    indexes = rentals.database.indexes("Item")
    assert indexes["ix__Item__label"] == ["label"]
    assert indexes["ix__Item__stock__rating"] == ["stock", "rating"]
    assert indexes["uq__Item__sku"] == ["sku"]
    assert "ix__Item__label" in rentals.database.uses_index('SELECT * FROM "Item" WHERE "label" = \'x\'')
    assert api.get("/api/v1/items", params={"label": "ok"}).status_code == 200


def test_indexes_follow_model_changes(tmp_path: Path, database: Backend) -> None:
    first = MODEL.split("  - name: Rental")[0]
    model = tmp_path / "m.yaml"
    model.write_text(first.replace("      - label\n      - [stock, rating]\n", "      - label\n"), encoding="utf-8")
    db = database
    engine = Engine(model, db).start()
    with engine.client() as api:
        assert api.post("/api/v1/items", json={"sku": "k", "price": 1, "label": "kept"}).status_code == 201
    assert engine.stop() == 0
    assert set(db.indexes("Item")) == {"ix__Item__label", "uq__Item__sku"}
    model.write_text(
        first.replace("      - label\n      - [stock, rating]\n", "      - [stock, rating]\n"), encoding="utf-8"
    )
    engine = Engine(model, db).start()
    try:
        with engine.client() as api:
            assert api.get("/api/v1/items").json()["items"][0]["label"] == "kept"
    finally:
        assert engine.stop() == 0
    assert set(db.indexes("Item")) == {"ix__Item__stock__rating", "uq__Item__sku"}
