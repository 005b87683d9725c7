"""The local cluster's real node: a locally built image runs as a pod, serves HTTP to the host on
its pod IP and through a ClusterIP Service (kube-proxy), and reaches the API server through the
``kubernetes`` Service with its ServiceAccount token.

Needs a cluster with a real node: ``PIM_CLUSTER_NODE=1`` (after ``hack/cluster/node-prep.sh``) for
the local one. Reaching pod and Service addresses from the host only works on the local node.
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

import httpx
import pytest

from tests.support.cluster import Cluster
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

# Any locally built image with python3; the engine image is the one every node must have.
IMAGE = os.environ.get("PIM_E2E_IMAGE", "pim.dev/pim-engine:dev")
NODE_LABEL = ("pim.dev/node", "local")
PORT = 8080

# Run inside the probe pod (argv[1]: its Service's VIP): who the API server, reached through the
# `kubernetes` Service, says the pod's ServiceAccount token is, and what its own Service serves.
IN_POD_CHECK = """
import json, os, ssl, sys, urllib.request
sa = "/var/run/secrets/kubernetes.io/serviceaccount/"
host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
review = urllib.request.Request(
    f"https://{host}:{port}/apis/authentication.k8s.io/v1/selfsubjectreviews",
    data=json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}).encode(),
    headers={"Authorization": "Bearer " + open(sa + "token").read(), "Content-Type": "application/json"},
)
tls = ssl.create_default_context(cafile=sa + "ca.crt")
user = json.load(urllib.request.urlopen(review, context=tls, timeout=10))["status"]["userInfo"]["username"]
own = urllib.request.urlopen(f"http://{sys.argv[1]}/token", timeout=10).read().decode()
print(json.dumps({"user": user, "own": own}))
"""


def _probe_pod(namespace: str, token: str) -> dict[str, Any]:
    """A restricted, read-only pod that serves ``token`` at /token over plain HTTP."""
    www = "/tmp/www"
    serve = f"mkdir {www} && printf %s {token} >{www}/token && exec python3 -m http.server -d {www} {PORT}"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe", "namespace": namespace, "labels": {"app": "probe"}},
        "spec": {
            "nodeSelector": {NODE_LABEL[0]: NODE_LABEL[1]},
            "containers": [
                {
                    "name": "probe",
                    "image": IMAGE,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["/bin/sh", "-c", serve],
                    "ports": [{"containerPort": PORT}],
                    "readinessProbe": {"httpGet": {"path": "/token", "port": PORT}, "periodSeconds": 1},
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65532,
                        "readOnlyRootFilesystem": True,
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                }
            ],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }


def _service(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "probe", "namespace": namespace},
        "spec": {"selector": {"app": "probe"}, "ports": [{"port": 80, "targetPort": PORT}]},
    }


class Probe:
    """The running probe pod and its Service, as the tests address them."""

    def __init__(self, cluster: Cluster, namespace: str, token: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.token = token
        pod = cluster.get("pod", "probe", "-n", namespace)
        self.pod_ip: str = pod["status"]["podIP"]
        self.node: str = pod["spec"]["nodeName"]
        self.cluster_ip: str = cluster.get("service", "probe", "-n", namespace)["spec"]["clusterIP"]

    def exec_python(self, code: str, *argv: str) -> str:
        """Run ``code`` with the pod's python3 and return its stdout."""
        args = ("exec", "-n", self.namespace, "probe", "--", "python3", "-c", code, *argv)
        return self.cluster.kubectl(*args, timeout=60).stdout


@pytest.fixture(scope="module")
def probe(cluster: Cluster) -> Probe:
    nodes = cluster.get("nodes", "-l", "=".join(NODE_LABEL))["items"]
    if not nodes:
        pytest.fail(
            f"no node labelled {'='.join(NODE_LABEL)}: run with PIM_CLUSTER_NODE=1 "
            "(and hack/cluster/node-prep.sh before up.sh)",
            pytrace=False,
        )
    namespace = cluster.namespace("e2e-node")
    token = secrets.token_hex(8)
    # The Service first: kube-proxy has programmed its address by the time the pod is Ready, so
    # no packet for it goes out untranslated (it would follow the default route off the machine).
    cluster.create(_service(namespace))
    cluster.create(_probe_pod(namespace, token))
    ready = ("wait", "-n", namespace, "--for=condition=Ready", "pod/probe", "--timeout=120s")
    cluster.kubectl(*ready, timeout=130)
    return Probe(cluster, namespace, token)


def _host_reaches_cluster_network(cluster: Cluster) -> None:
    if cluster.dir is None:
        pytest.skip("pod and Service addresses are reachable from the host only on the local node")


def test_pod_runs_on_the_real_node(probe: Probe, cluster: Cluster) -> None:
    node = cluster.get("node", probe.node)
    assert node["metadata"]["labels"].get(NODE_LABEL[0]) == NODE_LABEL[1]
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")


@pytest.mark.local_node_only
def test_host_reaches_pod_ip(probe: Probe, cluster: Cluster) -> None:
    _host_reaches_cluster_network(cluster)
    response = httpx.get(f"http://{probe.pod_ip}:{PORT}/token", timeout=10)
    assert response.status_code == 200
    assert response.text == probe.token


@pytest.mark.local_node_only
def test_host_reaches_cluster_ip_service(probe: Probe, cluster: Cluster) -> None:
    _host_reaches_cluster_network(cluster)

    def fetch() -> str | None:
        # kube-proxy programs the VIP shortly after the endpoints appear.
        try:
            return httpx.get(f"http://{probe.cluster_ip}/token", timeout=5).text
        except httpx.TransportError:
            return None

    assert wait_for(fetch, 30, f"Service VIP {probe.cluster_ip} to answer") == probe.token


def test_pod_reaches_its_service_and_the_api_server(probe: Probe) -> None:
    result = json.loads(probe.exec_python(IN_POD_CHECK, probe.cluster_ip))
    assert result["user"] == f"system:serviceaccount:{probe.namespace}:default"
    assert result["own"] == probe.token


def test_claim_on_default_storage_class_is_writable_by_non_root(cluster: Cluster, probe: Probe) -> None:
    token = secrets.token_hex(8)
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": probe.namespace},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "64Mi"}}},
    }
    writer = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "writer", "namespace": probe.namespace},
        "spec": {
            "restartPolicy": "Never",
            "nodeSelector": {NODE_LABEL[0]: NODE_LABEL[1]},
            "securityContext": {"runAsUser": 65532, "runAsGroup": 65532, "runAsNonRoot": True},
            "containers": [
                {
                    "name": "writer",
                    "image": IMAGE,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["/bin/sh", "-c", f"printf %s {token} >/data/token && cat /data/token"],
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }
            ],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
        },
    }
    cluster.create(claim)
    cluster.create(writer)
    done = ("wait", "-n", probe.namespace, "--for=jsonpath={.status.phase}=Succeeded", "pod/writer")
    cluster.kubectl(*done, "--timeout=120s", timeout=130)
    assert cluster.kubectl("logs", "-n", probe.namespace, "writer").stdout == token
    bound = cluster.get("pvc", "data", "-n", probe.namespace)
    assert bound["status"]["phase"] == "Bound"
    assert bound["spec"]["storageClassName"]  # the default class was applied
