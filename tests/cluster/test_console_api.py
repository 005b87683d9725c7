"""pim-console's v2 API against a real API server and the real operator (kwok pods: no traffic).

The console runs as a process beside the cluster, as `pim-console --kubeconfig` would for a user;
every answer is checked against the custom resources it stands for. The quick start with real pods
and curl is tests/e2e/test_console.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.console import ConsoleProcess
from tests.support.pim import FAKE_TOLERATION
from tests.support.waiting import wait_for

pytestmark = pytest.mark.cluster
REPO = Path(__file__).resolve().parents[2]
LIBRARY = REPO / "deploy" / "helm" / "pim-operator" / "files" / "models"
KWOK = {"nodeSelector": {"type": "kwok"}, "tolerations": [FAKE_TOLERATION]}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}  # what `curl -d` sends


@pytest.fixture(scope="module")
def ns(crds: Any, operator: Any) -> str:
    ns = crds.namespace("console-api")
    crds.kubectl("create", "configmap", "library", "-n", ns, f"--from-file={LIBRARY}")
    return ns


@pytest.fixture(scope="module")
def console(crds: Any, ns: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleProcess]:
    proc = ConsoleProcess(
        crds.kubeconfig,
        ns,
        tmp_path_factory.mktemp("console"),
        "--library",
        "library",
        "--instance-defaults",
        json.dumps({**KWOK, "storage": {"type": "Persistent", "size": "1Gi", "reclaimPolicy": "Retain"}}),
    ).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def api(console: ConsoleProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console.url, timeout=30) as client:
        yield client


def pi(cluster: Any, ns: str, name: str) -> dict[str, Any]:
    return cluster.get("piminstance", name, "-n", ns)


def test_library_and_loading_models(crds: Any, ns: str, api: httpx.Client) -> None:
    assert api.get("/models").json() == {"models": [], "total": 0}
    library = api.get("/library").json()
    assert {m["name"]: m["loaded"] for m in library["models"]} == {"order_management": False, "user_management": False}

    missing = api.post("/models/load", json={"model_name": "inventory"})
    assert missing.status_code == 404
    assert "order_management, user_management" in missing.json()["detail"]

    loaded = api.post("/models/load", content='{"model_name": "user_management"}', headers=FORM)
    assert loaded.status_code == 200, loaded.text
    body = loaded.json()
    assert body["name"] == "user_management"
    assert (body["version"], body["source_file"]) == ("1.0.0", "user_management.yaml")
    assert body["entities"] == ["Team", "User", "LoginEvent"]
    assert body["services"] == ["UserService"]
    pm = crds.get("pimmodel", "user-management", "-n", ns)
    assert pm["metadata"]["annotations"]["pim.dev/model-name"] == "user_management"
    assert "entities:" in pm["spec"]["source"]

    again = api.post("/models/load", json={"model_name": "user_management"})
    assert again.status_code == 409
    assert "already loaded" in again.json()["detail"]
    wait_for(
        lambda: api.get("/models/user_management").json()["kubernetes"]["valid"] is True, 60, "Valid from the operator"
    )
    listed = api.get("/models").json()
    assert listed["total"] == 1
    assert listed["models"][0]["name"] == "user_management"


def test_an_invalid_model_is_refused_with_the_loaders_words(crds: Any, ns: str, api: httpx.Client) -> None:
    bad = "domain: broken\nentities:\n  - name: Thing\n    attributes:\n      o: {type: reference, reference: Nobody}"
    r = api.post("/models/load", json={"model_name": "broken", "source": bad, "format": "yaml"})
    assert r.status_code == 400
    assert r.json()["detail"].startswith("Failed to load model: ")
    assert "Nobody" in r.json()["detail"]
    assert crds.kubectl("get", "pimmodel", "broken", "-n", ns, check=False).returncode != 0


def test_create_instances_with_v2_ids_and_ports(crds: Any, ns: str, api: httpx.Client) -> None:
    r = api.post(
        "/instances?wait=false",
        content=json.dumps({"model_name": "user_management", "instance_id": "user_prod", "port": 8001}),
        headers=FORM,
    )
    assert r.status_code == 202, r.text
    made = r.json()
    assert (made["id"], made["model"], made["port"], made["pid"]) == ("user_prod", "user_management", 8001, None)
    obj = pi(crds, ns, "user-prod")
    assert obj["metadata"]["annotations"]["pim.dev/instance-id"] == "user_prod"
    assert obj["spec"]["port"] == 8001
    assert obj["spec"]["modelRef"] == {"name": "user-management"}
    assert obj["spec"]["storage"]["type"] == "Persistent"

    clash = api.post("/instances?wait=false", json={"model_name": "user_management", "instance_id": "x", "port": 8001})
    assert (clash.status_code, clash.json()["detail"]) == (409, "port 8001 is already used by instance 'user_prod'")
    same_name = api.post("/instances?wait=false", json={"model_name": "user_management", "instance_id": "user-prod"})
    assert same_name.status_code == 409
    assert "maps to the Kubernetes name user-prod, which instance 'user_prod' uses" in same_name.json()["detail"]
    dup = api.post("/instances?wait=false", json={"model_name": "user_management", "instance_id": "user_prod"})
    assert (dup.status_code, dup.json()["detail"]) == (409, "Instance 'user_prod' already exists")

    auto = api.post("/instances?wait=false", json={"model_name": "user_management", "instance_id": "user_lb_1"})
    assert auto.status_code == 202
    assert auto.json()["port"] == 8002
    generated = api.post("/instances?wait=false", json={"model_name": "user_management"}).json()
    assert generated["id"].startswith("user_management_")
    assert generated["port"] == 8003

    nomodel = api.post("/instances?wait=false", json={"model_name": "nope"})
    assert (nomodel.status_code, nomodel.json()["detail"]) == (400, "Model 'nope' not loaded")
    unknown = api.post("/instances?wait=false", json={"model_name": "user_management", "config": {"debug": True}})
    assert unknown.status_code == 422
    assert "'debug'" in unknown.json()["detail"]
    # The CRD's own rule, in its own words: SQLite cannot run three replicas.
    cel = api.post("/instances?wait=false", json={"model_name": "user_management", "config": {"replicas": 3}})
    assert cel.status_code == 422
    assert "spec.replicas > 1 needs spec.database.type PostgreSQL" in cel.json()["detail"]
    badport = api.post("/instances?wait=false", json={"model_name": "user_management", "port": 80})
    assert badport.status_code == 422

    # No storage class on this cluster: the claim stays Pending and so does the pod (the e2e test runs it).
    wait_for(lambda: api.get("/instances/user_prod").json()["kubernetes"]["reason"], 60, "a Ready condition")
    assert api.get("/instances/user_prod").json()["status"] in ("starting", "unhealthy")  # Unschedulable
    listed = api.get("/instances", params={"model": "user_management"}).json()
    assert {i["id"] for i in listed["instances"]} == {"user_prod", "user_lb_1", generated["id"]}
    assert api.get("/instances", params={"model": "order_management"}).json() == {"instances": [], "total": 0}
    assert api.get("/instances/user-prod").status_code == 404  # the Kubernetes name is not the v2 id
    health = wait_for(lambda: api.get("/instances/user_prod/health").json(), 30, "health").copy()
    assert (health["instance_id"], health["port"], health["healthy"]) == ("user_prod", 8001, False)
    pods = wait_for(lambda: api.get("/instances/user_prod/health").json()["replicas"], 60, "the instance's pod")
    assert [(r["pod"].startswith("user-prod-"), r["healthy"]) for r in pods] == [(True, False)]


def test_suspend_scale_and_stop(crds: Any, ns: str, api: httpx.Client) -> None:
    r = api.patch("/instances/user_lb_1", json={"suspend": True})
    assert r.status_code == 200
    assert r.json()["status"] == "stopped"
    assert pi(crds, ns, "user-lb-1")["spec"]["suspend"] is True
    too_many = api.patch("/instances/user_lb_1", json={"replicas": 2})
    assert too_many.status_code == 422
    assert "spec.replicas > 1 needs spec.database.type PostgreSQL" in too_many.json()["detail"]
    assert api.patch("/instances/user_lb_1", json={}).status_code == 422

    ephemeral = api.post(
        "/instances?wait=false",
        json={"model_name": "user_management", "instance_id": "scratch", "config": {"storage": {"type": "Ephemeral"}}},
    )
    assert ephemeral.status_code == 202, ephemeral.text
    refused = api.delete("/instances/scratch")
    assert refused.status_code == 409
    assert "emptyDir" in refused.json()["detail"]
    assert api.delete("/instances/scratch", params={"hard": "true"}).json()["message"] == (
        "Instance 'scratch' hard stopped successfully"
    )
    assert api.get("/instances/scratch").status_code == 404

    stopped = api.delete("/instances/user_lb_1").json()
    assert stopped == {"message": "Instance 'user_lb_1' stopped successfully", "data_kept": True}
    assert crds.kubectl("get", "piminstance", "user-lb-1", "-n", ns, check=False).returncode != 0
    # Its port is free again.
    again = api.post("/instances?wait=false", json={"model_name": "user_management", "instance_id": "user_lb_2"})
    assert again.json()["port"] == 8002


def test_cross_site_writes_are_refused(crds: Any, ns: str, api: httpx.Client) -> None:
    r = api.post("/models/load", json={"model_name": "order_management"}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert "cross-site" in r.json()["detail"]
    assert crds.kubectl("get", "pimmodel", "order-management", "-n", ns, check=False).returncode != 0


def test_ui_views_and_live_events(console: ConsoleProcess, api: httpx.Client) -> None:
    model = api.get("/ui/api/models/user_management").json()
    assert [e["name"] for e in model["view"]["entities"]] == ["Team", "User", "LoginEvent"]
    assert {(r["from"], r["to"]) for r in model["view"]["references"]} == {("User", "Team"), ("LoginEvent", "User")}
    instance = api.get("/ui/api/instances/user_prod").json()
    assert {c["type"] for c in instance["conditions"]} >= {"Ready", "ModelResolved", "Available"}
    assert api.get("/").headers["content-type"].startswith("text/html")
    assert api.get("/ui/static/js/main.js").status_code == 200

    seen: list[dict[str, Any]] = []
    ready = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{console.url}/ui/events", timeout=30) as resp:
            for line in resp.iter_lines():
                if line.startswith("event: hello"):
                    ready.set()
                if line.startswith('data: {"kind"'):
                    seen.append(json.loads(line[6:]))
                    if any(m["kind"] == "models" and m["name"] == "order-management" for m in seen):
                        return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    assert ready.wait(10)
    assert api.post("/models/load", json={"model_name": "order_management"}).status_code == 200
    t.join(30)
    assert any(m["kind"] == "models" and m["name"] == "order-management" for m in seen), seen


def test_kubernetes_auth_uses_the_callers_rights(crds: Any, ns: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    guarded = ConsoleProcess(crds.kubeconfig, ns, tmp_path_factory.mktemp("guarded"), "--auth", "kubernetes").start()
    try:
        for sa in ("nobody", "reader", "loader"):
            crds.kubectl("create", "serviceaccount", sa, "-n", ns)
        crds.kubectl(
            "create",
            "role",
            "pim-read",
            "-n",
            ns,
            "--verb=get,list,watch",
            "--resource=pimmodels.pim.dev,piminstances.pim.dev",
        )
        crds.kubectl(
            "create", "role", "pim-load", "-n", ns, "--verb=get,list,watch,create", "--resource=pimmodels.pim.dev"
        )
        crds.kubectl("create", "rolebinding", "reader", "-n", ns, "--role=pim-read", f"--serviceaccount={ns}:reader")
        crds.kubectl("create", "rolebinding", "loader", "-n", ns, "--role=pim-load", f"--serviceaccount={ns}:loader")
        token = {
            sa: crds.kubectl("create", "token", sa, "-n", ns).stdout.strip() for sa in ("nobody", "reader", "loader")
        }

        def call(method: str, path: str, who: str | None, **kw: Any) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token[who]}"} if who else {}
            return httpx.request(method, guarded.url + path, headers=headers, timeout=30, **kw)

        anonymous = call("GET", "/models", None)
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        forged = httpx.get(guarded.url + "/models", headers={"Authorization": "Bearer forged"}, timeout=30)
        assert forged.status_code == 401
        assert "not accepted" in forged.json()["detail"]
        denied = call("GET", "/models", "nobody")
        assert denied.status_code == 403
        assert f"system:serviceaccount:{ns}:nobody" in denied.json()["detail"]
        assert "may not list pimmodels" in denied.json()["detail"]
        assert call("GET", "/models", "reader").status_code == 200
        assert call("GET", "/instances/user_prod", "reader").json()["id"] == "user_prod"
        assert call("POST", "/models/load", "reader", json={"model_name": "x"}).status_code == 403
        assert call("DELETE", "/instances/user_prod", "reader").status_code == 403
        assert call("GET", "/instances", "loader").status_code == 403
        # Allowed to create models: the request reaches the library (which has no model "x").
        assert call("POST", "/models/load", "loader", json={"model_name": "x"}).status_code == 404
        # The UI's sign-in: a cookie carrying the token, checked the same way.
        with httpx.Client(base_url=guarded.url, timeout=30) as browser:
            assert browser.post("/ui/api/login", json={"token": "forged"}).status_code == 401
            assert browser.post("/ui/api/login", json={"token": token["reader"]}).status_code == 200
            assert browser.get("/ui/api/session").json()["user"] == f"system:serviceaccount:{ns}:reader"
            assert browser.get("/models").status_code == 200
    finally:
        guarded.stop()
