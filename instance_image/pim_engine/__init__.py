"""pim_engine: load a PIM model and serve it as a REST service over its own database."""

from pim_engine.model import Model, ModelError

__all__ = ["Model", "ModelError"]
