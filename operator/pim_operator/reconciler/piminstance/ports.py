"""NodePort clashes between instances: the earlier claim keeps the port, the later one is told."""

from __future__ import annotations

from collections.abc import Iterable

from pim_operator.apis.v1alpha1.piminstance_types import PimInstance


def _claim(instance: PimInstance) -> tuple[str, str, str]:
    return (instance.meta.creation_timestamp, instance.namespace, instance.name)


def conflict(instance: PimInstance, others: Iterable[PimInstance]) -> str | None:
    """A message naming the instance that holds this one's nodePort, or None if the port is free."""
    port = instance.node_port
    if port is None:
        return None
    mine = _claim(instance)
    for other in others:
        if other.meta.uid == instance.meta.uid or other.meta.deletion_timestamp:
            continue
        if other.node_port == port and _claim(other) < mine:
            return f"nodePort {port} is already claimed by PimInstance {other.namespace}/{other.name}"
    return None
