"""Which model snapshot an instance should serve, and why: the decision, free of I/O.

An instance never loses its running model to a bad change: a missing or invalid PimModel, or a
change the engine would refuse because it drops data, leaves the current snapshot in place and
says so in the ModelResolved condition.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pim_engine import migrate
from pim_engine.loader import model_from_dict
from pim_engine.model import Model, ModelError
from pim_engine.schema import tables_for
from pim_operator.apis.v1alpha1 import piminstance_lifecycle as lifecycle
from pim_operator.apis.v1alpha1.conditions import Condition
from pim_operator.reconciler.pimmodel.load import Loaded


@dataclass(frozen=True)
class Resolution:
    snapshot: str | None  # canonical JSON to serve; None: there is nothing to serve yet
    digest: str | None
    condition: Condition


def resolve(
    model_name: str,
    loaded: Loaded | None,
    current_snapshot: str | None,
    *,
    allow_destructive: bool,
) -> Resolution:
    """``loaded`` is None when the PimModel does not exist; ``current_snapshot`` is what runs now."""
    current = _readable(current_snapshot)
    if current is None:
        # An edited or corrupt snapshot is drift: re-derive it from the model. The engine still
        # refuses, at start-up, a change its database cannot take.
        current_snapshot = None
    serving = current.digest if current is not None else None
    if loaded is None:
        return Resolution(current_snapshot, serving, lifecycle.mark_model_not_found(model_name, serving=serving))
    if loaded.model is None:
        condition = lifecycle.mark_model_invalid(model_name, loaded.error, serving=serving)
        return Resolution(current_snapshot, serving, condition)
    new = loaded.model
    if current is not None and serving != new.digest and not allow_destructive:
        refused = [c.describe() for c in offending_changes(current, new)]
        if refused:
            condition = lifecycle.mark_destructive_model_change(model_name, new.digest, refused, serving=serving)
            return Resolution(current_snapshot, serving, condition)
    return Resolution(loaded.snapshot, new.digest, lifecycle.mark_model_resolved(model_name, new.digest))


class AssumeData:
    """Migration facts for a database the operator cannot see: every table holds rows.

    That makes every drop or retype count as destructive. Checks that depend on the values
    (duplicates under a new unique, over-long strings) are left to the engine, which refuses
    them at start-up while the old replica keeps serving.
    """

    def rows(self, table: str) -> int:
        return 1

    def duplicates(self, table: str, column: str) -> int:
        return 0

    def duplicates_together(self, table: str, columns: tuple[str, ...]) -> migrate.Duplicates:
        return migrate.Duplicates()

    def nulls(self, table: str, column: str) -> int:
        return 0

    def longer_than(self, table: str, column: str, length: int) -> int:
        return 0

    def outside(self, table: str, column: str, values: object) -> int:
        return 0


def offending_changes(old: Model, new: Model) -> list[migrate.Change]:
    """The changes from ``old`` to ``new`` that would drop or retype stored data."""
    plan = migrate.plan(tables_for(old.entities), tables_for(new.entities), AssumeData())
    return plan.offending(allow_destructive=False)


def _readable(snapshot: str | None) -> Model | None:
    if not snapshot:
        return None
    try:
        return model_from_dict(json.loads(snapshot))
    except (ValueError, TypeError, ModelError):
        return None
