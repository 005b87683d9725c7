"""The engine Deployment: restricted pod security, probes, and digests that roll on change.

With PostgreSQL the URI comes from a Secret through ``secretKeyRef`` (never in the pod spec), a
keyed digest of it on the pod template rolls the pods when it changes, and a preStop pause lets
the Service's endpoints drop a terminating pod before the engine stops taking requests.
"""

from __future__ import annotations

from typing import Any

from pim_operator.apis.v1alpha1.labels import (
    CONFIG_DIGEST_ANNOTATION,
    DATABASE_DIGEST_ANNOTATION,
    MODEL_DIGEST_ANNOTATION,
)
from pim_operator.apis.v1alpha1.piminstance_types import AUTH_APIKEY, InstanceSpec, PimInstance
from pim_operator.reconciler.piminstance.resources import names
from pim_operator.reconciler.piminstance.resources.configmap import MODEL_KEY

UID = 65532
MODEL_DIR = "/etc/pim/model"
DATA_DIR = "/data"
API_KEYS_DIR = "/etc/pim/api-keys"
#: Seconds a terminating pod keeps serving, so that kube-proxy and load balancers stop sending it
#: requests before the engine gets SIGTERM.
DRAIN_SECONDS = 5
#: Seconds the engine serves after SIGTERM, closing each connection after its response, so that
#: clients holding keep-alive connections to the pod move to the others (PIM_DRAIN_SECONDS).
ENGINE_DRAIN_SECONDS = 3


def make_deployment(
    instance: PimInstance,
    *,
    image: str,
    model_digest: str,
    config_digest: str,
    database_digest: str | None = None,
) -> dict[str, Any]:
    """``database_digest`` is the digest of the PostgreSQL URI (required with PostgreSQL)."""
    name, spec = instance.name, instance.spec
    if spec.database.postgres and not database_digest:
        raise ValueError("a PostgreSQL instance's Deployment needs the digest of its database URI")
    body: dict[str, Any] = {
        "selector": {"matchLabels": names.selector_labels(name)},
        "revisionHistoryLimit": 3,
        "strategy": _strategy(spec),
        "template": {
            "metadata": {
                "labels": names.labels(instance),
                "annotations": _pod_annotations(spec, model_digest, config_digest, database_digest),
            },
            "spec": _pod_spec(instance, image),
        },
    }
    # With an autoscaler the HPA owns the replica count; leaving the field out of the apply
    # keeps the two from fighting over it. Suspended instances are pinned to zero.
    if spec.autoscaling is None or spec.suspend:
        body["replicas"] = spec.desired_replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": names.child_metadata(instance, names.deployment(name)),
        "spec": body,
    }


def _strategy(spec: InstanceSpec) -> dict[str, Any]:
    if spec.storage.persistent:
        # One SQLite file on a ReadWriteOnce volume: the old pod must let go before the new one starts.
        return {"type": "Recreate"}
    return {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}


def _pod_annotations(
    spec: InstanceSpec, model_digest: str, config_digest: str, database_digest: str | None
) -> dict[str, str]:
    out = {
        MODEL_DIGEST_ANNOTATION: model_digest,
        CONFIG_DIGEST_ANNOTATION: config_digest,
    }
    if spec.database.postgres and database_digest:
        out[DATABASE_DIGEST_ANNOTATION] = database_digest
    if spec.metrics.scrape_annotations:
        out |= {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(spec.port),
            "prometheus.io/path": "/metrics",
        }
    return out


def _env(instance: PimInstance) -> list[dict[str, Any]]:
    spec = instance.spec
    secret = names.database_secret(instance)
    database: dict[str, Any]
    if secret is None:
        database = {"name": "PIM_DB", "value": f"{DATA_DIR}/pim.db"}
    else:
        ref = {"name": secret.name, "key": secret.key}
        database = {"name": "PIM_DATABASE_URL", "valueFrom": {"secretKeyRef": ref}}
    rest = [
        ("PIM_HOST", "0.0.0.0"),
        ("PIM_PORT", str(spec.port)),
        ("PIM_LOG_LEVEL", spec.log_level),
        ("PIM_ALLOW_DESTRUCTIVE_MIGRATION", "true" if spec.allow_destructive_migration else "false"),
        ("PIM_AUTH", spec.access.auth.lower()),
    ]
    if spec.access.reviews:
        rest.append(("PIM_INSTANCE", f"{instance.namespace}/{instance.name}"))
    if spec.access.auth == AUTH_APIKEY:
        rest.append(("PIM_API_KEYS_DIR", API_KEYS_DIR))
    if spec.database.postgres:  # replicas that roll one by one; one SQLite pod stops at once
        rest.append(("PIM_DRAIN_SECONDS", str(ENGINE_DRAIN_SECONDS)))
    rest.extend(spec.env)
    return [
        {"name": "PIM_MODEL", "value": f"{MODEL_DIR}/{MODEL_KEY}"},
        database,
        *({"name": k, "value": v} for k, v in rest),
    ]


def _probe(path: str, *, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def _volumes(name: str, spec: InstanceSpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(volumes, mounts): the model snapshot, /tmp, and SQLite's data directory (not with PostgreSQL)."""
    volumes: list[dict[str, Any]] = [{"name": "model", "configMap": {"name": names.configmap(name)}}]
    mounts: list[dict[str, Any]] = [{"name": "model", "mountPath": MODEL_DIR, "readOnly": True}]
    if not spec.database.postgres:
        if spec.storage.persistent:
            volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": names.pvc(name)}})
        else:
            volumes.append({"name": "data", "emptyDir": {}})
        mounts.append({"name": "data", "mountPath": DATA_DIR})
    volumes.append({"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}})
    mounts.append({"name": "tmp", "mountPath": "/tmp"})
    if spec.access.auth == AUTH_APIKEY:
        # Optional: a missing Secret starts the pod with no keys (every request refused, and
        # AccessReady says why) rather than holding it in ContainerCreating. The kubelet rewrites the
        # files in place when the Secret changes, and the engine reads them again: no restart.
        mounts.append({"name": "api-keys", "mountPath": API_KEYS_DIR, "readOnly": True})
        secret = {"secretName": spec.access.api_key_secret, "optional": True, "defaultMode": 0o440}
        volumes.append({"name": "api-keys", "secret": secret})
    return volumes, mounts


def _pod_spec(instance: PimInstance, image: str) -> dict[str, Any]:
    name, spec = instance.name, instance.spec
    volumes, mounts = _volumes(name, spec)
    container: dict[str, Any] = {
        "name": names.CONTAINER,
        "image": image,
        "imagePullPolicy": spec.image_pull_policy,
        "env": _env(instance),
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "startupProbe": _probe("/ready", period=1, failures=60),
        "livenessProbe": _probe("/health", period=10, failures=3),
        "readinessProbe": _probe("/ready", period=5, failures=2),
        "resources": dict(spec.resources),
        # A container that fails says why in its status: the last lines of its log (a refused migration).
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": mounts,
    }
    if spec.database.postgres:
        container["lifecycle"] = {"preStop": {"sleep": {"seconds": DRAIN_SECONDS}}}
    pod: dict[str, Any] = {
        "serviceAccountName": names.service_account(name),
        # The token is mounted only for the engine's TokenReviews and SubjectAccessReviews.
        "automountServiceAccountToken": spec.access.reviews,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 30,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": volumes,
    }
    if spec.node_selector:
        pod["nodeSelector"] = dict(spec.node_selector)
    if spec.tolerations:
        pod["tolerations"] = [dict(t) for t in spec.tolerations]
    if spec.priority_class:
        pod["priorityClassName"] = spec.priority_class
    return pod
