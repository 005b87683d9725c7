"""PimModel reconcile: read the text, load it, write status, and wake the instances that use it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pim_operator import events
from pim_operator.apis.v1alpha1 import pimmodel_lifecycle as lifecycle
from pim_operator.apis.v1alpha1.conditions import find
from pim_operator.apis.v1alpha1.pimmodel_types import PimModel
from pim_operator.cache import Key
from pim_operator.kube import kinds
from pim_operator.kube.diff import status_changed
from pim_operator.reconciler.pimmodel.load import Loaded, load_async
from pim_operator.reconciler.pimmodel.status import make_status
from pim_operator.state import Operator


async def load_model(op: Operator, model: PimModel) -> Loaded:
    """Load a PimModel's current text (inline, or from its ConfigMap key) with the engine's loader."""
    src, where = model.source, model.where
    if src.text is not None:
        return await load_async(src.text, src.format, where)
    cm = await op.client.get(kinds.CONFIGMAP, model.namespace, src.config_map or "")
    if cm is None:
        return Loaded(error=f"{where}: spec.configMapRef: ConfigMap {src.config_map} not found")
    text = (cm.get("data") or {}).get(src.key or "")
    if text is None:
        return Loaded(error=f"{where}: spec.configMapRef: ConfigMap {src.config_map} has no key {src.key!r}")
    return await load_async(text, src.format, f"{where} (configmap {src.config_map}/{src.key})")


async def reconcile(op: Operator, key: Key) -> None:
    ns, name = key
    model = op.models.get(ns, name)
    if model is None or model.meta.deletion_timestamp:
        return
    loaded = await load_model(op, model)
    status = make_status(model, loaded, instances=len(op.instances.using(ns, name)), now=events.now())
    current = model.status
    if status_changed(current, status):
        body = await op.client.patch_status(kinds.PIMMODEL, ns, name, status)
        if body is not None:
            op.models.put(body)
        for c, good in lifecycle.CONDITIONS.noteworthy(current.get("conditions"), status["conditions"]):
            reason = lifecycle.EVENT_VALID if good else lifecycle.EVENT_INVALID
            await events.emit(op.client, model.reference(), "Normal" if good else "Warning", reason, c["message"])
    if _changes_what_instances_serve(current, status, model):
        for instance in op.instances.using(ns, name):
            op.enqueue_instance((ns, instance))


def _changes_what_instances_serve(before: Mapping[str, Any], after: Mapping[str, Any], model: PimModel) -> bool:
    """Only a new spec, digest or validity concerns the instances; a changed instance count does not.

    Waking every instance on each count change would make creating N instances cost N² reconciles.
    """
    if before.get("observedGeneration") != model.meta.generation:
        return True
    was = find(before.get("conditions"), lifecycle.VALID) or {}
    now = find(after["conditions"], lifecycle.VALID) or {}
    return before.get("digest") != after.get("digest") or any(was.get(k) != now.get(k) for k in ("status", "message"))


async def deleted(op: Operator, body: Mapping[str, Any]) -> None:
    """A PimModel is gone: warn on it if instances still use it, and let them say so too."""
    model = PimModel.from_body(body)
    users = op.instances.using(model.namespace, model.name)
    if users:
        await events.emit(
            op.client,
            model.reference(),
            "Warning",
            lifecycle.EVENT_DELETED_WHILE_IN_USE,
            f"PimModel deleted while used by {len(users)} instance(s): {', '.join(users[:10])}; "
            "they keep serving their last snapshot",
        )
    for instance in users:
        op.enqueue_instance((model.namespace, instance))
