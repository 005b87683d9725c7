from __future__ import annotations

import pytest

from pim_operator.probe.health import evaluate, pod_problems
from pim_operator.probe.result import ProbeResult, ReplicaProbe

pytestmark = pytest.mark.unit


def pod(name: str, *, waiting: str | None = None, last: str | None = None, unschedulable: bool = False) -> dict:
    cs: dict = {"name": "engine", "state": {}, "lastState": {}}
    if waiting:
        cs["state"] = {"waiting": {"reason": waiting, "message": f"{waiting} details"}}
    if last:
        cs["lastState"] = {"terminated": {"reason": last, "exitCode": 137}}
    conds = (
        [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes"}]
        if unschedulable
        else []
    )
    return {"metadata": {"name": name}, "status": {"containerStatuses": [cs], "conditions": conds}}


def by_type(conds):
    return {c.type: c for c in conds}


def test_crashloop_is_degraded_with_its_reason_and_last_exit():
    conds, health = evaluate([pod("p1", waiting="CrashLoopBackOff", last="Error")], None, desired=1, suspended=False)
    c = by_type(conds)
    assert (c["Degraded"].status, c["Degraded"].reason) == ("True", "CrashLoopBackOff")
    assert "p1" in c["Degraded"].message
    assert "Error" in c["Degraded"].message
    assert c["Healthy"].status == "False"
    assert health["status"] == "Unhealthy"


def test_oomkilled_outranks_other_problems():
    problems = pod_problems([pod("a", waiting="ImagePullBackOff"), pod("b", last="OOMKilled")])
    assert [r for r, _ in problems] == ["OOMKilled", "ImagePullBackOff"]


def test_unschedulable_is_reported():
    ((reason, msg),) = pod_problems([pod("a", unschedulable=True)])
    assert reason == "Unschedulable"
    assert "0/1 nodes" in msg


def test_probe_failure_on_one_of_two_replicas():
    probe = ProbeResult("t", {"a": ReplicaProbe(True, "ready"), "b": ReplicaProbe(False, "/ready answered 503: db")})
    conds, health = evaluate([pod("a"), pod("b")], probe, desired=2, suspended=False)
    c = by_type(conds)
    assert (c["Healthy"].status, c["Degraded"].status, c["Degraded"].reason) == (
        "True",
        "True",
        "ProbeFailed",
    )
    assert health == {
        "healthyReplicas": 1,
        "lastProbeTime": "t",
        "status": "Degraded",
        "message": c["Degraded"].message,
    }


def test_all_healthy():
    probe = ProbeResult("t", {"a": ReplicaProbe(True, "ready")})
    conds, health = evaluate([pod("a")], probe, desired=1, suspended=False)
    c = by_type(conds)
    assert (c["Healthy"].status, c["Degraded"].status) == ("True", "False")
    assert health["status"] == "Healthy"


def test_results_for_pods_that_are_gone_are_ignored():
    probe = ProbeResult("t", {"old": ReplicaProbe(False, "refused")})
    conds, _ = evaluate([pod("new")], probe, desired=1, suspended=False)
    assert by_type(conds)["Healthy"].reason == "NoReadyReplicas"
    assert by_type(conds)["Degraded"].status == "False"


def test_unprobed_replicas_fall_back_to_pod_readiness():
    ready = pod("a")
    ready["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    conds, health = evaluate([ready, pod("b")], None, desired=2, suspended=False)
    c = by_type(conds)
    assert (c["Healthy"].status, c["Healthy"].reason) == ("True", "PodsReady")
    assert (c["Degraded"].status, c["Degraded"].reason) == ("True", "ReplicasUnavailable")
    assert health["healthyReplicas"] == 1


def test_suspended_is_not_unhealthy():
    conds, health = evaluate([], None, desired=0, suspended=True)
    assert by_type(conds)["Degraded"].status == "False"
    assert health["status"] == "Suspended"
