"""Session fixtures for tests that need a Kubernetes API server.

The ``cluster`` fixture is lazy: only tests that request it start the local control plane
(``hack/cluster/up.sh``), once per session, and stop it (``down.sh``) at the end, so ``pytest -m unit``
never starts one. With ``PIM_KUBECONFIG`` set the tests use that cluster (kind, say) and start nothing.
A cluster that cannot come up fails every test that needs it, with up.sh's own explanation: a broken
environment must never look like a skipped, green run.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from support.waiting import wait_for

pytest_plugins = ["support.fixtures"]

REPO = Path(__file__).resolve().parent.parent
HACK_CLUSTER = REPO / "hack" / "cluster"
KUBECTL = os.environ.get("KUBECTL") or shutil.which("kubectl") or "/usr/bin/kubectl"
# Bring-up includes a real node (images, containerd) when PIM_CLUSTER_NODE=1, hence the margin.
UP_TIMEOUT = float(os.environ.get("PIM_CLUSTER_UP_TIMEOUT", "600"))
OUTPUT_TAIL_LINES = 60

FAKE_NODE_ANNOTATION = {"kwok.x-k8s.io/node": "fake"}
FAKE_NODE_TAINT = {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}

__all__ = ["Cluster", "KubectlError", "wait_for"]


class KubectlError(AssertionError):
    """A kubectl call failed; the message carries the command line and kubectl's stderr."""

    def __init__(self, args: tuple[str, ...], proc: subprocess.CompletedProcess[str]) -> None:
        self.proc = proc
        said = proc.stderr.strip() or proc.stdout.strip()
        super().__init__(f"kubectl {shlex.join(args)} exited {proc.returncode}: {said}")


def _tail(text: str, lines: int = OUTPUT_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _read_env_file(path: Path) -> dict[str, str]:
    """Parse ``cluster.env`` (NAME=shell-quoted value per line, as up.sh writes it)."""
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep:
            words = shlex.split(value)
            env[name] = words[0] if words else ""
    return env


@dataclass
class Cluster:
    """A Kubernetes API server the tests may use, and the objects they made that outlive a test."""

    kubeconfig: Path
    dir: Path | None  # the local cluster's state directory; None for a PIM_KUBECONFIG cluster
    cache_dir: Path
    env: dict[str, str] = field(default_factory=dict)  # DIR/cluster.env of a local cluster
    _namespaces: list[str] = field(default_factory=list)
    _nodes: list[str] = field(default_factory=list)

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this cluster; raise ``KubectlError`` on failure when ``check``."""
        proc = subprocess.run(
            [KUBECTL, f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache_dir}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise KubectlError(args, proc)
        return proc

    def get(self, *args: str) -> Any:
        """``kubectl get ARGS -o json``, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def create(self, obj: dict[str, Any], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Create one object given as a dict; with ``check=False`` a rejection is returned, not raised."""
        return self.kubectl("create", "-f", "-", "-o", "json", input=json.dumps(obj), check=check)

    def namespace(self, prefix: str, labels: dict[str, str] | None = None) -> str:
        """Create a uniquely named namespace (deleted at session end) and wait for its default
        ServiceAccount, without which the ServiceAccount admission plugin rejects every pod."""
        name = f"{prefix}-{secrets.token_hex(3)}"
        self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}})
        self._namespaces.append(name)
        wait_for(
            lambda: self.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode == 0,
            60,
            f"the default ServiceAccount in namespace {name}",
        )
        return name

    def create_fake_nodes(self, n: int, prefix: str = "kwok-node") -> list[str]:
        """Create ``n`` kwok-managed fake Nodes and wait until kwok reports them Ready.

        They carry kwok's annotation and a NoSchedule taint, so only pods placed there on purpose
        (see ``fake_node_placement``) land on them.
        """
        names = [f"{prefix}-{secrets.token_hex(3)}" for _ in range(n)]
        resources = {"cpu": "32", "memory": "256Gi", "pods": "110"}
        for name in names:
            self.create(
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {
                        "name": name,
                        "annotations": {**FAKE_NODE_ANNOTATION, "node.alpha.kubernetes.io/ttl": "0"},
                        "labels": {
                            "type": "kwok",
                            "kubernetes.io/hostname": name,
                            "kubernetes.io/os": "linux",
                            "kubernetes.io/arch": "amd64",
                        },
                    },
                    "spec": {"taints": [FAKE_NODE_TAINT]},
                    "status": {"allocatable": resources, "capacity": resources},
                }
            )
            self._nodes.append(name)
        for name in names:
            wait_for(
                lambda name=name: self.node_ready(name),
                60,
                f"fake node {name} to be Ready (is kwok running?)",
            )
        return names

    def node_ready(self, name: str) -> bool:
        conditions = self.get("node", name).get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    @staticmethod
    def fake_node_placement(node: str | None = None) -> dict[str, Any]:
        """Pod spec fields that tolerate the fake nodes' taint and select them (or one of them)."""
        selector = {"kubernetes.io/hostname": node} if node else {"type": "kwok"}
        return {"nodeSelector": selector, "tolerations": [{**FAKE_NODE_TAINT, "operator": "Equal"}]}

    def with_token(self, token: str, kubeconfig: Path) -> Cluster:
        """The same API server, seen by whoever ``token`` belongs to (a ServiceAccount, say).

        The new kubeconfig (written to ``kubeconfig``) keeps only the server and its CA, so no
        client certificate of the original user can authenticate the requests instead.
        """
        view = json.loads(self.kubectl("config", "view", "--minify", "--raw", "-o", "json").stdout)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": view["clusters"][0]["cluster"]}],
            "users": [{"name": "u", "user": {"token": token}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "c",
        }
        kubeconfig.write_text(json.dumps(config))
        kubeconfig.chmod(0o600)
        return Cluster(kubeconfig=kubeconfig, dir=None, cache_dir=self.cache_dir)

    def cleanup(self) -> None:
        """Delete what the tests created; only matters for a cluster that outlives the session."""
        if self._namespaces:
            self.kubectl("delete", "namespace", "--wait=false", "--ignore-not-found", *self._namespaces)
        if self._nodes:
            self.kubectl("delete", "node", "--wait=false", "--ignore-not-found", *self._nodes)


def _run_script(name: str, state: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIM_CLUSTER_OWNER_PID": str(os.getpid())}
    return subprocess.run(
        [str(HACK_CLUSTER / name), str(state)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The session's cluster: ``PIM_KUBECONFIG``'s, or a local control plane started for the session.

    PIM_CLUSTER_NODE (a real kubelet node) reaches up.sh through the environment. A failed bring-up
    raises once; pytest caches a session fixture's error, so every later test fails at once with
    the same reason instead of retrying.
    """
    cache_dir = tmp_path_factory.mktemp("kubectl-cache")
    external = os.environ.get("PIM_KUBECONFIG")
    if external:
        kubeconfig = Path(external).expanduser().resolve()
        if not kubeconfig.is_file():
            pytest.fail(f"PIM_KUBECONFIG={external}: no such kubeconfig file", pytrace=False)
        remote = Cluster(kubeconfig=kubeconfig, dir=None, cache_dir=cache_dir)
        yield remote
        remote.cleanup()
        return

    state = tmp_path_factory.mktemp("cluster")
    try:
        up = _run_script("up.sh", state, UP_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        _run_script("down.sh", state, 120)
        output = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode(errors="replace")
        pytest.fail(f"hack/cluster/up.sh did not finish in {UP_TIMEOUT:g}s:\n{_tail(output)}", pytrace=False)
    if up.returncode != 0:
        pytest.fail(
            f"the local cluster did not come up (hack/cluster/up.sh exited {up.returncode}):\n{_tail(up.stdout)}",
            pytrace=False,
        )
    local = Cluster(
        kubeconfig=state / "kubeconfig",
        dir=state,
        cache_dir=cache_dir,
        env=_read_env_file(state / "cluster.env"),
    )
    try:
        yield local
    finally:
        down = _run_script("down.sh", state, 120)
        if down.returncode != 0:
            pytest.fail(f"hack/cluster/down.sh failed (exit {down.returncode}):\n{_tail(down.stdout)}", pytrace=False)
