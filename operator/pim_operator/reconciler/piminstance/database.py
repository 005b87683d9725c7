"""Whether an instance has a database its replicas can use: the decision, free of I/O.

``configured`` reads what the reconcile found (CloudNativePG's CRDs, the Cluster, the referenced
Secret's summary); ``DatabaseState.seen_by_engine`` lets what the engine itself says (its /ready,
a crashed container's last words) override a configuration that looks right.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pim_operator.apis.v1alpha1 import piminstance_lifecycle as lifecycle
from pim_operator.apis.v1alpha1.conditions import TRUE, Condition
from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.reconciler.piminstance.resources import names
from pim_operator.reconciler.piminstance.resources.cluster import is_ready
from pim_operator.secret_summary import SecretSummary


@dataclass(frozen=True)
class DatabaseState:
    condition: Condition
    #: The engine can be given a database: SQLite always; PostgreSQL once a URI is there to use.
    usable: bool = True
    #: The keyed digest of the URI, for the pod template (PostgreSQL only).
    digest: str | None = None

    def seen_by_engine(self, problem: Condition | None) -> Condition:
        """The condition, unless the configuration looks right and the engine says otherwise."""
        if problem is not None and self.condition.status == TRUE:
            return problem
        return self.condition


def configured(
    instance: PimInstance,
    *,
    cloudnativepg: bool,
    cluster: Mapping[str, Any] | None,
    secret: SecretSummary | None,
) -> DatabaseState:
    """``cloudnativepg``: whether the cluster serves CloudNativePG's Cluster kind; ``secret``: the
    summary of the Secret holding the URI (None: it does not exist)."""
    db = instance.spec.database
    ref = names.database_secret(instance)
    if ref is None:
        return DatabaseState(lifecycle.mark_database_embedded())
    if db.managed is not None and not cloudnativepg:
        return DatabaseState(lifecycle.mark_cloudnativepg_missing(), usable=False)
    not_ready = None
    if db.managed is not None:
        ready, phase, detail = is_ready(cluster)
        if not ready:
            not_ready = lifecycle.propagate_cluster_not_ready(names.cluster(instance.name), phase, detail)
    if secret is None:
        return DatabaseState(not_ready or lifecycle.mark_secret_not_found(ref.name), usable=False)
    if ref.key not in secret.keys:
        return DatabaseState(lifecycle.mark_secret_key_missing(ref.name, ref.key, sorted(secret.keys)), usable=False)
    if ref.key not in secret.uris:
        return DatabaseState(lifecycle.mark_secret_invalid(ref.name, ref.key), usable=False)
    digest = secret.digests[ref.key]
    if not_ready is not None:
        return DatabaseState(not_ready, digest=digest)
    where = f"CloudNativePG Cluster {names.cluster(instance.name)}" if db.managed else f"Secret {ref.name}"
    return DatabaseState(lifecycle.mark_database_connected(f"PostgreSQL from {where} (key {ref.key})"), digest=digest)
