"""What the operator has seen through its watches: the informer stores of a Go controller.

Reconciles read from here instead of the API server, so a resync of settled objects sends no
requests at all. PimModels and PimInstances are typed once, as they arrive; children are kept as
bodies without ``managedFields`` (most of an object's size), Pods as the little health checks read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from pim_operator.apis.v1alpha1.labels import INSTANCE_LABEL
from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.apis.v1alpha1.pimmodel_types import PimModel

Key = tuple[str, str]  # (namespace, name)
T = TypeVar("T")


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


class Store(Generic[T]):
    """Objects of one kind by (namespace, name), each turned into a ``T`` once, as it is stored."""

    def __init__(self, parse: Callable[[Mapping[str, Any]], T]) -> None:
        self._parse = parse
        self._items: dict[Key, T] = {}

    def put(self, body: Mapping[str, Any]) -> T:
        meta = body["metadata"]
        obj = self._parse(body)
        self._items[(meta.get("namespace") or "", meta["name"])] = obj
        return obj

    def remove(self, namespace: str, name: str) -> T | None:
        return self._items.pop((namespace, name), None)

    def get(self, namespace: str, name: str) -> T | None:
        return self._items.get((namespace, name))

    def keys(self) -> list[Key]:
        return list(self._items)

    def values(self) -> Iterator[T]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)


def child_store() -> Store[dict[str, Any]]:
    return Store(strip)


def model_store() -> Store[PimModel]:
    return Store(PimModel.from_body)


class InstanceStore(Store[PimInstance]):
    """PimInstances, also indexed by the model they reference."""

    def __init__(self) -> None:
        super().__init__(PimInstance.from_body)
        self._by_model: dict[Key, set[str]] = defaultdict(set)

    def put(self, body: Mapping[str, Any]) -> PimInstance:
        meta = body["metadata"]
        self._unindex(meta.get("namespace") or "", meta["name"])
        obj = super().put(body)
        if obj.model:
            self._by_model[(obj.namespace, obj.model)].add(obj.name)
        return obj

    def remove(self, namespace: str, name: str) -> PimInstance | None:
        self._unindex(namespace, name)
        return super().remove(namespace, name)

    def using(self, namespace: str, model: str) -> list[str]:
        return sorted(self._by_model.get((namespace, model), ()))

    def _unindex(self, namespace: str, name: str) -> None:
        old = self.get(namespace, name)
        if old is None:
            return
        names = self._by_model.get((namespace, old.model))
        if names is not None:
            names.discard(name)
            if not names:
                del self._by_model[(namespace, old.model)]


class PodStore(Store[dict[str, Any]]):
    """Pods, also indexed by their instance label, so a reconcile finds its pods without a scan."""

    def __init__(self) -> None:
        super().__init__(pod_essentials)
        self._by_owner: dict[Key, set[str]] = defaultdict(set)

    def put(self, body: Mapping[str, Any]) -> dict[str, Any]:
        obj = super().put(body)
        meta = obj["metadata"]
        owner = (meta.get("labels") or {}).get(INSTANCE_LABEL)
        if owner:
            self._by_owner[(meta.get("namespace") or "", owner)].add(meta["name"])
        return obj

    def remove(self, namespace: str, name: str) -> dict[str, Any] | None:
        old = super().remove(namespace, name)
        if old is not None:
            owner = (old["metadata"].get("labels") or {}).get(INSTANCE_LABEL)
            names = self._by_owner.get((namespace, owner or ""))
            if names is not None:
                names.discard(name)
                if not names:
                    self._by_owner.pop((namespace, owner or ""), None)
        return old

    def owned_by(self, namespace: str, owner: str) -> list[dict[str, Any]]:
        return [p for n in sorted(self._by_owner.get((namespace, owner), ())) if (p := self.get(namespace, n))]
