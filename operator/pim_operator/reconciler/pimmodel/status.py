"""A PimModel's status, computed from the load result and the instances that use it."""

from __future__ import annotations

from typing import Any

from pim_operator.apis.v1alpha1 import pimmodel_lifecycle as lifecycle
from pim_operator.apis.v1alpha1.conditions import merge
from pim_operator.apis.v1alpha1.pimmodel_types import PimModel
from pim_operator.reconciler.pimmodel.load import Loaded

#: What status says about the model itself; an invalid model keeps those of its last valid version.
FACTS = ("domain", "version", "digest", "shortDigest", "entities", "entityCount")


def make_status(model: PimModel, loaded: Loaded, *, instances: int, now: str) -> dict[str, Any]:
    """The whole status. An invalid model keeps the digest and entities of its last valid version."""
    generation = model.meta.generation
    if loaded.model is not None:
        m = loaded.model
        valid = lifecycle.mark_loaded(len(m.entities), m.digest)
        facts: dict[str, Any] = {
            "domain": m.domain,
            "version": m.version,
            "digest": m.digest,
            "shortDigest": m.digest.removeprefix("sha256:")[:12],
            "entities": [e.name for e in m.entities],
            "entityCount": len(m.entities),
        }
    else:
        valid = lifecycle.mark_load_failed(loaded.error)
        facts = {k: model.status[k] for k in FACTS if k in model.status}
    conditions = lifecycle.CONDITIONS.with_ready([valid])
    return {
        "observedGeneration": generation,
        "conditions": merge(model.status.get("conditions"), conditions, generation=generation, now=now),
        **facts,
        "instances": instances,
    }
