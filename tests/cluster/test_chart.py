"""The Helm chart against a real API server (no real node: kwok runs the operator's pods).

The rendered chart passes the apiserver's own validation and PodSecurity ``restricted`` (server-side
dry run), a real ``helm install`` becomes an available Deployment whose ServiceAccount may do what
the operator does and nothing broader, and ``helm uninstall`` leaves nothing but the CRDs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from tests.support.cluster import Cluster
from tests.support.helm import CHART, Helm, leftovers, set_args
from tests.support.waiting import wait_for

pytestmark = pytest.mark.cluster

RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}
CRD_NAMES = ("pimmodels.pim.dev", "piminstances.pim.dev")
INSTALL_TIMEOUT = "120s"


@pytest.fixture(scope="module")
def helm(crds: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(crds.kubeconfig, tmp_path_factory.mktemp("helm"))


@pytest.mark.parametrize("scope", ["cluster", "namespaced"])
def test_rendered_chart_passes_server_dry_run(crds: Cluster, helm: Helm, scope: str) -> None:
    ns = crds.namespace(f"chart-dry-{scope[:2]}", labels=RESTRICTED)
    values: dict[str, Any] = {"rbac.scope": scope, "replicaCount": 2}
    if scope == "namespaced":
        values["watchNamespaces"] = [ns]
    manifest = helm("template", "dry", str(CHART), "-n", ns, "--include-crds", *set_args(values)).stdout
    docs = [d for d in yaml.safe_load_all(manifest) if d]
    applied = crds.kubectl(
        "apply", "--server-side", "--dry-run=server", "--field-manager=chart-test", "-f", "-", input=manifest
    )
    assert applied.stdout.count("(server dry run)") == len(docs), applied.stdout
    # Deployments get PodSecurity warnings only, never a rejection: check there are none.
    assert "PodSecurity" not in applied.stderr, applied.stderr


@dataclass
class Release:
    name: str
    namespace: str
    scope: str
    replicas: int
    watched: list[str]
    service_account: str = ""
    uninstalled: bool = field(default=False)

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"


INSTALLS = {"cluster-1": ("cluster", 1), "namespaced-2": ("namespaced", 2)}


@pytest.fixture(scope="module", params=sorted(INSTALLS))
def release(request: pytest.FixtureRequest, crds: Cluster, helm: Helm, fake_node: str) -> Iterator[Release]:
    scope, replicas = INSTALLS[request.param]
    ns = crds.namespace("chart", labels=RESTRICTED)
    watched = [crds.namespace("chart-watched", labels=RESTRICTED)] if scope == "namespaced" else []
    rel = Release(f"pim-{request.param}", ns, scope, replicas, watched)
    placement = crds.fake_node_placement(fake_node)
    values: dict[str, Any] = {
        "rbac.scope": scope,
        "replicaCount": replicas,
        "nodeSelector": placement["nodeSelector"],
        "tolerations": placement["tolerations"],
    }
    if watched:
        values["watchNamespaces"] = watched
    helm("install", rel.name, str(CHART), "-n", ns, "--wait=watcher", "--timeout", INSTALL_TIMEOUT, *set_args(values))
    operator = f"app.kubernetes.io/instance={rel.name},app.kubernetes.io/name=pim-operator"
    rel.service_account = crds.get("deployment", "-n", ns, "-l", operator)["items"][0]["spec"]["template"]["spec"][
        "serviceAccountName"
    ]
    yield rel
    if not rel.uninstalled:
        helm("uninstall", rel.name, "-n", ns, "--wait=watcher", check=False)


def can_i(cluster: Cluster, release: Release, verb: str, resource: str, ns: str | None = None, name: str = "") -> bool:
    """Ask the authorizer (a SubjectAccessReview) whether the release's ServiceAccount may ``verb``
    ``resource`` ("plural.group/subresource"), in ``ns`` or in all namespaces, any or the ``name``d one."""
    kind, _, sub = resource.partition("/")
    plural, _, group = kind.partition(".")
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": release.user,
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{release.namespace}"],
            "resourceAttributes": {
                "verb": verb,
                "group": group,
                "resource": plural,
                "subresource": sub,
                "namespace": ns or "",
                "name": name,
            },
        },
    }
    return bool(json.loads(cluster.create(review).stdout)["status"].get("allowed"))


def test_install_makes_an_available_deployment(crds: Cluster, release: Release, fake_node: str) -> None:
    selector = f"app.kubernetes.io/instance={release.name},app.kubernetes.io/name=pim-operator"
    (deployment,) = crds.get("deployment", "-n", release.namespace, "-l", selector)["items"]
    assert deployment["status"].get("availableReplicas") == release.replicas
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"  # a new pod waits as a standby
    pods = crds.get("pods", "-n", release.namespace, "-l", "app.kubernetes.io/name=pim-operator")["items"]
    assert {p["spec"]["nodeName"] for p in pods} == {fake_node}
    env = {e["name"]: e.get("value", "") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["PIM_OPERATOR_NAMESPACES"] == ",".join(release.watched)
    assert env["PIM_LEADER_ELECTION_NAMESPACE"] == release.namespace
    budgets = crds.get("pdb", "-n", release.namespace, "-l", f"app.kubernetes.io/instance={release.name}")["items"]
    assert len(budgets) == (1 if release.replicas > 1 else 0)


def test_service_account_may_do_what_the_operator_does(crds: Cluster, release: Release) -> None:
    targets = release.watched or [release.namespace]
    for ns in targets:
        for verb, resource in [
            ("watch", "piminstances.pim.dev"),
            ("patch", "piminstances.pim.dev/status"),
            ("patch", "pimmodels.pim.dev/status"),
            ("patch", "deployments.apps"),
            ("create", "deployments.apps"),  # server-side apply of a new object needs create too
            ("delete", "services"),
            ("patch", "servicemonitors.monitoring.coreos.com"),
            ("list", "pods"),
            ("create", "events"),
            ("patch", "clusters.postgresql.cnpg.io"),
            ("create", "poddisruptionbudgets.policy"),
            ("get", "secrets"),  # only those instances reference, each by name
            ("watch", "secrets"),
        ]:
            assert can_i(crds, release, verb, resource, ns), f"{release.user} cannot {verb} {resource} in {ns}"
    assert can_i(crds, release, "watch", "customresourcedefinitions.apiextensions.k8s.io")
    selector = f"app.kubernetes.io/instance={release.name},app.kubernetes.io/name=pim-operator"
    (deployment,) = crds.get("deployment", "-n", release.namespace, "-l", selector)["items"]
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    lease = env["PIM_LEADER_ELECTION_ID"]
    assert can_i(crds, release, "update", "leases.coordination.k8s.io", release.namespace, lease)
    assert can_i(crds, release, "create", "leases.coordination.k8s.io", release.namespace)


def test_service_account_may_do_nothing_broader(crds: Cluster, release: Release) -> None:
    ns = (release.watched or [release.namespace])[0]
    for verb, resource in [
        ("list", "secrets"),  # the referenced ones are read by name: never the whole namespace
        ("create", "secrets"),
        ("patch", "secrets"),
        ("update", "deployments.apps"),  # children are written by server-side apply only
        ("delete", "pods"),
        ("update", "piminstances.pim.dev"),
        ("create", "clusterroles.rbac.authorization.k8s.io"),
        ("update", "leases.coordination.k8s.io"),  # only its own Lease, in its own namespace
        ("patch", "customresourcedefinitions.apiextensions.k8s.io"),
    ]:
        assert not can_i(crds, release, verb, resource, ns), f"{release.user} may {verb} {resource} in {ns}"
    if release.scope == "namespaced":
        # Neither the operator's own namespace nor any other is open to it.
        assert not can_i(crds, release, "list", "piminstances.pim.dev", release.namespace)
        assert not can_i(crds, release, "list", "piminstances.pim.dev")


def test_uninstall_leaves_only_the_crds(crds: Cluster, helm: Helm, release: Release) -> None:
    namespaces = [release.namespace, *release.watched]
    assert leftovers(crds, release.name, namespaces), "the release's objects should exist before uninstall"
    helm("uninstall", release.name, "-n", release.namespace, "--cascade=foreground", "--wait=watcher")
    release.uninstalled = True
    wait_for(lambda: not leftovers(crds, release.name, namespaces), 60, f"release {release.name} to be gone")
    for name in CRD_NAMES:
        crds.get("crd", name)  # raises when gone
