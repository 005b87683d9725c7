"""Instances on PostgreSQL against a real API server (kwok pods): Secrets, CloudNativePG, DatabaseReady.

No PostgreSQL runs here: these tests follow what the operator does with the Secret that holds the
URI and with CloudNativePG's Cluster (whose CRD is installed and whose status is written by the
test, as CloudNativePG would). The real CloudNativePG and engine pods are in tests/e2e.
"""

from __future__ import annotations

import base64
import json

import pytest

from tests.support.pim import BOOKS, apply, condition, patch_spec, pim_instance, pim_model, wait_condition
from tests.support.waiting import wait_for

pytestmark = pytest.mark.cluster

URI = "postgresql://app:first-password@orders-db-rw.example:5432/app"
ROTATED = URI.replace("first-password", "second-password")
OWN = {"type": "PostgreSQL", "postgres": {"secretRef": {"name": "orders-db", "key": "uri"}}}
CLUSTER_CRD = "clusters.postgresql.cnpg.io"


@pytest.fixture
def ns(operator, cluster):
    name = cluster.namespace("pg")
    apply(cluster, pim_model(name, "books", BOOKS))
    wait_condition(cluster, "pm", name, "books", "Valid", "True")
    return name


def put_secret(cluster, ns: str, name: str, **data: str) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(secret))


def absent(cluster, kind: str, ns: str, name: str) -> bool:
    return cluster.kubectl("get", kind, name, "-n", ns, check=False).returncode != 0


def pod_template(cluster, ns: str, name: str) -> dict:
    return cluster.get("deployment", name, "-n", ns)["spec"]["template"]


def test_secret_ref_from_missing_to_rotated(cluster, ns, operator):
    apply(cluster, pim_instance(ns, "shop", "books", replicas=2, database=OWN))
    c = wait_condition(cluster, "pi", ns, "shop", "DatabaseReady", "False", "SecretNotFound")
    assert "Secret orders-db not found" in c["message"]
    ready = wait_condition(cluster, "pi", ns, "shop", "Ready", "False", "SecretNotFound")
    assert ready["message"] == c["message"]
    assert condition(cluster, "pi", ns, "shop", "ResourcesReady")["reason"] == "WaitingForDatabase"
    # without a database the engine would only crash: no workload yet
    assert absent(cluster, "deployment", ns, "shop")

    # the watch of that one Secret sees it appear, and each change
    put_secret(cluster, ns, "orders-db", dsn=URI, username="app")
    c = wait_condition(cluster, "pi", ns, "shop", "DatabaseReady", "False", "SecretKeyMissing")
    assert "no key uri (its keys: dsn, username)" in c["message"]
    put_secret(cluster, ns, "orders-db", uri="mysql://app@db/app")
    c = wait_condition(cluster, "pi", ns, "shop", "DatabaseReady", "False", "SecretInvalid")
    assert "mysql" not in c["message"]
    put_secret(cluster, ns, "orders-db", uri=URI, username="app")
    wait_condition(cluster, "pi", ns, "shop", "DatabaseReady", "True", "Connected")
    wait_condition(cluster, "pi", ns, "shop", "Ready", "True", timeout=90)

    template = pod_template(cluster, ns, "shop")
    (engine,) = template["spec"]["containers"]
    (url,) = [e for e in engine["env"] if e["name"] == "PIM_DATABASE_URL"]
    assert url["valueFrom"] == {"secretKeyRef": {"name": "orders-db", "key": "uri"}}
    deployment_text = json.dumps(cluster.get("deployment", "shop", "-n", ns))
    assert "first-password" not in deployment_text
    first = template["metadata"]["annotations"]["pim.dev/database-digest"]
    pdb = cluster.get("pdb", "shop", "-n", ns)
    assert pdb["spec"]["maxUnavailable"] == 1

    # a rotated password rolls the pods; a change of another key does not
    put_secret(cluster, ns, "orders-db", uri=URI, username="app2")
    put_secret(cluster, ns, "orders-db", uri=ROTATED, username="app2")
    second = wait_for(
        lambda: (
            (d := pod_template(cluster, ns, "shop")["metadata"]["annotations"]["pim.dev/database-digest"]) != first
            and d
        ),
        30,
        "the pod template to follow the rotated password",
    )
    assert second.startswith("hmac-sha256:")
    wait_for(
        lambda: len(cluster.get("replicasets", "-n", ns, "-l", "app.kubernetes.io/instance=shop")["items"]) == 2,
        30,
        "a second ReplicaSet: the pods roll",
    )
    wait_condition(cluster, "pi", ns, "shop", "Ready", "True", timeout=90)

    # a deleted Secret is reported, and the running workload is left alone
    cluster.kubectl("delete", "secret", "orders-db", "-n", ns)
    wait_condition(cluster, "pi", ns, "shop", "DatabaseReady", "False", "SecretNotFound")
    assert not absent(cluster, "deployment", ns, "shop")
    assert operator.metric("pim_operator_api_requests_total", kind="Secret", verb="WATCH") >= 1


def test_scaling_and_autoscaling_on_postgres(cluster, ns):
    put_secret(cluster, ns, "orders-db", uri=URI)
    apply(cluster, pim_instance(ns, "auto", "books", database=OWN, autoscaling={"minReplicas": 1, "maxReplicas": 3}))
    hpa = wait_for(lambda: cluster.get("hpa", "auto", "-n", ns), 60, "the HPA")
    assert hpa["spec"]["maxReplicas"] == 3
    wait_for(lambda: cluster.get("pdb", "auto", "-n", ns), 30, "the PDB")
    cluster.kubectl(
        "patch", "pi", "auto", "-n", ns, "--type=json", "-p", '[{"op":"remove","path":"/spec/autoscaling"}]'
    )
    wait_for(lambda: absent(cluster, "hpa", ns, "auto"), 30, "HPA removal")
    wait_for(lambda: absent(cluster, "pdb", ns, "auto"), 30, "PDB removal: one replica has nothing to budget")
    cluster.kubectl("scale", "pi/auto", "-n", ns, "--replicas=3")
    wait_for(lambda: cluster.get("deployment", "auto", "-n", ns)["spec"]["replicas"] == 3, 30, "3 replicas")
    wait_for(lambda: cluster.get("pdb", "auto", "-n", ns), 30, "the PDB again")


def test_sqlite_refuses_to_scale_through_the_scale_subresource(cluster, ns):
    apply(cluster, pim_instance(ns, "solo", "books"))
    wait_condition(cluster, "pi", ns, "solo", "Ready", "True", timeout=90)
    assert condition(cluster, "pi", ns, "solo", "DatabaseReady")["reason"] == "Embedded"
    res = cluster.kubectl("scale", "pi/solo", "-n", ns, "--replicas=2", check=False)
    assert res.returncode != 0
    assert "needs spec.database.type PostgreSQL" in res.stderr


def test_managed_database_with_and_without_cloudnativepg(cluster, ns):
    assert absent(cluster, "crd", "", CLUSTER_CRD), "CloudNativePG's CRD must not exist in the kwok cluster"
    database = {"type": "PostgreSQL", "postgres": {"managed": {"instances": 2, "reclaimPolicy": "Delete"}}}
    apply(cluster, pim_instance(ns, "shop", "books", replicas=3, database=database))
    c = wait_condition(cluster, "pi", ns, "shop", "DatabaseReady", "False", "CloudNativePGMissing")
    assert "postgresql.cnpg.io" in c["message"]
    assert condition(cluster, "pi", ns, "shop", "Ready")["reason"] == "CloudNativePGMissing"
    assert absent(cluster, "deployment", ns, "shop")

    cluster.kubectl("apply", "-f", "-", input=json.dumps(CNPG_CLUSTER_CRD))
    cluster.kubectl("wait", "--for=condition=Established", f"crd/{CLUSTER_CRD}")
    try:
        # discovery is re-checked (every 2 s in these tests): the Cluster comes, owned by the instance
        made = wait_for(lambda: cluster.get("cluster.postgresql.cnpg.io", "shop-db", "-n", ns), 60, "the Cluster")
        assert made["spec"]["instances"] == 2
        assert made["metadata"]["ownerReferences"][0]["name"] == "shop"
        c = wait_condition(cluster, "pi", ns, "shop", "DatabaseReady", "False", "ClusterNotReady")
        assert "shop-db" in c["message"]
        assert absent(cluster, "deployment", ns, "shop")  # no -app Secret yet

        # what CloudNativePG does: the application Secret, then a healthy Cluster
        put_secret(cluster, ns, "shop-db-app", uri=URI, username="app", password="first-password")
        dep = wait_for(lambda: cluster.get("deployment", "shop", "-n", ns), 60, "the Deployment")
        (engine,) = dep["spec"]["template"]["spec"]["containers"]
        ref = next(e for e in engine["env"] if e["name"] == "PIM_DATABASE_URL")["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "shop-db-app", "key": "uri"}
        assert condition(cluster, "pi", ns, "shop", "DatabaseReady")["reason"] == "ClusterNotReady"
        healthy = {"phase": "Cluster in healthy state", "conditions": [{"type": "Ready", "status": "True"}]}
        cluster.kubectl(
            "patch",
            "cluster.postgresql.cnpg.io",
            "shop-db",
            "-n",
            ns,
            "--type=merge",
            "-p",
            json.dumps({"status": healthy}),
        )
        wait_condition(cluster, "pi", ns, "shop", "DatabaseReady", "True", "Connected")
        wait_condition(cluster, "pi", ns, "shop", "Ready", "True", timeout=90)

        # a hand edit of the Cluster is restored, as for any child
        cluster.kubectl(
            "patch", "cluster.postgresql.cnpg.io", "shop-db", "-n", ns, "--type=merge", "-p", '{"spec":{"instances":1}}'
        )
        wait_for(
            lambda: cluster.get("cluster.postgresql.cnpg.io", "shop-db", "-n", ns)["spec"]["instances"] == 2,
            30,
            "the Cluster restored",
        )

        # Retain takes the owner away: the Cluster (and CloudNativePG's PVCs with it) outlives the instance
        patch_spec(cluster, "pi", ns, "shop", {"database": {"postgres": {"managed": {"reclaimPolicy": "Retain"}}}})
        wait_for(
            lambda: (
                not cluster.get("cluster.postgresql.cnpg.io", "shop-db", "-n", ns)["metadata"].get("ownerReferences")
            ),
            30,
            "the Cluster to lose its owner",
        )
        cluster.kubectl("delete", "pi", "shop", "-n", ns, "--wait=true")
        wait_for(lambda: absent(cluster, "deployment", ns, "shop"), 60, "the Deployment to be collected")
        assert not absent(cluster, "cluster.postgresql.cnpg.io", ns, "shop-db")

        # under Delete, it goes with the instance
        apply(cluster, pim_instance(ns, "gone", "books", database=database))
        wait_for(lambda: cluster.get("cluster.postgresql.cnpg.io", "gone-db", "-n", ns), 60, "the Cluster")
        cluster.kubectl("delete", "pi", "gone", "-n", ns, "--wait=true")
        wait_for(lambda: absent(cluster, "cluster.postgresql.cnpg.io", ns, "gone-db"), 60, "the owned Cluster to go")
    finally:
        cluster.kubectl("delete", "crd", CLUSTER_CRD, "--wait=true")


CNPG_CLUSTER_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": CLUSTER_CRD},
    "spec": {
        "group": "postgresql.cnpg.io",
        "scope": "Namespaced",
        "names": {"kind": "Cluster", "plural": "clusters", "singular": "cluster", "listKind": "ClusterList"},
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
