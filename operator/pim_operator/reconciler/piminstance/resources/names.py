"""Names and labels of an instance's children: one place, so handlers and builders agree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pim_operator.apis.v1alpha1 import API_VERSION, INSTANCE_KIND

MANAGED_BY = "pim-operator"
APP_NAME = "pim-engine"
PART_OF = "pim"
MODEL_LABEL = "pim.dev/model"
INSTANCE_LABEL = "app.kubernetes.io/instance"
MODEL_DIGEST_ANNOTATION = "pim.dev/model-digest"
CONFIG_DIGEST_ANNOTATION = "pim.dev/config-digest"
CONTAINER = "engine"


def deployment(instance: str) -> str:
    return instance


def service(instance: str) -> str:
    return instance


def configmap(instance: str) -> str:
    return f"{instance}-model"


def pvc(instance: str) -> str:
    return f"{instance}-data"


def hpa(instance: str) -> str:
    return instance


def servicemonitor(instance: str) -> str:
    return instance


def selector_labels(instance: str) -> dict[str, str]:
    """The pod selector: immutable in a Deployment, so it holds nothing that can change."""
    return {"app.kubernetes.io/name": APP_NAME, INSTANCE_LABEL: instance}


def selector_string(instance: str) -> str:
    return ",".join(f"{k}={v}" for k, v in selector_labels(instance).items())


def labels(instance: str, model: str) -> dict[str, str]:
    return {
        **selector_labels(instance),
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/part-of": PART_OF,
        MODEL_LABEL: model,
    }


def owner_reference(parent: Mapping[str, Any]) -> dict[str, Any]:
    meta = parent["metadata"]
    return {
        "apiVersion": API_VERSION,
        "kind": INSTANCE_KIND,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def child_metadata(parent: Mapping[str, Any], name: str, model: str, *, owned: bool = True) -> dict[str, Any]:
    meta = parent["metadata"]
    out: dict[str, Any] = {
        "name": name,
        "namespace": meta["namespace"],
        "labels": labels(meta["name"], model),
    }
    if owned:
        out["ownerReferences"] = [owner_reference(parent)]
    return out


def service_url(instance: str, namespace: str, port: int) -> str:
    return f"http://{service(instance)}.{namespace}.svc:{port}"
