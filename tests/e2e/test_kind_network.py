"""The kind cluster's network, as the product needs it: pods on both nodes reach each other by
address and by Service name (DNS), and NetworkPolicy is enforced (issue 13 relies on it).

kind only: the embedded cluster has one node, and its bridge CNI enforces no NetworkPolicy.
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

import pytest

from tests.support.cluster import Cluster
from tests.support.reach import is_kind
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

IMAGE = os.environ.get("PIM_E2E_IMAGE", "pim.dev/pim-engine:dev")
PORT = 8080
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


@pytest.fixture(scope="module")
def pods(cluster: Cluster) -> dict[str, Any]:
    if not is_kind(cluster):
        pytest.skip("kind only: the embedded cluster has one node and enforces no NetworkPolicy")
    nodes = {
        ("control-plane" if "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"] else "worker"): n
        for n in cluster.get("nodes")["items"]
    }
    assert set(nodes) == {"control-plane", "worker"}, f"expected a control plane and a worker: {list(nodes)}"
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
    cluster.create(_pod(ns, "server", nodes["worker"]["metadata"]["name"], {"app": "server"}, token))
    cluster.create(_pod(ns, "friend", nodes["control-plane"]["metadata"]["name"], {"role": "friend"}, None))
    cluster.create(_pod(ns, "stranger", nodes["control-plane"]["metadata"]["name"], {"role": "stranger"}, None))
    for name in ("server", "friend", "stranger"):
        cluster.kubectl("wait", "-n", ns, "--for=condition=Ready", f"pod/{name}", "--timeout=120s", timeout=130)
    server_ip = cluster.get("pod", "server", "-n", ns)["status"]["podIP"]
    return {"ns": ns, "token": token, "server_ip": server_ip}


def fetch(cluster: Cluster, ns: str, pod: str, url: str, timeout: float = 5) -> str:
    args = ("exec", "-n", ns, pod, "--", "python3", "-c", FETCH, url, str(timeout))
    return cluster.kubectl(*args, timeout=60).stdout.strip()


@pytest.mark.kind_only
def test_pods_reach_each_other_across_nodes(cluster: Cluster, pods: dict[str, Any]) -> None:
    ns, token = pods["ns"], pods["token"]
    by_ip = f"http://{pods['server_ip']}:{PORT}/token"
    assert wait_for(lambda: fetch(cluster, ns, "friend", by_ip) == token, 60, f"friend -> {by_ip}")
    by_name = f"http://server.{ns}.svc.cluster.local/token"
    assert wait_for(lambda: fetch(cluster, ns, "stranger", by_name) == token, 60, f"stranger -> {by_name}")


@pytest.mark.kind_only
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
