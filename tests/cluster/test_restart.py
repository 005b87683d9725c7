"""Components of the local cluster restart in place (``hack/cluster/restart.sh``, ``Cluster.restart``):
what fault tests build on. A crash of etcd and the apiserver loses nothing written before it, and a
restarted controller-manager goes back to work.

On a throw-away control plane of its own (kwok, no node), so that no other test sees the outage.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Cluster, ClusterError, local_cluster
from tests.support.waiting import wait_for

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if os.environ.get("PIM_KUBECONFIG"):
        pytest.skip("restarts need the local cluster's components; PIM_KUBECONFIG names another cluster")
    state: Path = tmp_path_factory.mktemp("restart-cluster")
    with local_cluster(state, tmp_path_factory.mktemp("restart-kubectl"), node=False) as cluster:
        yield cluster


def configmap(name: str, value: str) -> dict[str, object]:
    meta = {"name": name, "namespace": "default"}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"v": value}}


def test_a_crash_of_etcd_and_the_apiserver_loses_no_write(own_cluster: Cluster) -> None:
    token = secrets.token_hex(8)
    own_cluster.create(configmap("before-crash", token))
    assert own_cluster.dir is not None
    pid_file = own_cluster.dir / "pids" / "kube-apiserver.pid"
    pid_before = pid_file.read_text()

    own_cluster.restart("kube-apiserver", "etcd", signal="KILL")

    assert pid_file.read_text() != pid_before
    assert own_cluster.get("configmap", "before-crash", "-n", "default")["data"] == {"v": token}
    own_cluster.create(configmap("after-crash", token))
    assert own_cluster.get("configmap", "after-crash", "-n", "default")["data"] == {"v": token}


def test_a_restarted_controller_manager_reconciles_again(own_cluster: Cluster) -> None:
    own_cluster.restart("kube-controller-manager", down=1)
    name = f"after-restart-{secrets.token_hex(3)}"
    own_cluster.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    # Never scheduled anywhere: only the controller-manager's ReplicaSet matters here.
                    "spec": {
                        "nodeSelector": {"pim.dev/restart-test": "nowhere"},
                        "containers": [{"name": "main", "image": "pim.local/never-pulled:0"}],
                    },
                },
            },
        }
    )
    wait_for(
        lambda: own_cluster.get("replicasets", "-n", "default", "-l", f"app={name}")["items"],
        60,
        f"a ReplicaSet for Deployment {name} from the restarted controller-manager",
    )


def test_a_failing_between_command_is_reported_and_the_components_still_come_back(own_cluster: Cluster) -> None:
    assert own_cluster.dir is not None
    pid_file = own_cluster.dir / "pids" / "kube-scheduler.pid"
    pid_before = pid_file.read_text()

    with pytest.raises(ClusterError, match=r"the --between command exited 3: exit 3"):
        own_cluster.restart("kube-scheduler", signal="KILL", between="exit 3")

    # Started again before the failure was reported: the scheduler places a pod on a fake node.
    assert pid_file.read_text() != pid_before
    assert Path(f"/proc/{pid_file.read_text().strip()}").exists()
    node = own_cluster.create_fake_nodes(1, prefix="restart-node")[0]
    name = f"scheduled-{secrets.token_hex(3)}"
    own_cluster.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                **Cluster.fake_node_placement(node),
                "containers": [{"name": "main", "image": "pim.local/fake:0"}],
            },
        }
    )
    wait_for(
        lambda: own_cluster.get("pod", name, "-n", "default")["spec"].get("nodeName") == node,
        60,
        f"pod {name} scheduled onto {node} by the restarted scheduler",
    )
