"""A real Prometheus (upstream's) finds the engine pods and the operator through
``kubernetes_sd_configs`` and scrapes them: the series are there and ``up`` is 1. It runs on the
host beside the local cluster, and in the cluster on kind (where users run it), through the
instance's own NetworkPolicy, which both clusters enforce (test_network.py)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.net import free_port
from tests.support.operator_incluster import NAMESPACE as OPERATOR_NAMESPACE
from tests.support.operator_incluster import InClusterOperator
from tests.support.pim import apply, pim_model, real_pod_instance, wait_condition
from tests.support.reach import PortForward
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]

MODEL = """
domain: notes
entities:
  - name: Note
    attributes:
      text: string
"""


def hack_value(script: str, expression: str) -> str:
    """What ``expression`` expands to once hack/``script`` is sourced: one source of truth for names."""
    command = f". {REPO / 'hack' / script} && echo {expression}"
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=True).stdout.strip()


def prometheus_binary() -> str:
    """Upstream's Prometheus, built by hack/cluster/build.sh: Debian's lacks kubernetes_sd_configs."""
    out = hack_value("cluster/versions.sh", "$PROMETHEUS_BIN/prometheus")
    if not os.access(out, os.X_OK):
        pytest.fail(f"{out} is missing: run `hack/cluster/build.sh prometheus` (make binaries)")
    return out


def scrape_config(sd: dict, operator_sd: dict) -> dict:
    """Engine pods by their prometheus.io annotations; the operator by its metrics Service."""
    return {
        "global": {"scrape_interval": "2s", "evaluation_interval": "2s"},
        "scrape_configs": [
            {
                "job_name": "pim-pods",
                "kubernetes_sd_configs": [{"role": "pod", **sd}],
                "relabel_configs": [
                    {
                        "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
                        "action": "keep",
                        "regex": "true",
                    },
                    {
                        "source_labels": [
                            "__address__",
                            "__meta_kubernetes_pod_annotation_prometheus_io_port",
                        ],
                        "action": "replace",
                        "regex": r"([^:]+)(?::\d+)?;(\d+)",
                        "replacement": "$1:$2",
                        "target_label": "__address__",
                    },
                    {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
                ],
            },
            {
                "job_name": "pim-operator",
                "kubernetes_sd_configs": [{"role": "endpointslice", **operator_sd}],
                "relabel_configs": [
                    {
                        "source_labels": ["__meta_kubernetes_service_name"],
                        "action": "keep",
                        "regex": "pim-operator-metrics",
                    },
                ],
            },
        ],
    }


@pytest.fixture(scope="module")
def scraped(cluster, operator, tmp_path_factory) -> Iterator[tuple[str, str]]:
    ns = cluster.namespace("e2e-prom")
    apply(cluster, pim_model(ns, "notes", MODEL))
    apply(cluster, real_pod_instance(ns, "notes", "notes"))
    wait_condition(cluster, "pi", ns, "notes", "Ready", "True", timeout=180)
    assert cluster.get("networkpolicy", "notes", "-n", ns)["spec"]["ingress"], "scraped through no policy"
    if isinstance(operator, InClusterOperator):
        yield from in_cluster_prometheus(cluster, ns)
    else:
        yield from host_prometheus(cluster, operator, ns, tmp_path_factory.mktemp("prometheus"))


def host_prometheus(cluster, operator, ns: str, work: Path) -> Iterator[tuple[str, str]]:
    """Prometheus on the host, which routes into the local cluster's pod network."""
    # The operator runs beside the cluster in this suite: a selector-less Service with an
    # EndpointSlice to the host address the cluster advertises makes it discoverable like a pod.
    host = cluster.env.get("ADVERTISE_IP")
    if not host:
        pytest.fail("the local cluster has no ADVERTISE_IP (PIM_CLUSTER_NODE=1 sets it)")
    cluster.kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps(
            {
                "apiVersion": "v1",
                "kind": "List",
                "items": [
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "metadata": {"name": "pim-operator-metrics", "namespace": ns},
                        "spec": {"ports": [{"name": "metrics", "port": operator.metrics_port}]},
                    },
                    {
                        "apiVersion": "discovery.k8s.io/v1",
                        "kind": "EndpointSlice",
                        "metadata": {
                            "name": "pim-operator-metrics",
                            "namespace": ns,
                            "labels": {"kubernetes.io/service-name": "pim-operator-metrics"},
                        },
                        "addressType": "IPv4",
                        "ports": [{"name": "metrics", "port": operator.metrics_port}],
                        "endpoints": [{"addresses": [host]}],
                    },
                ],
            }
        ),
    )
    sd = {"kubeconfig_file": str(cluster.kubeconfig), "namespaces": {"names": [ns]}}
    (work / "prometheus.yml").write_text(yaml.safe_dump(scrape_config(sd, sd)))
    port = free_port()
    log = (work / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            prometheus_binary(),
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}", ns
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        if os.environ.get("PIM_KEEP_LOGS"):
            print(Path(log.name).read_text())


def in_cluster_prometheus(cluster, ns: str) -> Iterator[tuple[str, str]]:
    """Prometheus in the cluster, as users of kind run it (the host cannot reach pod addresses
    there): in-cluster service discovery, RBAC to read the two namespaces, queried through a
    port-forward. Its image is upstream's binary, which ``make kind-load`` put on the nodes."""
    image = hack_value("kind/lib.sh", "$PROMETHEUS_IMAGE")
    read = [{"apiGroups": ["", "discovery.k8s.io"], "resources": ["pods", "services", "endpointslices"],
             "verbs": ["get", "list", "watch"]}]  # fmt: skip
    items: list[dict] = [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "prometheus"}}]
    for where in (ns, OPERATOR_NAMESPACE):
        meta = {"name": f"prometheus-{ns}", "namespace": where}
        items += [
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta, "rules": read},
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": meta,
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": meta["name"]},
                "subjects": [{"kind": "ServiceAccount", "name": "prometheus", "namespace": ns}],
            },
        ]
    config = scrape_config({"namespaces": {"names": [ns]}}, {"namespaces": {"names": [OPERATOR_NAMESPACE]}})
    items += [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "prometheus"},
            "data": {"prometheus.yml": yaml.safe_dump(config)},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "prometheus"},
            "spec": {
                "selector": {"matchLabels": {"app": "prometheus"}},
                "template": {
                    "metadata": {"labels": {"app": "prometheus"}},
                    "spec": {
                        "serviceAccountName": "prometheus",
                        "securityContext": {"runAsUser": 65534, "runAsNonRoot": True, "fsGroup": 65534},
                        "containers": [
                            {
                                "name": "prometheus",
                                "image": image,
                                "imagePullPolicy": "IfNotPresent",
                                "args": [
                                    "--config.file=/etc/prometheus/prometheus.yml",
                                    "--storage.tsdb.path=/prometheus",
                                    "--web.listen-address=:9090",
                                    "--log.level=warn",
                                ],
                                "volumeMounts": [
                                    {"name": "config", "mountPath": "/etc/prometheus"},
                                    {"name": "data", "mountPath": "/prometheus"},
                                ],
                            }
                        ],
                        "volumes": [
                            {"name": "config", "configMap": {"name": "prometheus"}},
                            {"name": "data", "emptyDir": {}},
                        ],
                    },
                },
            },
        },
    ]
    for item in items:
        item["metadata"].setdefault("namespace", ns)
    cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    cluster.kubectl("rollout", "status", "-n", ns, "deploy/prometheus", "--timeout=120s", timeout=130)
    with PortForward(cluster.kubeconfig, ns, "deploy/prometheus", 9090) as forward:
        wait_for(lambda: httpx.get(f"{forward.url}/-/ready", timeout=5).status_code == 200, 60, "Prometheus ready")
        yield forward.url, ns
    for where in (ns, OPERATOR_NAMESPACE):
        cluster.kubectl("delete", "role,rolebinding", f"prometheus-{ns}", "-n", where, "--ignore-not-found")


def query(base: str, expr: str) -> list[dict]:
    r = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=5)
    r.raise_for_status()
    return r.json()["data"]["result"]


def test_engine_pods_are_scraped(scraped):
    base, _ = scraped
    up = wait_for(lambda: query(base, 'up{job="pim-pods"} == 1'), 90, "the engine pod to be up in Prometheus")
    assert up[0]["metric"]["pod"].startswith("notes-")
    series = wait_for(lambda: query(base, 'pim_model_info{job="pim-pods"}'), 30, "pim_model_info")
    assert series[0]["metric"]["domain"] == "notes"
    assert wait_for(lambda: query(base, 'pim_http_requests_total{job="pim-pods"}'), 30, "request counters")


def test_operator_is_scraped(scraped):
    base, _ = scraped
    wait_for(lambda: query(base, 'up{job="pim-operator"} == 1'), 90, "the operator to be up in Prometheus")
    assert wait_for(lambda: query(base, "pim_operator_reconcile_total"), 30, "operator reconcile counters")
    assert query(base, 'pim_operator_instances{ready="True"} >= 1')
