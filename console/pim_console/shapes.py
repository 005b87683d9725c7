"""The v2 master controller's response shapes, filled from PimModels and PimInstances.

The fields are v2's own (``InstanceResponse``: id, model, port, status, created_at, database, pid,
uptime; ``ModelResponse``: name, version, loaded_at, source_file, description, entities, services),
plus one ``kubernetes`` object with what only Kubernetes knows (names, readiness, URL). ``pid`` is
always null: an instance is pods, not a process. ``status`` keeps v2's words: running, starting,
unhealthy, stopping, plus stopped (suspended or scaled to zero) and error (cannot run as specified).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pim_console import names

DB_PATH = "/data/pim.db"


def conditions(obj: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {c.get("type", ""): c for c in ((obj.get("status") or {}).get("conditions") or ())}


def _is(conds: Mapping[str, Mapping[str, Any]], type_: str, status: str) -> bool:
    return (conds.get(type_) or {}).get("status") == status


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def uptime(since: datetime | None, now: datetime) -> str:
    """v2's uptime text: ``1h 2m 3s``, ``2m 3s`` or ``3s``."""
    if since is None:
        return "0s"
    hours, rest = divmod(max(0, int((now - since).total_seconds())), 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {seconds}s"
    if minutes:
        return f"{minutes}m {seconds}s"
    return f"{seconds}s"


def instance_status(instance: Mapping[str, Any]) -> str:
    meta = instance.get("metadata") or {}
    spec = instance.get("spec") or {}
    conds = conditions(instance)
    if meta.get("deletionTimestamp"):
        return "stopping"
    if spec.get("suspend") or spec.get("replicas") == 0:
        return "stopped"
    if _is(conds, "Ready", "True"):
        return "running"
    if _is(conds, "Degraded", "True"):
        return "unhealthy"
    if _is(conds, "ModelResolved", "False") or _is(conds, "ResourcesReady", "False"):
        return "error"
    return "starting"


def database(instance: Mapping[str, Any]) -> str:
    name = (instance.get("metadata") or {}).get("name", "")
    storage = (instance.get("spec") or {}).get("storage") or {}
    if storage.get("type") == "Persistent":
        return f"sqlite://{DB_PATH} on PersistentVolumeClaim {name}-data"
    return f"sqlite://{DB_PATH} on an emptyDir (one per pod, lost with it)"


def instance_model(instance: Mapping[str, Any], models: Mapping[str, Mapping[str, Any]]) -> str:
    """The v2 model name of an instance: its model's original name, as loaded."""
    ref = ((instance.get("spec") or {}).get("modelRef") or {}).get("name", "")
    model = models.get(ref)
    if model is not None:
        return names.original(model, names.MODEL_NAME)
    annotated = ((instance.get("metadata") or {}).get("annotations") or {}).get(names.MODEL_NAME)
    return str(annotated or ref)


def config_of(instance: Mapping[str, Any]) -> dict[str, Any]:
    raw = ((instance.get("metadata") or {}).get("annotations") or {}).get(names.CONFIG)
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def kubernetes_of(instance: Mapping[str, Any]) -> dict[str, Any]:
    meta = instance.get("metadata") or {}
    status = instance.get("status") or {}
    ready = conditions(instance).get("Ready") or {}
    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "url": status.get("url"),
        "ready": ready.get("status") == "True",
        "reason": ready.get("reason"),
        "message": ready.get("message"),
        "replicas": status.get("replicas", 0),
        "readyReplicas": status.get("readyReplicas", 0),
    }


def instance_info(
    instance: Mapping[str, Any], models: Mapping[str, Mapping[str, Any]], now: datetime | None = None
) -> dict[str, Any]:
    """``InstanceResponse`` for a PimInstance; ``models`` maps PimModel names to objects."""
    now = now or datetime.now(UTC)
    meta = instance.get("metadata") or {}
    status = instance_status(instance)
    since = parse_time((conditions(instance).get("Ready") or {}).get("lastTransitionTime"))
    return {
        "id": names.original(instance, names.INSTANCE_ID),
        "model": instance_model(instance, models),
        "port": int((instance.get("spec") or {}).get("port") or 8000),
        "status": status,
        "created_at": meta.get("creationTimestamp", ""),
        "database": database(instance),
        "pid": None,
        "uptime": uptime(since, now) if status == "running" else "0s",
        "config": config_of(instance),
        "kubernetes": kubernetes_of(instance),
    }


def health_info(instance: Mapping[str, Any], replicas: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """v2's health answer (instance_id, healthy, status, port) and the probe of each replica."""
    status = instance_status(instance)
    healthy = status == "running" and any(r.get("healthy") for r in replicas)
    return {
        "instance_id": names.original(instance, names.INSTANCE_ID),
        "healthy": healthy,
        "status": status if healthy or status != "running" else "unhealthy",
        "port": int((instance.get("spec") or {}).get("port") or 8000),
        "replicas": list(replicas),
    }


def source_file(model: Mapping[str, Any]) -> str:
    annotated = ((model.get("metadata") or {}).get("annotations") or {}).get(names.SOURCE_FILE)
    if annotated:
        return str(annotated)
    ref = (model.get("spec") or {}).get("configMapRef")
    if ref:
        return f"configmap/{ref.get('name')}/{ref.get('key')}"
    return f"pimmodel/{(model.get('metadata') or {}).get('name')}"


def validity(model: Mapping[str, Any]) -> tuple[bool | None, str]:
    """The operator's verdict: True/False with the loader's message, None while it has not looked."""
    valid = conditions(model).get("Valid") or {}
    meta = model.get("metadata") or {}
    if valid.get("observedGeneration") not in (None, meta.get("generation")):
        return None, "the operator has not validated this version yet"
    if valid.get("status") == "True":
        return True, str(valid.get("message") or "")
    if valid.get("status") == "False":
        return False, str(valid.get("message") or valid.get("reason") or "")
    return None, "not validated yet"


def model_info(model: Mapping[str, Any], parsed: Any | None, using: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """``ModelResponse`` for a PimModel; ``parsed`` is its loaded ``pim_engine`` Model, if it loads."""
    meta = model.get("metadata") or {}
    status = model.get("status") or {}
    valid, message = validity(model)
    return {
        "name": names.original(model, names.MODEL_NAME),
        "version": parsed.version if parsed is not None else str(status.get("version") or ""),
        "loaded_at": meta.get("creationTimestamp", ""),
        "source_file": source_file(model),
        "description": parsed.description if parsed is not None else None,
        "entities": [e.name for e in parsed.entities] if parsed is not None else list(status.get("entities") or ()),
        "services": [s.name for s in parsed.services] if parsed is not None else [],
        "kubernetes": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "valid": valid,
            "message": message,
            "digest": status.get("digest"),
            "instances": sorted(names.original(i, names.INSTANCE_ID) for i in using),
        },
    }


def keeps_data(instance: Mapping[str, Any]) -> bool:
    """Whether the data outlives the PimInstance (a persistent volume under reclaimPolicy Retain)."""
    storage = (instance.get("spec") or {}).get("storage") or {}
    return storage.get("type") == "Persistent" and storage.get("reclaimPolicy", "Retain") == "Retain"
