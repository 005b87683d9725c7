from __future__ import annotations

import pytest

from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.reconciler.piminstance.ports import conflict, holder

pytestmark = pytest.mark.unit


def inst(name: str, created: str, node_port: int | None, service_type: str = "NodePort", ns: str = "a") -> dict:
    spec = {"modelRef": {"name": "m"}, "serviceType": service_type}
    if node_port is not None:
        spec["nodePort"] = node_port
    return {
        "metadata": {"name": name, "namespace": ns, "uid": name, "creationTimestamp": created},
        "spec": spec,
    }


def check(me: dict, *others: dict) -> str | None:
    return conflict(PimInstance.from_body(me), [PimInstance.from_body(o) for o in (me, *others)])


def test_the_later_claim_is_told_who_holds_the_port():
    first = inst("first", "2026-01-01T00:00:00Z", 30080, ns="x")
    second = inst("second", "2026-01-02T00:00:00Z", 30080)
    assert check(first, second) is None
    assert check(second, first) == "nodePort 30080 is already claimed by PimInstance x/first"


def test_same_timestamp_is_broken_by_name_deterministically():
    a, b = inst("a", "t", 30001), inst("b", "t", 30001)
    assert check(a, b) is None
    assert check(b, a) is not None


def test_no_conflict_without_node_port_or_on_another_port():
    assert check(inst("a", "t2", None), inst("b", "t1", None)) is None
    assert check(inst("a", "t2", 30001), inst("b", "t1", 30002)) is None


def test_deleting_holder_releases_the_port():
    holder = inst("h", "t1", 30001)
    holder["metadata"]["deletionTimestamp"] = "t3"
    assert check(inst("late", "t2", 30001), holder) is None


def service(ns: str, instance: str, node_port: int) -> dict:
    return {
        "metadata": {"name": instance, "namespace": ns, "labels": {"app.kubernetes.io/instance": instance}},
        "spec": {"type": "NodePort", "ports": [{"port": 8000, "nodePort": node_port}]},
    }


def test_whoever_holds_the_port_keeps_it_whatever_the_timestamps_say():
    """Created in the same second, the name would pick "a"; but "b" got its Service first."""
    a, b = inst("a", "t", 30001), inst("b", "t", 30001)
    held = holder([service("a", "other", 30002), service("a", "b", 30001)], 30001)
    assert held == ("a", "b")
    objs = [PimInstance.from_body(x) for x in (a, b)]
    assert conflict(objs[0], objs, held) == "nodePort 30001 is already claimed by PimInstance a/b"
    assert conflict(objs[1], objs, held) is None
    assert holder([service("a", "b", 30001)], 30009) is None
