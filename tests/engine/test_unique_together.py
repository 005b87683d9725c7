"""Composite unique constraints over HTTP, on each backend: 409 naming every attribute and the entity
(create, replace, patch), NULLs never clash, and 20 racers for one combination get one 201."""

from __future__ import annotations

import uuid

import httpx
from engine_harness import Engine, new_customer, race


def test_twenty_clients_racing_for_one_unique_pair_get_one_201(shop_engine: Engine) -> None:
    with shop_engine.client() as client:
        customer = new_customer(client)
    sku = uuid.uuid4().hex
    answers = race(shop_engine, "cartlines", lambda n: {"customer": customer["id"], "sku": sku, "quantity": n})
    for answer in answers:
        if answer.status_code == 409:
            assert [e["loc"] for e in answer.json()["detail"]] == [["body", "customer"], ["body", "sku"]]
    with shop_engine.client() as client:
        assert client.get("/api/v1/cartlines", params={"sku": sku}).json()["total"] == 1


def test_twenty_clients_racing_for_one_unique_text_and_json_triple_get_one_201(shop_engine: Engine) -> None:
    """Over text and JSON, PostgreSQL's composite index compares digests: racers still get one 201."""
    sku, note = uuid.uuid4().hex, "n" * 5000  # past a B-tree entry's 2.7 kB if it were indexed whole
    customers = [new_customer_id(shop_engine) for _ in range(20)]
    answers = race(
        shop_engine,
        "cartlines",
        lambda n: {"customer": customers[n], "sku": sku, "note": note, "options": {"a": [1, 2]}},
    )
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["detail"][0]["msg"] == "a CartLine with this sku and note and options already exists"


def new_customer_id(shop_engine: Engine) -> int:
    with shop_engine.client() as client:
        return new_customer(client)["id"]


def test_composite_unique_clash_is_409_naming_the_attributes_and_the_entity(api: httpx.Client) -> None:
    customer, other = new_customer(api), new_customer(api)
    sku = uuid.uuid4().hex
    first = api.post("/api/v1/cartlines", json={"customer": customer["id"], "sku": sku})
    assert first.status_code == 201, first.text
    same_sku_other_customer = api.post("/api/v1/cartlines", json={"customer": other["id"], "sku": sku})
    assert same_sku_other_customer.status_code == 201, same_sku_other_customer.text
    clash = api.post("/api/v1/cartlines", json={"customer": customer["id"], "sku": sku, "quantity": 2})
    assert clash.status_code == 409
    assert clash.json()["detail"] == [
        {"loc": ["body", name], "msg": "a CartLine with this customer and sku already exists", "type": "unique"}
        for name in ("customer", "sku")
    ]
    moved = same_sku_other_customer.json()
    patched = api.patch(f"/api/v1/cartlines/{moved['id']}", json={"customer": customer["id"]})
    assert patched.status_code == 409
    assert patched.json()["detail"][0]["msg"] == "a CartLine with this customer and sku already exists"
    replaced = api.put(f"/api/v1/cartlines/{moved['id']}", json={"customer": customer["id"], "sku": sku})
    assert replaced.status_code == 409
    assert api.get(f"/api/v1/cartlines/{moved['id']}").json()["customer"] == other["id"]  # nothing changed
    # updating the row itself, keeping its pair, is no clash
    own = api.patch(f"/api/v1/cartlines/{first.json()['id']}", json={"quantity": 5})
    assert own.status_code == 200, own.text
    assert api.get("/api/v1/cartlines", params={"sku": sku}).json()["total"] == 2


def test_composite_unique_nulls_never_clash(api: httpx.Client) -> None:
    """SQL semantics: a NULL in any attribute of the constraint makes the row clash with no other."""
    customer = new_customer(api)
    sku, note = uuid.uuid4().hex, "x" * 4000
    body = {"customer": customer["id"], "sku": sku, "note": note}
    for n in range(3):  # (sku, note, NULL options) three times
        response = api.post("/api/v1/cartlines", json={**body, "customer": new_customer(api)["id"]})
        assert response.status_code == 201, (n, response.text)
    full = {**body, "options": {"size": "L", "tags": ["a"]}}
    assert api.post("/api/v1/cartlines", json=full).status_code == 201
    clash = api.post("/api/v1/cartlines", json={**full, "customer": new_customer(api)["id"]})
    assert clash.status_code == 409
    assert clash.json()["detail"][0]["loc"] == ["body", "sku"]
    assert clash.json()["detail"][0]["msg"] == "a CartLine with this sku and note and options already exists"
    other_json = {**full, "customer": new_customer(api)["id"], "options": {"size": "M", "tags": ["a"]}}
    assert api.post("/api/v1/cartlines", json=other_json).status_code == 201
