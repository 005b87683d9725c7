"""What the operator has seen through its watches: the informer stores of a Go controller.

Reconciles read from here instead of the API server, so a resync of settled objects sends no
requests at all. Stored bodies drop ``managedFields``, which are most of an object's size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

Key = tuple[str, str]  # (namespace, name)


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def strip(body: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(body)
    meta = dict(out.get("metadata") or {})
    meta.pop("managedFields", None)
    if LAST_APPLIED in (meta.get("annotations") or {}):
        meta["annotations"] = {k: v for k, v in meta["annotations"].items() if k != LAST_APPLIED}
    out["metadata"] = meta
    return out


def pod_essentials(body: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a Pod that health checks read: most of a Pod is its spec, which they never do."""
    meta = body.get("metadata") or {}
    st = body.get("status") or {}
    return {
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "labels", "deletionTimestamp") if k in meta},
        "status": {
            "podIP": st.get("podIP"),
            "phase": st.get("phase"),
            "conditions": st.get("conditions") or [],
            "containerStatuses": [
                {k: cs[k] for k in ("name", "ready", "restartCount", "state", "lastState") if k in cs}
                for cs in st.get("containerStatuses") or ()
            ],
        },
    }


class Store:
    """Objects of one kind by (namespace, name)."""

    def __init__(self) -> None:
        self._items: dict[Key, dict[str, Any]] = {}

    def put(self, body: Mapping[str, Any]) -> dict[str, Any]:
        obj = strip(body)
        meta = obj["metadata"]
        self._items[(meta.get("namespace") or "", meta["name"])] = obj
        return obj

    def remove(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._items.pop((namespace, name), None)

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._items.get((namespace, name))

    def keys(self) -> list[Key]:
        return list(self._items)

    def values(self) -> Iterator[dict[str, Any]]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)


class InstanceStore(Store):
    """PimInstances, also indexed by the model they reference."""

    def __init__(self) -> None:
        super().__init__()
        self._by_model: dict[Key, set[str]] = defaultdict(set)

    def put(self, body: Mapping[str, Any]) -> dict[str, Any]:
        meta = body["metadata"]
        self._unindex(meta.get("namespace") or "", meta["name"])
        obj = super().put(body)
        model = ((obj.get("spec") or {}).get("modelRef") or {}).get("name")
        if model:
            self._by_model[(meta.get("namespace") or "", model)].add(meta["name"])
        return obj

    def remove(self, namespace: str, name: str) -> dict[str, Any] | None:
        self._unindex(namespace, name)
        return super().remove(namespace, name)

    def using(self, namespace: str, model: str) -> list[str]:
        return sorted(self._by_model.get((namespace, model), ()))

    def _unindex(self, namespace: str, name: str) -> None:
        old = self.get(namespace, name)
        if old is None:
            return
        model = ((old.get("spec") or {}).get("modelRef") or {}).get("name")
        names = self._by_model.get((namespace, model))
        if names is not None:
            names.discard(name)
            if not names:
                del self._by_model[(namespace, model)]


class PodStore(Store):
    """Pods, also indexed by the instance label, so a reconcile finds its pods without a scan."""

    def __init__(self, label: str) -> None:
        super().__init__()
        self._label = label
        self._by_owner: dict[Key, set[str]] = defaultdict(set)

    def put(self, body: Mapping[str, Any]) -> dict[str, Any]:
        obj = super().put(pod_essentials(body))
        meta = obj["metadata"]
        owner = (meta.get("labels") or {}).get(self._label)
        if owner:
            self._by_owner[(meta.get("namespace") or "", owner)].add(meta["name"])
        return obj

    def remove(self, namespace: str, name: str) -> dict[str, Any] | None:
        old = super().remove(namespace, name)
        if old is not None:
            owner = (old["metadata"].get("labels") or {}).get(self._label)
            names = self._by_owner.get((namespace, owner or ""))
            if names is not None:
                names.discard(name)
                if not names:
                    self._by_owner.pop((namespace, owner or ""), None)
        return old

    def owned_by(self, namespace: str, owner: str) -> list[dict[str, Any]]:
        return [p for n in sorted(self._by_owner.get((namespace, owner), ())) if (p := self.get(namespace, n))]
