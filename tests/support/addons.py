"""The cluster add-ons scaled instances need (CloudNativePG with the local PostgreSQL image,
metrics-server, CoreDNS), for tests and benchmarks alike."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.cluster import Cluster, ClusterError, tail

REPO = Path(__file__).resolve().parents[2]
ADDONS_TIMEOUT = float(os.environ.get("PIM_ADDONS_TIMEOUT_SECONDS", "2400"))
#: What each add-on must have registered in a cluster it was installed into.
INSTALLED = (
    ("CloudNativePG", ("get", "crd", "clusters.postgresql.cnpg.io")),
    ("metrics-server", ("get", "apiservice", "v1beta1.metrics.k8s.io")),
)


def install_addons(cluster: Cluster) -> None:
    """Build (cached), import and install the add-ons in a local cluster (``hack/addons/up.sh``);
    for any other cluster, check that they are there. Raise ``ClusterError`` saying what is wrong."""
    if cluster.dir is not None:
        try:
            proc = subprocess.run(
                [str(REPO / "hack" / "addons" / "up.sh"), str(cluster.dir)],
                capture_output=True,
                text=True,
                timeout=ADDONS_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ClusterError(f"hack/addons/up.sh {cluster.dir} did not finish in {ADDONS_TIMEOUT:g}s") from None
        if proc.returncode != 0:
            said = tail((proc.stdout + proc.stderr).strip(), 40)
            raise ClusterError(f"hack/addons/up.sh {cluster.dir} exited {proc.returncode}:\n{said}")
        return
    for what, args in INSTALLED:
        if cluster.kubectl(*args, check=False).returncode != 0:
            raise ClusterError(f"{what} is not installed in the PIM_KUBECONFIG cluster: run hack/addons/install.sh")
