"""Real PostgreSQL on the real node: CloudNativePG (built here) runs an instance's managed database
on the PostgreSQL image built from Debian's packages, and the operator follows it.

Needs the local cluster with a real node and the add-ons (``hack/addons``: CloudNativePG, the
PostgreSQL image, metrics-server, CoreDNS), which the ``addons`` fixture installs.
"""

from __future__ import annotations

import base64
import json

import pytest

from tests.support.cnpg import books_namespace, database_status, managed, psql, wait_database_ready
from tests.support.pim import apply, condition, status_of, wait_condition
from tests.support.waiting import wait_for

# The first test also waits for the add-ons (built, imported, installed) and a cold CloudNativePG start.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

POSTGRES_IMAGE_PREFIX = "localbase/postgresql:15"


def instance(ns: str, name: str, **spec) -> dict:
    return {
        "apiVersion": "pim.dev/v1alpha1",
        "kind": "PimInstance",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"modelRef": {"name": "books"}, **spec},
    }


@pytest.fixture(scope="module")
def ns(addons, operator):
    return books_namespace(addons, "pg-e2e")


def test_managed_database_runs_on_the_local_postgres_image(cluster, ns):
    apply(cluster, instance(ns, "shop", replicas=2, database=managed(2)))
    wait_for(lambda: cluster.get("cluster.postgresql.cnpg.io", "shop-db", "-n", ns), 60, "the Cluster")
    c = wait_condition(cluster, "pi", ns, "shop", "DatabaseReady", "False", "ClusterNotReady")
    assert "shop-db" in c["message"]

    wait_database_ready(cluster, ns, "shop-db")
    st = database_status(cluster, ns, "shop-db")
    assert st["image"].startswith(POSTGRES_IMAGE_PREFIX)
    assert st["readyInstances"] == 2
    wait_condition(cluster, "pi", ns, "shop", "DatabaseReady", "True", "Connected", timeout=60)

    # CloudNativePG's application Secret is what the engine reads, as it is
    secret = cluster.get("secret", "shop-db-app", "-n", ns)
    uri = base64.b64decode(secret["data"]["uri"]).decode()
    assert uri.startswith("postgresql://app:")
    assert f"@shop-db-rw.{ns}:5432/app" in uri
    template = cluster.get("deployment", "shop", "-n", ns)["spec"]["template"]
    env = template["spec"]["containers"][0]["env"]
    assert {"name": "PIM_DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "shop-db-app", "key": "uri"}}} in env

    # a real primary and a synchronous standby, which found the primary by its Service name (CoreDNS)
    primary, standby = st["currentPrimary"], next(p for p in st["instanceNames"] if p != st["currentPrimary"])
    assert psql(cluster, ns, primary, "SELECT current_setting('server_encoding')") == "UTF8"
    assert psql(cluster, ns, primary, "SELECT sync_state FROM pg_stat_replication") in ("sync", "quorum")
    psql(cluster, ns, primary, "CREATE TABLE probe (id int primary key); INSERT INTO probe VALUES (1), (2)")
    wait_for(lambda: psql(cluster, ns, standby, "SELECT count(*) FROM probe") == "2", 30, "the rows on the standby")
    assert psql(cluster, ns, standby, "SELECT pg_is_in_recovery()") == "t"


def test_deleting_the_instance_follows_the_reclaim_policy(cluster, ns):
    # shop (Delete) from the test above: its Cluster, and CloudNativePG's PVCs with it, go
    cluster.kubectl("delete", "pi", "shop", "-n", ns, "--wait=true")
    wait_for(
        lambda: cluster.kubectl("get", "cluster.postgresql.cnpg.io", "shop-db", "-n", ns, check=False).returncode != 0,
        120,
        "the owned Cluster to go",
    )
    wait_for(lambda: not cluster.get("pvc", "-n", ns, "-l", "cnpg.io/cluster=shop-db")["items"], 120, "its PVCs to go")
    # Retain: the Cluster and its data stay, and a re-created instance picks them up
    apply(cluster, instance(ns, "kept", database=managed(1, "Retain")))
    wait_database_ready(cluster, ns, "kept-db")
    primary = database_status(cluster, ns, "kept-db")["currentPrimary"]
    psql(cluster, ns, primary, "CREATE TABLE kept (id int); INSERT INTO kept VALUES (42)")
    cluster.kubectl("delete", "pi", "kept", "-n", ns, "--wait=true")
    wait_for(
        lambda: cluster.kubectl("get", "deployment", "kept", "-n", ns, check=False).returncode != 0,
        120,
        "its Deployment",
    )
    assert psql(cluster, ns, primary, "SELECT id FROM kept") == "42"
    apply(cluster, instance(ns, "kept", database=managed(1, "Retain")))
    wait_condition(cluster, "pi", ns, "kept", "DatabaseReady", "True", "Connected", timeout=120)
    assert status_of(cluster, "pi", ns, "kept")["observedGeneration"] == 1
    assert condition(cluster, "pi", ns, "kept", "DatabaseReady")["message"].startswith("PostgreSQL from CloudNativePG")
    cluster.kubectl("delete", "cluster.postgresql.cnpg.io", "kept-db", "-n", ns)


def test_metrics_server_reports_pod_usage(cluster, ns):
    """The resource metrics API an HPA reads: CPU and memory of running pods (CloudNativePG's own here)."""

    def usage() -> dict | None:
        raw = cluster.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/cnpg-system/pods").stdout
        out = json.loads(raw)
        return out if out.get("items") else None

    items = wait_for(usage, 180, "pod metrics from metrics-server")["items"]
    containers = [c for item in items for c in item["containers"]]
    assert any(c["name"] == "manager" for c in containers)
    assert all("cpu" in c["usage"] and "memory" in c["usage"] for c in containers)
