"""The cluster's network, as the product needs it: NetworkPolicy is enforced (issue 13 relies on
it), by kube-router on both kind and the local cluster's real node, both for a policy of our own
and for the one the operator generates for an instance (a pod of another namespace is refused,
while the instance's namespace and the operator's probes get through; Prometheus' scraping under
that policy is test_prometheus.py's). On kind, pods on both nodes reach each other by address and
by Service name (DNS); the local cluster has one real node.
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

import pytest

from pim_operator.apis.v1alpha1.piminstance_types import DEFAULT_PORT
from pim_operator.reconciler.piminstance.resources.names import selector_string
from tests.support.cluster import Cluster
from tests.support.pim import apply, pim_model, real_pod_instance, status_of, wait_condition
from tests.support.reach import is_kind
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

IMAGE = os.environ.get("PIM_E2E_IMAGE", "pim.dev/pim-engine:dev")
PORT = 8080
REAL_NODE_LABEL = "pim.dev/node=local"  # the local cluster's real node (hack/cluster/node/settings.sh)
FETCH = """
import sys, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])).read().decode())
except Exception as exc:
    print(f"refused: {exc!r}")
"""


def _pod(ns: str, name: str, node: str, labels: dict[str, str], serve: str | None) -> dict[str, Any]:
    command = (
        f"mkdir -p /tmp/www && printf %s {serve} >/tmp/www/token && exec python3 -m http.server -d /tmp/www {PORT}"
        if serve
        else "exec sleep 3600"
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "nodeName": node,
            "tolerations": [{"operator": "Exists"}],
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {
                    "name": "main",
                    "image": IMAGE,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["/bin/sh", "-c", command],
                    "securityContext": {"runAsUser": 65532, "runAsNonRoot": True, "allowPrivilegeEscalation": False},
                }
            ],
        },
    }


def placement(cluster: Cluster) -> tuple[str, str]:
    """Nodes for (the server, its clients): kind's worker and control plane, so that traffic crosses
    nodes; the local cluster's one real node for both."""
    if not is_kind(cluster):
        real = cluster.get("nodes", "-l", REAL_NODE_LABEL)["items"]
        assert real, f"no real node ({REAL_NODE_LABEL}): the local cluster needs PIM_CLUSTER_NODE=1"
        return real[0]["metadata"]["name"], real[0]["metadata"]["name"]
    nodes = {
        ("control-plane" if "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"] else "worker"): n
        for n in cluster.get("nodes")["items"]
    }
    assert set(nodes) == {"control-plane", "worker"}, f"expected a control plane and a worker: {list(nodes)}"
    return nodes["worker"]["metadata"]["name"], nodes["control-plane"]["metadata"]["name"]


@pytest.fixture(scope="module")
def pods(cluster: Cluster) -> dict[str, Any]:
    server_node, client_node = placement(cluster)
    ns = cluster.namespace("e2e-net")
    token = secrets.token_hex(8)
    cluster.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "server", "namespace": ns},
            "spec": {"selector": {"app": "server"}, "ports": [{"port": 80, "targetPort": PORT}]},
        }
    )
    cluster.create(_pod(ns, "server", server_node, {"app": "server"}, token))
    cluster.create(_pod(ns, "friend", client_node, {"role": "friend"}, None))
    cluster.create(_pod(ns, "stranger", client_node, {"role": "stranger"}, None))
    for name in ("server", "friend", "stranger"):
        cluster.kubectl("wait", "-n", ns, "--for=condition=Ready", f"pod/{name}", "--timeout=120s", timeout=130)
    server_ip = cluster.get("pod", "server", "-n", ns)["status"]["podIP"]
    return {"ns": ns, "token": token, "server_ip": server_ip}


def fetch(cluster: Cluster, ns: str, pod: str, url: str, timeout: float = 5) -> str:
    args = ("exec", "-n", ns, pod, "--", "python3", "-c", FETCH, url, str(timeout))
    return cluster.kubectl(*args, timeout=60).stdout.strip()


@pytest.mark.kind_only
def test_pods_reach_each_other_across_nodes(cluster: Cluster, pods: dict[str, Any]) -> None:
    if not is_kind(cluster):
        pytest.skip("kind only (make test-cluster deselects it): the local cluster has one real node")
    ns, token = pods["ns"], pods["token"]
    by_ip = f"http://{pods['server_ip']}:{PORT}/token"
    assert wait_for(lambda: fetch(cluster, ns, "friend", by_ip) == token, 60, f"friend -> {by_ip}")
    by_name = f"http://server.{ns}.svc.cluster.local/token"
    assert wait_for(lambda: fetch(cluster, ns, "stranger", by_name) == token, 60, f"stranger -> {by_name}")


def test_network_policy_is_enforced(cluster: Cluster, pods: dict[str, Any]) -> None:
    ns, token = pods["ns"], pods["token"]
    url = f"http://{pods['server_ip']}:{PORT}/token"
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "friends-only", "namespace": ns},
        "spec": {
            "podSelector": {"matchLabels": {"app": "server"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "friend"}}}]}],
        },
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(policy))
    refused = wait_for(
        lambda: (out := fetch(cluster, ns, "stranger", url, timeout=2)).startswith("refused") and out,
        60,
        "the policy to shut the stranger out",
    )
    assert token not in refused
    assert fetch(cluster, ns, "friend", url) == token
    cluster.kubectl("delete", "networkpolicy", "friends-only", "-n", ns)
    assert wait_for(lambda: fetch(cluster, ns, "stranger", url) == token, 60, "the stranger let in again")


NOTES = """
domain: notes
entities:
  - name: Note
    attributes:
      text: string
"""


def test_an_instances_policy_refuses_other_namespaces(cluster: Cluster, operator: Any) -> None:
    """The operator's own policy (on by default): pods of the instance's namespace reach the engine,
    a pod of another namespace is refused by the network, and the operator's probes (from the host
    on the local cluster, where kube-router admits the node's own traffic; from its pod on kind)
    keep reporting."""
    client_node = placement(cluster)[1]
    ns, other = cluster.namespace("e2e-netpol"), cluster.namespace("e2e-netpol-other")
    apply(cluster, pim_model(ns, "notes", NOTES))
    apply(cluster, real_pod_instance(ns, "notes", "notes"))
    wait_condition(cluster, "pi", ns, "notes", "Ready", "True", timeout=180)
    wait_condition(cluster, "pi", ns, "notes", "AccessReady", "True", timeout=60)
    assert cluster.get("networkpolicy", "notes", "-n", ns)["spec"]["podSelector"]["matchLabels"]
    cluster.create(_pod(ns, "neighbour", client_node, {"role": "neighbour"}, None))
    cluster.create(_pod(other, "stranger", client_node, {"role": "stranger"}, None))
    for pod_ns, pod in ((ns, "neighbour"), (other, "stranger")):
        cluster.kubectl("wait", "-n", pod_ns, "--for=condition=Ready", f"pod/{pod}", "--timeout=120s", timeout=130)
    engine = cluster.get("pods", "-n", ns, "-l", selector_string("notes"))["items"]
    assert len(engine) == 1, [p["metadata"]["name"] for p in engine]
    url = f"http://{engine[0]['status']['podIP']}:{DEFAULT_PORT}/health"

    assert wait_for(lambda: '"status"' in fetch(cluster, ns, "neighbour", url), 60, f"neighbour -> {url}")
    refused = wait_for(
        lambda: (out := fetch(cluster, other, "stranger", url, timeout=2)).startswith("refused") and out,
        60,
        "the instance's policy to shut the other namespace out",
    )
    assert "ConnectionRefused" in refused or "timed out" in refused, refused

    # The probes still get through: the operator reads the engine's /metrics after the refusal and
    # reports the neighbour's requests (status.metrics is only written when they change).
    before = (status_of(cluster, "pi", ns, "notes").get("metrics") or {}).get("requestsTotal", 0)
    api = url.replace("/health", "/api/v1/notes")
    for _ in range(3):
        assert '"items"' in fetch(cluster, ns, "neighbour", api)
    status = wait_for(
        lambda: (
            (st := status_of(cluster, "pi", ns, "notes")).get("metrics", {}).get("requestsTotal", 0) >= before + 3
            and st
        ),
        60,
        "status.metrics to count the neighbour's requests",
    )
    assert status["health"]["status"] == "Healthy", status["health"]
    assert fetch(cluster, other, "stranger", url, timeout=2).startswith("refused")
