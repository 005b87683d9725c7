"""v2's response shapes, filled from custom resources, and the requests that build them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pim_console import builders, names, shapes
from pim_engine.loader import load_model_text

pytestmark = pytest.mark.unit
NOW = datetime(2026, 1, 1, 1, 2, 3, tzinfo=UTC)
V2_INSTANCE_FIELDS = {"id", "model", "port", "status", "created_at", "database", "pid", "uptime"}
V2_MODEL_FIELDS = {"name", "version", "loaded_at", "source_file", "description", "entities", "services"}
MODEL_TEXT = """
domain: shop
version: 2.1.0
description: A shop
entities:
  - name: Customer
    attributes: {email: string}
  - name: Order
    attributes:
      customerId: {type: reference, reference: Customer}
services:
  - name: OrderService
    methods: [{name: place}]
"""


def condition(type_: str, status: str, reason: str = "", since: str = "2026-01-01T00:00:00Z") -> dict:
    return {"type": type_, "status": status, "reason": reason, "message": "", "lastTransitionTime": since}


def instance(conds: list[dict], **spec) -> dict:
    return {
        "metadata": {
            "name": "user-prod",
            "namespace": "ns",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "annotations": {names.INSTANCE_ID: "user_prod", names.CONFIG: json.dumps({"replicas": 1})},
        },
        "spec": {"modelRef": {"name": "user-management"}, "port": 8001, **spec},
        "status": {"conditions": conds, "url": "http://user-prod.ns.svc:8001", "replicas": 1, "readyReplicas": 1},
    }


MODELS = {
    "user-management": {"metadata": {"name": "user-management", "annotations": {names.MODEL_NAME: "user_management"}}}
}


def test_a_ready_instance_answers_in_v2_terms() -> None:
    info = shapes.instance_info(instance([condition("Ready", "True")], storage={"type": "Persistent"}), MODELS, NOW)
    assert set(info) >= V2_INSTANCE_FIELDS
    assert info["id"] == "user_prod"
    assert info["model"] == "user_management"
    assert (info["port"], info["status"], info["pid"]) == (8001, "running", None)
    assert info["uptime"] == "1h 2m 3s"
    assert info["database"] == "sqlite:///data/pim.db on PersistentVolumeClaim user-prod-data"
    assert info["config"] == {"replicas": 1}
    assert info["kubernetes"]["url"] == "http://user-prod.ns.svc:8001"


@pytest.mark.parametrize(
    ("conds", "spec", "meta", "expected"),
    [
        ([], {}, {}, "starting"),
        ([condition("Ready", "False"), condition("Degraded", "True", "CrashLoopBackOff")], {}, {}, "unhealthy"),
        ([condition("Ready", "False"), condition("ModelResolved", "False", "ModelNotFound")], {}, {}, "error"),
        ([condition("Ready", "True")], {"suspend": True}, {}, "stopped"),
        ([condition("Ready", "True")], {"replicas": 0}, {}, "stopped"),
        ([condition("Ready", "True")], {}, {"deletionTimestamp": "2026-01-01T00:00:00Z"}, "stopping"),
    ],
)
def test_status_words(conds: list[dict], spec: dict, meta: dict, expected: str) -> None:
    obj = instance(conds, **spec)
    obj["metadata"].update(meta)
    info = shapes.instance_info(obj, MODELS, NOW)
    assert info["status"] == expected
    assert info["uptime"] == "0s"


def test_uptime_text_matches_v2() -> None:
    since = datetime(2026, 1, 1, tzinfo=UTC)
    assert shapes.uptime(since, since.replace(second=7)) == "7s"
    assert shapes.uptime(since, since.replace(minute=3, second=2)) == "3m 2s"
    assert shapes.uptime(None, since) == "0s"


def test_health_needs_a_healthy_replica() -> None:
    ready = instance([condition("Ready", "True")])
    ok = shapes.health_info(ready, [{"pod": "p1", "healthy": True}])
    assert {k: ok[k] for k in ("instance_id", "healthy", "status", "port")} == {
        "instance_id": "user_prod",
        "healthy": True,
        "status": "running",
        "port": 8001,
    }
    down = shapes.health_info(ready, [{"pod": "p1", "healthy": False, "message": "refused"}])
    assert (down["healthy"], down["status"]) == (False, "unhealthy")
    assert down["replicas"][0]["message"] == "refused"


def test_model_info_in_v2_terms() -> None:
    model = builders.pim_model("ns", "shop_v2", source=MODEL_TEXT, fmt="yaml", source_file="shop_v2.yaml")
    model["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    model["metadata"]["generation"] = 1
    model["status"] = {"conditions": [{**condition("Valid", "True"), "observedGeneration": 1}], "digest": "sha256:x"}
    using = [instance([])]
    info = shapes.model_info(model, load_model_text(MODEL_TEXT, "yaml"), using)
    assert set(info) >= V2_MODEL_FIELDS
    assert info["name"] == "shop_v2"
    assert (info["version"], info["description"], info["source_file"]) == ("2.1.0", "A shop", "shop_v2.yaml")
    assert (info["entities"], info["services"]) == (["Customer", "Order"], ["OrderService"])
    assert info["kubernetes"]["valid"] is True
    assert info["kubernetes"]["instances"] == ["user_prod"]


def test_an_unvalidated_generation_is_pending() -> None:
    model = {
        "metadata": {"name": "m", "generation": 2},
        "status": {"conditions": [{**condition("Valid", "True"), "observedGeneration": 1}]},
    }
    assert shapes.validity(model)[0] is None


def test_library_prefers_yaml_like_v2_and_skips_other_keys() -> None:
    files = builders.library_files({"a.md": "", "a.yaml": "", "b.json": "", "README": "", "c.txt": ""})
    assert {k: (f.key, f.format) for k, f in files.items()} == {"a": ("a.yaml", "yaml"), "b": ("b.json", "json")}


def test_a_model_too_large_to_inline_refers_to_the_library() -> None:
    big = "x" * (builders.SOURCE_MAX + 1)
    pm = builders.pim_model("ns", "big", source=big, fmt="yaml", source_file="big.yaml", library="lib")
    assert pm["spec"] == {"format": "yaml", "configMapRef": {"name": "lib", "key": "big.yaml"}}
    with pytest.raises(builders.InvalidRequest, match="at most"):
        builders.pim_model("ns", "big", source=big, fmt="yaml", source_file="pasted")


def test_config_sets_spec_fields_and_refuses_others() -> None:
    model = {"metadata": {"name": "user-management", "annotations": {names.MODEL_NAME: "user_management"}}}
    defaults = {"storage": {"type": "Persistent", "size": "1Gi"}}
    pi = builders.pim_instance(
        "ns",
        "user_prod",
        model=model,
        port=8001,
        config={"log_level": "debug", "env": {"FEATURE": 1}, "storage": {"type": "Persistent", "size": "2Gi"}},
        defaults=defaults,
    )
    assert pi["metadata"]["name"] == "user-prod"
    assert pi["metadata"]["annotations"][names.INSTANCE_ID] == "user_prod"
    assert pi["metadata"]["annotations"][names.MODEL_NAME] == "user_management"
    assert pi["spec"] == {
        "storage": {"type": "Persistent", "size": "2Gi"},
        "logLevel": "debug",
        "env": [{"name": "FEATURE", "value": "1"}],
        "modelRef": {"name": "user-management"},
        "port": 8001,
    }
    assert defaults == {"storage": {"type": "Persistent", "size": "1Gi"}}  # not mutated
    with pytest.raises(builders.InvalidRequest, match=r"unknown setting\(s\) 'debug', 'workers'"):
        builders.config_to_spec({"debug": True, "workers": 4, "replicas": 1})
    with pytest.raises(builders.InvalidRequest, match="given twice"):
        builders.config_to_spec({"log_level": "info", "logLevel": "debug"})
    with pytest.raises(builders.InvalidRequest, match="unknown"):
        builders.config_to_spec({"modelRef": {"name": "other"}})
