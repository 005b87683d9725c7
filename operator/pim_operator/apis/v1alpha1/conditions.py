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


def is_good(type_: str, status: str, reason: str = "") -> bool:
    """Whether a condition is in its good state (see :func:`summarize` for the two inverted ones)."""
    if type_ == "Degraded":
        return status == FALSE
    if type_ == "Progressing":
        return status == FALSE and reason == "Complete"
    return status == TRUE


def summarize(conditions: Sequence[Condition], *, ready_type: str = "Ready") -> Condition:
    """Ready: True when every other condition is in its good state, else the first that is not.

    Most conditions are good when True. Two read the other way round: ``Degraded`` is good when
    False, and ``Progressing`` is good when False with reason ``Complete`` (a rollout that is still
    running, or one that failed, keeps the instance from being Ready).
    """
    for cond in conditions:
        if not is_good(cond.type, cond.status, cond.reason):
            status = UNKNOWN if cond.status == UNKNOWN else FALSE
            return Condition(ready_type, status, cond.reason, cond.message)
    return Condition(ready_type, TRUE, "Ready", "")


def find(conditions: Sequence[Mapping[str, Any]] | None, type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions or () if c.get("type") == type_), None)


def noteworthy(
    before: Sequence[Mapping[str, Any]] | None, after: Sequence[Mapping[str, Any]], types: Iterable[str]
) -> list[tuple[Mapping[str, Any], bool]]:
    """Transitions worth a Kubernetes Event, each with whether it is good news.

    News is a condition going wrong, changing what is wrong, or recovering; and Ready flipping.
    A new object whose conditions start out good, or settle through the usual steps, is not news:
    a thousand instances created at once must not mean several thousand Events.
    """
    old = {c.get("type"): c for c in before or ()}
    out: list[tuple[Mapping[str, Any], bool]] = []
    for c in after:
        if c["type"] not in types:
            continue
        prev = old.get(c["type"])
        good = is_good(c["type"], c["status"], c["reason"])
        if c["type"] == "Ready":
            if prev is not None and prev.get("status") != c["status"]:
                out.append((c, good))
            continue
        was_good = prev is None or is_good(prev["type"], prev.get("status", ""), prev.get("reason", ""))
        if not good and (was_good or prev.get("reason") != c["reason"]):
            out.append((c, False))
        elif good and not was_good:
            out.append((c, True))
    return out
