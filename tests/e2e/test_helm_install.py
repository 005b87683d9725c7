"""The operator installed with Helm runs in the cluster and serves a model end to end.

``helm install`` (namespaced: it watches one fresh namespace, so it does not share objects with a
cluster-wide operator another test may run) starts the operator image on the real node; the
operator reconciles a PimModel and a PimInstance into an engine pod the test reaches through
``kubectl port-forward``;
``helm test`` passes; ``helm uninstall`` leaves nothing of the release but the CRDs.

Needs a cluster with a real node: ``PIM_CLUSTER_NODE=1`` (after ``hack/cluster/node-prep.sh``) for
the local one, with the images built and imported (hack/cluster/node-up.sh does both).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.cluster import Cluster
from tests.support.helm import CHART, Helm, leader_pod, leftovers, operator_pods, set_args
from tests.support.operator_incluster import image_values
from tests.support.pim import BOOKS, apply, pim_model, status_of, wait_condition
from tests.support.reach import forward
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

NODE_LABEL = ("pim.dev/node", "local")
RELEASE = "pim-e2e"
INSTANCE = "shelf"  # not the release name: both use the app.kubernetes.io/instance label
CRD_NAMES = ("pimmodels.pim.dev", "piminstances.pim.dev")


@dataclass
class Installed:
    cluster: Cluster
    helm: Helm
    namespace: str  # the operator's
    watched: str
    uninstalled: bool = False

    def operator_pods(self) -> list[dict[str, Any]]:
        return operator_pods(self.cluster, self.namespace, RELEASE)

    def leader_pod(self) -> dict[str, Any] | None:
        return leader_pod(self.cluster, self.namespace, RELEASE)


@pytest.fixture(scope="module")
def installed(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    if not cluster.get("nodes", "-l", "=".join(NODE_LABEL))["items"]:
        pytest.fail(
            f"no node labelled {'='.join(NODE_LABEL)}: run with PIM_CLUSTER_NODE=1 "
            "(and hack/cluster/node-prep.sh before up.sh)",
            pytrace=False,
        )
    helm = Helm(cluster.kubeconfig, tmp_path_factory.mktemp("helm"))
    restricted = {"pod-security.kubernetes.io/enforce": "restricted"}
    ns = cluster.namespace("pim-helm", labels=restricted)
    watched = cluster.namespace("e2e-helm", labels=restricted)
    values = {
        **image_values(),
        "rbac.scope": "namespaced",
        "watchNamespaces": [watched],
        "nodeSelector": dict([NODE_LABEL]),
        "probeInterval": 5,
        "resyncInterval": 30,
        "logFormat": "plain",
    }
    # The chart's crds/ go in first; CRDs someone applied before are left as they are.
    try:
        helm("install", RELEASE, str(CHART), "-n", ns, "--wait=watcher", "--timeout", "180s", *set_args(values))
    except AssertionError:
        # A failed install keeps its cluster-scoped objects, which would fail every later install.
        helm("uninstall", RELEASE, "-n", ns, "--wait=watcher", check=False)
        raise
    inst = Installed(cluster, helm, ns, watched)
    yield inst
    if not inst.uninstalled:
        helm("uninstall", RELEASE, "-n", ns, "--wait=watcher", check=False)


def operator_metric(url: str, name: str, **labels: str) -> float:
    text = httpx.get(url, timeout=5).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_operator_runs_in_cluster_and_is_ready(installed: Installed) -> None:
    pods = installed.operator_pods()
    assert len(pods) == 2  # the chart's default: a leader and a standby
    values = image_values()
    for pod in pods:
        node = installed.cluster.get("node", pod["spec"]["nodeName"])
        assert node["metadata"]["labels"].get(NODE_LABEL[0]) == NODE_LABEL[1]
        ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
        assert ready["Ready"] == "True"
        (container,) = pod["status"]["containerStatuses"]
        assert container["image"].endswith(f"{values['image.repository']}:{values['image.tag']}")
        assert container["restartCount"] == 0
        with forward(installed.cluster, installed.namespace, f"pod/{pod['metadata']['name']}", 8081) as health:
            assert httpx.get(f"{health.url}/healthz", timeout=5).status_code == 200
    wait_for(installed.leader_pod, 60, "one replica to hold the leader Lease")


def test_operator_serves_a_model(installed: Installed) -> None:
    cluster, ns = installed.cluster, installed.watched
    apply(cluster, pim_model(ns, "library", BOOKS))
    wait_condition(cluster, "pm", ns, "library", "Valid", "True", timeout=90)
    instance = {
        "apiVersion": "pim.dev/v1alpha1",
        "kind": "PimInstance",
        "metadata": {"name": INSTANCE, "namespace": ns},
        "spec": {"modelRef": {"name": "library"}, "nodeSelector": dict([NODE_LABEL])},
    }
    apply(cluster, instance)
    wait_condition(cluster, "pi", ns, INSTANCE, "Ready", "True", timeout=180)
    digest = status_of(cluster, "pm", ns, "library")["digest"]

    pods = cluster.get("pods", "-n", ns, "-l", f"app.kubernetes.io/instance={INSTANCE}")["items"]
    (engine,) = [p for p in pods if p["status"].get("phase") == "Running"]
    with forward(cluster, ns, f"pod/{engine['metadata']['name']}", 8000) as pf:
        base = pf.url
        ready = httpx.get(f"{base}/ready", timeout=10).json()
        assert ready == {"status": "ready", "model": "library", "digest": digest}
        book = {"title": "Dune", "isbn": "978-0441013593"}
        created = httpx.post(f"{base}/api/v1/books", json=book, timeout=10)
        assert created.status_code == 201, created.text
        listed = httpx.get(f"{base}/api/v1/books", timeout=10).json()
        assert [(b["title"], b["isbn"]) for b in listed["items"]] == [(book["title"], book["isbn"])]

    # The in-cluster leader did it (not some other operator): its own counters say so; the standby wrote nothing.
    leader = wait_for(installed.leader_pod, 60, "the leader")
    with forward(cluster, installed.namespace, f"pod/{leader['metadata']['name']}", 8080) as pf:
        metrics = f"{pf.url}/metrics"
        assert operator_metric(metrics, "pim_operator_reconcile_total", kind="PimInstance", result="success") > 0
        assert operator_metric(metrics, "pim_operator_leader") == 1
    (standby,) = [p for p in installed.operator_pods() if p["metadata"]["uid"] != leader["metadata"]["uid"]]
    with forward(cluster, installed.namespace, f"pod/{standby['metadata']['name']}", 8080) as pf:
        metrics = f"{pf.url}/metrics"
        assert operator_metric(metrics, "pim_operator_leader") == 0
        assert operator_metric(metrics, "pim_operator_api_writes_total") == 0


def test_the_operator_reads_the_metrics_of_an_instance_with_auth_on(installed: Installed) -> None:
    """Its probes show the instance the chart's projected token (audience pim.dev), which the
    engine reviews and the cluster's RBAC admits for piminstances/metrics."""
    cluster, ns = installed.cluster, installed.watched
    apply(cluster, pim_model(ns, "library", BOOKS))
    instance = {
        "apiVersion": "pim.dev/v1alpha1",
        "kind": "PimInstance",
        "metadata": {"name": "guarded", "namespace": ns},
        "spec": {
            "modelRef": {"name": "library"},
            "nodeSelector": dict([NODE_LABEL]),
            "access": {"auth": {"mode": "Kubernetes"}},
        },
    }
    apply(cluster, instance)
    wait_condition(cluster, "pi", ns, "guarded", "Ready", "True", timeout=180)
    metrics = wait_for(
        lambda: status_of(cluster, "pi", ns, "guarded").get("metrics"),
        60,
        "the instance's status to carry what its /metrics said (a refused scrape leaves it out)",
    )
    assert metrics["rowsPerEntity"] == {"Book": 0}
    assert metrics["memoryBytes"] > 0


def test_helm_test_passes(installed: Installed) -> None:
    proc = installed.helm("test", RELEASE, "-n", installed.namespace, "--timeout", "120s", check=False)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "Succeeded" in proc.stdout
    # hook-succeeded: a passed test pod does not stay behind.
    selector = ("pods", "-n", installed.namespace, "-l", "app.kubernetes.io/component=test")
    wait_for(lambda: not installed.cluster.get(*selector)["items"], 60, "the passed test pod to be deleted")


def test_uninstall_leaves_only_the_crds(installed: Installed) -> None:
    cluster, ns = installed.cluster, installed.namespace
    namespaces = [ns, installed.watched]
    assert leftovers(cluster, RELEASE, namespaces), "the release's objects should exist before uninstall"
    cluster.kubectl("delete", "piminstance", INSTANCE, "-n", installed.watched, "--ignore-not-found", "--wait")
    installed.helm("uninstall", RELEASE, "-n", ns, "--cascade=foreground", "--wait=watcher")
    installed.uninstalled = True
    wait_for(lambda: not leftovers(cluster, RELEASE, namespaces), 90, f"release {RELEASE} to be gone")
    for name in CRD_NAMES:
        cluster.get("crd", name)  # raises when gone
