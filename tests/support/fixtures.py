"""Fixtures shared by the cluster and e2e suites: the CRDs, a kwok node, a running operator.

Loaded as a pytest plugin from tests/conftest.py (``pytest_plugins``)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pim_engine.access.reviews import PROBE_AUDIENCE
from tests.support.addons import install_addons
from tests.support.cluster import Cluster, ClusterError
from tests.support.operator_incluster import InClusterOperator
from tests.support.operator_proc import OperatorProcess

REPO = Path(__file__).resolve().parents[2]
CRDS = REPO / "deploy" / "crds"
PROBE_NETWORKS = os.environ.get("PIM_TEST_POD_NETWORKS", "10.244.0.0/16")


@pytest.fixture(scope="session")
def crds(cluster: Cluster) -> Cluster:
    cluster.kubectl("apply", "--server-side", "-f", str(CRDS))
    for path in sorted(CRDS.glob("*.yaml")):
        cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(path))
    return cluster


@pytest.fixture(scope="session")
def fake_node(crds: Cluster) -> str:
    """One kwok node that engine pods of these tests are placed on (they tolerate its taint)."""
    return crds.create_fake_nodes(1, prefix="pim-kwok")[0]


@pytest.fixture(scope="session")
def operator(
    crds: Cluster, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess | InClusterOperator]:
    """The operator under test: a process beside the local cluster (which the host routes into),
    or, on any other cluster (kind), the chart's operator in the cluster."""
    if crds.dir is None:
        incluster = InClusterOperator(
            crds,
            tmp_path_factory.mktemp("helm-operator"),
            {
                "probeInterval": 2,
                "resyncInterval": 3,
                "workers": 8,
                "logFormat": "plain",
                # Namespaces of the helm e2e test belong to the operator that test installs.
                "excludeNamespaces": ["e2e-helm-*"],
            },
        )
        incluster.start()
        yield incluster
        incluster.stop()
        return
    request.getfixturevalue("fake_node")
    token_file = probe_token_file(crds, tmp_path_factory.mktemp("probe-token"))
    proc = OperatorProcess(
        crds.kubeconfig,
        tmp_path_factory.mktemp("operator"),
        # Probe real pods only: kwok's fake pod IPs (10.245.0.0/16) must never be contacted.
        "--probe-interval",
        "2",
        "--probe-networks",
        PROBE_NETWORKS,
        "--resync-interval",
        "3",
        "--discovery-interval",
        "2",
        # Namespaces of the helm e2e tests belong to the operators those tests install in-cluster,
        # and own-op-* ones to operators a test runs itself (leader election, credentials).
        "--namespace",
        "!e2e-helm-*",
        "--namespace",
        "!own-op-*",
        "--workers",
        "8",
        "--probe-token-file",
        str(token_file),
    )
    proc.start()
    yield proc
    proc.stop()


def probe_token_file(cluster: Cluster, where: Path) -> Path:
    """What an operator outside the cluster shows instances with auth on, as the README says to
    make it: a token for the probe audience of a ServiceAccount that may get piminstances/metrics."""
    account, ns = "pim-test-operator-probe", "kube-system"
    rules = [{"apiGroups": ["pim.dev"], "resources": ["piminstances/metrics"], "verbs": ["get"]}]
    rbac = "rbac.authorization.k8s.io"
    objects = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account, "namespace": ns}},
        {"apiVersion": f"{rbac}/v1", "kind": "ClusterRole", "metadata": {"name": account}, "rules": rules},
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": account},
            "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": account},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": ns}],
        },
    ]
    cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    token = cluster.kubectl(
        "create", "token", account, "-n", ns, f"--audience={PROBE_AUDIENCE}", "--duration=6h"
    ).stdout.strip()
    path = where / "token"
    path.write_text(token + "\n")
    return path


@pytest.fixture(scope="session")
def addons(cluster: Cluster) -> Cluster:
    """CloudNativePG (with the local PostgreSQL image), metrics-server and CoreDNS in the cluster
    (``tests.support.addons``). Missing, they fail the tests that need them, with the reason: never a skip."""
    try:
        install_addons(cluster)
    except ClusterError as err:
        pytest.fail(str(err), pytrace=False)
    return cluster
