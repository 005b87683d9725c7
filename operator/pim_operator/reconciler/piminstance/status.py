"""A PimInstance's status: the conditions its reconcile decided, the Deployment's, and the facts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pim_operator.apis.v1alpha1 import piminstance_lifecycle as lifecycle
from pim_operator.apis.v1alpha1.conditions import Condition, merge
from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.reconciler.piminstance.resources import names


def make_status(
    instance: PimInstance,
    conditions: Iterable[Condition],
    *,
    deployment: Mapping[str, Any] | None,
    model_digest: str | None,
    extra: Mapping[str, Any] | None = None,
    now: str,
) -> dict[str, Any]:
    """The whole status.

    ``conditions`` are what the reconcile found (model resolution, children, health); Available
    and Progressing are read from ``deployment`` here, and Ready summarizes them all.
    """
    generation = instance.meta.generation
    found = [*conditions, *lifecycle.propagate_deployment(deployment, suspended=instance.spec.suspend)]
    dst = (deployment or {}).get("status") or {}
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "conditions": merge(
            instance.status.get("conditions"), lifecycle.CONDITIONS.with_ready(found), generation=generation, now=now
        ),
        "replicas": int(dst.get("replicas") or 0),
        "readyReplicas": int(dst.get("readyReplicas") or 0),
        "selector": names.selector_string(instance.name),
        "url": names.service_url(instance.name, instance.namespace, instance.spec.port),
    }
    if model_digest:
        status["modelDigest"] = model_digest
    status.update(extra or {})
    return status
