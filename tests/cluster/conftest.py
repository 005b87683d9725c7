"""Fixtures for the operator's tests on a real API server: the CRDs, a running operator, helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.operator_proc import OperatorProcess

REPO = Path(__file__).resolve().parents[2]
CRDS = REPO / "deploy" / "crds"
Cluster = Any  # tests/conftest.py's Cluster


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
    crds: Cluster, fake_node: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    proc = OperatorProcess(
        crds.kubeconfig,
        tmp_path_factory.mktemp("operator"),
        "--probe-interval",
        "0",  # kwok pods have no real IPs: nothing to probe here
        "--resync-interval",
        "3",
        "--discovery-interval",
        "2",
        "--workers",
        "8",
    )
    proc.start()
    yield proc
    proc.stop()
