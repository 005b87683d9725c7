"""Condition machinery for pim.dev status, following the Kubernetes API conventions.

Each kind declares its conditions once, as a :class:`ConditionSet` in its ``*_lifecycle`` module
(as Knative declares ``revisionCondSet`` in ``revision_lifecycle.go``): which types it has, in
which order, which are good when False, which transitions are worth an Event. Everything here
reads that declaration; nothing names a condition type.

A condition keeps its ``lastTransitionTime`` while its status does not change, so that
reconciling an unchanged object produces an identical status (and no write). ``Ready`` is
derived from the others by :meth:`ConditionSet.summarize`, never set on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TRUE, FALSE, UNKNOWN = "True", "False", "Unknown"
READY = "Ready"


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str = ""


@dataclass(frozen=True)
class ConditionType:
    """One condition type of a kind, and what its good state is.

    Most conditions are good when True. An inverted one (``Degraded``) sets ``good`` to False;
    ``good_reasons``, when given, narrows the good state to those reasons (``Progressing`` is good
    only when False with reason ``Complete``: a rollout still running, or one that failed, is not).
    """

    name: str
    good: str = TRUE
    good_reasons: frozenset[str] = frozenset()
    #: Its transitions are news: they become Kubernetes Events.
    events: bool = False
    #: Reasons that nothing watched will clear (a permission granted, a foreign port released):
    #: the reconcile reports them and is retried with backoff.
    retry_reasons: frozenset[str] = frozenset()

    def is_good(self, status: str, reason: str) -> bool:
        return status == self.good and (not self.good_reasons or reason in self.good_reasons)


class ConditionSet:
    """A kind's conditions, declared once: their order in status, and how ``Ready`` reads them."""

    def __init__(self, *types: ConditionType, ready: str = READY, ready_events: bool = True) -> None:
        self.ready = ready
        self.types: dict[str, ConditionType] = {t.name: t for t in types}
        self._ready_type = ConditionType(ready, events=ready_events)

    def is_good(self, type_: str, status: str, reason: str = "") -> bool:
        """Whether a condition is in its good state; undeclared types (``Ready``) are good when True."""
        declared = self.types.get(type_)
        return declared.is_good(status, reason) if declared else status == TRUE

    def summarize(self, conditions: Sequence[Condition]) -> Condition:
        """Ready: True when every other condition is in its good state, else the first that is not."""
        for c in conditions:
            if not self.is_good(c.type, c.status, c.reason):
                status = UNKNOWN if c.status == UNKNOWN else FALSE
                return Condition(self.ready, status, c.reason, c.message)
        return Condition(self.ready, TRUE, READY, "")

    def with_ready(self, conditions: Iterable[Condition]) -> list[Condition]:
        """``conditions`` in their declared order, then ``Ready`` summarizing them.

        A type this set does not declare is a programming error: status would carry a condition
        that ``Ready`` and the Events know nothing about.
        """
        by_type = {c.type: c for c in conditions}
        unknown = sorted(set(by_type) - set(self.types))
        if unknown:
            raise ValueError(f"conditions not declared in the condition set: {', '.join(unknown)}")
        ordered = [by_type[t] for t in self.types if t in by_type]
        return [*ordered, self.summarize(ordered)]

    def retry_reason(self, conditions: Iterable[Condition]) -> Condition | None:
        """The first condition whose reason asks for a retry with backoff, if any."""
        return next(
            (c for c in conditions if c.type in self.types and c.reason in self.types[c.type].retry_reasons), None
        )

    def noteworthy(
        self, before: Sequence[Mapping[str, Any]] | None, after: Sequence[Mapping[str, Any]]
    ) -> list[tuple[Mapping[str, Any], bool]]:
        """Transitions worth a Kubernetes Event, each with whether it is good news.

        News is a condition going wrong, changing what is wrong, or recovering; and Ready flipping.
        A new object whose conditions start out good, or settle through the usual steps, is not news:
        a thousand instances created at once must not mean several thousand Events.
        """
        old = {c.get("type"): c for c in before or ()}
        out: list[tuple[Mapping[str, Any], bool]] = []
        for c in after:
            declared = self._ready_type if c["type"] == self.ready else self.types.get(c["type"])
            if declared is None or not declared.events:
                continue
            prev = old.get(c["type"])
            good = self.is_good(c["type"], c["status"], c["reason"])
            if c["type"] == self.ready:
                if prev is not None and prev.get("status") != c["status"]:
                    out.append((c, good))
                continue
            was_good = prev is None or self.is_good(prev["type"], prev.get("status", ""), prev.get("reason", ""))
            if not good and (was_good or prev.get("reason") != c["reason"]):
                out.append((c, False))
            elif good and not was_good:
                out.append((c, True))
        return out


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


def find(conditions: Sequence[Mapping[str, Any]] | None, type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions or () if c.get("type") == type_), None)
