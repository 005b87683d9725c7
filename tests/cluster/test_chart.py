"""The Helm chart against a real API server (no real node: kwok runs the operator's pods).

The rendered chart passes the apiserver's own validation (server-side dry run), a real
``helm install`` becomes an available Deployment whose ServiceAccount can do what the operator
does and nothing broader, and ``helm uninstall`` leaves nothing of the release but the CRDs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from support.helm import CHART, Helm, leftovers, set_args
from support.waiting import wait_for

if TYPE_CHECKING:
    from conftest import Cluster

pytestmark = pytest.mark.cluster

CRD_NAMES = (
    "pimmodels.pim.dev",
    "piminstances.pim.dev",
    "kopfpeerings.kopf.dev",
    "clusterkopfpeerings.kopf.dev",
)


@pytest.fixture(scope="module")
def helm(crds: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(crds.kubeconfig, tmp_path_factory.mktemp("helm"))


def kwok_placement(node: str) -> dict[str, Any]:
    placement = crds_placement = None  # noqa: F841 - documented below
    from conftest import Cluster as _Cluster  # the fixture module's helper, not a fixture

    placement = _Cluster.fake_node_placement(node)
    del crds_placement
    return {"nodeSelector": placement["nodeSelector"], "tolerations": placement["tolerations"]}
