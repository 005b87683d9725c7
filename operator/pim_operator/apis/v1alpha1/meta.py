"""The parts of ``metadata`` the operator reads, typed once when an object enters its caches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ObjectMeta:
    name: str
    namespace: str = ""
    uid: str = ""
    generation: int = 0
    resource_version: str = ""
    creation_timestamp: str = ""
    deletion_timestamp: str | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ObjectMeta:
        meta = body["metadata"]
        return cls(
            name=meta["name"],
            namespace=meta.get("namespace") or "",
            uid=meta.get("uid") or "",
            generation=int(meta.get("generation") or 0),
            resource_version=meta.get("resourceVersion") or "",
            creation_timestamp=str(meta.get("creationTimestamp") or ""),
            deletion_timestamp=meta.get("deletionTimestamp") or None,
        )

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    def reference(self, api_version: str, kind: str) -> dict[str, Any]:
        """An ObjectReference, as Events name the object they are about."""
        return {
            "apiVersion": api_version,
            "kind": kind,
            "name": self.name,
            "namespace": self.namespace,
            "uid": self.uid or None,
            "resourceVersion": self.resource_version or None,
        }
