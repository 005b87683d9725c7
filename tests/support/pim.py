"""Building and watching pim.dev objects in tests."""

from __future__ import annotations

import json
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
    def check() -> dict[str, Any] | None:
        c = condition(cluster, kind, ns, name, type_)
        if c.get("status") == status and (reason is None or c.get("reason") == reason):
            return c
        return None

    return wait_for(check, timeout, f"{kind} {ns}/{name} {type_}={status} {reason or ''}")


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


def events_for(cluster: Cluster, ns: str, name: str) -> list[dict[str, Any]]:
    return cluster.get("events", "-n", ns, "--field-selector", f"involvedObject.name={name}")["items"]


def patch_spec(cluster: Cluster, kind: str, ns: str, name: str, spec: dict[str, Any]) -> None:
    """Merge ``spec`` into the object's spec, as ``kubectl patch --type=merge`` does."""
    cluster.kubectl("patch", kind, name, "-n", ns, "--type=merge", "-p", json.dumps({"spec": spec}))
