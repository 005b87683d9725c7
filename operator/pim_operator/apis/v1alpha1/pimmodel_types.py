"""The PimModel, typed once from its body: where its text comes from, and its current status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pim_operator.apis.v1alpha1 import API_VERSION, MODEL_KIND
from pim_operator.apis.v1alpha1.meta import TypedObject


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


@dataclass(frozen=True, kw_only=True)
class PimModel(TypedObject, api_version=API_VERSION, kind=MODEL_KIND):
    source: ModelSource

    @classmethod
    def typed_spec(cls, body: Mapping[str, Any]) -> dict[str, Any]:
        return {"source": ModelSource.from_spec(body.get("spec") or {})}

    @property
    def where(self) -> str:
        """How load errors name this model."""
        return f"pimmodel/{self.meta.namespace}/{self.meta.name}"
