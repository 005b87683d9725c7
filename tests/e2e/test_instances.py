"""Real pods: PimInstances serve traffic in the cluster, and their health and metrics come back
into status. Needs a cluster with real nodes (the local one with ``PIM_CLUSTER_NODE=1``, or kind)
and the engine image. The tests reach instances as a user does: ``kubectl port-forward`` to the
Service or a pod, and the NodePort kind publishes on 127.0.0.1 (the node's address elsewhere).
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.pim import apply, condition, events_for, patch_spec, pim_model, status_of, wait_condition
from tests.support.reach import PortForward, forward, node_port_url, published_node_ports
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

TASKS = """
domain: tasks
version: 1.0.0
entities:
  - name: Project
    attributes:
      name: {type: string, unique: true}
  - name: Task
    attributes:
      title: {type: string, max_length: 120}
      done: {type: boolean, default: false}
      estimate: {type: decimal, required: false}
      projectId: {type: reference, reference: Project, required: false}
"""
TASKS_V2 = TASKS + "      priority: {type: integer, required: false}\n"


def instance(ns: str, name: str, **spec) -> dict:
    return {
        "apiVersion": "pim.dev/v1alpha1",
        "kind": "PimInstance",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"modelRef": {"name": "tasks"}, **spec},
    }


@pytest.fixture(scope="module")
def reach(cluster):
    """``reach(ns, target)``: a port-forward to ``svc/NAME`` or ``pod/NAME`` on the engine port,
    closed with the module."""
    opened: list[PortForward] = []

    def open_(ns: str, target: str) -> PortForward:
        opened.append(forward(cluster, ns, target, 8000))
        return opened[-1]

    yield open_
    for f in opened:
        f.close()


def wait_ready(cluster, ns: str, name: str, timeout: float = 180) -> None:
    wait_condition(cluster, "pi", ns, name, "Ready", "True", timeout=timeout)


@pytest.fixture(scope="module")
def ns(cluster, operator):
    name = cluster.namespace("e2e")
    apply(cluster, pim_model(name, "tasks", TASKS))
    apply(cluster, instance(name, "alpha"))
    apply(cluster, instance(name, "beta", storage={"type": "Persistent", "size": "64Mi"}))
    wait_ready(cluster, name, "alpha")
    wait_ready(cluster, name, "beta")
    return name


def count_tasks(svc: PortForward) -> int:
    return httpx.get(f"{svc.url}/api/v1/tasks", params={"limit": 1}, timeout=10).json()["total"]


def test_crud_through_the_service(cluster, ns, reach):
    # the pod itself first, then the Service (through kube-proxy)
    pod = cluster.get("pods", "-n", ns, "-l", "app.kubernetes.io/instance=alpha")["items"][0]["metadata"]["name"]
    with httpx.Client(base_url=reach(ns, f"pod/{pod}").url, timeout=10) as http:
        project = http.post("/api/v1/projects", json={"name": "launch"})
        assert project.status_code == 201, project.text
        pid = project.json()["id"]
        task = http.post("/api/v1/tasks", json={"title": "ship", "estimate": "1.10", "projectId": pid})
        assert task.status_code == 201, task.text
        body = task.json()
        assert (body["estimate"], body["done"]) == ("1.10", False)
        assert http.patch(f"/api/v1/tasks/{body['id']}", json={"done": True}).json()["done"] is True
        listed = http.get("/api/v1/tasks", params={"done": "true"}).json()
        assert [t["title"] for t in listed["items"]] == ["ship"]
        assert http.post("/api/v1/projects", json={"name": "launch"}).status_code == 409
        bad = http.post("/api/v1/tasks", json={"title": "x", "projectId": 999})
        assert bad.status_code in (409, 422)
        assert "projectId" in bad.text
        assert http.delete(f"/api/v1/tasks/{body['id']}").status_code == 204
        assert http.get(f"/api/v1/tasks/{body['id']}").status_code == 404
    # and through the Service
    assert httpx.get(f"{reach(ns, 'svc/alpha').url}/ready", timeout=10).status_code == 200


def test_status_shows_real_traffic(cluster, ns, reach):
    svc = reach(ns, "svc/beta")
    before = (status_of(cluster, "pi", ns, "beta").get("metrics") or {}).get("requestsTotal", 0)
    with httpx.Client(base_url=svc.url, timeout=10) as http:
        for i in range(40):
            assert http.post("/api/v1/tasks", json={"title": f"t{i}"}).status_code == 201
        for _ in range(20):
            assert http.get("/api/v1/tasks").status_code == 200
    rows = count_tasks(svc)

    def reported() -> dict | None:
        st = status_of(cluster, "pi", ns, "beta")
        m = st.get("metrics") or {}
        return (
            st if m.get("requestsTotal", 0) >= before + 60 and m.get("rowsPerEntity", {}).get("Task") == rows else None
        )

    st = wait_for(reported, 60, "status.metrics to count the traffic")
    m = st["metrics"]
    assert m["errorsTotal"] == 0
    assert m["memoryBytes"] > 10 * 2**20
    assert m["cpuSeconds"] > 0
    assert st["health"]["status"] == "Healthy"
    assert st["health"]["healthyReplicas"] == 1
    assert st["health"]["lastProbeTime"]
    # latencies come from the histogram over a probe window that saw the traffic
    with httpx.Client(base_url=svc.url, timeout=10) as http:
        for _ in range(30):
            http.get("/api/v1/tasks")
    lat = wait_for(
        lambda: (status_of(cluster, "pi", ns, "beta").get("metrics") or {}).get("latencyP50Ms"),
        60,
        "latency percentiles",
    )
    m = status_of(cluster, "pi", ns, "beta")["metrics"]
    assert 0 < lat <= m["latencyP95Ms"] <= m["latencyP99Ms"]


def test_killed_pod_degrades_then_recovers(cluster, ns):
    pods = cluster.get("pods", "-n", ns, "-l", "app.kubernetes.io/instance=alpha")["items"]
    assert len(pods) == 1  # SQLite: one pod (scaled instances are in test_scaling.py)
    victim = pods[0]["metadata"]["name"]
    cluster.kubectl("delete", "pod", victim, "-n", ns, "--grace-period=0", "--force")
    wait_for(
        lambda: any(
            e["reason"] == "NoReadyReplicas" and e["type"] == "Warning" for e in events_for(cluster, ns, "alpha")
        ),
        60,
        "an Unhealthy (NoReadyReplicas) event on the instance",
    )
    wait_ready(cluster, ns, "alpha")
    wait_condition(cluster, "pi", ns, "alpha", "Degraded", "False", timeout=60)
    names = {
        p["metadata"]["name"] for p in cluster.get("pods", "-n", ns, "-l", "app.kubernetes.io/instance=alpha")["items"]
    }
    assert victim not in names


def test_unstartable_pod_is_reported(cluster, ns):
    # An image that is not on the node, with pulls forbidden: fails the same way on every machine.
    apply(cluster, instance(ns, "broken", image="pim.dev/does-not-exist:1", imagePullPolicy="Never"))
    c = wait_condition(cluster, "pi", ns, "broken", "Degraded", "True", timeout=120)
    assert c["reason"] == "ErrImageNeverPull"
    assert "broken-" in c["message"]  # names the pod
    ready = condition(cluster, "pi", ns, "broken", "Ready")
    assert ready["status"] == "False"
    assert any(e["reason"] == "ErrImageNeverPull" for e in events_for(cluster, ns, "broken"))
    cluster.kubectl("delete", "pi", "broken", "-n", ns)


def test_kubectl_scale(cluster, ns):
    # SQLite is one database per pod: more than one replica would split the dataset, so it is refused
    refused = cluster.kubectl("scale", "pi/alpha", "-n", ns, "--replicas=3", check=False)
    assert "needs spec.database.type PostgreSQL" in refused.stderr
    cluster.kubectl("scale", "pi/alpha", "-n", ns, "--replicas=0")
    wait_for(lambda: status_of(cluster, "pi", ns, "alpha").get("replicas") == 0, 120, "no replicas")
    cluster.kubectl("scale", "pi/alpha", "-n", ns, "--replicas=1")
    wait_for(lambda: status_of(cluster, "pi", ns, "alpha").get("readyReplicas") == 1, 120, "1 ready replica")
    wait_ready(cluster, ns, "alpha")


def test_model_update_rolls_and_persistent_data_survives(cluster, ns, reach):
    svc = reach(ns, "svc/beta")
    rows = count_tasks(svc)
    assert rows > 0
    old = status_of(cluster, "pi", ns, "beta")["modelDigest"]
    apply(cluster, pim_model(ns, "tasks", TASKS_V2))
    new = wait_for(lambda: (d := status_of(cluster, "pm", ns, "tasks").get("digest")) != old and d, 60, "new digest")
    wait_for(lambda: status_of(cluster, "pi", ns, "beta").get("modelDigest") == new, 60, "beta on the new digest")
    wait_for(lambda: status_of(cluster, "pi", ns, "alpha").get("modelDigest") == new, 60, "alpha on the new digest")
    wait_ready(cluster, ns, "beta")

    def serving_new() -> bool:
        model = httpx.get(f"{svc.url}/model", timeout=10).json()
        return model["digest"] == new

    wait_for(serving_new, 120, "the new pod to serve the new model")
    assert count_tasks(svc) == rows  # no row lost
    made = httpx.post(f"{svc.url}/api/v1/tasks", json={"title": "urgent", "priority": 1}, timeout=10)
    assert made.status_code == 201, made.text
    assert made.json()["priority"] == 1


def test_suspend_and_resume_keep_the_data(cluster, ns, reach):
    svc = reach(ns, "svc/beta")
    rows = count_tasks(svc)
    patch_spec(cluster, "pi", ns, "beta", {"suspend": True})
    wait_condition(cluster, "pi", ns, "beta", "Ready", "False", "Suspended")
    wait_for(
        lambda: not cluster.get("pods", "-n", ns, "-l", "app.kubernetes.io/instance=beta")["items"],
        120,
        "beta's pods to go",
    )
    assert cluster.get("pvc", "beta-data", "-n", ns)["status"]["phase"] == "Bound"
    patch_spec(cluster, "pi", ns, "beta", {"suspend": False})
    wait_ready(cluster, ns, "beta")
    wait_for(lambda: count_tasks(svc) == rows, 60, "the data to be served again")


def test_status_is_visible_in_kubectl_output(cluster, ns):
    out = json.loads(cluster.kubectl("get", "pi", "beta", "-n", ns, "-o", "json").stdout)
    assert {"health", "metrics", "url", "modelDigest", "conditions"} <= set(out["status"])
    row = cluster.kubectl("get", "pi", "beta", "-n", ns).stdout.splitlines()[1].split()
    assert row[:5] == ["beta", "tasks", "1", "True", "Ready"]


def test_node_port_answers_where_users_look(cluster, ns):
    """A NodePort instance answers on 127.0.0.1 where kind-config.yaml publishes the port (kind),
    on the node's address elsewhere."""
    published = published_node_ports(cluster)
    taken = {p.get("nodePort") for svc in cluster.get("services", "-A")["items"] for p in svc["spec"].get("ports", [])}
    spec: dict = {"serviceType": "NodePort"}
    if published:
        free = [p for p in published if p not in taken]
        assert free, f"every published NodePort ({published}) is taken"
        spec["nodePort"] = free[-1]
    apply(cluster, instance(ns, "gamma", **spec))
    wait_ready(cluster, ns, "gamma")
    port = cluster.get("service", "gamma", "-n", ns)["spec"]["ports"][0]["nodePort"]
    url = node_port_url(cluster, port)
    ready = wait_for(lambda: httpx.get(f"{url}/ready", timeout=5).json(), 60, f"{url}/ready")
    assert ready["status"] == "ready"
    assert ready["model"] == "tasks"
    cluster.kubectl("delete", "pi", "gamma", "-n", ns)
