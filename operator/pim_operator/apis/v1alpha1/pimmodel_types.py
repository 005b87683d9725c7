"""The PimModel, typed once from its body: where its text comes from, and its current status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pim_operator.apis.v1alpha1 import API_VERSION, MODEL_KIND
from pim_operator.apis.v1alpha1.meta import ObjectMeta


@dataclass(frozen=True)
class ModelSource:
    """Where a PimModel's text comes from: inline, or a ConfigMap key."""

    format: str
    text: str | None = None
    config_map: str | None = None
    key: str | None = None

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> ModelSource:
        ref = spec.get("configMapRef") or {}
        return cls(
            format=spec.get("format", "yaml"),
            text=spec.get("source"),
            config_map=ref.get("name"),
            key=ref.get("key"),
        )


@dataclass(frozen=True)
class PimModel:
    meta: ObjectMeta
    source: ModelSource
    status: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> PimModel:
        return cls(
            meta=ObjectMeta.from_body(body),
            source=ModelSource.from_spec(body.get("spec") or {}),
            status=body.get("status") or {},
        )

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def namespace(self) -> str:
        return self.meta.namespace

    @property
    def key(self) -> tuple[str, str]:
        return self.meta.key

    @property
    def where(self) -> str:
        """How load errors name this model."""
        return f"pimmodel/{self.meta.namespace}/{self.meta.name}"

    def reference(self) -> dict[str, Any]:
        return self.meta.reference(API_VERSION, MODEL_KIND)
