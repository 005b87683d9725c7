"""Pure parts of the console's web layer: the cross-site guard, Prometheus queries, the history,
and the UI's view of a model."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from pim_console import history, modelview, prometheus
from pim_console.app import cross_site
from pim_engine.loader import load_model_text

pytestmark = pytest.mark.unit


class Body(BaseModel):
    model_name: str


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({"host": "localhost:8000"}, False),  # curl: no Origin, no Sec-Fetch-Site
        ({"host": "localhost:8000", "origin": "http://localhost:8000", "sec-fetch-site": "same-origin"}, False),
        ({"host": "localhost:8000", "origin": "http://evil.example"}, True),
        ({"host": "localhost:8000", "sec-fetch-site": "cross-site"}, True),
        ({"host": "localhost:8000", "sec-fetch-site": "same-site", "origin": "http://localhost:8000"}, True),
        ({"host": "localhost:8000", "origin": "null"}, True),
        ({"host": "LOCALHOST:8000", "origin": "http://localhost:8000"}, False),
    ],
)
def test_cross_site_writes_are_recognized(headers: dict[str, str], refused: bool) -> None:
    assert (cross_site(headers) is not None) is refused


def test_prometheus_queries_leave_out_probes_and_fill_the_selector() -> None:
    q = prometheus.queries('namespace="{namespace}",pod=~"{instance}-.*"', "shop", "orders")
    assert set(q) == set(history.FIELDS)
    assert 'namespace="shop",pod=~"orders-.*"' in q["requestRate"]
    assert 'route!~"/health|/ready|/metrics"' in q["errorRate"]
    assert 'status=~"5.."' in q["errorRate"]
    assert q["latencyP99Ms"].startswith("1000 * histogram_quantile(0.99,")


def test_prometheus_matrices_merge_into_points_and_nan_is_no_data() -> None:
    merged = prometheus.merge(
        {
            "requestRate": [{"values": [[10, "2"], [20, "3"]]}],
            "latencyP50Ms": [{"values": [[20, "NaN"]]}],
        }
    )
    assert merged == [{"at": 10.0, "requestRate": 2.0}, {"at": 20.0, "requestRate": 3.0, "latencyP50Ms": None}]


def test_history_keeps_changes_only_and_forgets() -> None:
    h = history.History(maxlen=2)
    assert h.record("a", {"requestRate": 1.0, "latencyP50Ms": 3}, 1.0)
    assert not h.record("a", {"requestRate": 1.0, "latencyP50Ms": 3}, 2.0)
    assert h.record("a", {"requestRate": 2.0, "errorRate": True}, 3.0)
    assert h.record("a", {"requestRate": 4.0}, 4.0)
    points = h.series("a")
    assert [p["at"] for p in points] == [3.0, 4.0]  # bounded
    assert points[0]["errorRate"] is None  # a bool is not a number
    assert h.series("a", since=3.5) == [points[1]]
    h.forget("a")
    assert h.series("a") == []


def test_model_view_has_keys_forms_and_references() -> None:
    model = load_model_text(
        """
domain: shop
entities:
  - name: Customer
    attributes:
      email: {type: string, unique: true, max_length: 80}
  - name: Order
    attributes:
      code: {type: string, primary_key: true}
      customerId: {type: reference, reference: Customer}
      status: {type: enum, enum: [new, paid], default: new}
      placedAt: {type: datetime, auto_now_add: true}
""",
        "yaml",
    )
    view = modelview.model_view(model)
    customer, order = view["entities"]
    assert customer["key"] == "id"
    assert customer["collection"] == "customers"
    assert customer["attributes"][0] == {**customer["attributes"][0], "name": "id", "readOnly": True, "key": True}
    assert order["key"] == "code"
    by_name = {a["name"]: a for a in order["attributes"]}
    assert by_name["status"]["input"] == "enum"
    assert by_name["status"]["required"] is False
    assert by_name["placedAt"]["readOnly"] is True
    assert by_name["customerId"]["reference"] == "Customer"
    assert view["references"] == [{"from": "Order", "attribute": "customerId", "to": "Customer"}]


def test_the_guard_reads_v2_form_posts_as_json_and_refuses_other_sites() -> None:
    import asyncio

    import httpx
    from fastapi import FastAPI

    from pim_console.app import JSON_ANYWAY, Guard

    app = FastAPI()

    @app.post("/models/load")
    async def load(body: Body) -> dict[str, str]:
        return {"got": body.model_name}

    @app.post("/elsewhere")
    async def elsewhere(body: Body) -> dict[str, str]:
        return {"got": body.model_name}

    async def calls() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=Guard(app, json_anyway=JSON_ANYWAY))
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            text = '{"model_name": "m"}'
            return [
                await client.post("/models/load", content=text, headers=form),
                await client.post("/models/load", content=text),  # no type at all
                await client.post("/elsewhere", content=text, headers=form),  # only v2's routes
                await client.post("/models/load", json={"model_name": "m"}, headers={"Origin": "http://evil.example"}),
            ]

    as_form, untyped, elsewhere_form, cross = asyncio.run(calls())
    assert as_form.json() == untyped.json() == {"got": "m"}
    assert elsewhere_form.status_code == 422
    assert cross.status_code == 403
    assert "cross-site" in cross.json()["detail"]
