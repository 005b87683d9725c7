"""Bad PimModels and PimInstances are rejected by the real API server, with a message saying why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.pim import pim_instance

pytestmark = pytest.mark.cluster
MANAGED = {"type": "PostgreSQL", "postgres": {"managed": {"instances": 2}}}
OWN = {"type": "PostgreSQL", "postgres": {"secretRef": {"name": "orders-db"}}}


@pytest.fixture(scope="module")
def ns(crds):
    return crds.namespace("pim-admission")


def create(cluster, obj):
    return cluster.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(obj), check=False)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        # SQLite is one file per pod: scaling it would split the dataset, ephemeral or persistent alike
        ({"storage": {"type": "Persistent"}, "replicas": 2}, "spec.replicas > 1 needs spec.database.type PostgreSQL"),
        ({"replicas": 2}, "spec.replicas > 1 needs spec.database.type PostgreSQL"),
        ({"database": {"type": "SQLite"}, "replicas": 3}, "would split its dataset"),
        ({"autoscaling": {"maxReplicas": 3}}, "spec.autoscaling needs spec.database.type PostgreSQL"),
        ({"storage": {"type": "Persistent"}, "autoscaling": {"maxReplicas": 3}}, "spec.autoscaling needs"),
        ({"replicas": 2, "autoscaling": {"maxReplicas": 3}, "database": MANAGED}, "mutually exclusive"),
        ({"database": {"type": "PostgreSQL"}}, "spec.database.postgres is required with type PostgreSQL"),
        ({"database": {"type": "SQLite", "postgres": {"secretRef": {"name": "s"}}}}, "only allowed with it"),
        ({"database": {"type": "PostgreSQL", "postgres": {}}}, "exactly one of secretRef"),
        (
            {"database": {"type": "PostgreSQL", "postgres": {"secretRef": {"name": "s"}, "managed": {}}}},
            "exactly one of secretRef (your own server) and managed",
        ),
        ({"database": {"type": "MySQL"}}, 'supported values: "SQLite", "PostgreSQL"'),
        (
            {"database": {"type": "PostgreSQL", "postgres": {"managed": {"reclaimPolicy": "Keep"}}}},
            'supported values: "Retain", "Delete"',
        ),
        ({"database": {"type": "PostgreSQL", "postgres": {"managed": {"instances": 0}}}}, "greater than or equal to 1"),
        ({"database": {"type": "PostgreSQL", "postgres": {"managed": {"size": "big"}}}}, "managed.size"),
        ({"database": MANAGED, "storage": {"type": "Persistent"}}, "Persistent is for SQLite"),
        ({"serviceType": "NodePort", "nodePort": 80}, "should be greater than or equal to 30000"),
        ({"serviceType": "NodePort", "nodePort": 40000}, "should be less than or equal to 32767"),
        ({"nodePort": 30001}, "spec.nodePort needs spec.serviceType NodePort or LoadBalancer"),
        ({"autoscaling": {"minReplicas": 5, "maxReplicas": 2}, "database": OWN}, "minReplicas must not exceed"),
        ({"storage": {"type": "Ephemeral", "size": "1Gi"}}, "apply only to storage.type Persistent"),
        ({"env": [{"name": "PIM_DB", "value": "/x"}]}, "PIM_* variables are set by the operator"),
        ({"replicas": -1}, "should be greater than or equal to 0"),
        ({"serviceType": "Ingress"}, 'supported values: "ClusterIP", "NodePort", "LoadBalancer"'),
        ({"storage": {"type": "Persistent", "size": "lots"}}, "spec.storage.size"),
    ],
)
def test_bad_instance_is_rejected_with_a_reason(crds, ns, spec, message):
    res = create(crds, pim_instance(ns, "bad", "m", **spec))
    assert res.returncode != 0
    assert message in res.stderr, res.stderr


def test_bad_names_and_missing_model_ref(crds, ns):
    res = create(crds, pim_instance(ns, "9lives", "m"))
    assert "must be a DNS-1035 label" in res.stderr
    obj = pim_instance(ns, "nomodel", "m")
    del obj["spec"]["modelRef"]
    assert "spec.modelRef: Required value" in create(crds, obj).stderr


def test_a_good_instance_is_accepted_with_defaults(crds, ns):
    res = crds.kubectl(
        "create", "--dry-run=server", "-o", "json", "-f", "-", input=json.dumps(pim_instance(ns, "good", "m"))
    )
    spec = json.loads(res.stdout)["spec"]
    assert (spec["port"], spec["serviceType"], spec["suspend"], spec["imagePullPolicy"]) == (
        8000,
        "ClusterIP",
        False,
        "IfNotPresent",
    )
    assert "replicas" not in spec  # left unset so that autoscaling stays possible
    assert spec["database"] == {"type": "SQLite"}


@pytest.mark.parametrize(
    "spec",
    [
        {"replicas": 3, "database": MANAGED},
        {"replicas": 3, "database": OWN},
        {"autoscaling": {"maxReplicas": 5}, "database": OWN},
        {"replicas": 1, "storage": {"type": "Persistent"}},
        {"replicas": 1},
    ],
)
def test_scaled_postgres_and_single_sqlite_are_accepted(crds, ns, spec):
    res = create(crds, pim_instance(ns, "fine", "m", **spec))
    assert res.returncode == 0, res.stderr


def test_postgres_defaults(crds, ns):
    obj = pim_instance(ns, "pg", "m", database={"type": "PostgreSQL", "postgres": {"managed": {}}})
    res = crds.kubectl("create", "--dry-run=server", "-o", "json", "-f", "-", input=json.dumps(obj))
    managed = json.loads(res.stdout)["spec"]["database"]["postgres"]["managed"]
    assert managed == {"instances": 1, "size": "1Gi", "reclaimPolicy": "Retain"}
    own = pim_instance(ns, "pg2", "m", database={"type": "PostgreSQL", "postgres": {"secretRef": {"name": "s"}}})
    res = crds.kubectl("create", "--dry-run=server", "-o", "json", "-f", "-", input=json.dumps(own))
    assert json.loads(res.stdout)["spec"]["database"]["postgres"]["secretRef"] == {"name": "s", "key": "uri"}


def test_a_managed_instance_name_leaves_room_for_cloudnativepgs_cluster_name(crds, ns):
    long = "a" * 48
    res = create(crds, pim_instance(ns, long, "m", database=MANAGED))
    assert "at most 47 characters" in res.stderr, res.stderr
    assert create(crds, pim_instance(ns, "a" * 47, "m", database=MANAGED)).returncode == 0
    # without a managed Cluster the Service's own limit holds
    assert create(crds, pim_instance(ns, "a" * 57, "m")).returncode == 0


def test_the_database_type_is_fixed_once_the_instance_keeps_data(crds, ns):
    def patch(name: str, database: dict) -> str:
        return crds.kubectl(
            "patch",
            "pi",
            name,
            "-n",
            ns,
            "--type=merge",
            "-p",
            json.dumps({"spec": {"database": database}}),
            check=False,
        ).stderr

    crds.kubectl("create", "-f", "-", input=json.dumps(pim_instance(ns, "kept", "m", storage={"type": "Persistent"})))
    assert "cannot change once the instance keeps data" in patch("kept", OWN)
    crds.kubectl("create", "-f", "-", input=json.dumps(pim_instance(ns, "onpg", "m", database=OWN)))
    assert "cannot change once the instance keeps data" in patch("onpg", {"type": "SQLite", "postgres": None})
    # ephemeral SQLite keeps nothing worth moving: it may become PostgreSQL
    crds.kubectl("create", "-f", "-", input=json.dumps(pim_instance(ns, "scratch", "m")))
    assert patch("scratch", OWN) == ""
    # and managed storage class is immutable, as the instance's own
    sc = {"type": "PostgreSQL", "postgres": {"managed": {"storageClassName": "fast"}}}
    crds.kubectl("create", "-f", "-", input=json.dumps(pim_instance(ns, "sc-pg", "m", database=sc)))
    assert "managed.storageClassName is immutable" in patch(
        "sc-pg", {"type": "PostgreSQL", "postgres": {"managed": {"storageClassName": "slow"}}}
    )


def test_storage_class_is_immutable(crds, ns):
    obj = pim_instance(ns, "sc", "m", storage={"type": "Persistent", "storageClassName": "fast"})
    crds.kubectl("create", "-f", "-", input=json.dumps(obj))
    res = crds.kubectl(
        "patch",
        "pi",
        "sc",
        "-n",
        ns,
        "--type=merge",
        "-p",
        '{"spec":{"storage":{"storageClassName":"slow"}}}',
        check=False,
    )
    assert "storageClassName is immutable" in res.stderr


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"source": "x", "configMapRef": {"name": "a", "key": "b"}},
            "exactly one of spec.source or spec.configMapRef",
        ),
        ({}, "exactly one of spec.source or spec.configMapRef"),
        ({"source": "x", "format": "toml"}, 'supported values: "yaml", "markdown", "json"'),
    ],
)
def test_bad_model_is_rejected(crds, ns, spec, message):
    obj = {
        "apiVersion": "pim.dev/v1alpha1",
        "kind": "PimModel",
        "metadata": {"name": "m", "namespace": ns},
        "spec": spec,
    }
    res = create(crds, obj)
    assert message in res.stderr, res.stderr


def test_explain_is_useful(crds):
    out = crds.kubectl("explain", "piminstance.spec.storage").stdout
    assert "Ephemeral (an emptyDir" in out
    assert "reclaimPolicy" in out
    out = crds.kubectl("explain", "piminstance.spec.database").stdout
    assert "needed for spec.replicas > 1 and spec.autoscaling" in out
    out = crds.kubectl("explain", "piminstance.spec.database.postgres.secretRef").stdout
    assert "postgresql://user:password@host:port/dbname" in out
    assert "Crunchy PGO" in out
    out = crds.kubectl("explain", "piminstance.spec.database.postgres.managed.reclaimPolicy").stdout
    assert "Retain keeps the Cluster and its data" in out


def test_examples_are_accepted(crds, ns):
    for path in sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml")):
        crds.kubectl("apply", "--dry-run=server", "-n", ns, "-f", str(path))
