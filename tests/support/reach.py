"""Reaching Services and pods from the test process the way a user does: ``kubectl port-forward``.

It works the same on every cluster (the host cannot route to pod and Service addresses inside
kind), so the e2e suite talks to instances through it; tests of the embedded node's host routes
are the exception and say so. A forward dies with its pod (a rollout, a deleted pod): ``url``
starts a new one whenever the last one has exited.
"""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path
from typing import Any

import yaml

from tests.support.kubectl import KUBECTL
from tests.support.waiting import wait_for

FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) ->")


class PortForward:
    """``kubectl port-forward -n NS TARGET :PORT`` on 127.0.0.1, with a free local port.

    ``target`` is what kubectl takes: ``svc/NAME``, ``pod/NAME``, ``deploy/NAME``.
    """

    def __init__(self, kubeconfig: Path, namespace: str, target: str, port: int, timeout: float = 30) -> None:
        self.args = [KUBECTL, f"--kubeconfig={kubeconfig}", "port-forward", "-n", namespace, target, f":{port}"]
        self.args += ["--address", "127.0.0.1"]
        self.target = target
        self.what = f"{namespace}/{target}:{port}"
        self.timeout = timeout
        self.proc: subprocess.Popen[str] | None = None
        self._url: str | None = None
        self._lines: list[str] = []

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` of a live forward (started again if the last one exited)."""
        if self.proc is None or self.proc.poll() is not None or self._url is None:
            self._start()
        assert self._url is not None
        return self._url

    def _start(self) -> None:
        self.close()
        self._lines = []
        found: dict[str, str] = {}
        proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.proc = proc

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:  # drained until exit, so kubectl never blocks on a full pipe
                self._lines.append(line.rstrip())
                if m := FORWARDING.search(line):
                    found.setdefault("port", m.group(1))

        threading.Thread(target=read, daemon=True).start()

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"kubectl port-forward {self.what} exited: {' '.join(self._lines[-5:])}")
            return "port" in found

        wait_for(ready, self.timeout, f"kubectl port-forward {self.what}")
        self._url = f"http://127.0.0.1:{found['port']}"

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self._url = None

    def __enter__(self) -> PortForward:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def forward(cluster: Any, namespace: str, target: str, port: int) -> PortForward:
    """A ``PortForward`` to ``target`` in ``cluster`` (the tests' ``Cluster``)."""
    return PortForward(cluster.kubeconfig, namespace, target, port)


REPO = Path(__file__).resolve().parents[2]


def is_kind(cluster: Any) -> bool:
    """kind sets every node's providerID to ``kind://<provider>/<cluster>/<node>``."""
    return any(n["spec"].get("providerID", "").startswith("kind://") for n in cluster.get("nodes")["items"])


def published_node_ports(cluster: Any) -> list[int]:
    """The NodePorts kind-config.yaml publishes on 127.0.0.1 when ``cluster`` is kind; else none."""
    if not is_kind(cluster):
        return []
    config = yaml.safe_load((REPO / "kind-config.yaml").read_text())
    return sorted(
        m["hostPort"]
        for node in config["nodes"]
        for m in node.get("extraPortMappings", ())
        if m.get("listenAddress") == "127.0.0.1" and m["hostPort"] == m["containerPort"]
    )


def node_port_url(cluster: Any, port: int) -> str:
    """Where a user reaches NodePort ``port``: 127.0.0.1 if kind publishes it, else a node's address."""
    if is_kind(cluster):
        published = published_node_ports(cluster)
        assert port in published, f"NodePort {port} is not among those kind-config.yaml publishes: {published}"
        return f"http://127.0.0.1:{port}"
    return node_address_url(cluster, port)


def node_address_url(cluster: Any, port: int) -> str:
    """NodePort ``port`` on a real node's own address, which the host routes to on kind too.

    On kind, 127.0.0.1 goes through Docker's userland proxy, which accepts every connection
    itself: a connection to a pod that just died looks like a request dropped mid-flight there,
    where the node's address refuses it, as a load balancer in front of the nodes would see it.
    """
    for node in cluster.get("nodes")["items"]:
        addresses = {a["type"]: a["address"] for a in node["status"].get("addresses", ())}
        if "InternalIP" in addresses and not node["metadata"].get("annotations", {}).get("kwok.x-k8s.io/node"):
            return f"http://{addresses['InternalIP']}:{port}"
    raise AssertionError("no real node with an InternalIP")
