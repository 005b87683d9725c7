"""A PimModel's status, computed from the load result and the instances that use it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pim_operator.apis.v1alpha1 import conditions as cond
from pim_operator.reconciler.pimmodel.load import Loaded


def make_status(
    model: Mapping[str, Any],
    loaded: Loaded,
    *,
    instances: int,
    now: str,
) -> dict[str, Any]:
    """The whole status. An invalid model keeps the digest and entities of its last valid version."""
    meta = model["metadata"]
    current: Mapping[str, Any] = model.get("status") or {}
    generation = int(meta.get("generation") or 0)
    if loaded.model is not None:
        m = loaded.model
        valid = cond.Condition("Valid", cond.TRUE, "Loaded", f"{len(m.entities)} entities, digest {m.digest}")
        facts: dict[str, Any] = {
            "domain": m.domain,
            "version": m.version,
            "digest": m.digest,
            "shortDigest": m.digest.removeprefix("sha256:")[:12],
            "entities": [e.name for e in m.entities],
            "entityCount": len(m.entities),
        }
    else:
        valid = cond.Condition("Valid", cond.FALSE, "LoadFailed", loaded.error or "")
        facts = {
            k: current[k]
            for k in ("domain", "version", "digest", "shortDigest", "entities", "entityCount")
            if k in current
        }
    ready = cond.summarize([valid])
    return {
        "observedGeneration": generation,
        "conditions": cond.merge(current.get("conditions"), [valid, ready], generation=generation, now=now),
        **facts,
        "instances": instances,
    }
