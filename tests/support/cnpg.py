"""Instances on a CloudNativePG-managed PostgreSQL, as the e2e suites and benchmarks use them:
the spec, waiting for the database Cluster, and SQL on its servers."""

from __future__ import annotations

from typing import Any

from tests.support.cluster import Cluster
from tests.support.pim import BOOKS, apply, pim_model, wait_condition
from tests.support.waiting import wait_for

#: A cold first start: initdb, then a standby cloned with pg_basebackup.
CLUSTER_TIMEOUT = 600


def managed(instances: int, reclaim: str = "Delete") -> dict[str, Any]:
    """``spec.database`` for a managed PostgreSQL of ``instances`` servers."""
    return {"type": "PostgreSQL", "postgres": {"managed": {"instances": instances, "reclaimPolicy": reclaim}}}


def wait_database_ready(cluster: Cluster, ns: str, name: str) -> None:
    """Wait until the operator has created the Cluster ``name`` and CloudNativePG reports it Ready
    (every server up). ``kubectl wait`` fails at once on an object that does not exist yet."""
    wait_for(
        lambda: cluster.get("cluster.postgresql.cnpg.io", name, "-n", ns),
        120,
        f"the operator to create the CloudNativePG Cluster {ns}/{name}",
    )
    cluster.kubectl(
        "wait",
        "--for=condition=Ready",
        f"cluster.postgresql.cnpg.io/{name}",
        "-n",
        ns,
        f"--timeout={CLUSTER_TIMEOUT}s",
        timeout=CLUSTER_TIMEOUT + 30,
    )


def database_status(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    return cluster.get("cluster.postgresql.cnpg.io", name, "-n", ns).get("status") or {}


def psql(cluster: Cluster, ns: str, pod: str, sql: str, database: str = "app") -> str:
    """Run SQL as postgres over the server's own socket (peer authentication), as an operator would."""
    out = cluster.kubectl(
        "exec", "-n", ns, pod, "-c", "postgres", "--", "psql", "-h", "/controller/run", "-d", database, "-tAXc", sql
    )
    return out.stdout.strip()


def books_namespace(cluster: Cluster, prefix: str) -> str:
    """A new namespace holding the ``books`` model (``tests.support.pim.BOOKS``), Valid."""
    name = cluster.namespace(prefix)
    apply(cluster, pim_model(name, "books", BOOKS))
    wait_condition(cluster, "pm", name, "books", "Valid", "True")
    return name
