"""Condition helpers for pim.dev status, following the Kubernetes API conventions.

A condition keeps its ``lastTransitionTime`` while its status does not change, so that
reconciling an unchanged object produces an identical status (and no write). ``Ready`` is
derived from the others by :func:`summarize`, never set on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TRUE, FALSE, UNKNOWN = "True", "False", "Unknown"


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str = ""

    def is_true(self) -> bool:
        return self.status == TRUE


def merge(
    current: Sequence[Mapping[str, Any]] | None,
    desired: Iterable[Condition],
    *,
    generation: int,
    now: str,
) -> list[dict[str, Any]]:
    """The new conditions list: ``desired`` in order, keeping transition times that did not change."""
    previous = {c.get("type"): c for c in current or ()}
    out: list[dict[str, Any]] = []
    for cond in desired:
        old = previous.get(cond.type)
        since = old.get("lastTransitionTime") if old and old.get("status") == cond.status else None
        out.append(
            {
                "type": cond.type,
                "status": cond.status,
                "reason": cond.reason,
                "message": cond.message,
                "observedGeneration": generation,
                "lastTransitionTime": since or now,
            }
        )
    return out


def summarize(conditions: Sequence[Condition], *, ready_type: str = "Ready") -> Condition:
    """Ready: True when every other condition is in its good state, else the first that is not.

    Most conditions are good when True. Two read the other way round: ``Degraded`` is good when
    False, and ``Progressing`` is good when False with reason ``Complete`` (a rollout that is still
    running, or one that failed, keeps the instance from being Ready).
    """
    for cond in conditions:
        if cond.type == "Degraded":
            bad = cond.status == TRUE
        elif cond.type == "Progressing":
            bad = not (cond.status == FALSE and cond.reason == "Complete")
        else:
            bad = cond.status != TRUE
        if bad:
            status = UNKNOWN if cond.status == UNKNOWN else FALSE
            return Condition(ready_type, status, cond.reason, cond.message)
    return Condition(ready_type, TRUE, "Ready", "")


def find(conditions: Sequence[Mapping[str, Any]] | None, type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions or () if c.get("type") == type_), None)


def transitions(
    before: Sequence[Mapping[str, Any]] | None, after: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """Conditions whose status or reason changed: each is worth a Kubernetes Event."""
    old = {c.get("type"): (c.get("status"), c.get("reason")) for c in before or ()}
    return [c for c in after if old.get(c["type"]) != (c["status"], c["reason"])]
