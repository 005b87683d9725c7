"""The operator as a real process against a real cluster, as a user would run it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.net import free_ports
from tests.support.process import ModuleProcess


class OperatorProcess(ModuleProcess):
    def __init__(self, kubeconfig: Path, log_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        super().__init__("operator")
        self.kubeconfig = kubeconfig
        self.log_dir = log_dir
        self.args = args
        self.env = env or {}
        self.metrics_port, self.health_port = free_ports(2)
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"operator-{self.starts}.log"

    def start(self, timeout: float = 60) -> None:
        # Fresh ports each time: a port this process let go of may since be another's (a client's).
        self.metrics_port, self.health_port = free_ports(2)
        self.starts += 1
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), **self.env}
        if os.environ.get("ENGINE_IMAGE"):  # the engine image this run built, as image_values() gives the chart
            env.setdefault("PIM_ENGINE_IMAGE", os.environ["ENGINE_IMAGE"])
        env.pop("KUBERNETES_SERVICE_HOST", None)
        self.launch(
            "pim_operator",
            [
                "--metrics-port",
                str(self.metrics_port),
                "--health-port",
                str(self.health_port),
                "--log-format",
                "plain",
                *self.args,
            ],
            env=env,
            log=self.log_path,
            healthy=lambda: httpx.get(f"http://127.0.0.1:{self.health_port}/healthz", timeout=1).status_code == 200,
            timeout=timeout,
        )

    def kill(self, sig: int = signal.SIGKILL) -> int | None:
        assert self.proc is not None
        return self.end(sig)

    def stop(self) -> int | None:
        return self.end(signal.SIGTERM)

    def metrics_text(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        total = 0.0
        for family in text_string_to_metric_families(self.metrics_text()):
            for s in family.samples:
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                    total += s.value
        return total

    def leading(self) -> bool:
        """Whether this process says it holds the leader lease (and works)."""
        return self.metric("pim_operator_leader") == 1

    def writes(self) -> float:
        """API requests that can change state, the leader lease's renewals left out: the number a
        no-op resync must not move, and a standby's (always 0)."""
        return self.metric("pim_operator_api_writes_total")
