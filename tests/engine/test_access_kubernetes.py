"""``--auth kubernetes`` against a real API server: the local cluster's TokenReviews and
SubjectAccessReviews decide, with the RBAC of ServiceAccounts made for the test.

The engine runs as a process beside the cluster, with the identity the operator gives it in a pod
(a ServiceAccount bound to ``system:auth-delegator``) through ``PIM_KUBE_API``/``..._TOKEN_FILE``/
``..._CA_FILE`` instead of the in-cluster files.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from engine_harness import SHOP_MODEL, Engine
from prometheus_client.parser import text_string_to_metric_families

from pim_engine.access.reviews import PROBE_AUDIENCE
from tests.support.waiting import wait_for

pytestmark = pytest.mark.cluster
INSTANCE = "shop"


def rbac(kind: str, name: str, ns: str | None, **body: object) -> dict:
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta, **body}


def binding(kind: str, name: str, ns: str | None, role_kind: str, role: str, *accounts: tuple[str, str]) -> dict:
    return rbac(
        kind,
        name,
        ns,
        roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        subjects=[{"kind": "ServiceAccount", "name": sa, "namespace": where} for where, sa in accounts],
    )


def rule(verb: str, resource: str, *names: str) -> dict:
    return {"apiGroups": ["pim.dev"], "resources": [resource], "verbs": [verb], "resourceNames": list(names)}


class Setup:
    def __init__(self, cluster, ns: str, work: Path) -> None:
        self.cluster = cluster
        self.ns = ns
        self.work = work
        self.tokens: dict[str, str] = {}
        view = json.loads(cluster.kubectl("config", "view", "--minify", "--raw", "-o", "json").stdout)
        server = view["clusters"][0]["cluster"]
        self.server = server["server"]
        self.ca = work / "ca.crt"
        if "certificate-authority-data" in server:
            self.ca.write_bytes(base64.b64decode(server["certificate-authority-data"]))
        else:
            self.ca.write_bytes(Path(server["certificate-authority"]).read_bytes())

    def token(self, sa: str) -> str:
        if sa not in self.tokens:
            self.tokens[sa] = self.cluster.kubectl(
                "create", "token", sa, "-n", self.ns, "--duration=3600s"
            ).stdout.strip()
        return self.tokens[sa]

    def engine(self, identity: str | None, database: Path) -> Engine:
        """An engine whose own token is ``identity``'s (None: a file whose content is rewritten by the test)."""
        token_file = self.work / f"engine-token-{secrets.token_hex(3)}"
        token_file.write_text(self.token(identity) if identity else "not-a-token")
        env = {
            "PIM_AUTH": "kubernetes",
            "PIM_INSTANCE": f"{self.ns}/{INSTANCE}",
            "PIM_KUBE_API": self.server,
            "PIM_KUBE_TOKEN_FILE": str(token_file),
            "PIM_KUBE_CA_FILE": str(self.ca),
        }
        engine = Engine(SHOP_MODEL, database, env=env)
        engine.token_file = token_file  # type: ignore[attr-defined]
        return engine


@pytest.fixture(scope="module")
def setup(cluster, tmp_path_factory) -> Iterator[Setup]:
    ns = cluster.namespace("engine-auth")
    delegator = f"{ns}-engine-auth-delegator"
    accounts = ("engine", "reader", "writer", "scraper", "stranger", "burst", "revoked")
    objects = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": a, "namespace": ns}} for a in accounts
    ]
    objects += [
        # What the operator grants each instance's ServiceAccount: creating the two reviews.
        binding("ClusterRoleBinding", delegator, None, "ClusterRole", "system:auth-delegator", (ns, "engine")),
        rbac("Role", "read-shop", ns, rules=[rule("get", "piminstances", INSTANCE)]),
        rbac("Role", "write-shop", ns, rules=[rule("update", "piminstances", INSTANCE)]),
        rbac("Role", "scrape-shop", ns, rules=[rule("get", "piminstances/metrics", INSTANCE)]),
        rbac("Role", "read-another", ns, rules=[rule("get", "piminstances", "another")]),
        binding("RoleBinding", "readers", ns, "Role", "read-shop", (ns, "reader"), (ns, "writer"), (ns, "burst")),
        binding("RoleBinding", "writers", ns, "Role", "write-shop", (ns, "writer")),
        binding("RoleBinding", "revoked-writers", ns, "Role", "write-shop", (ns, "revoked")),
        binding("RoleBinding", "scrapers", ns, "Role", "scrape-shop", (ns, "scraper")),
        binding("RoleBinding", "strangers", ns, "Role", "read-another", (ns, "stranger")),
    ]
    cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    try:
        yield Setup(cluster, ns, tmp_path_factory.mktemp("engine-auth"))
    finally:
        cluster.kubectl("delete", "clusterrolebinding", delegator, "--ignore-not-found")


@pytest.fixture(scope="module")
def engine(setup, tmp_path_factory) -> Iterator[Engine]:
    with setup.engine("engine", tmp_path_factory.mktemp("db") / "shop.db") as e:
        yield e


def as_(setup: Setup, sa: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {setup.token(sa)}"}


def detail(resp: httpx.Response) -> dict:
    (only,) = resp.json()["detail"]
    return only


def reviews(engine: Engine, setup: Setup) -> dict[tuple[str, str], float]:
    text = httpx.get(f"{engine.url}/metrics", headers=as_(setup, "scraper"), timeout=10).text
    return {
        (s.labels["review"], s.labels["outcome"]): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "pim_access_reviews_total"
    }


def test_no_token_or_a_bad_one_is_401(engine, setup):
    with engine.client() as api:
        none = api.get("/api/v1/customers")
        assert none.status_code == 401
        assert detail(none)["msg"].startswith("a bearer token is required")
        bad = api.get("/api/v1/customers", headers={"Authorization": "Bearer not.a.token"})
        assert bad.status_code == 401
        assert detail(bad)["msg"].startswith("the Kubernetes API server did not accept the token")
        assert detail(bad)["loc"] == ["header", "authorization"]
        assert api.get("/health").status_code == 200
        assert api.get("/ready").status_code == 200


def test_reads_need_get_and_writes_need_update_on_this_instance(engine, setup):
    with engine.client() as api:
        assert api.get("/api/v1/customers", headers=as_(setup, "reader")).status_code == 200
        refused = api.post("/api/v1/customers", json={"name": "Ada", "email": "a@x"}, headers=as_(setup, "reader"))
        assert refused.status_code == 403
        assert detail(refused) == {
            "loc": ["header", "authorization"],
            "msg": f'user "system:serviceaccount:{setup.ns}:reader" may not update piminstances {INSTANCE} '
            f"(group pim.dev) in namespace {setup.ns}",
            "type": "forbidden",
        }
        made = api.post("/api/v1/customers", json={"name": "Ada", "email": "a@x"}, headers=as_(setup, "writer"))
        assert made.status_code == 201, made.text
        # get on another instance's name grants nothing here
        assert api.get("/api/v1/customers", headers=as_(setup, "stranger")).status_code == 403


def test_metrics_need_get_on_the_metrics_subresource_and_give_no_data(engine, setup):
    with engine.client() as api:
        assert api.get("/metrics", headers=as_(setup, "scraper")).status_code == 200
        assert api.get("/api/v1/customers", headers=as_(setup, "scraper")).status_code == 403
        assert api.get("/metrics", headers=as_(setup, "reader")).status_code == 403
        assert api.get("/metrics").status_code == 401


def test_the_operators_probe_token_works_here_and_nowhere_else(engine, setup):
    """The token the operator's probes show instances has the audience pim.dev: the engine reviews
    it for that audience, the API server refuses it as a credential, so an instance that receives
    it cannot act as the operator."""
    probe = setup.cluster.kubectl(
        "create", "token", "scraper", "-n", setup.ns, "--duration=3600s", f"--audience={PROBE_AUDIENCE}"
    ).stdout.strip()
    with engine.client() as api:
        assert api.get("/metrics", headers={"Authorization": f"Bearer {probe}"}).status_code == 200
        # Authenticated as the scraper: no more than the scraper may do.
        assert api.get("/api/v1/customers", headers={"Authorization": f"Bearer {probe}"}).status_code == 403
    replayed = httpx.get(
        f"{setup.server}/api/v1/namespaces/{setup.ns}/serviceaccounts",
        headers={"Authorization": f"Bearer {probe}"},
        verify=ssl.create_default_context(cafile=str(setup.ca)),
        timeout=10,
    )
    assert replayed.status_code == 401
    # The API server's own token for the same account is still accepted there (the control).
    direct = httpx.get(
        f"{setup.server}/apis/authorization.k8s.io/v1",
        headers=as_(setup, "scraper"),
        verify=ssl.create_default_context(cafile=str(setup.ca)),
        timeout=10,
    )
    assert direct.status_code == 200


def test_answers_are_cached_and_concurrent_requests_share_one_review(engine, setup):
    before = reviews(engine, setup)

    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=engine.url, timeout=30) as client:
            answers = await asyncio.gather(
                *(client.get("/api/v1/customers", headers=as_(setup, "burst")) for _ in range(30))
            )
        return [a.status_code for a in answers]

    assert asyncio.run(burst()) == [200] * 30
    after = reviews(engine, setup)

    def sent(key: tuple[str, str]) -> float:
        return after.get(key, 0) - before.get(key, 0)

    assert sent(("TokenReview", "authenticated")) == 1
    assert sent(("SubjectAccessReview", "allowed")) == 1


def test_a_removed_rolebinding_stops_working_within_the_cache_ttl(engine, setup):
    with engine.client() as api:

        def write(n: int) -> int:
            new = {"name": f"R{n}", "email": f"r{n}@x"}
            return api.post("/api/v1/customers", json=new, headers=as_(setup, "revoked")).status_code

        assert write(0) == 201  # the answer is cached now
        setup.cluster.kubectl("delete", "rolebinding", "revoked-writers", "-n", setup.ns)
        tries = iter(range(1, 1000))
        wait_for(lambda: write(next(tries)) == 403, 30, "the revoked writer to be refused")


def test_an_engine_without_review_rights_says_so_with_503(setup, tmp_path):
    with setup.engine("stranger", tmp_path / "shop.db") as engine, engine.client() as api:
        resp = api.get("/api/v1/customers", headers=as_(setup, "reader"))
        assert resp.status_code == 503
        msg = detail(resp)["msg"]
        assert "refused the engine's TokenReview (403" in msg, msg
        assert f"system:serviceaccount:{setup.ns}:stranger" in msg


def test_the_engine_reads_its_rotated_token_again_when_the_api_server_refuses_it(setup, tmp_path):
    with setup.engine(None, tmp_path / "shop.db") as engine, engine.client() as api:
        assert api.get("/api/v1/customers", headers=as_(setup, "reader")).status_code == 503
        engine.token_file.write_text(setup.token("engine"))  # type: ignore[attr-defined]
        assert api.get("/api/v1/customers", headers=as_(setup, "reader")).status_code == 200
