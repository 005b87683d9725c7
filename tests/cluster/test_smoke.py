"""Prove the test cluster is a real Kubernetes: API validation, controllers, scheduler, kwok nodes,
RBAC and admission all act, each observed through the API as a client would see it."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import Cluster
from tests.support.waiting import wait_for

pytestmark = pytest.mark.cluster

CRD_GROUP = "smoke.pim.dev"
CRD_NAME = f"widgets.{CRD_GROUP}"
CEL_MESSAGE = "minReplicas must not exceed maxReplicas"
# Pods that must never start anywhere (not even on a real node, which would try to pull the image).
NOWHERE = {"pim.dev/smoke": "no-such-node"}


def widget_crd() -> dict[str, Any]:
    spec_schema = {
        "type": "object",
        "required": ["size"],
        "properties": {
            "size": {"type": "integer", "minimum": 1, "maximum": 10},
            "minReplicas": {"type": "integer"},
            "maxReplicas": {"type": "integer"},
        },
        "x-kubernetes-validations": [
            {
                "rule": "!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas",
                "message": CEL_MESSAGE,
            }
        ],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": CRD_GROUP,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": spec_schema}}},
                }
            ],
        },
    }


def widget(name: str, namespace: str, **spec: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{CRD_GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def pod(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    container = {"name": "main", "image": "pim.local/smoke:never-pulled", **spec.pop("container", {})}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [container], **spec},
    }


def owned_by(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    return any(ref["uid"] == owner["metadata"]["uid"] for ref in obj["metadata"].get("ownerReferences", []))


@pytest.fixture(scope="module")
def widgets(cluster: Cluster) -> str:
    """The Widget CRD, established and served."""
    cluster.kubectl("apply", "-f", "-", input=json.dumps(widget_crd()))
    cluster.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=60s")
    return CRD_NAME


def test_custom_resource_is_accepted(cluster: Cluster, widgets: str) -> None:
    ns = cluster.namespace("smoke-crd")
    # Discovery of a just-established group can lag a moment behind the condition.
    wait_for(lambda: cluster.create(widget("good", ns, size=3, minReplicas=1, maxReplicas=2)), 30, "a Widget")
    stored = cluster.get("widget", "good", "-n", ns)
    assert stored["spec"] == {"size": 3, "minReplicas": 1, "maxReplicas": 2}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({"size": 0}, "spec.size in body should be greater than or equal to 1", id="schema"),
        pytest.param({"size": 3, "minReplicas": 5, "maxReplicas": 2}, CEL_MESSAGE, id="cel-rule"),
    ],
)
def test_invalid_custom_resource_is_rejected(
    cluster: Cluster, widgets: str, spec: dict[str, int], expected: str
) -> None:
    ns = cluster.namespace("smoke-crd")
    wait_for(lambda: cluster.get("widgets", "-n", ns), 30, "the Widget resource to be served")
    rejected = cluster.create(widget("bad", ns, **spec), check=False)
    assert rejected.returncode != 0
    assert "is invalid" in rejected.stderr
    assert expected in rejected.stderr
    assert cluster.kubectl("get", "widget", "bad", "-n", ns, check=False).returncode != 0


def test_deployment_gets_replicaset_and_pods(cluster: Cluster) -> None:
    ns = cluster.namespace("smoke-deploy")
    labels = {"app": "smoke"}
    deployment = json.loads(
        cluster.create(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "smoke", "namespace": ns},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": pod("x", ns, nodeSelector=NOWHERE)["spec"],
                    },
                },
            }
        ).stdout
    )

    def replicaset() -> dict[str, Any] | None:
        items = cluster.get("replicasets", "-n", ns)["items"]
        return next((rs for rs in items if owned_by(rs, deployment)), None)

    rs = wait_for(replicaset, 60, "the Deployment's ReplicaSet")

    def pods() -> list[dict[str, Any]]:
        items = [p for p in cluster.get("pods", "-n", ns, "-l", "app=smoke")["items"] if owned_by(p, rs)]
        return items if len(items) == 2 else []

    created = wait_for(pods, 60, "2 pods owned by the ReplicaSet")
    for p in created:
        # ServiceAccount admission mounted the API token.
        assert any(v["name"].startswith("kube-api-access-") for v in p["spec"]["volumes"])

    def unschedulable() -> bool:
        conditions = [c for p in pods() for c in p["status"].get("conditions", [])]
        flagged = [c for c in conditions if c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable"]
        return len(flagged) == 2

    # The scheduler looked at them and found no node matching the selector.
    wait_for(unschedulable, 60, "the scheduler to mark both pods Unschedulable")


def test_deleting_owner_collects_dependents(cluster: Cluster) -> None:
    ns = cluster.namespace("smoke-gc")

    def configmap(name: str, owner: dict[str, Any] | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "namespace": ns}
        if owner:
            meta["ownerReferences"] = [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "name": owner["metadata"]["name"],
                    "uid": owner["metadata"]["uid"],
                }
            ]
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": name}}

    parent = json.loads(cluster.create(configmap("parent")).stdout)
    cluster.create(configmap("child", parent))
    cluster.create(configmap("bystander"))

    cluster.kubectl("delete", "configmap", "parent", "-n", ns, "--cascade=background")
    wait_for(
        lambda: cluster.kubectl("get", "configmap", "child", "-n", ns, check=False).returncode != 0,
        60,
        "the garbage collector to delete the child ConfigMap",
    )
    assert cluster.get("configmap", "bystander", "-n", ns)["data"] == {"k": "bystander"}


def test_scheduler_binds_pod_to_fake_node_and_kwok_runs_it(cluster: Cluster) -> None:
    [node] = cluster.create_fake_nodes(1)
    ns = cluster.namespace("smoke-kwok")
    created = json.loads(cluster.create(pod("on-fake-node", ns, **cluster.fake_node_placement(node))).stdout)
    assert not created["spec"].get("nodeName")  # nobody bound it at creation: the scheduler must

    def running() -> dict[str, Any] | None:
        current = cluster.get("pod", "on-fake-node", "-n", ns)
        return current if current["status"].get("phase") == "Running" else None

    current = wait_for(running, 60, "the pod on the fake node to be Running")
    assert current["spec"]["nodeName"] == node


def test_rbac_forbids_service_account_without_permissions(cluster: Cluster, tmp_path: Path) -> None:
    ns = cluster.namespace("smoke-rbac")
    cluster.kubectl("create", "serviceaccount", "reader", "-n", ns)
    subject = f"system:serviceaccount:{ns}:reader"

    can_i = cluster.kubectl("auth", "can-i", "list", "secrets", "-n", ns, f"--as={subject}", check=False)
    assert (can_i.returncode, can_i.stdout.strip()) == (1, "no")

    # The same, with a real token of that ServiceAccount (signed by the API server).
    token = cluster.kubectl("create", "token", "reader", "-n", ns).stdout.strip()
    as_reader = cluster.with_token(token, tmp_path / "reader.kubeconfig")
    denied = as_reader.kubectl("get", "secrets", "-n", ns, check=False)
    assert denied.returncode != 0
    assert f'User "{subject}" cannot list resource "secrets"' in denied.stderr

    # Granting the permission lets the same token through: the denial was RBAC, not broken auth.
    cluster.kubectl("create", "role", "secret-reader", "--verb=list", "--resource=secrets", "-n", ns)
    cluster.kubectl(
        "create", "rolebinding", "reader", "--role=secret-reader", f"--serviceaccount={ns}:reader", "-n", ns
    )
    wait_for(
        lambda: as_reader.kubectl("get", "secrets", "-n", ns, check=False).returncode == 0,
        30,
        "the RoleBinding to let the ServiceAccount list secrets",
    )


def test_pod_security_admission_rejects_privileged_pod(cluster: Cluster) -> None:
    ns = cluster.namespace("smoke-psa", labels={"pod-security.kubernetes.io/enforce": "restricted"})
    rejected = cluster.create(
        pod("privileged", ns, nodeSelector=NOWHERE, container={"securityContext": {"privileged": True}}),
        check=False,
    )
    assert rejected.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in rejected.stderr
    assert "privileged" in rejected.stderr

    restricted = {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    cluster.create(pod("restricted", ns, nodeSelector=NOWHERE, container={"securityContext": restricted}))


def test_namespaces_get_the_cluster_ca(cluster: Cluster) -> None:
    """The controller-manager publishes the CA that signs the API server's certificate, which is what
    pods (the operator, later) use to verify the API server."""
    ns = cluster.namespace("smoke-ca")
    published = wait_for(
        lambda: cluster.get("configmap", "kube-root-ca.crt", "-n", ns)["data"]["ca.crt"],
        60,
        "kube-root-ca.crt in a new namespace",
    )
    view = json.loads(cluster.kubectl("config", "view", "--minify", "--raw", "-o", "json").stdout)
    entry = view["clusters"][0]["cluster"]
    if "certificate-authority-data" in entry:
        expected = base64.b64decode(entry["certificate-authority-data"]).decode()
    else:
        expected = Path(entry["certificate-authority"]).read_text()
    assert published.strip() == expected.strip()
