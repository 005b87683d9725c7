"""helm (v4, through hack/helm.sh) against a test cluster, with its state kept out of the home directory."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.support.commands import CommandError, run

REPO = Path(__file__).resolve().parents[2]
HELM = REPO / "hack" / "helm.sh"
CHART = REPO / "deploy" / "helm" / "pim-operator"

# Every object the chart makes carries this label with the release name.
INSTANCE_LABEL = "app.kubernetes.io/instance"
RELEASE_NAMESPACED_KINDS = (
    "deployments.apps",
    "replicasets.apps",
    "pods",
    "services",
    "serviceaccounts",
    "configmaps",
    "roles.rbac.authorization.k8s.io",
    "rolebindings.rbac.authorization.k8s.io",
    "poddisruptionbudgets.policy",
    "leases.coordination.k8s.io",
)
RELEASE_CLUSTER_KINDS = (
    "clusterroles.rbac.authorization.k8s.io",
    "clusterrolebindings.rbac.authorization.k8s.io",
)


class HelmError(CommandError):
    """A helm call failed; the message carries the command line and helm's output."""


class Helm:
    """Runs helm with ``kubeconfig``; caches and repository config live under ``home``."""

    def __init__(self, kubeconfig: Path, home: Path) -> None:
        self.kubeconfig = kubeconfig
        self.env = {
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }

    def __call__(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        argv = [str(HELM), f"--kubeconfig={self.kubeconfig}"]
        return run("helm", argv, args, env=self.env, check=check, timeout=timeout, error=HelmError)


def set_args(values: dict[str, Any]) -> list[str]:
    """``--set-json`` arguments for ``values`` (dotted keys, JSON-encodable values)."""
    return [a for key, value in values.items() for a in ("--set-json", f"{key}={json.dumps(value)}")]


def leftovers(cluster: Any, release: str, namespaces: list[str]) -> list[str]:
    """``kind/name`` of every object labelled with ``release`` that is still there."""
    selector = f"{INSTANCE_LABEL}={release}"
    found: list[str] = []
    for ns in namespaces:
        for kind in RELEASE_NAMESPACED_KINDS:
            items = cluster.get(kind, "-n", ns, "-l", selector)["items"]
            found += [f"{ns}/{kind}/{i['metadata']['name']}" for i in items]
        helm_records = cluster.get("secrets", "-n", ns, "-l", f"owner=helm,name={release}")["items"]
        found += [f"{ns}/secret/{i['metadata']['name']}" for i in helm_records]
    for kind in RELEASE_CLUSTER_KINDS:
        found += [f"{kind}/{i['metadata']['name']}" for i in cluster.get(kind, "-l", selector)["items"]]
    return found


def operator_pods(cluster: Any, namespace: str, release: str) -> list[dict[str, Any]]:
    """The release's operator pods, those on their way out left aside."""
    selector = f"{INSTANCE_LABEL}={release},app.kubernetes.io/name=pim-operator"
    pods = cluster.get("pods", "-n", namespace, "-l", selector)["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def leader_pod(cluster: Any, namespace: str, release: str) -> dict[str, Any] | None:
    """The operator replica that holds the release's leader Lease (its holder identity is the pod
    name, "_", and a per-process suffix), or None while nobody does."""
    leases = cluster.get("leases", "-n", namespace, "-l", f"{INSTANCE_LABEL}={release}")["items"]
    holders = [(lease["spec"].get("holderIdentity") or "") for lease in leases]
    pods = operator_pods(cluster, namespace, release)
    return next((p for p in pods for h in holders if h.startswith(p["metadata"]["name"] + "_")), None)
