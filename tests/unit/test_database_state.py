"""DatabaseReady, decided from what the reconcile found and from what the engine says: no cluster."""

from __future__ import annotations

import asyncio
import base64
import socket

import httpx
import pytest

from pim_engine import storage as engine_storage
from pim_engine.app import create_app
from pim_engine.loader import load_model_text
from pim_engine.migrate import Change, MigrationRefused
from pim_engine.serve import EXIT_REFUSED
from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.probe.health import ENGINE_REASONS, database_view, not_ready, redact, refused_at_start
from pim_operator.probe.result import ProbeResult, ReplicaProbe
from pim_operator.reconciler.piminstance.database import configured
from pim_operator.secret_summary import digest, summarize

pytestmark = pytest.mark.unit

URI = "postgresql://app:s3cret@orders-db-rw.team-a:5432/app"
MODEL_YAML = """
domain: shop
entities:
  - name: Book
    attributes:
      - {name: title, type: string, required: true}
"""
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
            "Unavailable",
            "/ready answered 503: Unavailable: database not writable: disk I/O error",
        ),
        (503, '{"status": "not ready", "reason": "model not loaded"}', None, "/ready answered 503: model not loaded"),
        (502, "<html>bad gateway</html>", None, "/ready answered 502: <html>bad gateway</html>"),
        # Text is shown, never interpreted: only the engine's reasons, exactly, name a database problem.
        (503, "database down", None, "/ready answered 503: database down"),
        (
            503,
            '{"reason": "unreachable", "detail": "cannot connect"}',
            None,
            "/ready answered 503: unreachable: cannot connect",
        ),
        (503, '{"reason": "Unreachable database"}', None, "/ready answered 503: Unreachable database"),
        (503, '{"reason": "migration refused"}', None, "/ready answered 503: migration refused"),
        (500, '{"reason": "Unreachable"}', None, "/ready answered 500: Unreachable"),
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


def test_the_engines_reasons_are_its_own_constants():
    """The contract is pim_engine.storage's names, each mapped to the DatabaseReady reason of that name."""
    assert ENGINE_REASONS == {
        engine_storage.UNREACHABLE: "Unreachable",
        engine_storage.MIGRATION_REFUSED: "MigrationRefused",
        engine_storage.UNAVAILABLE: "Unavailable",
    }
    assert {"Unreachable", "MigrationRefused"} <= set(ENGINE_REASONS)


async def engine_ready_without_its_database() -> httpx.Response:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        model = load_model_text(MODEL_YAML, "yaml", "shop.yaml")
        app = create_app(model, f"postgresql://app:s3cret@127.0.0.1:{port}/app?connect_timeout=2")
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://engine") as api,
        ):
            return await api.get("/ready")


def test_the_real_engines_ready_answer_without_its_database_is_read_exactly():
    """The engine itself (its app, not a copy of its JSON) on a PostgreSQL nobody listens on."""
    ready = asyncio.run(engine_ready_without_its_database())
    assert ready.status_code == 503
    assert ready.json()["reason"] == "Unreachable"
    answer = not_ready(ready.status_code, ready.text)
    assert answer.database == "Unreachable"
    assert answer.message.startswith("/ready answered 503: Unreachable: ")
    assert "s3cret" not in answer.message


REFUSED = "pim-engine serve: /data/pim.db: migration refused, 1 offending change(s): drop column book.price"


def pod(name: str, *, ready: bool = True, terminated: str | None = None, exit_code: int = 2) -> dict:
    cs: dict = {"name": "engine", "ready": ready, "state": {"running": {}}, "lastState": {}}
    if terminated is not None:
        cs["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
        cs["lastState"] = {"terminated": {"exitCode": exit_code, "message": terminated}}
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
    log = f"starting\n{REFUSED}\n"
    probe = ProbeResult(at="t", unready={"b": ReplicaProbe(False, "database unreachable", "Unreachable")})
    view = database_view([pod("a", ready=False, terminated=log), pod("b", ready=False)], probe)
    assert view.reason == "MigrationRefused"
    assert view.message == f"pod a: {REFUSED}"
    # the same last words on a container that has since become ready are history, not news
    recovered = pod("a", terminated=log)
    recovered["status"]["containerStatuses"][0]["ready"] = True
    assert database_view([recovered], None) is None


@pytest.mark.parametrize(
    ("exit_code", "said"),
    [
        (1, REFUSED),  # not the engine's refusal exit code
        (2, "pim-engine serve: --pool-size: must be a positive integer"),  # refused settings, same code
        (2, "a user's log line: migration refused, 1 offending change(s)"),  # not the engine's line
    ],
)
def test_only_the_engines_own_refusal_counts_as_a_refused_migration(exit_code, said):
    assert refused_at_start({"exitCode": exit_code, "message": said}) is None
    assert database_view([pod("a", ready=False, terminated=said, exit_code=exit_code)], None) is None


def test_the_engines_refusal_at_start_is_its_migration_refused_message(tmp_path):
    """The line is the one pim-engine serve prints for pim_engine.migrate.MigrationRefused."""
    err = MigrationRefused(
        str(tmp_path / "pim.db"), [Change("drop_column", "book", "price", "drop", "destructive")], False
    )
    line = f"pim-engine serve: {err}"
    assert refused_at_start({"exitCode": EXIT_REFUSED, "message": f"x\n{line}\n"}) == line


def test_the_engine_view_overrides_only_a_configuration_that_looks_right():
    problem = not_ready(503, '{"reason": "Unreachable", "detail": "x"}').database
    assert problem == "Unreachable"
    view = database_view([pod("b", ready=False)], ProbeResult(at="t", unready={"b": ReplicaProbe(False, "x", problem)}))
    good = configured(instance(OWN), cloudnativepg=False, cluster=None, secret=summarize(secret(uri=URI)))
    assert good.seen_by_engine(view).reason == "Unreachable"
    assert good.seen_by_engine(None).reason == "Connected"
    bad = configured(instance(OWN), cloudnativepg=False, cluster=None, secret=None)
    assert bad.seen_by_engine(view).reason == "SecretNotFound"
