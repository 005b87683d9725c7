"""NodePort clashes between instances: whoever's Service holds the port keeps it; otherwise the
earlier claim wins (creation timestamps have one-second resolution, so ties fall to the name).
The later one is told who holds the port."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pim_operator.apis.v1alpha1.labels import INSTANCE_LABEL
from pim_operator.apis.v1alpha1.piminstance_types import PimInstance


def _claim(instance: PimInstance) -> tuple[str, str, str]:
    return (instance.meta.creation_timestamp, instance.namespace, instance.name)


def holder(services: Iterable[Mapping[str, Any]], port: int) -> tuple[str, str] | None:
    """(namespace, instance) whose Service has ``port`` as a nodePort now, if one of ours does."""
    for svc in services:
        if any(p.get("nodePort") == port for p in (svc.get("spec") or {}).get("ports") or ()):
            meta = svc["metadata"]
            owner = (meta.get("labels") or {}).get(INSTANCE_LABEL)
            if owner:
                return (meta.get("namespace") or "", owner)
    return None


def conflict(
    instance: PimInstance, others: Iterable[PimInstance], held_by: tuple[str, str] | None = None
) -> str | None:
    """A message naming the instance that holds this one's nodePort, or None if the port is free.
    ``held_by`` is the instance whose Service has the port now (see :func:`holder`)."""
    port = instance.node_port
    if port is None:
        return None
    if held_by == (instance.namespace, instance.name):
        return None
    mine = _claim(instance)
    for other in others:
        if other.meta.uid == instance.meta.uid or other.meta.deletion_timestamp or other.node_port != port:
            continue
        if held_by == (other.namespace, other.name) or (held_by is None and _claim(other) < mine):
            return f"nodePort {port} is already claimed by PimInstance {other.namespace}/{other.name}"
    return None
