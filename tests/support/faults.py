"""Faults the reliability tests inject from the host into the local cluster's real node: a pod's
process SIGKILLed. (Components of the cluster restart through ``Cluster.restart``.)"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest


def needs_local_node(cluster: Any, why: str) -> None:
    """Skip on a cluster other than the local one (kind, PIM_KUBECONFIG): these faults are injected
    from the host, into the processes of the local cluster's own node."""
    if cluster.dir is None:
        pytest.skip(f"the local cluster's node only: {why}")


def pod_processes(pod_uid: str, needle: str) -> list[int]:
    """Host pids of the processes of pod ``pod_uid`` (on this machine's real node) whose command
    line contains ``needle``: the pod's cgroup names its uid."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cgroups = (entry / "cgroup").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"pod{pod_uid}" in cgroups and needle in cmdline:
            pids.append(int(entry.name))
    return pids


def sigkill_pod_process(pod: dict[str, Any], needle: str) -> list[int]:
    """SIGKILL the processes of ``pod`` whose command line contains ``needle``, as the kernel's OOM
    killer or a crash would end them; the kubelet then restarts the container."""
    pids = pod_processes(pod["metadata"]["uid"], needle)
    assert pids, f"no process matching {needle!r} in pod {pod['metadata']['name']} on this host"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return pids
