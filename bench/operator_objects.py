"""What the operator benchmark applies, built without a cluster: the PimModel and PimInstances for
the operator's run, and the same children rendered by the operator's own builders for the baseline,
plus the readiness tests both runs wait on."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.reconciler.piminstance.resources.configmap import config_digest, make_configmap
from pim_operator.reconciler.piminstance.resources.deployment import make_deployment
from pim_operator.reconciler.piminstance.resources.service import make_service
from pim_operator.reconciler.pimmodel.load import load
from pim_operator.settings import DEFAULT_ENGINE_IMAGE

MODEL = Path(__file__).resolve().parent / "item.yaml"
MODEL_NAME = "items"
FAKE_TOLERATION = {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}


def instance(ns: str, i: int) -> dict[str, Any]:
    return {
        "apiVersion": "pim.dev/v1alpha1",
        "kind": "PimInstance",
        "metadata": {"name": f"inst-{i:04d}", "namespace": ns},
        "spec": {
            "modelRef": {"name": MODEL_NAME},
            "nodeSelector": {"type": "kwok"},
            "tolerations": [FAKE_TOLERATION],
        },
    }


def model(ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "pim.dev/v1alpha1",
        "kind": "PimModel",
        "metadata": {"name": MODEL_NAME, "namespace": ns},
        "spec": {"format": "yaml", "source": MODEL.read_text()},
    }


def children(ns: str, i: int) -> list[dict[str, Any]]:
    """What the operator would apply for instance ``i``, rendered by its own builders, minus the
    ownerReferences (there is no owner here, and the garbage collector would delete orphans)."""
    body = instance(ns, i)
    body["metadata"]["uid"] = f"00000000-0000-0000-0000-{i:012d}"
    inst = PimInstance.from_body(body)
    loaded = load(MODEL.read_text(), "yaml", f"pimmodel/{ns}/{MODEL_NAME}")
    assert loaded.model is not None, loaded.error
    cm = make_configmap(inst, loaded.snapshot)
    objs = [
        cm,
        make_deployment(
            inst,
            image=DEFAULT_ENGINE_IMAGE,
            model_digest=loaded.model.digest,
            config_digest=config_digest(cm),
        ),
        make_service(inst),
    ]
    for obj in objs:
        obj["metadata"].pop("ownerReferences", None)
    return objs


def deployment_ready(obj: Mapping[str, Any]) -> bool:
    return int((obj.get("status") or {}).get("readyReplicas") or 0) == 1


def instance_ready(obj: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (obj.get("status") or {}).get("conditions") or ()
    )
