"""Building and watching pim.dev objects in tests."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from tests.support.cluster import Cluster
from tests.support.waiting import wait_for

#: A small model the suites share: one entity, an exact decimal, a unique key.
BOOKS = """
domain: library
version: 1.0.0
entities:
  - name: Book
    attributes:
      title: {type: string, max_length: 200}
      isbn: {type: string, unique: true}
      price: {type: decimal, required: false}
"""
FAKE_TOLERATION = {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}


def status_of(cluster: Cluster, kind: str, ns: str, name: str) -> dict[str, Any]:
    return cluster.get(kind, name, "-n", ns).get("status") or {}


def condition(cluster: Cluster, kind: str, ns: str, name: str, type_: str) -> dict[str, Any]:
    for c in status_of(cluster, kind, ns, name).get("conditions") or ():
        if c["type"] == type_:
            return c
    return {}


def wait_condition(
    cluster: Cluster,
    kind: str,
    ns: str,
    name: str,
    type_: str,
    status: str,
    reason: str | None = None,
    timeout: float = 60,
) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []

    def check() -> dict[str, Any] | None:
        c = condition(cluster, kind, ns, name, type_)
        seen[:] = [c]
        if c.get("status") == status and (reason is None or c.get("reason") == reason):
            return c
        return None

    try:
        return wait_for(check, timeout, f"{kind} {ns}/{name} {type_}={status} {reason or ''}")
    except AssertionError as exc:  # say what the condition was instead
        raise AssertionError(f"{exc}; the condition was {seen[0] if seen else 'never read'}") from None


def apply(cluster: Cluster, obj: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(obj))


def pim_model(ns: str, name: str, source: str, fmt: str = "yaml") -> dict[str, Any]:
    return {
        "apiVersion": "pim.dev/v1alpha1",
        "kind": "PimModel",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"format": fmt, "source": source},
    }


def pim_instance(ns: str, name: str, model: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "pim.dev/v1alpha1",
        "kind": "PimInstance",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "modelRef": {"name": model},
            "nodeSelector": {"type": "kwok"},
            "tolerations": [FAKE_TOLERATION],
            **spec,
        },
    }


def real_pod_instance(ns: str, name: str, model: str, **spec: Any) -> dict[str, Any]:
    """A PimInstance whose pods run for real: no kwok placement, so they land on a real node."""
    return {
        "apiVersion": "pim.dev/v1alpha1",
        "kind": "PimInstance",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"modelRef": {"name": model}, **spec},
    }


def events_for(cluster: Cluster, ns: str, name: str) -> list[dict[str, Any]]:
    return cluster.get("events", "-n", ns, "--field-selector", f"involvedObject.name={name}")["items"]


def patch_spec(cluster: Cluster, kind: str, ns: str, name: str, spec: dict[str, Any]) -> None:
    """Merge ``spec`` into the object's spec, as ``kubectl patch --type=merge`` does."""
    cluster.kubectl("patch", kind, name, "-n", ns, "--type=merge", "-p", json.dumps({"spec": spec}))


MANAGED = "app.kubernetes.io/managed-by=pim-operator"
#: The children every instance has exactly one of (PVCs only when persistent, and a Retain PVC has no owner).
CHILD_KINDS = ("configmaps", "deployments", "services")


def unconverged(cluster: Cluster, ns: str, names: list[str]) -> list[str]:
    """Why the instances in ``names`` are not all Ready for their current generation (and why some
    other has a Deployment); empty once they are."""
    items = {i["metadata"]["name"]: i for i in cluster.get("pi", "-n", ns)["items"]}
    problems = []
    for name in names:
        inst = items.get(name)
        if inst is None:
            problems.append(f"{name}: missing")
            continue
        st = inst.get("status") or {}
        ready = next((c for c in st.get("conditions") or () if c["type"] == "Ready"), None)
        if ready is None or ready["status"] != "True":
            problems.append(f"{name}: Ready={ready and ready['status']} {ready and ready['reason']}")
        elif st.get("observedGeneration") != inst["metadata"]["generation"]:
            problems.append(f"{name}: observed {st.get('observedGeneration')} of {inst['metadata']['generation']}")
    deployments = {d["metadata"]["name"] for d in cluster.get("deployments", "-n", ns, "-l", MANAGED)["items"]}
    problems += [f"{name}: Deployment missing" for name in sorted(set(names) - deployments)]
    problems += [f"{name}: Deployment of no wanted instance" for name in sorted(deployments - set(names))]
    return problems


def converged(cluster: Cluster, ns: str, names: list[str]) -> bool:
    return not unconverged(cluster, ns, names)


def wait_converged(cluster: Cluster, ns: str, names: list[str], timeout: float, what: str) -> None:
    """Wait until :func:`converged`; on timeout, say what was still wrong."""
    left: list[str] = []

    def check() -> bool:
        left[:] = unconverged(cluster, ns, names)
        return not left

    try:
        wait_for(check, timeout, what)
    except AssertionError as exc:
        first = left[0].partition(":")[0] if left else ""
        seen = cluster.kubectl("get", "deployment,replicaset,pods", "-n", ns, "-o", "wide", check=False).stdout
        detail = "\n".join(line for line in seen.splitlines() if first in line or line.startswith("NAME"))
        raise AssertionError(f"{exc}\n{len(left)} problems, first: {left[:10]}\n{detail}") from None


def children_problems(cluster: Cluster, ns: str) -> list[str]:
    """What is wrong with the operator's children in ``ns``: an instance without exactly one child of
    each kind, or a child whose owner is gone (an orphan). Empty when all is well."""
    owners = {i["metadata"]["uid"]: i["metadata"]["name"] for i in cluster.get("pi", "-n", ns)["items"]}
    problems = []
    for kind in CHILD_KINDS:
        per_owner: dict[str, int] = dict.fromkeys(owners, 0)
        for child in cluster.get(kind, "-n", ns, "-l", MANAGED)["items"]:
            refs = [r["uid"] for r in child["metadata"].get("ownerReferences") or () if r.get("controller")]
            if not refs or refs[0] not in owners:
                problems.append(f"orphan {kind} {child['metadata']['name']}")
            else:
                per_owner[refs[0]] += 1
        problems += [f"{owners[u]} has {n} {kind}" for u, n in per_owner.items() if n != 1]
    return problems


def operator_events(cluster: Cluster, ns: str) -> list[dict[str, Any]]:
    """The Events the operator posted in ``ns``."""
    return [
        e
        for e in cluster.get("events", "-n", ns)["items"]
        if (e.get("source") or {}).get("component") == "pim-operator" or e.get("reportingComponent") == "pim-operator"
    ]


def apply_all(cluster: Cluster, objs: list[dict[str, Any]]) -> None:
    """Apply many objects in one kubectl call (a burst, as a user's ``kubectl apply -f dir/`` is)."""
    cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}))


@contextlib.contextmanager
def scratch_namespace(cluster: Cluster, prefix: str) -> Iterator[str]:
    """A namespace for one test, deleted (and waited for) when the test ends: tests that make many
    instances give the kwok node's pod capacity (110) back to the ones after them."""
    ns = cluster.namespace(prefix)
    try:
        yield ns
    finally:
        cluster.kubectl("delete", "namespace", ns, "--wait=true", "--timeout=180s", check=False, timeout=240)
