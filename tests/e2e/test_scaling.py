"""Scaled instances on PostgreSQL, on the real node, as issue 12's acceptance asks: one dataset
behind three replicas, rollouts, pod deletions, evictions, a SIGKILLed engine and a failed-over
primary under continuous writes, an HPA that acts, a rotated password.

Each scenario writes through the instance's Service from the host while it acts (a NodePort, so
kube-proxy balances the writes over the replicas, on the embedded cluster and on kind alike), and
checks afterwards that every acknowledged row is stored. The figures (failed requests, outage,
recovery) are printed and recorded in BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import httpx
import pytest

from tests.support.cnpg import books_namespace, database_status, managed, psql, wait_database_ready
from tests.support.pim import BOOKS, apply, pim_model, status_of, wait_condition
from tests.support.reach import forward, is_kind, node_address_url, published_node_ports
from tests.support.waiting import wait_for
from tests.support.writers import Writer, stored_keys

# The first test also waits for the add-ons (built, imported, installed) and a cold CloudNativePG start.
# Not in `make test` (marker `scaling`): run with `make test-scaling` until it has proven reliable.
pytestmark = [pytest.mark.e2e, pytest.mark.scaling, pytest.mark.timeout(1800)]

BOOKS_V2 = BOOKS + "      pages: {type: integer, required: false}\n"
MANAGED = managed(2)
RESOURCES = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}


def instance(ns: str, name: str, **spec) -> dict:
    return {
        "apiVersion": "pim.dev/v1alpha1",
        "kind": "PimInstance",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"modelRef": {"name": "books"}, "resources": RESOURCES, **spec},
    }


def exposed(cluster) -> dict:
    """A NodePort Service; on kind, on a free one of the ports kind-config.yaml publishes."""
    spec: dict = {"serviceType": "NodePort"}
    published = published_node_ports(cluster)
    if published:
        taken = {p.get("nodePort") for svc in cluster.get("services", "-A")["items"] for p in svc["spec"]["ports"]}
        free = [p for p in published if p not in taken]
        assert free, f"every published NodePort ({published}) is taken"
        spec["nodePort"] = free[0]
    return spec


def node_url(cluster, ns: str, name: str) -> str:
    """Where the host reaches the instance's NodePort (through kube-proxy, to any replica)."""
    port = cluster.get("service", name, "-n", ns)["spec"]["ports"][0]["nodePort"]
    url = node_address_url(cluster, port)
    wait_for(lambda: httpx.get(f"{url}/ready", timeout=5).status_code == 200, 60, f"{url} to answer")
    return url


def pods(cluster, ns: str, name: str) -> list[dict]:
    items = cluster.get("pods", "-n", ns, "-l", f"app.kubernetes.io/instance={name}")["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def ready_pods(cluster, ns: str, name: str) -> list[dict]:
    return [
        p
        for p in pods(cluster, ns, name)
        if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or ())
    ]


def template_annotation(cluster, ns: str, name: str, key: str) -> str | None:
    dep = cluster.get("deployment", name, "-n", ns)
    return (dep["spec"]["template"]["metadata"].get("annotations") or {}).get(key)


def rolled_out(cluster, ns: str, name: str, replicas: int) -> bool:
    dep = cluster.get("deployment", name, "-n", ns)
    st = dep["status"]
    return (
        st.get("observedGeneration") == dep["metadata"]["generation"]
        and st.get("updatedReplicas") == replicas
        and st.get("availableReplicas") == replicas
        and st.get("replicas") == replicas
    )


def report(what: str, **figures: object) -> None:
    print(f"\nFIGURES {what}: " + json.dumps(figures, default=str))


def nothing_failed_nothing_lost(what: str, url: str, writer: Writer) -> None:
    r = writer.report
    report(what, acked=len(r.acked), failed=len(r.failures), outage_s=round(r.outage(), 2))
    assert r.failures == [], r.failures[:5]
    no_row_lost(url, r.acked)


def no_row_lost(url: str, acked: list[str]) -> None:
    stored = stored_keys(url)
    lost = sorted(set(acked) - stored)
    assert not lost, f"{len(lost)} acknowledged rows are not stored: {lost[:10]}"


@pytest.fixture(scope="module")
def ns(addons, operator):
    return books_namespace(addons, "scale")


@pytest.fixture(scope="module")
def shop(cluster, ns) -> str:
    """Three replicas on a managed PostgreSQL (a primary and a synchronous standby)."""
    apply(cluster, instance(ns, "shop", replicas=3, database=MANAGED, **exposed(cluster)))
    wait_database_ready(cluster, ns, "shop-db")
    wait_condition(cluster, "pi", ns, "shop", "Ready", "True", timeout=300)
    return node_url(cluster, ns, "shop")


def test_three_replicas_serve_one_dataset(cluster, ns, shop):
    assert len(ready_pods(cluster, ns, "shop")) == 3
    with httpx.Client(base_url=shop, timeout=10) as http:
        for i in range(30):
            made = http.post("/api/v1/books", json={"title": f"book {i}", "isbn": f"one-{i}"})
            assert made.status_code == 201, made.text
        totals = [http.get("/api/v1/books", params={"limit": 1}).json()["total"] for _ in range(30)]
    assert totals == [30] * 30
    # and each pod, asked directly, sees the same 30
    for pod in ready_pods(cluster, ns, "shop"):
        with forward(cluster, ns, f"pod/{pod['metadata']['name']}", 8000) as direct:
            total = httpx.get(f"{direct.url}/api/v1/books", params={"limit": 1}, timeout=10)
        assert total.json()["total"] == 30
    report("three replicas, one dataset", rows=30, list_calls=30, totals=sorted(set(totals)))


def test_model_update_under_writes_loses_nothing(cluster, ns, shop):
    old = status_of(cluster, "pi", ns, "shop")["modelDigest"]
    with Writer(shop, prefix="model") as writer:
        writer.wait_for_acks(20)
        apply(cluster, pim_model(ns, "books", BOOKS_V2))
        new = wait_for(
            lambda: (
                status_of(cluster, "pi", ns, "shop").get("modelDigest") not in (None, old)
                and status_of(cluster, "pi", ns, "shop")["modelDigest"]
            ),
            60,
            "the new model's digest in status",
        )
        wait_for(
            lambda: template_annotation(cluster, ns, "shop", "pim.dev/model-digest") == new,
            60,
            "the pod template to carry the new model",
        )
        wait_for(lambda: rolled_out(cluster, ns, "shop", 3), 300, "the rollout of the new model")
        writer.wait_for_acks(20)
    nothing_failed_nothing_lost("model update under writes", shop, writer)
    made = httpx.post(f"{shop}/api/v1/books", json={"title": "t", "isbn": "v2", "pages": 12}, timeout=10)
    assert made.json()["pages"] == 12


def test_pod_deletion_and_eviction_under_writes(cluster, ns, shop):
    with Writer(shop, prefix="del") as writer:
        writer.wait_for_acks(20)
        victim = ready_pods(cluster, ns, "shop")[0]["metadata"]["name"]
        cluster.kubectl("delete", "pod", victim, "-n", ns, "--wait=false")
        wait_for(
            lambda: len(ready_pods(cluster, ns, "shop")) == 3 and rolled_out(cluster, ns, "shop", 3), 180, "3 again"
        )
        # what `kubectl drain` does to each pod: the Eviction API, which honours the PodDisruptionBudget
        first, second = (p["metadata"]["name"] for p in ready_pods(cluster, ns, "shop")[:2])
        evict(cluster, ns, first)
        refused = evict(cluster, ns, second, check=False)
        assert refused.returncode != 0
        assert "disruption budget" in (refused.stderr + refused.stdout).lower()
        wait_for(
            lambda: len(ready_pods(cluster, ns, "shop")) == 3 and rolled_out(cluster, ns, "shop", 3), 180, "3 again"
        )
        writer.wait_for_acks(20)
    nothing_failed_nothing_lost("pod delete + eviction under writes", shop, writer)


def evict(cluster, ns: str, pod: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": ns}}
    return cluster.kubectl(
        "create",
        "--raw",
        f"/api/v1/namespaces/{ns}/pods/{pod}/eviction",
        "-f",
        "-",
        input=json.dumps(body),
        check=check,
    )


def test_sigkill_of_an_engine_fails_only_its_requests_in_flight(cluster, ns, shop):
    victim = ready_pods(cluster, ns, "shop")[0]
    name = victim["metadata"]["name"]
    restarts = victim["status"]["containerStatuses"][0]["restartCount"]
    container = victim["status"]["containerStatuses"][0]["containerID"].removeprefix("containerd://")
    with Writer(shop, prefix="kill", threads=3) as writer:
        writer.wait_for_acks(30)
        killed_at = time.monotonic()
        sigkill(cluster, victim["spec"]["nodeName"], container)
        back = wait_for(
            lambda: (
                (p := cluster.get("pod", name, "-n", ns))["status"]["containerStatuses"][0]["restartCount"] > restarts
                and p["status"]["containerStatuses"][0]["ready"]
                and time.monotonic()
            ),
            180,
            "the killed engine to be back and ready",
        )
        writer.wait_for_acks(30)
    r = writer.report
    recovery = back - killed_at
    report(
        "SIGKILL of one engine",
        acked=len(r.acked),
        failed=len(r.failures),
        recovery_s=round(recovery, 2),
        outage_s=round(r.outage(), 2),
        failures=[f.what for f in r.failures][:5],
    )
    # Only requests the killed pod had taken may fail: the one each writer had in flight, and one
    # sent in the few milliseconds before the process was gone (the kernel still accepted the
    # connection, then reset it). So each failure is a connection that broke without an answer (no
    # HTTP status: no live replica refused anything), all within a moment of the kill, at most two
    # per writer.
    assert not [f for f in r.failures if f.what.split(": ", 1)[1][:3].isdigit()], r.failures
    assert all(0 <= f.at - killed_at <= 5.0 for f in r.failures), (killed_at, r.failures)
    assert len(r.failures) <= 2 * writer.threads, r.failures
    no_row_lost(shop, r.acked)


def sigkill(cluster, node: str, container_id: str) -> None:
    """SIGKILL the engine's process from its node's containerd, as the kernel's OOM killer would."""
    kill = ["task", "kill", "--signal", "SIGKILL", container_id]
    if cluster.dir is not None:
        sock = str(cluster.dir / "node" / "containerd.sock")
        argv = ["ctr", "--address", sock, "--namespace", "k8s.io", *kill]
    elif is_kind(cluster):
        argv = ["docker", "exec", node, "ctr", "--namespace", "k8s.io", *kill]  # a kind node is a container
    else:
        raise AssertionError("SIGKILL of a container needs the embedded cluster's node or a kind node")
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


def test_primary_failover_under_writes_loses_no_acknowledged_row(cluster, ns, shop):
    st = database_status(cluster, ns, "shop-db")
    primary = st["currentPrimary"]
    with Writer(shop, prefix="failover", timeout=5) as writer:
        writer.wait_for_acks(30)
        deleted_at = time.monotonic()
        cluster.kubectl("delete", "pod", primary, "-n", ns, "--wait=false")
        wait_for(
            lambda: database_status(cluster, ns, "shop-db").get("currentPrimary") != primary,
            180,
            "a new primary",
        )
        writer.wait_for_acks(30, timeout=180)
        promoted = time.monotonic()
    r = writer.report
    report(
        "CloudNativePG primary deleted (instances 2)",
        acked=len(r.acked),
        failed=len(r.failures),
        outage_s=round(r.outage(), 2),
        until_writes_resumed_s=round(promoted - deleted_at, 2),
    )
    no_row_lost(shop, r.acked)
    wait_database_ready(cluster, ns, "shop-db")


def on_primary(cluster, ns: str, sql: str) -> str:
    """SQL as postgres on the current primary of shop-db, over its own socket."""
    return psql(cluster, ns, database_status(cluster, ns, "shop-db")["currentPrimary"], sql, database="postgres")


def test_a_rotated_password_rolls_the_pods_and_keeps_serving(cluster, ns, shop):
    """Bring your own server: a role and database of the user's on shop-db, a Secret holding its URI.

    The rotation as PostgreSQL allows it (one password per role, no overlap): the Secret changes
    first, so new pods start with the new password and wait, not ready (DatabaseReady says why),
    while the old pods keep serving; then the password changes in the server, the new pods connect,
    and the old ones go.
    """
    first, second = "rot-" + os.urandom(8).hex(), "rot-" + os.urandom(8).hex()
    on_primary(cluster, ns, f"CREATE ROLE rot LOGIN PASSWORD '{first}'")
    on_primary(cluster, ns, "CREATE DATABASE rot OWNER rot")
    uri = f"postgresql://rot:{{}}@shop-db-rw.{ns}:5432/rot"
    put_secret(cluster, ns, "own-db", uri.format(first))
    own = {"type": "PostgreSQL", "postgres": {"secretRef": {"name": "own-db"}}}
    apply(cluster, instance(ns, "own", replicas=2, database=own, **exposed(cluster)))
    wait_condition(cluster, "pi", ns, "own", "Ready", "True", timeout=300)
    url = node_url(cluster, ns, "own")
    before = template_annotation(cluster, ns, "own", "pim.dev/database-digest")
    with Writer(url, prefix="rotate") as writer:
        writer.wait_for_acks(20)
        put_secret(cluster, ns, "own-db", uri.format(second))
        wait_for(
            lambda: template_annotation(cluster, ns, "own", "pim.dev/database-digest") not in (None, before),
            60,
            "the pod template to follow the Secret",
        )
        # a new pod cannot log in yet: the engine's /ready says so, and so does the instance
        c = wait_condition(cluster, "pi", ns, "own", "DatabaseReady", "False", "Unreachable", timeout=120)
        assert "password authentication failed" in c["message"]
        assert second not in c["message"]
        on_primary(cluster, ns, f"ALTER ROLE rot PASSWORD '{second}'")
        wait_for(lambda: rolled_out(cluster, ns, "own", 2), 300, "the pods to roll")
        writer.wait_for_acks(20)
    nothing_failed_nothing_lost("rotated password", url, writer)
    wait_condition(cluster, "pi", ns, "own", "DatabaseReady", "True", "Connected", timeout=120)


def put_secret(cluster, ns: str, name: str, uri: str) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps({**secret, "stringData": {"uri": uri}}))


def test_hpa_scales_up_under_load_and_back_down(cluster, ns, shop):
    """An autoscaled instance on CloudNativePG's own application Secret (shop-db-app, as it is)."""
    # a short scale-down window, so that "back down" takes a minute rather than the default five
    auto = {"minReplicas": 1, "maxReplicas": 3, "targetCPUUtilizationPercentage": 50}
    auto["scaleDownStabilizationSeconds"] = 30
    app = {"type": "PostgreSQL", "postgres": {"secretRef": {"name": "shop-db-app", "key": "uri"}}}
    apply(cluster, instance(ns, "auto", database=app, autoscaling=auto, **exposed(cluster)))
    wait_condition(cluster, "pi", ns, "auto", "Ready", "True", timeout=300)
    wait_for(lambda: cluster.get("hpa", "auto", "-n", ns)["status"].get("currentMetrics"), 180, "the HPA's metrics")
    assert cluster.get("deployment", "auto", "-n", ns)["spec"]["replicas"] == 1
    url = node_url(cluster, ns, "auto")
    t0 = time.monotonic()
    with Writer(url, prefix="hpa", threads=6):
        up = wait_for(
            lambda: cluster.get("deployment", "auto", "-n", ns)["spec"]["replicas"] >= 2 and time.monotonic(),
            300,
            "the HPA to scale up under load",
        )
        peak = cluster.get("deployment", "auto", "-n", ns)["spec"]["replicas"]
    # down after the controller-manager's stabilization window (1 minute on the embedded cluster, 5 on kind)
    down = wait_for(
        lambda: cluster.get("deployment", "auto", "-n", ns)["spec"]["replicas"] == 1 and time.monotonic(),
        900,
        "the HPA to scale back down",
    )
    report("HPA", scaled_up_after_s=round(up - t0, 1), peak=peak, back_down_after_load_s=round(down - up, 1))
