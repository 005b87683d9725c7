"""The Kubernetes cluster a test or benchmark talks to, and the local one's bring-up and teardown.

``local_cluster`` runs ``hack/cluster/up.sh`` into a state directory and ``down.sh`` at the end, with
``PIM_CLUSTER_OWNER_PID`` set so that a run killed before its teardown leaves nothing behind (up.sh's
watchdog). ``Cluster`` is the client side: kubectl (``tests.support.kubectl``), namespaces and fake
nodes the tests made, ``cluster.env``, and ``restart`` of single components for fault tests.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
HACK_CLUSTER = REPO / "hack" / "cluster"
# Bring-up includes a real node (images, containerd) when PIM_CLUSTER_NODE=1, hence the margin.
UP_TIMEOUT = float(os.environ.get("PIM_CLUSTER_UP_TIMEOUT", "600"))
DOWN_TIMEOUT = 180.0
OUTPUT_TAIL_LINES = 60

FAKE_NODE_ANNOTATION = {"kwok.x-k8s.io/node": "fake"}
FAKE_NODE_TAINT = {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}


class ClusterError(RuntimeError):
    """A hack/cluster script failed or timed out; the message ends with the end of its output."""


def read_env_file(path: Path) -> dict[str, str]:
    """Parse ``cluster.env`` (NAME=shell-quoted value per line, as up.sh writes it)."""
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep:
            words = shlex.split(value)
            env[name] = words[0] if words else ""
    return env


def processes_mentioning(path: Path) -> list[str]:
    """``"PID command line"`` of every live process whose command line names something under
    ``path``: what a cluster directory's teardown must leave none of."""
    needle = f"{path}/".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = next(line for line in (proc / "status").read_text().splitlines() if line.startswith("State:"))
        except (OSError, StopIteration):
            continue
        if needle in cmdline and "zombie" not in state:
            words = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{proc.name} {words[:200]}")
    return found


def tail(text: str, lines: int = OUTPUT_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class Cluster(Kubectl):
    """A Kubernetes API server, and the objects made through this object that outlive a test."""

    def __init__(
        self, kubeconfig: Path, cache_dir: Path, dir: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        super().__init__(kubeconfig, cache_dir)
        self.dir = dir  # the local cluster's state directory; None for any other cluster
        self.env = env or {}  # DIR/cluster.env of a local cluster
        self._namespaces: list[str] = []
        self._nodes: list[str] = []

    def namespace(self, prefix: str, labels: dict[str, str] | None = None) -> str:
        """Create a uniquely named namespace (deleted by ``cleanup``) and wait for its default
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

    def create_fake_nodes(self, n: int, prefix: str = "kwok-node", capacity: dict[str, str] | None = None) -> list[str]:
        """Create ``n`` kwok-managed fake Nodes and wait until kwok reports them Ready.

        They carry kwok's annotation and a NoSchedule taint, so only pods placed there on purpose
        (see ``fake_node_placement``) land on them.
        """
        names = [f"{prefix}-{secrets.token_hex(3)}" for _ in range(n)]
        resources = capacity or {"cpu": "32", "memory": "256Gi", "pods": "110"}
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
            wait_for(lambda name=name: self.node_ready(name), 90, f"fake node {name} to be Ready (is kwok running?)")
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
        return Cluster(kubeconfig, self.cache_dir)

    def restart(self, *components: str, signal: str = "TERM", down: float = 0, between: str | None = None) -> None:
        """Restart components of the local cluster in place (``hack/cluster/restart.sh``): stopped
        with ``signal`` in reverse order, ``between`` run while all are down, ``down`` seconds
        later started in order, each waited for."""
        if self.dir is None:
            raise ClusterError("only the local cluster's components can be restarted")
        hook = ["--between", between] if between else []
        args = ["--signal", signal, "--down", f"{down:g}", *hook, str(self.dir), *components]
        run_script("restart.sh", *args, timeout=DOWN_TIMEOUT + UP_TIMEOUT)

    def cleanup(self) -> None:
        """Delete what the tests created; only matters for a cluster that outlives the session."""
        if self._namespaces:
            self.kubectl("delete", "namespace", "--wait=false", "--ignore-not-found", *self._namespaces)
        if self._nodes:
            self.kubectl("delete", "node", "--wait=false", "--ignore-not-found", *self._nodes)


def run_script(
    name: str,
    *args: str,
    timeout: float,
    echo: bool = False,
    node: bool | None = None,
    keep_logs: bool = False,
) -> str:
    """Run ``hack/cluster/NAME ARGS`` and return its output; raise ``ClusterError`` (with the end of
    the output) when it fails or overruns. ``echo`` streams the output to stderr as it comes
    instead (benchmarks show progress); ``node`` sets PIM_CLUSTER_NODE (default: the environment's);
    ``keep_logs`` keeps the components' logs when stopping (PIM_KEEP_LOGS)."""
    env = {**os.environ, "PIM_CLUSTER_OWNER_PID": str(os.getpid())}
    if node is not None:
        env["PIM_CLUSTER_NODE"] = "1" if node else "0"
    if keep_logs:
        env["PIM_KEEP_LOGS"] = "1"
    argv = [str(HACK_CLUSTER / name), *args]
    out = sys.stderr if echo else subprocess.PIPE
    try:
        proc = subprocess.run(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode(errors="replace")
        raise ClusterError(f"hack/cluster/{name} did not finish in {timeout:g}s:\n{tail(output)}") from None
    if proc.returncode != 0:
        raise ClusterError(f"hack/cluster/{name} exited {proc.returncode}:\n{tail(proc.stdout or '')}")
    return proc.stdout or ""


def start_local_cluster(
    state: Path, cache_dir: Path, *, node: bool | None = None, timeout: float = UP_TIMEOUT, echo: bool = False
) -> Cluster:
    """Bring a local cluster up in ``state`` (up.sh); on failure stop what started, keeping its
    logs in ``state/logs``, and raise ``ClusterError`` saying why. Stop it with ``stop_local_cluster``."""
    try:
        run_script("up.sh", str(state), timeout=timeout, echo=echo, node=node)
    except ClusterError:
        run_script("down.sh", str(state), timeout=DOWN_TIMEOUT, echo=echo, keep_logs=True)
        raise
    return Cluster(state / "kubeconfig", cache_dir, dir=state, env=read_env_file(state / "cluster.env"))


def stop_local_cluster(state: Path, *, echo: bool = False) -> str:
    """Stop the local cluster in ``state`` (down.sh) and return what down.sh said."""
    return run_script("down.sh", str(state), timeout=DOWN_TIMEOUT, echo=echo)


@contextmanager
def local_cluster(
    state: Path, cache_dir: Path, *, node: bool | None = None, timeout: float = UP_TIMEOUT, echo: bool = False
) -> Iterator[Cluster]:
    """A local cluster in ``state`` for the duration of the ``with`` block (see
    ``start_local_cluster``); stopped at the end, also when the block fails."""
    cluster = start_local_cluster(state, cache_dir, node=node, timeout=timeout, echo=echo)
    try:
        yield cluster
    except BaseException as exc:
        try:
            stop_local_cluster(state, echo=echo)
        except ClusterError as down:
            exc.add_note(f"and stopping the cluster failed too: {down}")
        raise
    stop_local_cluster(state, echo=echo)
