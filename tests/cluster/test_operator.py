"""The operator against a real API server, controller-manager, scheduler and kwok nodes.

Each test works in its own namespace; one operator process serves the session (the test that
kills it starts it again). Engine pods land on a kwok node, which reports them Running and Ready.
"""

from __future__ import annotations

import json
import signal
import time

import pytest

from tests.support.pim import (
    BOOKS,
    apply,
    condition,
    events_for,
    patch_spec,
    pim_instance,
    pim_model,
    status_of,
    wait_condition,
)
from tests.support.waiting import wait_for

pytestmark = pytest.mark.cluster

BOOKS_V2 = BOOKS + "      pages: {type: integer, required: false}\n"
BOOKS_WITHOUT_PRICE = BOOKS.replace("      price: {type: decimal, required: false}\n", "")
BROKEN = """
domain: library
entities:
  - name: Book
    attributes:
      title: {type: strang}
"""


def pod_digest(cluster, ns: str, name: str) -> str:
    dep = cluster.get("deployment", name, "-n", ns)
    return dep["spec"]["template"]["metadata"]["annotations"]["pim.dev/model-digest"]


def ready_instance(cluster, ns: str, name: str = "shop", model: str = "books", **spec) -> dict:
    apply(cluster, pim_instance(ns, name, model, **spec))
    wait_condition(cluster, "pi", ns, name, "Ready", "True", timeout=90)
    return status_of(cluster, "pi", ns, name)


@pytest.fixture
def ns(operator, cluster):
    return cluster.namespace("pim")


@pytest.fixture
def books(ns, cluster):
    apply(cluster, pim_model(ns, "books", BOOKS))
    wait_condition(cluster, "pm", ns, "books", "Valid", "True")
    return ns


def test_model_status_reports_digest_and_entities(cluster, books):
    st = status_of(cluster, "pm", books, "books")
    assert st["entities"] == ["Book"]
    assert st["entityCount"] == 1
    assert st["digest"].startswith("sha256:")
    assert st["shortDigest"] == st["digest"][7:19]
    assert st["observedGeneration"] == 1
    row = cluster.kubectl("get", "pm", "books", "-n", books).stdout.splitlines()
    assert row[0].split()[:4] == ["NAME", "ENTITIES", "VALID", "DIGEST"]
    assert row[1].split()[:4] == ["books", "1", "True", st["shortDigest"]]


def test_invalid_model_says_why_with_the_loader_message(cluster, ns):
    apply(cluster, pim_model(ns, "broken", BROKEN))
    c = wait_condition(cluster, "pm", ns, "broken", "Valid", "False")
    assert c["reason"] == "LoadFailed"
    assert "strang" in c["message"]
    assert "Book" in c["message"]
    assert any(e["reason"] == "ModelInvalid" for e in events_for(cluster, ns, "broken"))


def test_model_from_a_configmap_key(cluster, ns):
    cluster.kubectl("create", "configmap", "src", "-n", ns, "--from-literal", f"model.yaml={BOOKS}")
    apply(
        cluster,
        {
            "apiVersion": "pim.dev/v1alpha1",
            "kind": "PimModel",
            "metadata": {"name": "cm", "namespace": ns},
            "spec": {"configMapRef": {"name": "src", "key": "model.yaml"}},
        },
    )
    wait_condition(cluster, "pm", ns, "cm", "Valid", "True")
    apply(
        cluster,
        {
            "apiVersion": "pim.dev/v1alpha1",
            "kind": "PimModel",
            "metadata": {"name": "missing", "namespace": ns},
            "spec": {"configMapRef": {"name": "src", "key": "nope"}},
        },
    )
    c = wait_condition(cluster, "pm", ns, "missing", "Valid", "False")
    assert "has no key 'nope'" in c["message"]


def test_instance_gets_owned_children_and_a_ready_status(cluster, books):
    st = ready_instance(cluster, books)
    inst = cluster.get("pi", "shop", "-n", books)
    uid = inst["metadata"]["uid"]
    for kind, name in [("configmap", "shop-model"), ("deployment", "shop"), ("service", "shop")]:
        obj = cluster.get(kind, name, "-n", books)
        (owner,) = obj["metadata"]["ownerReferences"]
        assert (owner["uid"], owner["controller"]) == (uid, True)
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "pim-operator"
        assert labels["pim.dev/model"] == "books"
        full = cluster.get(kind, name, "-n", books, "--show-managed-fields")
        managers = {(m["manager"], m["operation"]) for m in full["metadata"]["managedFields"]}
        assert ("pim-operator", "Apply") in managers
    model = status_of(cluster, "pm", books, "books")
    assert st["modelDigest"] == model["digest"]
    assert pod_digest(cluster, books, "shop") == model["digest"]
    assert st["url"] == f"http://shop.{books}.svc:8000"
    assert (st["replicas"], st["readyReplicas"]) == (1, 1)
    assert st["observedGeneration"] == inst["metadata"]["generation"]
    types = {c["type"]: c for c in st["conditions"]}
    assert {t: types[t]["status"] for t in ("ModelResolved", "ResourcesReady", "Available", "Progressing")} == {
        "ModelResolved": "True",
        "ResourcesReady": "True",
        "Available": "True",
        "Progressing": "False",
    }
    for c in st["conditions"]:
        assert set(c) >= {"type", "status", "reason", "message", "lastTransitionTime", "observedGeneration"}
    snapshot = json.loads(cluster.get("configmap", "shop-model", "-n", books)["data"]["model.json"])
    assert snapshot["digest"] == model["digest"]
    header = cluster.kubectl("get", "pi", "-n", books).stdout.splitlines()[0].split()
    assert header == ["NAME", "MODEL", "REPLICAS", "READY", "REASON", "URL", "AGE"]


def test_model_update_rolls_and_invalid_update_keeps_the_last_valid(cluster, books):
    ready_instance(cluster, books)
    first = pod_digest(cluster, books, "shop")
    apply(cluster, pim_model(books, "books", BOOKS_V2))
    new = wait_for(
        lambda: (d := status_of(cluster, "pm", books, "books").get("digest")) != first and d,
        30,
        "new model digest",
    )
    wait_for(lambda: pod_digest(cluster, books, "shop") == new, 30, "the Deployment to roll to the new digest")
    wait_for(lambda: status_of(cluster, "pi", books, "shop").get("modelDigest") == new, 30, "status.modelDigest")

    apply(cluster, pim_model(books, "books", BROKEN))
    wait_condition(cluster, "pm", books, "books", "Valid", "False")
    c = wait_condition(cluster, "pi", books, "shop", "ModelResolved", "False", "ModelInvalid")
    assert new in c["message"]
    assert pod_digest(cluster, books, "shop") == new
    assert status_of(cluster, "pm", books, "books")["digest"] == new  # last valid is kept


def test_destructive_model_change_is_refused_unless_allowed(cluster, books):
    ready_instance(cluster, books)
    before = pod_digest(cluster, books, "shop")
    apply(cluster, pim_model(books, "books", BOOKS_WITHOUT_PRICE))
    c = wait_condition(cluster, "pi", books, "shop", "ModelResolved", "False", "DestructiveModelChange")
    assert "Book.price" in c["message"]
    assert "allowDestructiveMigration" in c["message"]
    assert pod_digest(cluster, books, "shop") == before
    patch_spec(cluster, "pi", books, "shop", {"allowDestructiveMigration": True})
    wait_condition(cluster, "pi", books, "shop", "ModelResolved", "True")
    assert pod_digest(cluster, books, "shop") != before


def test_model_deleted_while_in_use(cluster, books):
    ready_instance(cluster, books)
    digest = pod_digest(cluster, books, "shop")
    cluster.kubectl("delete", "pm", "books", "-n", books)
    c = wait_condition(cluster, "pi", books, "shop", "ModelResolved", "False", "ModelNotFound")
    assert digest in c["message"]
    assert pod_digest(cluster, books, "shop") == digest  # still serving the snapshot
    assert cluster.get("deployment", "shop", "-n", books)["spec"]["replicas"] == 1
    wait_for(
        lambda: any(e["reason"] == "DeletedWhileInUse" for e in events_for(cluster, books, "books")),
        30,
        "a DeletedWhileInUse event on the model",
    )
    wait_for(
        lambda: any(e["reason"] == "ModelNotFound" for e in events_for(cluster, books, "shop")),
        30,
        "a ModelNotFound event on the instance",
    )
    ready = condition(cluster, "pi", books, "shop", "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ModelNotFound")
    # the model comes back: the instance recovers without anyone touching it
    apply(cluster, pim_model(books, "books", BOOKS))
    wait_condition(cluster, "pi", books, "shop", "Ready", "True")


def test_instance_waits_for_a_model_that_does_not_exist_yet(cluster, ns):
    apply(cluster, pim_instance(ns, "early", "later"))
    c = wait_condition(cluster, "pi", ns, "early", "ModelResolved", "False", "ModelNotFound")
    assert "later" in c["message"]
    assert cluster.kubectl("get", "deployment", "early", "-n", ns, check=False).returncode != 0
    apply(cluster, pim_model(ns, "later", BOOKS))
    wait_condition(cluster, "pi", ns, "early", "Ready", "True", timeout=90)


def test_drift_is_restored(cluster, books):
    ready_instance(cluster, books)
    svc_uid = cluster.get("service", "shop", "-n", books)["metadata"]["uid"]
    cluster.kubectl("delete", "service", "shop", "-n", books)
    wait_for(
        lambda: cluster.get("service", "shop", "-n", books)["metadata"]["uid"] != svc_uid,
        30,
        "the Service to come back",
    )
    cluster.kubectl("set", "image", "deployment/shop", "-n", books, "engine=evil:latest")
    wait_for(
        lambda: (
            cluster.get("deployment", "shop", "-n", books)["spec"]["template"]["spec"]["containers"][0]["image"]
            != "evil:latest"
        ),
        30,
        "the image edit to be reverted",
    )
    cluster.kubectl(
        "patch", "configmap", "shop-model", "-n", books, "--type=merge", "-p", '{"data":{"model.json":"{}"}}'
    )
    wait_for(
        lambda: json.loads(cluster.get("configmap", "shop-model", "-n", books)["data"]["model.json"]).get("digest"),
        30,
        "the snapshot to be restored",
    )


def test_node_port_clash_is_a_condition_not_a_crash(cluster, books):
    apply(cluster, pim_instance(books, "first", "books", serviceType="NodePort", nodePort=30555))
    wait_condition(cluster, "pi", books, "first", "Ready", "True", timeout=90)
    apply(cluster, pim_instance(books, "second", "books", serviceType="NodePort", nodePort=30555))
    c = wait_condition(cluster, "pi", books, "second", "ResourcesReady", "False", "PortConflict")
    assert f"{books}/first" in c["message"]
    ready = condition(cluster, "pi", books, "second", "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "PortConflict")
    for kind, child in (("service", "second"), ("deployment", "second"), ("configmap", "second-model")):
        assert cluster.kubectl("get", kind, child, "-n", books, check=False).returncode != 0, kind  # nothing made
    cluster.kubectl("delete", "pi", "first", "-n", books)
    wait_condition(cluster, "pi", books, "second", "Ready", "True", timeout=90)
    assert cluster.get("service", "second", "-n", books)["spec"]["ports"][0]["nodePort"] == 30555


def shared_database(cluster, ns: str) -> dict:
    """A Secret with a PostgreSQL URI (kwok pods never use it): what replicas > 1 need."""
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": ns}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps({**secret, "stringData": {"uri": "postgresql://a:b@db/app"}}))
    return {"type": "PostgreSQL", "postgres": {"secretRef": {"name": "db"}}}


def test_scale_subresource_and_suspend(cluster, books):
    ready_instance(cluster, books, database=shared_database(cluster, books))
    cluster.kubectl("scale", "pi/shop", "-n", books, "--replicas=2")
    wait_for(lambda: cluster.get("deployment", "shop", "-n", books)["spec"]["replicas"] == 2, 30, "2 replicas")
    wait_for(lambda: status_of(cluster, "pi", books, "shop").get("readyReplicas") == 2, 60, "2 ready replicas")
    scale = json.loads(
        cluster.kubectl("get", "--raw", f"/apis/pim.dev/v1alpha1/namespaces/{books}/piminstances/shop/scale").stdout
    )
    assert scale["status"]["replicas"] == 2
    assert "app.kubernetes.io/instance=shop" in scale["status"]["selector"]
    patch_spec(cluster, "pi", books, "shop", {"suspend": True})
    wait_condition(cluster, "pi", books, "shop", "Ready", "False", "Suspended")
    assert cluster.get("deployment", "shop", "-n", books)["spec"]["replicas"] == 0
    patch_spec(cluster, "pi", books, "shop", {"suspend": False})
    wait_condition(cluster, "pi", books, "shop", "Ready", "True", timeout=90)


def test_autoscaling_creates_and_removes_the_hpa(cluster, books):
    database = shared_database(cluster, books)
    apply(cluster, pim_instance(books, "auto", "books", database=database, autoscaling={"maxReplicas": 3}))
    hpa = wait_for(lambda: cluster.get("hpa", "auto", "-n", books), 30, "the HPA")
    assert hpa["spec"]["maxReplicas"] == 3
    assert hpa["spec"]["scaleTargetRef"]["name"] == "auto"
    cluster.kubectl(
        "patch",
        "pi",
        "auto",
        "-n",
        books,
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/spec/autoscaling"}]',
    )
    wait_for(
        lambda: cluster.kubectl("get", "hpa", "auto", "-n", books, check=False).returncode != 0,
        30,
        "HPA removal",
    )


def test_deletion_cascades_and_pvc_follows_its_policy(cluster, books):
    apply(
        cluster,
        pim_instance(books, "keep", "books", storage={"type": "Persistent", "reclaimPolicy": "Retain"}),
    )
    apply(
        cluster,
        pim_instance(books, "drop", "books", storage={"type": "Persistent", "reclaimPolicy": "Delete"}),
    )
    for name in ("keep", "drop"):
        wait_for(lambda name=name: cluster.get("pvc", f"{name}-data", "-n", books), 30, f"PVC {name}-data")
        wait_for(lambda name=name: cluster.get("deployment", name, "-n", books), 30, f"Deployment {name}")
    cluster.kubectl("delete", "pi", "keep", "drop", "-n", books, "--wait=true")

    def gone(kind: str, name: str) -> bool:
        return cluster.kubectl("get", kind, name, "-n", books, check=False).returncode != 0

    for name in ("keep", "drop"):
        wait_for(
            lambda name=name: gone("deployment", name) and gone("service", name) and gone("configmap", f"{name}-model"),
            60,
            f"{name}'s children to be collected",
        )
    wait_for(
        lambda: (
            gone("pvc", "drop-data")
            or cluster.get("pvc", "drop-data", "-n", books)["metadata"].get("deletionTimestamp")
        ),
        60,
        "the Delete-policy PVC to go",
    )
    assert not gone("pvc", "keep-data")
    assert not cluster.get("pvc", "keep-data", "-n", books)["metadata"].get("deletionTimestamp")


def test_servicemonitor_only_where_the_crd_exists(cluster, books, operator):
    ready_instance(cluster, books)
    assert cluster.kubectl("get", "crd", "servicemonitors.monitoring.coreos.com", check=False).returncode != 0
    cluster.kubectl("apply", "-f", "-", input=json.dumps(SERVICEMONITOR_CRD))
    cluster.kubectl("wait", "--for=condition=Established", "crd/servicemonitors.monitoring.coreos.com")
    try:
        sm = wait_for(lambda: cluster.get("servicemonitor", "shop", "-n", books), 60, "the ServiceMonitor")
        assert sm["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
        assert sm["metadata"]["ownerReferences"][0]["name"] == "shop"
        patch_spec(cluster, "pi", books, "shop", {"metrics": {"serviceMonitor": False}})
        wait_for(
            lambda: cluster.kubectl("get", "servicemonitor", "shop", "-n", books, check=False).returncode != 0,
            30,
            "ServiceMonitor removal",
        )
    finally:
        cluster.kubectl("delete", "crd", "servicemonitors.monitoring.coreos.com", "--wait=true")


def test_no_writes_on_a_no_op_resync(cluster, books, operator):
    ready_instance(cluster, books)
    ready_instance(cluster, books, name="shop2")

    # the resyncs leave this test's objects untouched, while they do run (the operator's write
    # counter also counts other tests' namespaces, which may still be settling)
    def versions() -> dict[str, str]:
        return {
            f"{kind}/{item['metadata']['name']}": item["metadata"]["resourceVersion"]
            for kind in ("pimmodels", "piminstances", "deployments", "services", "configmaps", "serviceaccounts")
            for item in cluster.get(kind, "-n", books)["items"]
        }

    def resyncs(n: int, seconds: float) -> None:
        """Wait for ``n`` more instance reconciles and ``seconds`` (probe intervals are 2 s)."""
        runs = operator.metric("pim_operator_reconcile_total", kind="PimInstance")
        start = time.monotonic()
        wait_for(
            lambda: (
                operator.metric("pim_operator_reconcile_total", kind="PimInstance") >= runs + n
                and time.monotonic() - start >= seconds
            ),
            30,
            f"{n} resyncs over {seconds} s",
        )

    # settle: a fresh instance still gets status writes that carry news (its first scrape, its
    # replicas turning ready), so first wait for two resyncs and two probes that write nothing
    def quiet() -> bool:
        before = versions()
        resyncs(2, 4.0)
        return versions() == before

    wait_for(quiet, 90, "two resyncs that write nothing to this test's objects")

    before = versions()
    skipped = operator.metric("pim_operator_applies_skipped_total")
    resyncs(4, 6.0)
    assert versions() == before
    assert operator.metric("pim_operator_applies_skipped_total") > skipped


def test_operator_metrics_and_liveness(cluster, books, operator):
    ready_instance(cluster, books)
    text = operator.metrics_text()
    for name in (
        "pim_operator_reconcile_total",
        "pim_operator_reconcile_duration_seconds_bucket",
        "pim_operator_instances",
        "pim_operator_api_requests_total",
        "process_resident_memory_bytes",
    ):
        assert name in text
    assert operator.metric("pim_operator_instances", ready="True") >= 1


def test_sigkill_mid_reconcile_converges_without_duplicates_or_orphans(cluster, books, operator):
    n = 12
    for i in range(n):
        apply(cluster, pim_instance(books, f"burst-{i}", "books"))
    # kill it while it is working through the burst
    wait_for(lambda: operator.metric("pim_operator_reconcile_total", kind="PimInstance") > 0, 10, "work started")
    assert operator.kill(signal.SIGKILL) == -signal.SIGKILL
    operator.start()
    for i in range(n):
        wait_condition(cluster, "pi", books, f"burst-{i}", "Ready", "True", timeout=120)
    deployments = cluster.get("deployments", "-n", books)["items"]
    names = [d["metadata"]["name"] for d in deployments]
    assert len(names) == len(set(names))
    assert sorted(n for n in names if n.startswith("burst-")) == sorted(f"burst-{i}" for i in range(n))
    uids = {i["metadata"]["uid"] for i in cluster.get("pi", "-n", books)["items"]}
    for kind in ("deployments", "services", "configmaps"):
        for obj in cluster.get(kind, "-n", books, "-l", "app.kubernetes.io/managed-by=pim-operator")["items"]:
            assert obj["metadata"]["ownerReferences"][0]["uid"] in uids, f"orphan {kind} {obj['metadata']['name']}"
    rs = cluster.get("replicasets", "-n", books)["items"]
    assert len(rs) == n  # one ReplicaSet each: nothing rolled twice


SERVICEMONITOR_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {
        "group": "monitoring.coreos.com",
        "scope": "Namespaced",
        "names": {
            "kind": "ServiceMonitor",
            "plural": "servicemonitors",
            "singular": "servicemonitor",
            "listKind": "ServiceMonitorList",
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }
        ],
    },
}


def test_instances_are_selectable_by_model(cluster, books):
    apply(cluster, pim_instance(books, "one", "books"))
    apply(cluster, pim_instance(books, "other", "elsewhere"))
    out = cluster.kubectl("get", "pi", "-n", books, "--field-selector", "spec.modelRef.name=books", "-o", "name")
    assert out.stdout.split() == ["piminstance.pim.dev/one"]
