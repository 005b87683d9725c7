"""NodePort clashes between instances: the earlier claim keeps the port, the later one is told."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pim_operator.apis.v1alpha1.types import InstanceSpec


def _claim(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = obj["metadata"]
    return (str(meta.get("creationTimestamp") or ""), meta.get("namespace") or "", meta["name"])


def conflict(instance: Mapping[str, Any], spec: InstanceSpec, others: Iterable[Mapping[str, Any]]) -> str | None:
    """A message naming the instance that holds this one's nodePort, or None if the port is free."""
    if spec.node_port is None or spec.service_type == "ClusterIP":
        return None
    mine = _claim(instance)
    for other in others:
        if other["metadata"].get("uid") == instance["metadata"].get("uid"):
            continue
        if other["metadata"].get("deletionTimestamp"):
            continue
        o = other.get("spec") or {}
        if o.get("nodePort") != spec.node_port or o.get("serviceType", "ClusterIP") == "ClusterIP":
            continue
        if _claim(other) < mine:
            ns, name = other["metadata"].get("namespace"), other["metadata"]["name"]
            return f"nodePort {spec.node_port} is already claimed by PimInstance {ns}/{name}"
    return None
