"""The operator as users run it on kind: installed with Helm, in the cluster.

On a cluster whose pod network the host cannot reach (kind: pods sit behind Docker's bridge in
the node containers), an operator running on the host could not probe its instances' pods, so
the e2e suite installs the chart instead, with the images ``make kind-load`` put on the nodes. It
takes over the release ``make kind-deploy`` installs (same name and namespace) for the session,
with the suite's short intervals, and at the end rolls that release back to where it was, or
uninstalls it when there was none. The chart runs two replicas: logs and metrics (read through a
port-forward) come from the one that leads.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.helm import CHART, Helm, leader_pod, set_args
from tests.support.reach import PortForward
from tests.support.waiting import wait_for

RELEASE = "pim-operator"
NAMESPACE = "pim-system"


def image_values() -> dict[str, str]:
    """Chart values for the images this run built (OPERATOR_IMAGE, ENGINE_IMAGE, CONSOLE_IMAGE, as
    hack/images names them): a run under its own tags must not fall back on the console's default."""
    values = {}
    for key, env, default in (
        ("image", "OPERATOR_IMAGE", "pim.dev/pim-operator:dev"),
        ("engine.image", "ENGINE_IMAGE", "pim.dev/pim-engine:dev"),
        ("console.image", "CONSOLE_IMAGE", "pim.dev/pim-console:dev"),
    ):
        repository, _, tag = os.environ.get(env, default).rpartition(":")
        values[f"{key}.repository"], values[f"{key}.tag"] = repository, tag
    return values


class InClusterOperator:
    def __init__(self, cluster: Any, helm_home: Path, values: dict[str, Any]) -> None:
        self.cluster = cluster
        self.helm = Helm(cluster.kubeconfig, helm_home)
        self.values = {**image_values(), **values}
        self.previous_revision: int | None = None
        self._metrics: PortForward | None = None

    def start(self) -> None:
        history = self.helm("history", RELEASE, "-n", NAMESPACE, "-o", "json", check=False)
        if history.returncode == 0:
            self.previous_revision = max(r["revision"] for r in json.loads(history.stdout))
        self.helm(
            "upgrade", "--install", RELEASE, str(CHART), "-n", NAMESPACE, "--create-namespace",
            "--wait", "--timeout", "180s", *set_args(self.values),
        )  # fmt: skip

    def stop(self) -> None:
        if self._metrics is not None:
            self._metrics.close()
        if self.previous_revision is None:
            self.helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait", check=False)
        else:
            self.helm("rollback", RELEASE, str(self.previous_revision), "-n", NAMESPACE, "--wait", check=False)

    def leader(self) -> str:
        """``pod/NAME`` of the replica that leads: the chart runs two, and only the leader works."""
        pod = wait_for(lambda: leader_pod(self.cluster, NAMESPACE, RELEASE), 60, "an operator replica to lead")
        return f"pod/{pod['metadata']['name']}"

    def logs(self, lines: int = 80) -> str:
        return self.cluster.kubectl("logs", "-n", NAMESPACE, self.leader(), f"--tail={lines}", check=False).stdout

    def metrics_text(self) -> str:
        """The leader's metrics (a new forward when the leader changed)."""
        leader = self.leader()
        if self._metrics is None or self._metrics.target != leader:
            if self._metrics is not None:
                self._metrics.close()
            self._metrics = PortForward(self.cluster.kubeconfig, NAMESPACE, leader, 8080)
        return httpx.get(f"{self._metrics.url}/metrics", timeout=5).text

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        return sum(
            s.value
            for family in text_string_to_metric_families(self.metrics_text())
            for s in family.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )
