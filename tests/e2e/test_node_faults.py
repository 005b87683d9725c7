"""Faults of the real node under persistent instances: the volume fills up, and the node's
containerd and kubelet go down (with the engine process killed meanwhile, as a reboot would).

A full volume: the instance's claim binds a PersistentVolume backed by a 16 MiB tmpfs the test
mounts on the host, which the test then fills. Writes must answer 507 with a message saying the
storage is full, reads must go on, and writes must work again once space is freed.

Needs PIM_CLUSTER_NODE=1 (and root: the test mounts the tmpfs and kills a process on the node).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cluster import Cluster
from tests.support.faults import needs_local_node, pod_processes
from tests.support.figures import record
from tests.support.pim import BOOKS, apply, pim_model, wait_condition
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.local_node_only]
NODE_LABEL = ("pim.dev/node", "local")


def persistent(ns: str, name: str, **storage: Any) -> dict[str, Any]:
    return {
        "apiVersion": "pim.dev/v1alpha1",
        "kind": "PimInstance",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "modelRef": {"name": "books"},
            "nodeSelector": dict([NODE_LABEL]),
            "storage": {"type": "Persistent", "reclaimPolicy": "Delete", **storage},
        },
    }


def engine_pod(cluster: Cluster, ns: str, name: str) -> dict[str, Any] | None:
    pods = cluster.get("pods", "-n", ns, "-l", f"app.kubernetes.io/instance={name}")["items"]
    running = [
        p
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or ())
    ]
    return running[0] if len(running) == 1 else None


def base_url(pod: dict[str, Any]) -> str:
    return f"http://{pod['status']['podIP']}:8000"


@pytest.fixture(scope="module")
def books(cluster: Cluster, request: pytest.FixtureRequest) -> str:
    needs_local_node(cluster, "the test mounts a volume and kills the node's daemons on this host")
    request.getfixturevalue("operator")
    if not cluster.get("nodes", "-l", "=".join(NODE_LABEL))["items"]:
        pytest.fail(f"no node labelled {'='.join(NODE_LABEL)}: run with PIM_CLUSTER_NODE=1", pytrace=False)
    ns = cluster.namespace("e2e-node-faults")
    apply(cluster, pim_model(ns, "books", BOOKS))
    wait_condition(cluster, "pm", ns, "books", "Valid", "True")
    return ns


@pytest.fixture
def small_volume(cluster: Cluster, books: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A 16 MiB tmpfs on the host, offered as a PersistentVolume of a class only this test uses."""
    mount = tmp_path / "volume"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=1777", "tmpfs", str(mount)], check=True)
    storage_class = f"pim-small-{books}"
    pv = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": storage_class},
        "spec": {
            "capacity": {"storage": "16Mi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": storage_class,
            "hostPath": {"path": str(mount), "type": "Directory"},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": NODE_LABEL[0], "operator": "In", "values": [NODE_LABEL[1]]}]}
                    ]
                }
            },
        },
    }
    cluster.create(pv)
    try:
        yield storage_class, mount
    finally:
        cluster.kubectl("delete", "pi", "full", "-n", books, "--ignore-not-found", "--wait=true", timeout=120)
        cluster.kubectl("delete", "pv", storage_class, "--ignore-not-found", "--wait=false")
        selector = ("pods", "-n", books, "-l", "app.kubernetes.io/instance=full")
        wait_for(lambda: not cluster.get(*selector)["items"], 120, "the engine pod to let go of the volume")
        subprocess.run(["umount", "--lazy", str(mount)], check=False)


def fill(mount: Path) -> Path:
    """Write a file until the volume has no space left (ENOSPC), as a runaway log or import would."""
    filler = mount / "filler"
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True, check=False)
    assert (
        subprocess.run(["df", "--output=avail", str(mount)], capture_output=True, text=True).stdout.split()[-1] == "0"
    )
    return filler


def test_a_full_volume_answers_507_keeps_reads_and_recovers(cluster: Cluster, books: str, small_volume) -> None:
    storage_class, mount = small_volume
    apply(cluster, persistent(books, "full", size="16Mi", storageClassName=storage_class))
    wait_condition(cluster, "pi", books, "full", "Ready", "True", timeout=180)
    pod = wait_for(lambda: engine_pod(cluster, books, "full"), 60, "the engine pod")
    url = f"{base_url(pod)}/api/v1/books"
    first = httpx.post(url, json={"title": "Dune", "isbn": "1"}, timeout=10)
    assert first.status_code == 201, first.text

    filler = fill(mount)
    # SQLite may still own room it allocated before (its WAL is rewritten from the start after a
    # checkpoint): a write that fits there is accepted, and the first that needs new space is
    # refused with 507. Large rows (overflow pages) get there within a few writes.
    accepted = ["Dune"]
    for n in range(100):
        refused = httpx.post(url, json={"title": f"Emma {n}", "isbn": f"2-{n}-" + "x" * 4000}, timeout=10)
        if refused.status_code != 201:
            break
        accepted.append(f"Emma {n}")
    assert refused.status_code == 507, f"after {len(accepted) - 1} accepted writes: {refused.text[:200]}"
    assert "full" in refused.text
    record("full_volume_writes_accepted_before_507", len(accepted) - 1)
    listed = httpx.get(url, params={"limit": 1000}, timeout=10)
    assert listed.status_code == 200
    assert [b["title"] for b in listed.json()["items"]] == accepted  # every acknowledged row, no refused one
    assert httpx.get(f"{url}/{first.json()['id']}", timeout=10).status_code == 200

    filler.unlink()
    freed = time.monotonic()
    again = wait_for(
        lambda: (r := httpx.post(url, json={"title": "Emma", "isbn": "2"}, timeout=10)).status_code == 201 and r,
        30,
        "writes to work again once space is freed",
    )
    assert again.json()["title"] == "Emma"
    listed = httpx.get(url, params={"limit": 1000}, timeout=10).json()["items"]
    assert [b["title"] for b in listed] == [*accepted, "Emma"]
    record("full_volume_writes_recovered_after_seconds", time.monotonic() - freed)


def test_containerd_and_kubelet_restarted_persistent_instances_come_back_with_their_data(
    cluster: Cluster, books: str
) -> None:
    apply(cluster, persistent(books, "durable"))
    wait_condition(cluster, "pi", books, "durable", "Ready", "True", timeout=180)
    pod = wait_for(lambda: engine_pod(cluster, books, "durable"), 60, "the engine pod")
    url = f"{base_url(pod)}/api/v1/books"
    created = httpx.post(url, json={"title": "Persuasion", "isbn": "3"}, timeout=10)
    assert created.status_code == 201, created.text
    engine = pod_processes(pod["metadata"]["uid"], "pim-engine")
    assert engine, "the engine process on this host"
    # Both node daemons down, the engine killed while they are (a reboot's worth), both back. The
    # kill finding the engine gone already is no failure (and whatever the kill does, restart.sh
    # starts the daemons again); the pod's restart count below shows the engine was down and came
    # back through the restarted kubelet.
    stopped = time.monotonic()
    kill = f"kill -9 {' '.join(map(str, engine))} 2>/dev/null || true"
    cluster.restart("containerd", "kubelet", signal="KILL", between=kill)
    back = time.monotonic()

    def serving_again() -> dict[str, Any] | None:
        p = engine_pod(cluster, books, "durable")
        statuses = (p or {}).get("status", {}).get("containerStatuses") or [{}]
        restarted = p is not None and (
            p["metadata"]["uid"] != pod["metadata"]["uid"] or statuses[0].get("restartCount")
        )
        return p if restarted else None

    again = wait_for(serving_again, 180, "the engine to be restarted and Ready")
    ready_after = time.monotonic() - back
    wait_condition(cluster, "pi", books, "durable", "Ready", "True", timeout=120)
    got = httpx.get(f"{base_url(again)}/api/v1/books/{created.json()['id']}", timeout=10)
    assert got.status_code == 200
    assert got.json()["title"] == "Persuasion"
    record("node_daemons_down_seconds", back - stopped)
    record("node_restart_engine_ready_again_after_seconds", ready_after)
