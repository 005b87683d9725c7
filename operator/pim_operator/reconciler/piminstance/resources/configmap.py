"""The instance's model snapshot: what its pods serve, even if the PimModel goes away."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.reconciler.piminstance.resources import names

MODEL_KEY = "model.json"


def make_configmap(instance: PimInstance, snapshot_json: str) -> dict[str, Any]:
    """``snapshot_json`` is the normalized model (``Model.to_dict()``) as canonical JSON."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": names.child_metadata(instance, names.configmap(instance.name)),
        "data": {MODEL_KEY: snapshot_json},
    }


def config_digest(configmap: Mapping[str, Any]) -> str:
    """A digest of the ConfigMap's data, put on the pod template so that any change rolls the pods."""
    h = hashlib.sha256()
    for key, value in sorted((configmap.get("data") or {}).items()):
        h.update(key.encode())
        h.update(b"\0")
        h.update(value.encode())
        h.update(b"\0")
    return "sha256:" + h.hexdigest()
