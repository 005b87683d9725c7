"""PimModel reconcile: read the text, load it, write status, and wake the instances that use it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pim_operator import events
from pim_operator.apis.v1alpha1 import conditions as cond
from pim_operator.apis.v1alpha1.types import ModelSource
from pim_operator.cache import Key
from pim_operator.context import Operator
from pim_operator.kube import resources
from pim_operator.reconciler.piminstance.status import status_changed
from pim_operator.reconciler.pimmodel.load import Loaded, load
from pim_operator.reconciler.pimmodel.status import make_status


async def load_model(op: Operator, model: Mapping[str, Any]) -> Loaded:
    """Load a PimModel's current text (inline, or from its ConfigMap key) with the engine's loader."""
    meta = model["metadata"]
    src = ModelSource.from_spec(model.get("spec") or {})
    where = f"pimmodel/{meta['namespace']}/{meta['name']}"
    if src.text is not None:
        return load(src.text, src.format, where)
    cm = await op.client.get(resources.CONFIGMAP, meta["namespace"], src.config_map or "")
    if cm is None:
        return Loaded(error=f"{where}: spec.configMapRef: ConfigMap {src.config_map} not found")
    text = (cm.get("data") or {}).get(src.key or "")
    if text is None:
        return Loaded(error=f"{where}: spec.configMapRef: ConfigMap {src.config_map} has no key {src.key!r}")
    return load(text, src.format, f"{where} (configmap {src.config_map}/{src.key})")


async def reconcile(op: Operator, key: Key) -> None:
    ns, name = key
    model = op.models.get(ns, name)
    if model is None or model["metadata"].get("deletionTimestamp"):
        return
    loaded = await load_model(op, model)
    status = make_status(model, loaded, instances=len(op.instances.using(ns, name)), now=events.now())
    current = model.get("status") or {}
    if status_changed(current, status):
        live = await op.client.patch_status(resources.PIMMODEL, ns, name, status)
        if live is not None:
            op.models.put(live)
        for c, good in cond.noteworthy(current.get("conditions"), status["conditions"], ("Valid",)):
            reason = "ModelValid" if good else "ModelInvalid"
            await events.emit(op.client, model, "Normal" if good else "Warning", reason, c["message"])
    if _changes_what_instances_serve(current, status, model):
        for instance in op.instances.using(ns, name):
            op.enqueue_instance((ns, instance))


def _changes_what_instances_serve(
    before: Mapping[str, Any], after: Mapping[str, Any], model: Mapping[str, Any]
) -> bool:
    """Only a new spec, digest or validity concerns the instances; a changed instance count does not.

    Waking every instance on each count change would make creating N instances cost N² reconciles.
    """
    if before.get("observedGeneration") != model["metadata"].get("generation"):
        return True
    valid = (cond.find(before.get("conditions"), "Valid") or {}), (cond.find(after["conditions"], "Valid") or {})
    return before.get("digest") != after.get("digest") or any(
        valid[0].get(k) != valid[1].get(k) for k in ("status", "message")
    )


async def deleted(op: Operator, body: Mapping[str, Any]) -> None:
    """A PimModel is gone: warn on it if instances still use it, and let them say so too."""
    meta = body["metadata"]
    users = op.instances.using(meta["namespace"], meta["name"])
    if users:
        await events.emit(
            op.client,
            body,
            "Warning",
            "DeletedWhileInUse",
            f"PimModel deleted while used by {len(users)} instance(s): {', '.join(users[:10])}; "
            "they keep serving their last snapshot",
        )
    for instance in users:
        op.enqueue_instance((meta["namespace"], instance))
