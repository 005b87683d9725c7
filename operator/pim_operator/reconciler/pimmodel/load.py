"""Load a PimModel's text with the engine's own loader: one schema, one source of truth."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from pim_engine.loader import load_model_text
from pim_engine.model import Model, ModelError, canonical_json


@dataclass(frozen=True)
class Loaded:
    """The outcome of loading a model: exactly one of ``model`` and ``error`` is set."""

    model: Model | None = None
    error: str | None = None

    @property
    def snapshot(self) -> str:
        """The normalized model as canonical JSON: what instances serve."""
        if self.model is None:
            raise ValueError("an invalid model has no snapshot")
        return canonical_json(self.model.to_dict())


@functools.lru_cache(maxsize=512)
def load(text: str, fmt: str, source: str) -> Loaded:
    """Memoized by text: a thousand instances of one model parse it once."""
    try:
        return Loaded(model=load_model_text(text, fmt, source=source))  # type: ignore[arg-type]
    except ModelError as exc:
        return Loaded(error=str(exc))
