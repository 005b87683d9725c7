"""The PimInstance's conditions, declared once: types, named reasons, and the helpers that set them.

As Knative's ``revision_lifecycle.go``: reconcilers, model resolution, status and probes never
spell a condition; they call ``mark_…`` (a decision they made) or ``propagate_…`` (a fact read
from a child) and hand the results to :data:`CONDITIONS`, which orders them and derives ``Ready``.
A new condition is a :class:`ConditionType` in :data:`CONDITIONS`, its reasons and helpers here,
and one call where the reconciler learns it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pim_operator.apis.v1alpha1.conditions import FALSE, TRUE, UNKNOWN, Condition, ConditionSet, ConditionType

MODEL_RESOLVED = "ModelResolved"
RESOURCES_READY = "ResourcesReady"
ACCESS_READY = "AccessReady"
DATABASE_READY = "DatabaseReady"
AVAILABLE = "Available"
PROGRESSING = "Progressing"
HEALTHY = "Healthy"
DEGRADED = "Degraded"

# ModelResolved
RESOLVED = "Resolved"
MODEL_NOT_FOUND = "ModelNotFound"
MODEL_INVALID = "ModelInvalid"
DESTRUCTIVE_MODEL_CHANGE = "DestructiveModelChange"
# ResourcesReady
APPLIED = "Applied"
WAITING_FOR_MODEL = "WaitingForModel"
PORT_CONFLICT = "PortConflict"
APPLY_FAILED = "ApplyFailed"
# AccessReady
OPEN = "Open"
RESTRICTED = "Restricted"
API_KEY_SECRET_NOT_FOUND = "APIKeySecretNotFound"  # noqa: S105 (a reason, not a password)
API_KEY_SECRET_FORBIDDEN = "APIKeySecretForbidden"  # noqa: S105 (a reason, not a password)
NO_API_KEYS = "NoAPIKeys"
AUTH_DELEGATION_FORBIDDEN = "AuthDelegationForbidden"
WAITING_FOR_DATABASE = "WaitingForDatabase"
# DatabaseReady
EMBEDDED = "Embedded"
CONNECTED = "Connected"
CLOUDNATIVEPG_MISSING = "CloudNativePGMissing"
CLUSTER_NOT_READY = "ClusterNotReady"
SECRET_NOT_FOUND = "SecretNotFound"  # noqa: S105 (a reason, not a password)
SECRET_KEY_MISSING = "SecretKeyMissing"  # noqa: S105 (a reason, not a password)
SECRET_INVALID = "SecretInvalid"  # noqa: S105 (a reason, not a password)
UNREACHABLE = "Unreachable"
MIGRATION_REFUSED = "MigrationRefused"
UNAVAILABLE = "Unavailable"
# Available
SUSPENDED = "Suspended"
SCALED_TO_ZERO = "ScaledToZero"
DEPLOYMENT_MISSING = "DeploymentMissing"
MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
NO_READY_REPLICAS = "NoReadyReplicas"
# Progressing (a failed rollout carries the Deployment's own reason)
CREATING = "Creating"
ROLLING_OUT = "RollingOut"
COMPLETE = "Complete"
# Healthy and Degraded (pod problems carry the kubelet's reason: CrashLoopBackOff, OOMKilled, ...)
PODS_READY = "PodsReady"
REPLICAS_HEALTHY = "ReplicasHealthy"
PROBE_FAILED = "ProbeFailed"
REPLICAS_UNAVAILABLE = "ReplicasUnavailable"
AS_EXPECTED = "AsExpected"

#: In status order; ``Ready`` follows them and names the first that is not in its good state.
CONDITIONS = ConditionSet(
    ConditionType(MODEL_RESOLVED, events=True),
    # CloudNativePG's CRDs may be installed at any time: nothing watched says so, discovery is re-checked.
    ConditionType(DATABASE_READY, events=True, retry_reasons=frozenset({CLOUDNATIVEPG_MISSING})),
    ConditionType(RESOURCES_READY, events=True, retry_reasons=frozenset({APPLY_FAILED, PORT_CONFLICT})),
    # Neither a permission granted to the operator nor a Secret (it may get them, not list them) is
    # anything it watches: retried with backoff.
    ConditionType(
        ACCESS_READY,
        events=True,
        retry_reasons=frozenset(
            {AUTH_DELEGATION_FORBIDDEN, API_KEY_SECRET_NOT_FOUND, API_KEY_SECRET_FORBIDDEN, NO_API_KEYS}
        ),
    ),
    ConditionType(AVAILABLE),
    ConditionType(PROGRESSING, good=FALSE, good_reasons=frozenset({COMPLETE})),
    ConditionType(HEALTHY, events=True),
    ConditionType(DEGRADED, good=FALSE, events=True),
)


# ModelResolved: which snapshot the instance serves.


def _serving(digest: str | None) -> str:
    return f"; serving the last valid snapshot {digest}" if digest else ""


def mark_model_resolved(model: str, digest: str) -> Condition:
    return Condition(MODEL_RESOLVED, TRUE, RESOLVED, f"serving PimModel {model} {digest}")


def mark_model_not_found(model: str, *, serving: str | None) -> Condition:
    """``serving`` is the digest of the snapshot kept running, if any."""
    return Condition(MODEL_RESOLVED, FALSE, MODEL_NOT_FOUND, f"PimModel {model} not found{_serving(serving)}")


def mark_model_invalid(model: str, error: str | None, *, serving: str | None) -> Condition:
    return Condition(MODEL_RESOLVED, FALSE, MODEL_INVALID, f"PimModel {model} is invalid: {error}{_serving(serving)}")


def mark_destructive_model_change(model: str, digest: str, changes: Sequence[str], *, serving: str | None) -> Condition:
    return Condition(
        MODEL_RESOLVED,
        FALSE,
        DESTRUCTIVE_MODEL_CHANGE,
        f"PimModel {model} {digest} would drop data ({'; '.join(changes)}); "
        f"set spec.allowDestructiveMigration to accept{_serving(serving)}",
    )


# ResourcesReady: whether the children are as desired.


def mark_resources_applied() -> Condition:
    return Condition(RESOURCES_READY, TRUE, APPLIED, "all children are as desired")


def mark_waiting_for_model() -> Condition:
    return Condition(RESOURCES_READY, FALSE, WAITING_FOR_MODEL, "no valid model to serve yet")


def mark_port_conflict(message: str) -> Condition:
    return Condition(RESOURCES_READY, FALSE, PORT_CONFLICT, message)


def mark_apply_failed(kind: str, name: str, error: object) -> Condition:
    """The API server refused a child: the request is wrong, not the weather."""
    return Condition(RESOURCES_READY, FALSE, APPLY_FAILED, f"{kind} {name}: {error}")


# AccessReady: whether the access controls the spec asks for are in place.


def mark_access_open() -> Condition:
    """What the user chose (networkPolicy.enabled false, auth None): good, and said plainly."""
    return Condition(
        ACCESS_READY, TRUE, OPEN, "no NetworkPolicy and no auth: any client that reaches the Service may read and write"
    )


def mark_access_restricted(network: str | None, auth: str) -> Condition:
    """``network``: who the NetworkPolicy admits (None: no policy); ``auth``: what requests must show."""
    said = f"NetworkPolicy admits {network}" if network else "no NetworkPolicy"
    return Condition(ACCESS_READY, TRUE, RESTRICTED, f"{said}; {auth}")


_REFUSED = "every request but /health and /ready is refused (401)"


def _api_key_secret(reason: str, secret: str, problem: str) -> Condition:
    """What is wrong with the API-key Secret, named as the spec names it."""
    return Condition(ACCESS_READY, FALSE, reason, f"Secret {secret} (spec.access.auth.apiKeySecretRef) {problem}")


def mark_api_key_secret_not_found(secret: str) -> Condition:
    return _api_key_secret(API_KEY_SECRET_NOT_FOUND, secret, f"not found: {_REFUSED} until it exists")


def mark_api_key_secret_forbidden(secret: str, error: object) -> Condition:
    """The operator may not read the Secret: the engine may still have keys, but nobody can tell."""
    problem = (
        f"cannot be read by the operator: {error}; it needs get on secrets in this namespace (the chart grants it)"
    )
    return _api_key_secret(API_KEY_SECRET_FORBIDDEN, secret, problem)


def mark_no_api_keys(secret: str) -> Condition:
    return _api_key_secret(NO_API_KEYS, secret, f"has no entries: {_REFUSED}; each entry of the Secret is one API key")


def mark_auth_delegation_forbidden(binding: str, error: object) -> Condition:
    """The operator could not let the engine call the review APIs: its own RBAC lacks something."""
    return Condition(
        ACCESS_READY,
        FALSE,
        AUTH_DELEGATION_FORBIDDEN,
        f"ClusterRoleBinding {binding} (system:auth-delegator for the engine's ServiceAccount) could not be "
        f"applied: {error}; the operator needs create on clusterrolebindings and bind on the ClusterRole "
        "system:auth-delegator (the chart grants both); until then authenticated requests answer 503",
    )


def mark_waiting_for_database() -> Condition:
    """The engine's pods need a database that is not there yet: nothing is applied until it is."""
    return Condition(RESOURCES_READY, FALSE, WAITING_FOR_DATABASE, "no database to connect to yet (see DatabaseReady)")


# DatabaseReady: whether the instance has a database its replicas can use. The configuration-level
# facts (Secret, CloudNativePG Cluster) come from the reconcile; what the engine itself says comes
# from the probes of /ready and from crashed containers' last words.


def mark_database_embedded() -> Condition:
    return Condition(DATABASE_READY, TRUE, EMBEDDED, "SQLite in the pod")


def mark_database_connected(message: str) -> Condition:
    return Condition(DATABASE_READY, TRUE, CONNECTED, message)


def mark_cloudnativepg_missing() -> Condition:
    return Condition(
        DATABASE_READY,
        FALSE,
        CLOUDNATIVEPG_MISSING,
        "spec.database.postgres.managed needs CloudNativePG, whose CRDs (postgresql.cnpg.io/v1 Cluster) are not "
        "installed; install its operator, or use postgres.secretRef with a server of your own",
    )


def propagate_cluster_not_ready(cluster: str, phase: str, detail: str) -> Condition:
    """``phase`` and ``detail`` are CloudNativePG's own (``status.phase``, ``status.phaseReason``)."""
    said = f"{phase}: {detail}" if phase and detail else (phase or detail or "no status yet")
    return Condition(DATABASE_READY, FALSE, CLUSTER_NOT_READY, f"CloudNativePG Cluster {cluster} is not ready ({said})")


def mark_secret_not_found(secret: str) -> Condition:
    return Condition(DATABASE_READY, FALSE, SECRET_NOT_FOUND, f"Secret {secret} not found")


def mark_secret_key_missing(secret: str, key: str, keys: Sequence[str]) -> Condition:
    has = ", ".join(sorted(keys)) or "none"
    return Condition(DATABASE_READY, FALSE, SECRET_KEY_MISSING, f"Secret {secret} has no key {key} (its keys: {has})")


def mark_secret_invalid(secret: str, key: str) -> Condition:
    """The value is never quoted: it holds a password."""
    return Condition(
        DATABASE_READY,
        FALSE,
        SECRET_INVALID,
        f"key {key} of Secret {secret} does not hold a postgresql:// URI (postgresql://user:password@host:port/dbname)",
    )


def propagate_unreachable(message: str) -> Condition:
    """The engine's /ready says it cannot reach or use its database."""
    return Condition(DATABASE_READY, FALSE, UNREACHABLE, message)


def propagate_unavailable(message: str) -> Condition:
    """The engine's /ready says its (SQLite) database cannot take writes: a full or read-only volume."""
    return Condition(DATABASE_READY, FALSE, UNAVAILABLE, message)


def propagate_migration_refused(message: str) -> Condition:
    """The engine refused to migrate the database to the model: the change would lose data."""
    return Condition(DATABASE_READY, FALSE, MIGRATION_REFUSED, message)


# Available and Progressing: read from the Deployment.


def propagate_deployment(deployment: Mapping[str, Any] | None, *, suspended: bool) -> tuple[Condition, Condition]:
    """Available and Progressing from the Deployment (None: not created yet)."""
    return _available(deployment, suspended), _progressing(deployment)


def _available(deployment: Mapping[str, Any] | None, suspended: bool) -> Condition:
    if suspended:
        return Condition(AVAILABLE, FALSE, SUSPENDED, "spec.suspend is true: scaled to zero")
    if deployment is None:
        return Condition(AVAILABLE, UNKNOWN, DEPLOYMENT_MISSING, "the Deployment does not exist yet")
    st = deployment.get("status") or {}
    ready = int(st.get("readyReplicas") or 0)
    want = int((deployment.get("spec") or {}).get("replicas") or 0)
    if want == 0:
        return Condition(AVAILABLE, FALSE, SCALED_TO_ZERO, "replicas is 0")
    if ready >= 1:
        return Condition(AVAILABLE, TRUE, MINIMUM_REPLICAS_AVAILABLE, f"{ready}/{want} replicas ready")
    return Condition(AVAILABLE, FALSE, NO_READY_REPLICAS, f"0/{want} replicas ready")


def _progressing(deployment: Mapping[str, Any] | None) -> Condition:
    """True while a rollout runs; False/Complete when settled; False with the cause when it failed."""
    if deployment is None:
        return Condition(PROGRESSING, TRUE, CREATING, "creating the Deployment")
    meta = deployment.get("metadata") or {}
    st = deployment.get("status") or {}
    for c in st.get("conditions") or ():
        if c.get("type") == "Progressing" and c.get("status") == "False":
            return Condition(PROGRESSING, FALSE, str(c.get("reason")), str(c.get("message", "")))
    want = int((deployment.get("spec") or {}).get("replicas") or 0)
    if int(st.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        return Condition(PROGRESSING, TRUE, ROLLING_OUT, "the Deployment controller has not seen the change yet")
    updated = int(st.get("updatedReplicas") or 0)
    total = int(st.get("replicas") or 0)
    avail = int(st.get("availableReplicas") or 0)
    if updated < want or total > updated or avail < updated:
        return Condition(PROGRESSING, TRUE, ROLLING_OUT, f"{updated}/{want} updated, {avail} available, {total} total")
    return Condition(PROGRESSING, FALSE, COMPLETE, f"{updated}/{want} replicas up to date")


# Healthy and Degraded: the pods' own state and the operator's probes. Each helper sets both.


def mark_nothing_to_probe(reason: str) -> tuple[Condition, Condition]:
    """Suspended or scaled to zero: no replica, and that is not a fault."""
    return Condition(HEALTHY, TRUE, reason, "no replicas to probe"), Condition(DEGRADED, FALSE, AS_EXPECTED, "")


def propagate_pod_problem(reason: str, message: str, *, healthy_replicas: int) -> tuple[Condition, Condition]:
    """A pod in a state it will not leave by itself; ``reason`` is the kubelet's."""
    return _unwell(reason, message, healthy_replicas)


def mark_probe_failed(message: str, *, healthy_replicas: int) -> tuple[Condition, Condition]:
    return _unwell(PROBE_FAILED, message, healthy_replicas)


def _unwell(reason: str, message: str, healthy_replicas: int) -> tuple[Condition, Condition]:
    return (
        Condition(HEALTHY, FALSE if healthy_replicas == 0 else TRUE, reason, message),
        Condition(DEGRADED, TRUE, reason, message),
    )


def propagate_pod_readiness(ready: int, desired: int) -> tuple[Condition, Condition]:
    """Not probed (yet, or probing is off): the kubelet's readiness probes of /ready stand in."""
    msg = f"{ready}/{desired} pods ready (not probed by the operator)"
    healthy = Condition(HEALTHY, TRUE, PODS_READY, msg) if ready else Condition(HEALTHY, FALSE, NO_READY_REPLICAS, msg)
    if 0 < ready < desired:
        return healthy, Condition(DEGRADED, TRUE, REPLICAS_UNAVAILABLE, msg)
    return healthy, Condition(DEGRADED, FALSE, AS_EXPECTED, "")


def mark_replicas_probed(healthy: int, desired: int) -> tuple[Condition, Condition]:
    """Every probed replica answered ready; fewer of them than desired is Degraded."""
    msg = f"{healthy}/{desired} replicas healthy"
    degraded = (
        Condition(DEGRADED, TRUE, REPLICAS_UNAVAILABLE, msg)
        if healthy < desired
        else Condition(DEGRADED, FALSE, AS_EXPECTED, "")
    )
    return Condition(HEALTHY, TRUE, REPLICAS_HEALTHY, msg), degraded
