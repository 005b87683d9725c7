"""The parts of ``metadata`` the operator reads, typed once when an object enters its caches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self


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


@dataclass(frozen=True, kw_only=True)
class TypedObject:
    """What every typed pim.dev object has: metadata, its current status, and its identity."""

    api_version: ClassVar[str]
    kind: ClassVar[str]

    meta: ObjectMeta
    status: Mapping[str, Any] = field(default_factory=dict)

    def __init_subclass__(cls, *, api_version: str, kind: str, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        cls.api_version, cls.kind = api_version, kind

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        """The typed object, built once from a body the API server (or a test) gave."""
        return cls(meta=ObjectMeta.from_body(body), status=body.get("status") or {}, **cls.typed_spec(body))

    @classmethod
    def typed_spec(cls, body: Mapping[str, Any]) -> dict[str, Any]:
        """The subclass's own fields, read from ``body["spec"]``."""
        raise NotImplementedError

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def namespace(self) -> str:
        return self.meta.namespace

    @property
    def key(self) -> tuple[str, str]:
        return self.meta.key

    def reference(self) -> dict[str, Any]:
        return self.meta.reference(self.api_version, self.kind)
