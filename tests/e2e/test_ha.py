"""Two operator replicas installed with Helm on the real node, as the chart runs them by default.

The leader's process is SIGKILLed from the host (as the OOM killer would): the standby takes over
within the lease duration, converges what changed meanwhile, and no write ever came from both
(each replica's own ``pim_operator_api_writes_total``). Then an eviction (a drain) moves the
leader away: the PodDisruptionBudget refuses to evict the other replica at the same time, and the
evicted leader releases its lease on the way out, so the handover takes about a retry period.

Engine pods go to a kwok node (cheap); the operators run on the real node. Needs PIM_CLUSTER_NODE=1.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.cluster import Cluster
from tests.support.faults import needs_local_node, sigkill_pod_process
from tests.support.figures import record
from tests.support.helm import CHART, Helm, leader_pod, operator_pods, set_args
from tests.support.operator_incluster import image_values
from tests.support.pim import BOOKS, apply, apply_all, children_problems, converged, patch_spec, pim_instance, pim_model
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.local_node_only]

NODE_LABEL = ("pim.dev/node", "local")
RELEASE = "pim-ha"
TAKEOVER_LIMIT = 15.0


def metric(pod: dict[str, Any], name: str, **labels: str) -> float:
    text = httpx.get(f"http://{pod['status']['podIP']}:8080/metrics", timeout=5).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


@dataclass
class Release:
    cluster: Cluster
    namespace: str
    watched: str

    def pods(self) -> list[dict[str, Any]]:
        return operator_pods(self.cluster, self.namespace, RELEASE)

    def ready_pods(self) -> list[dict[str, Any]]:
        return [
            p
            for p in self.pods()
            if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or ())
        ]

    def lease(self) -> dict[str, Any]:
        (lease,) = self.cluster.get("leases", "-n", self.namespace, "-l", f"app.kubernetes.io/instance={RELEASE}")[
            "items"
        ]
        return lease["spec"]

    def holder_pod(self) -> dict[str, Any] | None:
        return leader_pod(self.cluster, self.namespace, RELEASE)

    def evict(self, pod: dict[str, Any]) -> tuple[int, str]:
        """Ask the Eviction API (as `kubectl drain` does) to evict ``pod``: (0, "") or (exit code, error)."""
        eviction = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": pod["metadata"]["name"], "namespace": self.namespace},
        }
        path = f"/api/v1/namespaces/{self.namespace}/pods/{pod['metadata']['name']}/eviction"
        proc = self.cluster.kubectl("create", "--raw", path, "-f", "-", input=json.dumps(eviction), check=False)
        return proc.returncode, proc.stderr


@pytest.fixture(scope="module")
def release(
    cluster: Cluster, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Release]:
    needs_local_node(cluster, "the leader is SIGKILLed from the host and replicas are read at their pod IPs")
    request.getfixturevalue("fake_node")
    if not cluster.get("nodes", "-l", "=".join(NODE_LABEL))["items"]:
        pytest.fail(f"no node labelled {'='.join(NODE_LABEL)}: run with PIM_CLUSTER_NODE=1", pytrace=False)
    helm = Helm(cluster.kubeconfig, tmp_path_factory.mktemp("helm"))
    restricted = {"pod-security.kubernetes.io/enforce": "restricted"}
    ns = cluster.namespace("pim-ha", labels=restricted)
    watched = cluster.namespace("e2e-helm-ha")
    values = {
        **image_values(),
        "rbac.scope": "namespaced",
        "watchNamespaces": [watched],
        "nodeSelector": dict([NODE_LABEL]),
        "probeNetworks": "10.244.0.0/16",  # never kwok's fake pod IPs
        "resyncInterval": 30,
        "logFormat": "plain",
    }
    helm("install", RELEASE, str(CHART), "-n", ns, "--wait=watcher", "--timeout", "180s", *set_args(values))
    rel = Release(cluster, ns, watched)
    yield rel
    cluster.kubectl("delete", "pi", "--all", "-n", watched, "--wait=true", check=False, timeout=180)
    helm("uninstall", RELEASE, "-n", ns, "--wait=watcher", check=False)


def test_the_standby_takes_over_from_a_sigkilled_leader(release: Release) -> None:
    cluster, ns = release.cluster, release.watched
    wait_for(lambda: len(release.ready_pods()) == 2, 120, "both replicas Ready")
    leader = wait_for(release.holder_pod, 60, "a leader")
    (standby,) = [p for p in release.pods() if p["metadata"]["uid"] != leader["metadata"]["uid"]]
    apply(cluster, pim_model(ns, "books", BOOKS))
    names = [f"shop-{i}" for i in range(8)]
    apply_all(cluster, [pim_instance(ns, n, "books") for n in names])
    wait_for(lambda: converged(cluster, ns, names), 180, "the instances to converge")
    wait_for(lambda: metric(standby, "pim_operator_watch_events_total", kind="PimInstance") >= 8, 30, "warm caches")
    assert metric(leader, "pim_operator_leader") == 1
    assert metric(standby, "pim_operator_leader") == 0
    leader_writes = metric(leader, "pim_operator_api_writes_total")
    assert leader_writes > 0
    assert metric(standby, "pim_operator_api_writes_total") == 0

    killed_at = time.time()
    sigkill_pod_process(leader, "pim-operator")
    for name in names[:4]:
        patch_spec(cluster, "pi", ns, name, {"env": [{"name": "EDITED", "value": name}]})
    cluster.kubectl("delete", "pi", names[-1], "-n", ns)
    names = [*names[:-1], "late"]
    apply(cluster, pim_instance(ns, "late", "books"))

    wait_for(lambda: (p := release.holder_pod()) and p["metadata"]["uid"] == standby["metadata"]["uid"], 30, "takeover")
    takeover = metric(standby, "pim_operator_leader_since_timestamp_seconds") - killed_at
    assert takeover <= TAKEOVER_LIMIT, f"the standby took {takeover:.1f} s"
    wait_for(lambda: converged(cluster, ns, names), 180, "every instance to converge under the new leader")
    assert children_problems(cluster, ns) == []
    for name in names[:4]:
        (c,) = cluster.get("deployment", name, "-n", ns)["spec"]["template"]["spec"]["containers"]
        assert {"name": "EDITED", "value": name} in c["env"]

    # The killed leader's container was restarted by the kubelet: a new process, a standby now.
    def restarted() -> dict[str, Any] | None:
        pod = cluster.get("pod", leader["metadata"]["name"], "-n", release.namespace)
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"]["conditions"])
        return pod if ready and pod["status"]["containerStatuses"][0]["restartCount"] >= 1 else None

    old = wait_for(restarted, 120, "the killed replica to be restarted and Ready")
    assert metric(old, "pim_operator_leader") == 0
    assert metric(old, "pim_operator_api_writes_total") == 0
    new_writes = metric(standby, "pim_operator_api_writes_total")
    assert new_writes > 0
    assert metric(standby, "pim_operator_api_writes_fenced_total") == 0
    assert release.lease()["leaseTransitions"] >= 1
    record("e2e_takeover_after_sigkill_seconds", takeover)
    record("e2e_writes_by_the_killed_leader_until_killed", leader_writes)
    record("e2e_writes_by_the_standby_while_standing_by", 0)
    record("e2e_writes_by_the_new_leader", new_writes)


def test_a_drain_moves_the_leader_with_the_budget_kept_and_the_lease_released(release: Release) -> None:
    wait_for(lambda: len(release.ready_pods()) == 2, 120, "both replicas Ready")
    leader = wait_for(release.holder_pod, 60, "a leader")
    (other,) = [p for p in release.pods() if p["metadata"]["uid"] != leader["metadata"]["uid"]]
    code, err = release.evict(leader)
    evicted_at = time.time()
    assert code == 0, err
    # One replica is down now (its replacement not Ready yet): the budget refuses a second eviction.
    assert len(release.ready_pods()) < 2
    code, err = release.evict(other)
    assert code != 0
    assert "disruption budget" in err

    # Whichever standby takes the released lease (the one that was there, or the evicted pod's
    # replacement if it starts first on a busy node), it takes it at once; the evicted pod, never again.
    def successor() -> dict[str, Any] | None:
        p = release.holder_pod()
        return p if p is not None and p["metadata"]["uid"] != leader["metadata"]["uid"] else None

    try:
        new = wait_for(successor, 30, "another replica to hold the lease")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the lease: {release.lease()}") from None
    handover = metric(new, "pim_operator_leader_since_timestamp_seconds") - evicted_at
    assert handover < 5, f"{handover:.1f} s: the evicted leader should have released the lease"
    wait_for(lambda: len(release.ready_pods()) == 2, 120, "the replacement replica Ready")
    record("e2e_handover_after_eviction_seconds", handover)
