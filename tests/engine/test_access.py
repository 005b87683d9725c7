"""Access control of a real engine process: API keys from a directory laid out as the kubelet mounts
a Secret, rotated in place; the probes open; refusals in FastAPI's error shape.

``--auth kubernetes`` against a real API server is in tests/engine/test_access_kubernetes.py; here only
what happens when that API server cannot be reached."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from engine_harness import SHOP_MODEL, Engine, free_port

from tests.support.secret_volume import publish
from tests.support.waiting import wait_for

KEY, OTHER = "k-7f3a9c1e", "k-0b64d2aa"


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    directory = tmp_path / "api-keys"
    directory.mkdir()
    publish(directory, {"ci": KEY, "ops": OTHER}, 1)
    return directory


@pytest.fixture
def engine(tmp_path: Path, keys: Path):
    with Engine(SHOP_MODEL, tmp_path / "shop.db", env={"PIM_AUTH": "apikey", "PIM_API_KEYS_DIR": str(keys)}) as e:
        yield e


def detail(resp: httpx.Response) -> dict:
    body = resp.json()
    assert list(body) == ["detail"]
    (only,) = body["detail"]
    return only


def test_requests_without_a_key_are_refused_in_fastapis_shape(engine):
    with engine.client() as api:
        resp = api.get("/api/v1/customers")
        assert resp.status_code == 401
        assert resp.headers["www-authenticate"].startswith("Bearer")
        assert detail(resp) == {
            "loc": ["header", "authorization"],
            "msg": "an API key is required: X-API-Key: <key> or Authorization: Bearer <key>",
            "type": "unauthenticated",
        }
        resp = api.get("/api/v1/customers", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        assert resp.status_code == 401
        assert "must use the Bearer scheme" in detail(resp)["msg"]
        assert "dXNlcjpwYXNz" not in resp.text


def test_a_wrong_key_is_refused_and_a_right_one_accepted_either_way(engine):
    with engine.client() as api:
        wrong = api.get("/api/v1/customers", headers={"X-API-Key": KEY[:-1]})
        assert wrong.status_code == 401
        assert detail(wrong) == {
            "loc": ["header", "x-api-key"],
            "msg": "not one of this instance's API keys",
            "type": "unauthenticated",
        }
        assert api.get("/api/v1/customers", headers={"Authorization": f"Bearer {OTHER}x"}).status_code == 401
        made = api.post("/api/v1/customers", json={"name": "Ada", "email": "ada@x"}, headers={"X-API-Key": KEY})
        assert made.status_code == 201, made.text
        got = api.get(made.headers["location"], headers={"Authorization": f"Bearer {OTHER}"})
        assert (got.status_code, got.json()["name"]) == (200, "Ada")
        assert api.head("/api/v1/customers", headers={"X-API-Key": KEY}).status_code == 200
        assert api.get("/openapi.json").status_code == 401
        assert api.get("/model").status_code == 401


def test_the_probes_stay_open_and_metrics_need_a_key(engine):
    with engine.client() as api:
        assert api.get("/health").status_code == 200
        assert api.get("/ready").status_code == 200
        assert api.get("/metrics").status_code == 401
        text = api.get("/metrics", headers={"X-API-Key": KEY}).text
        # Refusals are counted (before routing, so under the unmatched route).
        assert 'pim_http_requests_total{method="GET",route="<unmatched>",status="401"}' in text


def test_the_openapi_document_declares_the_keys(engine):
    with engine.client() as api:
        doc = api.get("/openapi.json", headers={"X-API-Key": KEY}).json()
    assert doc["components"]["securitySchemes"]["apiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert {"apiKey": []} in doc["security"]
    assert doc["paths"]["/health"]["get"]["security"] == []


def test_a_rotated_secret_takes_effect_without_a_restart(engine, keys):
    new = "k-rotated-51ce"
    publish(keys, {"ci": new}, 2)  # the kubelet's atomic swap: "ops" is gone, "ci" has a new value
    with engine.client() as api:
        wait_for(
            lambda: api.get("/api/v1/customers", headers={"X-API-Key": new}).status_code == 200,
            10,
            "the rotated key to be accepted",
        )
        assert api.get("/api/v1/customers", headers={"X-API-Key": KEY}).status_code == 401
        assert api.get("/api/v1/customers", headers={"X-API-Key": OTHER}).status_code == 401
    assert engine.proc is not None
    assert engine.proc.poll() is None, "rotation must not restart the engine"


def test_no_keys_yet_refuses_everything_with_a_reason(tmp_path):
    env = {"PIM_AUTH": "apikey", "PIM_API_KEYS_DIR": str(tmp_path / "not-mounted")}
    with Engine(SHOP_MODEL, tmp_path / "shop.db", env=env) as engine, engine.client() as api:
        assert api.get("/ready").status_code == 200
        resp = api.get("/api/v1/customers", headers={"X-API-Key": "anything"})
        assert resp.status_code == 401
        assert detail(resp)["msg"] == "this instance has no API keys yet (its Secret is missing or empty)"


def test_an_unreachable_api_server_is_a_503_with_the_reason(tmp_path):
    token = tmp_path / "token"
    token.write_text("engine-token")
    env = {
        "PIM_AUTH": "kubernetes",
        "PIM_INSTANCE": "team/shop",
        "PIM_KUBE_API": f"https://127.0.0.1:{free_port()}",
        "PIM_KUBE_TOKEN_FILE": str(token),
        "PIM_KUBE_CA_FILE": "",
    }
    with Engine(SHOP_MODEL, tmp_path / "shop.db", env=env) as engine, engine.client() as api:
        assert api.get("/health").status_code == 200
        assert api.get("/api/v1/customers").status_code == 401  # no token: nothing to ask about
        resp = api.get("/api/v1/customers", headers={"Authorization": "Bearer some-token"})
        assert resp.status_code == 503
        assert resp.headers["retry-after"] == "1"
        found = detail(resp)
        assert found["type"] == "auth_unavailable"
        assert found["msg"].startswith("cannot check the bearer token: the Kubernetes API server at https://127.0.0.1:")
        # Not cached: the next request asks again (and fails again, the same way).
        assert api.get("/api/v1/customers", headers={"Authorization": "Bearer some-token"}).status_code == 503
        metrics = api.get("/metrics", headers={"Authorization": "Bearer some-token"})
        assert metrics.status_code == 503


def test_engine_refuses_to_start_with_auth_it_cannot_run(tmp_path):
    env = {"PIM_AUTH": "kubernetes", "PIM_INSTANCE": "team/shop"}
    proc = Engine(SHOP_MODEL, tmp_path / "shop.db", env=env).run()
    assert proc.returncode == 2
    assert "auth kubernetes needs the Kubernetes API" in proc.stderr
