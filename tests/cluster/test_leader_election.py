"""Leader election between real operator processes on a real API server (engine pods on kwok).

Each test runs its own replicas in an ``own-op-*`` namespace (the session operator leaves those
alone), with the default timing (lease 10 s, renew deadline 7 s, retry 2 s). Writes are counted by
each replica's ``pim_operator_api_writes_total`` (the lease's own renewals left out).
"""

from __future__ import annotations

import datetime
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.figures import record
from tests.support.operator_proc import OperatorProcess
from tests.support.pim import (
    BOOKS,
    apply,
    converged,
    patch_spec,
    pim_instance,
    pim_model,
    scratch_namespace,
    status_of,
    wait_condition,
)
from tests.support.waiting import wait_for

pytestmark = pytest.mark.cluster
LEASE = "pim-operator-ha"
LEASE_DURATION = 10.0  # the operator's default
TAKEOVER_LIMIT = 15.0


class Replicas:
    """Operator processes of one namespace sharing one Lease."""

    def __init__(self, cluster, ns: str, log_dir: Path) -> None:
        self.cluster, self.ns, self.log_dir = cluster, ns, log_dir
        self.procs: list[OperatorProcess] = []

    def start(self, name: str) -> OperatorProcess:
        proc = OperatorProcess(
            self.cluster.kubeconfig,
            self.log_dir / name,
            "--namespace",
            self.ns,
            "--leader-election-id",
            LEASE,
            "--leader-election-namespace",
            self.ns,
            "--probe-interval",
            "0",
            "--resync-interval",
            "3",
            env={"POD_NAME": name},
        )
        proc.log_dir.mkdir(parents=True, exist_ok=True)
        proc.start()
        self.procs.append(proc)
        return proc

    def leader_and_standby(self, instances: int) -> tuple[OperatorProcess, OperatorProcess, list[str]]:
        """A leader ("first"), a standby ("second") with warm caches, and converged instances."""
        first = self.start("first")
        wait_for(first.leading, 30, "the first replica to lead")
        second = self.start("second")
        apply(self.cluster, pim_model(self.ns, "books", BOOKS))
        names = [f"shop-{i}" for i in range(instances)]
        for name in names:
            apply(self.cluster, pim_instance(self.ns, name, "books"))
        wait_for(lambda: converged(self.cluster, self.ns, names), 90, "the instances to converge")
        events = ("pim_operator_watch_events_total", {"kind": "PimInstance"})
        wait_for(lambda: second.metric(events[0], **events[1]) >= len(names), 30, "the standby's watch")
        return first, second, names

    def lease(self) -> dict:
        return self.cluster.get("lease", LEASE, "-n", self.ns)["spec"]

    def holder(self) -> str:
        return self.lease().get("holderIdentity") or ""

    def stop(self) -> None:
        for p in self.procs:
            if p.proc is not None and p.proc.poll() is None:
                p.send(signal.SIGCONT)
                p.stop()


@pytest.fixture
def replicas(crds, fake_node, cluster, tmp_path) -> Iterator[Replicas]:
    with scratch_namespace(cluster, "own-op-ha") as ns:
        r = Replicas(cluster, ns, tmp_path)
        try:
            yield r
        finally:
            r.stop()


def deployment_env(cluster, ns: str, name: str) -> dict[str, str]:
    (container,) = cluster.get("deployment", name, "-n", ns)["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", "") for e in container.get("env") or ()}


def test_a_standby_writes_nothing_and_takes_a_freed_lease_at_once(cluster, replicas):
    ns = replicas.ns
    # Someone else holds the lease, for good: the operator must stand by.
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    cluster.create(
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": LEASE, "namespace": ns},
            "spec": {"holderIdentity": "someone-else", "leaseDurationSeconds": 3600, "renewTime": now},
        }
    )
    standby = replicas.start("standby")
    apply(cluster, pim_model(ns, "books", BOOKS))
    apply(cluster, pim_instance(ns, "shop", "books"))
    wait_for(lambda: standby.metric("pim_operator_watch_events_total", kind="PimInstance") >= 1, 30, "the watch")
    objects = (("pm", "books"), ("pi", "shop"))
    versions = {k: cluster.get(k, n, "-n", ns)["metadata"]["resourceVersion"] for k, n in objects}
    reads = standby.metric("pim_operator_api_requests_total", verb="GET", kind="Lease")
    wait_for(
        lambda: standby.metric("pim_operator_api_requests_total", verb="GET", kind="Lease") >= reads + 3,
        30,
        "three more reads of the lease",
    )
    assert not standby.leading()
    assert standby.writes() == 0
    assert standby.metric("pim_operator_api_writes_fenced_total") == 0  # not even tried
    assert standby.metric("pim_operator_reconcile_total") == 0
    # Nothing was written by anyone, kopf included: the objects are as the test made them.
    now_at = {k: cluster.get(k, n, "-n", ns)["metadata"]["resourceVersion"] for k, n in objects}
    managers = {
        k: cluster.get(k, n, "-n", ns, "--show-managed-fields")["metadata"].get("managedFields", []) for k, n in objects
    }
    assert now_at == versions, {
        k: [(m.get("manager"), m.get("time"), m.get("subresource")) for m in v] for k, v in managers.items()
    }
    assert not cluster.get("deployments", "-n", ns)["items"]
    assert not [
        e for e in cluster.get("events", "-n", ns)["items"] if e.get("source", {}).get("component") == "pim-operator"
    ]
    assert replicas.holder() == "someone-else"

    # The holder lets go (a released lease says 1 s): the standby takes it at its next read.
    lease = cluster.get("lease", LEASE, "-n", ns)
    lease["spec"].update(holderIdentity="", leaseDurationSeconds=1)
    freed = time.monotonic()
    cluster.kubectl("replace", "-f", "-", input=json.dumps(lease))
    wait_for(standby.leading, 15, "the standby to lead")
    took = time.monotonic() - freed
    assert replicas.holder().startswith("standby_")
    wait_condition(cluster, "pi", ns, "shop", "Ready", "True", timeout=60)
    assert standby.writes() > 0
    assert replicas.lease()["leaseTransitions"] == 0  # nobody held it when it was taken
    record("takeover_of_a_released_lease_seconds", took)


def test_the_standby_takes_over_from_a_sigkilled_leader_within_the_lease_duration(cluster, replicas):
    ns = replicas.ns
    first, second, names = replicas.leader_and_standby(6)
    assert not second.leading()
    assert second.writes() == 0
    first_writes = first.writes()
    assert first_writes > 0

    killed_at = time.time()
    assert first.kill(signal.SIGKILL) == -signal.SIGKILL
    # Work for the next leader, arriving while nobody leads.
    for name in names[:3]:
        patch_spec(cluster, "pi", ns, name, {"env": [{"name": "EDITED", "value": "yes"}]})
    cluster.kubectl("delete", "pi", names[5], "-n", ns)
    names = [*names[:5], "late"]
    apply(cluster, pim_instance(ns, "late", "books"))

    wait_for(second.leading, 30, "the standby to take over")
    takeover = second.metric("pim_operator_leader_since_timestamp_seconds") - killed_at
    assert replicas.holder().startswith("second_")
    assert replicas.lease()["leaseTransitions"] == 1
    assert takeover <= TAKEOVER_LIMIT, f"took {takeover:.1f} s"
    wait_for(lambda: converged(cluster, ns, names), 90, "every instance to converge under the new leader")
    for name in names[:3]:
        assert deployment_env(cluster, ns, name).get("EDITED") == "yes"
    assert second.metric("pim_operator_api_writes_fenced_total") == 0
    record("takeover_after_sigkill_seconds", takeover)
    record("writes_by_the_killed_leader", first_writes)
    record("writes_by_the_standby_before_takeover", 0)
    record("writes_by_the_new_leader", second.writes())


def test_a_stalled_leader_wakes_up_fenced_and_writes_nothing(cluster, replicas):
    """SIGSTOP the leader past its lease: the standby takes over; the old leader, woken, must not
    write, although its reconciles and renew loop run late and only then find out."""
    ns = replicas.ns
    first, second, names = replicas.leader_and_standby(4)
    wait_for(lambda: first.metric("pim_operator_queue_depth", kind="PimInstance") == 0, 30, "an idle leader")
    before = first.writes()
    first.send(signal.SIGSTOP)
    stopped_at = time.time()
    try:
        wait_for(second.leading, 30, "the standby to take over from the stalled leader")
        takeover = second.metric("pim_operator_leader_since_timestamp_seconds") - stopped_at
        for name in names:
            patch_spec(cluster, "pi", ns, name, {"env": [{"name": "WHILE_STALLED", "value": name}]})
        wait_for(lambda: converged(cluster, ns, names), 90, "the new leader to converge the edits")
    finally:
        first.send(signal.SIGCONT)
    # The woken replica drains its watch backlog, may try to reconcile, and finds its lease gone.
    wait_for(lambda: not first.leading(), 30, "the woken replica to stand by")
    wait_for(
        lambda: first.metric("pim_operator_leader_transitions_total", transition="stopped") >= 1,
        30,
        "the woken replica to count its lost lease",
    )
    assert first.writes() == before
    assert replicas.holder().startswith("second_")
    for name in names:
        assert deployment_env(cluster, ns, name).get("WHILE_STALLED") == name
    record("takeover_after_sigstop_seconds", takeover)
    record("writes_by_the_stalled_leader_after_waking", first.writes() - before)
    record("writes_fenced_in_the_stalled_leader", first.metric("pim_operator_api_writes_fenced_total"))


def test_a_clean_shutdown_hands_the_lease_over_at_once(cluster, replicas):
    ns = replicas.ns
    first = replicas.start("first")
    wait_for(first.leading, 30, "the first replica to lead")
    second = replicas.start("second")
    apply(cluster, pim_model(ns, "books", BOOKS))
    apply(cluster, pim_instance(ns, "shop", "books"))
    wait_condition(cluster, "pi", ns, "shop", "Ready", "True", timeout=60)
    stopped = time.time()
    assert first.stop() == 0
    assert "released the leader lease" in first.log_path.read_text()
    wait_for(second.leading, 10, "the standby to take the released lease")
    handover = second.metric("pim_operator_leader_since_timestamp_seconds") - stopped
    assert handover < LEASE_DURATION / 2
    # Taken from nobody (released), not from a holder that expired: no transition counted.
    assert replicas.lease()["leaseTransitions"] == 0
    patch_spec(cluster, "pi", ns, "shop", {"replicas": 0})  # (SQLite: 0 or 1)
    wait_for(lambda: status_of(cluster, "pi", ns, "shop").get("replicas") == 0, 60, "the new leader at work")
    record("handover_after_sigterm_seconds", handover)
