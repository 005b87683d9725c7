"""The PimModel's conditions, declared once: types, named reasons, and the helpers that set them.

A PimModel has one condition of its own, ``Valid`` (did the engine's loader accept it?), and
``Ready`` summarizing it. Only ``Valid`` transitions become Events, with reasons of their own.
"""

from __future__ import annotations

from pim_operator.apis.v1alpha1.conditions import FALSE, TRUE, Condition, ConditionSet, ConditionType

VALID = "Valid"

# Valid
LOADED = "Loaded"
LOAD_FAILED = "LoadFailed"

# Event reasons
EVENT_VALID = "ModelValid"
EVENT_INVALID = "ModelInvalid"
EVENT_DELETED_WHILE_IN_USE = "DeletedWhileInUse"

CONDITIONS = ConditionSet(ConditionType(VALID, events=True), ready_events=False)


def mark_loaded(entities: int, digest: str) -> Condition:
    return Condition(VALID, TRUE, LOADED, f"{entities} entities, digest {digest}")


def mark_load_failed(error: str | None) -> Condition:
    """``error`` is the loader's message, naming file, element and line."""
    return Condition(VALID, FALSE, LOAD_FAILED, error or "")
