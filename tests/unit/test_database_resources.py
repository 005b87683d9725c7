"""Pure builders for instances on PostgreSQL: the CloudNativePG Cluster, the PDB, the Deployment's changes."""

from __future__ import annotations

import pytest

from pim_operator.apis.v1alpha1.labels import DATABASE_DIGEST_ANNOTATION
from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.reconciler.piminstance.resources import names
from pim_operator.reconciler.piminstance.resources.cluster import is_ready, make_cluster
from pim_operator.reconciler.piminstance.resources.deployment import (
    DRAIN_SECONDS,
    ENGINE_DRAIN_SECONDS,
    make_deployment,
)
from pim_operator.reconciler.piminstance.resources.pdb import make_pdb, wants_pdb

pytestmark = pytest.mark.unit


def instance(**spec: object) -> PimInstance:
    return PimInstance.from_body(
        {
            "apiVersion": "pim.dev/v1alpha1",
            "kind": "PimInstance",
            "metadata": {"name": "shop", "namespace": "team-a", "uid": "u-1", "generation": 1},
            "spec": {"modelRef": {"name": "orders"}, **spec},
        }
    )


def managed(**fields: object) -> dict:
    return {"type": "PostgreSQL", "postgres": {"managed": fields}}


def own_secret(name: str = "orders-db", key: str = "uri") -> dict:
    return {"type": "PostgreSQL", "postgres": {"secretRef": {"name": name, "key": key}}}


def deployment(inst: PimInstance, database_digest: str | None = "hmac-sha256:d1") -> dict:
    return make_deployment(
        inst, image="engine:1", model_digest="sha256:m", config_digest="sha256:c", database_digest=database_digest
    )


def container(dep: dict) -> dict:
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    return c


def test_managed_cluster_is_one_database_owned_by_the_instance_under_delete():
    inst = instance(database=managed(instances=3, size="5Gi", reclaimPolicy="Delete"))
    cluster = make_cluster(inst)
    assert (cluster["apiVersion"], cluster["kind"]) == ("postgresql.cnpg.io/v1", "Cluster")
    assert cluster["metadata"]["name"] == "shop-db" == names.cluster("shop")
    assert cluster["metadata"]["namespace"] == "team-a"
    # the owner reference every child carries (its fields: test_instance_resources)
    assert cluster["metadata"]["ownerReferences"] == [inst.owner_reference()]
    assert cluster["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "pim-operator"
    spec = cluster["spec"]
    assert spec["instances"] == 3
    assert spec["storage"] == {"size": "5Gi"}
    assert spec["bootstrap"] == {"initdb": {"database": "app", "owner": "app"}}
    assert spec["enableSuperuserAccess"] is False
    # pooled engine connections never leave by themselves: a stopping primary cuts them off soon
    assert spec["smartShutdownTimeout"] <= 10
    # no operand image: CloudNativePG's configured default is the administrator's choice
    assert "imageName" not in spec


def test_retained_cluster_has_no_owner_so_it_outlives_the_instance():
    cluster = make_cluster(instance(database=managed(storageClassName="fast")))
    assert "ownerReferences" not in cluster["metadata"]
    assert cluster["spec"]["storage"] == {"size": "1Gi", "storageClass": "fast"}
    assert cluster["spec"]["instances"] == 1


def test_standbys_confirm_commits_so_a_failover_loses_no_acknowledged_write():
    single = make_cluster(instance(database=managed()))
    assert "postgresql" not in single["spec"]
    pair = make_cluster(instance(database=managed(instances=2)))
    sync = pair["spec"]["postgresql"]["synchronous"]
    assert (sync["method"], sync["number"]) == ("any", 1)
    # the primary stays writable while no standby is up (right after a failover)
    assert sync["dataDurability"] == "preferred"


def test_make_cluster_needs_a_managed_database():
    with pytest.raises(ValueError, match="managed"):
        make_cluster(instance(database=own_secret()))


def test_cluster_readiness_is_cloudnativepgs_own():
    assert is_ready(None) == (False, "", "not created yet")
    setting_up = {"status": {"phase": "Setting up primary", "phaseReason": "Creating primary instance shop-db-1"}}
    assert is_ready(setting_up) == (False, "Setting up primary", "Creating primary instance shop-db-1")
    healthy = {"status": {"phase": "Cluster in healthy state", "conditions": [{"type": "Ready", "status": "True"}]}}
    assert is_ready(healthy)[0] is True


@pytest.mark.parametrize(
    ("database", "secret"),
    [
        (own_secret("orders-db", "uri"), ("orders-db", "uri")),
        (own_secret("hippo-pguser-hippo", "uri"), ("hippo-pguser-hippo", "uri")),  # Crunchy PGO
        (managed(), ("shop-db-app", "uri")),  # CloudNativePG's application Secret
    ],
)
def test_the_uri_reaches_the_pod_only_through_a_secret_key_ref(database, secret):
    dep = deployment(instance(replicas=3, database=database))
    env = container(dep)["env"]
    (url,) = [e for e in env if e["name"] == "PIM_DATABASE_URL"]
    assert url == {"name": "PIM_DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": secret[0], "key": secret[1]}}}
    assert "PIM_DB" not in {e["name"] for e in env}
    assert all("postgresql://" not in str(e.get("value", "")) for e in env)


def test_a_postgres_pod_has_no_data_volume():
    c = container(deployment(instance(database=own_secret())))
    assert {m["mountPath"] for m in c["volumeMounts"]} == {"/etc/pim/model", "/tmp"}


def test_the_uri_digest_on_the_pod_template_rolls_the_pods_when_the_password_rotates():
    inst = instance(replicas=2, database=own_secret())
    before = deployment(inst, "hmac-sha256:old")["spec"]["template"]
    after = deployment(inst, "hmac-sha256:new")["spec"]["template"]
    assert before["metadata"]["annotations"][DATABASE_DIGEST_ANNOTATION] == "hmac-sha256:old"
    assert before != after
    with pytest.raises(ValueError, match="digest"):
        deployment(inst, None)


def test_sqlite_pods_keep_their_file_and_no_database_digest():
    dep = deployment(instance(), None)
    env = {e["name"]: e.get("value") for e in container(dep)["env"]}
    assert env["PIM_DB"] == "/data/pim.db"
    assert "PIM_DATABASE_URL" not in env
    assert DATABASE_DIGEST_ANNOTATION not in dep["spec"]["template"]["metadata"]["annotations"]
    assert "lifecycle" not in container(dep)
    assert "PIM_DRAIN_SECONDS" not in env  # one pod, stopped at once: a rollout waits for it


def test_postgres_rollouts_never_drop_below_the_desired_replicas_and_drain_first():
    dep = deployment(instance(replicas=3, database=managed()))
    assert dep["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    c = container(dep)
    assert c["lifecycle"] == {"preStop": {"sleep": {"seconds": DRAIN_SECONDS}}}
    # then the engine drains: keep-alive clients still on this pod are told to reconnect
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["PIM_DRAIN_SECONDS"] == str(ENGINE_DRAIN_SECONDS)
    grace = dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > DRAIN_SECONDS + ENGINE_DRAIN_SECONDS + 10  # and time left to finish requests
    # a crashed engine's last log lines (a refused migration) become its termination message
    assert c["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_pdb_only_for_a_scaled_instance_on_postgres():
    assert wants_pdb(instance(replicas=3, database=managed()))
    assert wants_pdb(instance(autoscaling={"maxReplicas": 4}, database=own_secret()))
    assert not wants_pdb(instance(replicas=1, database=managed()))
    assert not wants_pdb(instance(replicas=3, suspend=True, database=managed()))
    assert not wants_pdb(instance(autoscaling={"minReplicas": 1, "maxReplicas": 1}, database=managed()))
    assert not wants_pdb(instance())


def test_pdb_lets_one_replica_go_at_a_time():
    inst = instance(replicas=3, database=managed())
    pdb = make_pdb(inst)
    assert (pdb["apiVersion"], pdb["kind"]) == ("policy/v1", "PodDisruptionBudget")
    assert pdb["metadata"]["ownerReferences"] == [inst.owner_reference()]
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"] == {"matchLabels": names.selector_labels("shop")}
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_database_spec_is_typed_with_the_crd_defaults():
    db = instance(database={"type": "PostgreSQL", "postgres": {"managed": {}}}).spec.database
    assert db.postgres
    assert db.managed is not None
    assert (db.managed.instances, db.managed.size, db.managed.retain) == (1, "1Gi", True)
    assert instance(database=own_secret("x", "dsn")).spec.database.secret_ref.key == "dsn"
    assert not instance().spec.database.postgres
    assert names.database_secret(instance()) is None
