"""The instance's PersistentVolumeClaim; owned (deleted with the instance) only under policy Delete."""

from __future__ import annotations

from typing import Any

from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.reconciler.piminstance.resources import names


def make_pvc(instance: PimInstance) -> dict[str, Any]:
    spec = instance.spec
    body: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": spec.storage.size}},
    }
    if spec.storage.storage_class:
        body["storageClassName"] = spec.storage.storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": names.child_metadata(instance, names.pvc(instance.name), owned=not spec.storage.retain),
        "spec": body,
    }
