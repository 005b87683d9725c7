"""DatabaseReady, decided from what the reconcile found and from what the engine says: no cluster."""

from __future__ import annotations

import base64

import pytest

from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.probe.health import database_problem, database_view, not_ready, redact
from pim_operator.probe.result import ProbeResult, ReplicaProbe
from pim_operator.reconciler.piminstance.database import configured
from pim_operator.secret_summary import digest, summarize

pytestmark = pytest.mark.unit

URI = "postgresql://app:s3cret@orders-db-rw.team-a:5432/app"
HEALTHY = {"status": {"phase": "Cluster in healthy state", "conditions": [{"type": "Ready", "status": "True"}]}}


def instance(database: dict | None = None) -> PimInstance:
    spec: dict = {"modelRef": {"name": "orders"}}
    if database is not None:
        spec["database"] = database
    return PimInstance.from_body({"metadata": {"name": "shop", "namespace": "team-a", "uid": "u"}, "spec": spec})


def secret(uid: str = "s-1", **data: str) -> dict:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return {"metadata": {"name": "orders-db", "uid": uid, "resourceVersion": "7"}, "data": encoded}


OWN = {"type": "PostgreSQL", "postgres": {"secretRef": {"name": "orders-db"}}}
MANAGED = {"type": "PostgreSQL", "postgres": {"managed": {"instances": 2}}}


def test_a_summary_keeps_no_value():
    s = summarize(secret(uri=URI, password="s3cret", username="app"))
    assert s.keys == {"uri", "password", "username"}
    assert s.uris == {"uri"}
    assert s.resource_version == "7"
    assert "s3cret" not in repr(s)
    assert all(d.startswith("hmac-sha256:") for d in s.digests.values())


def test_the_digest_follows_the_value_and_is_keyed_by_the_secret():
    a = summarize(secret(uri=URI)).digests["uri"]
    assert a == summarize(secret(uri=URI)).digests["uri"]
    assert a != summarize(secret(uri=URI.replace("s3cret", "rotated"))).digests["uri"]
    # another Secret (another uid) with the same password gets another digest: no dictionary across Secrets
    assert a != summarize(secret("s-2", uri=URI)).digests["uri"]
    assert digest("s-1", URI.encode()) == a


def test_sqlite_is_embedded_and_needs_nothing():
    state = configured(instance(), cloudnativepg=False, cluster=None, secret=None)
    assert (state.condition.status, state.condition.reason, state.usable, state.digest) == (
        "True",
        "Embedded",
        True,
        None,
    )


def test_own_secret_missing_key_or_not_a_uri():
    inst = instance(OWN)
    missing = configured(inst, cloudnativepg=False, cluster=None, secret=None)
    assert (missing.condition.reason, missing.usable) == ("SecretNotFound", False)
    assert "orders-db" in missing.condition.message
    wrong_key = configured(inst, cloudnativepg=False, cluster=None, secret=summarize(secret(dsn=URI, user="app")))
    assert (wrong_key.condition.reason, wrong_key.usable) == ("SecretKeyMissing", False)
    assert "no key uri (its keys: dsn, user)" in wrong_key.condition.message
    garbage = configured(inst, cloudnativepg=False, cluster=None, secret=summarize(secret(uri="mysql://x")))
    assert (garbage.condition.reason, garbage.usable) == ("SecretInvalid", False)
    assert "mysql" not in garbage.condition.message  # never quote the value


def test_own_secret_with_a_uri_is_usable_and_carries_the_digest():
    summary = summarize(secret(uri=URI))
    state = configured(instance(OWN), cloudnativepg=False, cluster=None, secret=summary)
    assert (state.condition.status, state.condition.reason, state.usable) == ("True", "Connected", True)
    assert state.digest == summary.digests["uri"]


def test_managed_without_cloudnativepg_says_so_and_is_not_usable():
    state = configured(instance(MANAGED), cloudnativepg=False, cluster=None, secret=None)
    assert (state.condition.status, state.condition.reason, state.usable) == ("False", "CloudNativePGMissing", False)


def test_managed_cluster_not_ready_with_and_without_its_secret():
    inst = instance(MANAGED)
    starting = {"status": {"phase": "Setting up primary", "phaseReason": "Creating primary instance shop-db-1"}}
    early = configured(inst, cloudnativepg=True, cluster=starting, secret=None)
    assert (early.condition.reason, early.usable) == ("ClusterNotReady", False)
    assert "shop-db" in early.condition.message
    assert "Setting up primary" in early.condition.message
    # the app Secret is there before the Cluster is ready: the pods may start and wait for it
    later = configured(inst, cloudnativepg=True, cluster=starting, secret=summarize(secret(uri=URI)))
    assert (later.condition.reason, later.usable) == ("ClusterNotReady", True)
    assert later.digest is not None
    ready = configured(inst, cloudnativepg=True, cluster=HEALTHY, secret=summarize(secret(uri=URI)))
    assert (ready.condition.status, ready.condition.reason) == ("True", "Connected")
    assert "CloudNativePG Cluster shop-db" in ready.condition.message


@pytest.mark.parametrize(
    ("said", "reason"),
    [
        ("database unreachable: connection refused (orders-db-rw:5432)", "Unreachable"),
        ("cannot connect to PostgreSQL", "Unreachable"),
        ("database not writable: disk I/O error", "Unreachable"),
        ("migration refused, 1 offending change(s): drop column book.price", "MigrationRefused"),
        ("model not loaded", None),
    ],
)
def test_what_the_engine_says_is_classified(said, reason):
    assert database_problem(said) == reason


@pytest.mark.parametrize(
    ("status", "body", "database", "message"),
    [
        (
            503,
            '{"status": "unavailable", "reason": "Unreachable", "detail": "cannot connect to postgresql://app@db:5432/app"}',
            "Unreachable",
            "/ready answered 503: Unreachable: cannot connect to postgresql://app@db:5432/app",
        ),
        (
            503,
            '{"status": "unavailable", "reason": "MigrationRefused", "detail": "migration refused, 1 change"}',
            "MigrationRefused",
            "/ready answered 503: MigrationRefused: migration refused, 1 change",
        ),
        (
            503,
            '{"status": "unavailable", "reason": "Unavailable", "detail": "database not writable: disk I/O error"}',
            "Unreachable",
            "/ready answered 503: Unavailable: database not writable: disk I/O error",
        ),
        (503, '{"status": "not ready", "reason": "model not loaded"}', None, "/ready answered 503: model not loaded"),
        (502, "<html>bad gateway</html>", None, "/ready answered 502: <html>bad gateway</html>"),
        (503, "database down", "Unreachable", "/ready answered 503: database down"),
    ],
)
def test_the_engines_not_ready_answer_is_read(status, body, database, message):
    answer = not_ready(status, body)
    assert (answer.ok, answer.database, answer.message) == (False, database, message)


def test_a_password_never_reaches_status():
    said = '{"reason": "Unreachable", "detail": "cannot connect to postgresql://app:s3cret@db:5432/app"}'
    assert "s3cret" not in not_ready(503, said).message
    assert redact("x postgres://u:p@h/d and postgresql://v:q%40r@h2:1/e") == (
        "x postgres://u:***@h/d and postgresql://v:***@h2:1/e"
    )
    assert redact("postgresql://app@db/app") == "postgresql://app@db/app"


def pod(name: str, *, ready: bool = True, terminated: str | None = None) -> dict:
    cs: dict = {"name": "engine", "ready": ready, "state": {"running": {}}, "lastState": {}}
    if terminated is not None:
        cs["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
        cs["lastState"] = {"terminated": {"exitCode": 2, "message": terminated}}
    return {"metadata": {"name": name}, "status": {"containerStatuses": [cs]}}


def test_the_engine_view_from_probes_of_ready_and_unready_pods():
    probe = ProbeResult(
        at="t",
        replicas={"a": ReplicaProbe(True, "ready")},
        unready={"b": ReplicaProbe(False, "/ready answered 503: database unreachable", "Unreachable")},
    )
    view = database_view([pod("a"), pod("b", ready=False)], probe)
    assert (view.status, view.reason) == ("False", "Unreachable")
    assert view.message.startswith("pod b: ")
    # a pod that is gone says nothing any more
    assert database_view([pod("a")], probe) is None


def test_a_crashed_engine_that_refused_a_migration_outranks_the_rest():
    log = "starting\nmigration refused, 1 offending change(s): drop column book.price\n"
    probe = ProbeResult(at="t", unready={"b": ReplicaProbe(False, "database unreachable", "Unreachable")})
    view = database_view([pod("a", ready=False, terminated=log), pod("b", ready=False)], probe)
    assert view.reason == "MigrationRefused"
    assert view.message == "pod a: migration refused, 1 offending change(s): drop column book.price"
    # the same last words on a container that has since become ready are history, not news
    recovered = pod("a", terminated=log)
    recovered["status"]["containerStatuses"][0]["ready"] = True
    assert database_view([recovered], None) is None


def test_the_engine_view_overrides_only_a_configuration_that_looks_right():
    problem = database_problem("database unreachable")
    assert problem == "Unreachable"
    view = database_view([pod("b", ready=False)], ProbeResult(at="t", unready={"b": ReplicaProbe(False, "x", problem)}))
    good = configured(instance(OWN), cloudnativepg=False, cluster=None, secret=summarize(secret(uri=URI)))
    assert good.seen_by_engine(view).reason == "Unreachable"
    assert good.seen_by_engine(None).reason == "Connected"
    bad = configured(instance(OWN), cloudnativepg=False, cluster=None, secret=None)
    assert bad.seen_by_engine(view).reason == "SecretNotFound"
