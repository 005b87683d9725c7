"""The engine Deployment: restricted pod security, probes, and digests that roll on change."""

from __future__ import annotations

from typing import Any

from pim_operator.apis.v1alpha1.labels import CONFIG_DIGEST_ANNOTATION, MODEL_DIGEST_ANNOTATION
from pim_operator.apis.v1alpha1.piminstance_types import AUTH_APIKEY, InstanceSpec, PimInstance
from pim_operator.reconciler.piminstance.resources import names
from pim_operator.reconciler.piminstance.resources.configmap import MODEL_KEY

UID = 65532
MODEL_DIR = "/etc/pim/model"
DATA_DIR = "/data"
API_KEYS_DIR = "/etc/pim/api-keys"


def make_deployment(instance: PimInstance, *, image: str, model_digest: str, config_digest: str) -> dict[str, Any]:
    name, spec = instance.name, instance.spec
    body: dict[str, Any] = {
        "selector": {"matchLabels": names.selector_labels(name)},
        "revisionHistoryLimit": 3,
        "strategy": _strategy(spec),
        "template": {
            "metadata": {
                "labels": names.labels(instance),
                "annotations": _pod_annotations(spec, model_digest, config_digest),
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


def _pod_annotations(spec: InstanceSpec, model_digest: str, config_digest: str) -> dict[str, str]:
    out = {
        MODEL_DIGEST_ANNOTATION: model_digest,
        CONFIG_DIGEST_ANNOTATION: config_digest,
    }
    if spec.metrics.scrape_annotations:
        out |= {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(spec.port),
            "prometheus.io/path": "/metrics",
        }
    return out


def _env(instance: PimInstance) -> list[dict[str, str]]:
    spec = instance.spec
    fixed = [
        ("PIM_MODEL", f"{MODEL_DIR}/{MODEL_KEY}"),
        ("PIM_DB", f"{DATA_DIR}/pim.db"),
        ("PIM_HOST", "0.0.0.0"),
        ("PIM_PORT", str(spec.port)),
        ("PIM_LOG_LEVEL", spec.log_level),
        ("PIM_ALLOW_DESTRUCTIVE_MIGRATION", "true" if spec.allow_destructive_migration else "false"),
        ("PIM_AUTH", spec.access.auth.lower()),
    ]
    if spec.access.reviews:
        fixed.append(("PIM_INSTANCE", f"{instance.namespace}/{instance.name}"))
    if spec.access.auth == AUTH_APIKEY:
        fixed.append(("PIM_API_KEYS_DIR", API_KEYS_DIR))
    return [{"name": k, "value": v} for k, v in (*fixed, *spec.env)]


def _probe(path: str, *, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def _pod_spec(instance: PimInstance, image: str) -> dict[str, Any]:
    name, spec = instance.name, instance.spec
    if spec.storage.persistent:
        data = {"name": "data", "persistentVolumeClaim": {"claimName": names.pvc(name)}}
    else:
        data = {"name": "data", "emptyDir": {}}
    mounts = [
        {"name": "model", "mountPath": MODEL_DIR, "readOnly": True},
        {"name": "data", "mountPath": DATA_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    volumes = [
        {"name": "model", "configMap": {"name": names.configmap(name)}},
        data,
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
    ]
    if spec.access.auth == AUTH_APIKEY:
        # Optional: a missing Secret starts the pod with no keys (every request refused, and
        # AccessReady says why) rather than holding it in ContainerCreating. The kubelet rewrites the
        # files in place when the Secret changes, and the engine reads them again: no restart.
        mounts.append({"name": "api-keys", "mountPath": API_KEYS_DIR, "readOnly": True})
        volumes.append(
            {
                "name": "api-keys",
                "secret": {"secretName": spec.access.api_key_secret, "optional": True, "defaultMode": 0o440},
            }
        )
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
        "containers": [
            {
                "name": names.CONTAINER,
                "image": image,
                "imagePullPolicy": spec.image_pull_policy,
                "env": _env(instance),
                "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
                "startupProbe": _probe("/ready", period=1, failures=60),
                "livenessProbe": _probe("/health", period=10, failures=3),
                "readinessProbe": _probe("/ready", period=5, failures=2),
                "resources": dict(spec.resources),
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "runAsNonRoot": True,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "volumeMounts": mounts,
            }
        ],
        "volumes": volumes,
    }
    if spec.node_selector:
        pod["nodeSelector"] = dict(spec.node_selector)
    if spec.tolerations:
        pod["tolerations"] = [dict(t) for t in spec.tolerations]
    if spec.priority_class:
        pod["priorityClassName"] = spec.priority_class
    return pod
