"""Instances with auth on, in real pods: the engine's ServiceAccount may ask the API server for
TokenReviews and SubjectAccessReviews (the ClusterRoleBinding the operator made), and the cluster's
RBAC decides. ``Kubernetes``: no token 401, a ServiceAccount's token without RBAC 403, with ``get``
on the instance 200 for reads and still 403 for writes (they need ``update``). ``APIKey``: a wrong
key 401, a key of the Secret 200. ``/health`` and ``/ready`` stay open for the kubelet throughout.

Not here: that the NetworkPolicy is enforced; test_network.py shows a pod of another namespace
refused (kube-router enforces policies on both kind and the local cluster's node).
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.pim import apply, pim_model, real_pod_instance, status_of, wait_condition
from tests.support.reach import PortForward, forward
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

NOTES = """
domain: notes
version: 1.0.0
entities:
  - name: Note
    attributes:
      text: {type: string, required: true}
"""
KEY = "k-e2e-3c9d51f0a7"


@pytest.fixture(scope="module")
def ns(cluster, operator):
    name = cluster.namespace("e2e-auth")
    apply(cluster, pim_model(name, "notes", NOTES))
    apply(cluster, real_pod_instance(name, "guarded", "notes", access={"auth": {"mode": "Kubernetes"}}))
    cluster.kubectl("create", "secret", "generic", "notes-keys", "-n", name, f"--from-literal=ci={KEY}")
    keyed = {"auth": {"mode": "APIKey", "apiKeySecretRef": {"name": "notes-keys"}}}
    apply(cluster, real_pod_instance(name, "keyed", "notes", access=keyed))
    for each in ("guarded", "keyed"):
        wait_condition(cluster, "pi", name, each, "Ready", "True", timeout=180)
    return name


@pytest.fixture(scope="module")
def guarded(cluster, ns):
    with forward(cluster, ns, "svc/guarded", 8000) as svc:
        yield svc


@pytest.fixture(scope="module")
def keyed(cluster, ns):
    with forward(cluster, ns, "svc/keyed", 8000) as svc:
        yield svc


def token_of(cluster, ns: str, account: str) -> str:
    cluster.kubectl("create", "serviceaccount", account, "-n", ns)
    return cluster.kubectl("create", "token", account, "-n", ns, "--duration", "10m").stdout.strip()


def call(svc: PortForward, method: str, token: str | None = None, **kw) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.request(method, f"{svc.url}/api/v1/notes", headers=headers, timeout=10, **kw)


def test_the_probes_stay_open(guarded, keyed):
    for svc in (guarded, keyed):
        for path in ("/health", "/ready"):
            assert httpx.get(f"{svc.url}{path}", timeout=10).status_code == 200


def test_kubernetes_auth_follows_the_clusters_rbac(cluster, ns, guarded):
    anonymous = call(guarded, "GET")
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["www-authenticate"].startswith("Bearer")

    token = token_of(cluster, ns, "reader")
    refused = call(guarded, "GET", token)
    assert refused.status_code == 403, refused.text
    assert f"system:serviceaccount:{ns}:reader" in refused.text

    grant = ("--verb=get", "--resource=piminstances.pim.dev", "--resource-name=guarded")
    cluster.kubectl("create", "role", "notes-reader", "-n", ns, *grant)
    cluster.kubectl(
        "create", "rolebinding", "notes-reader", "-n", ns, "--role=notes-reader", f"--serviceaccount={ns}:reader"
    )
    # A refusal is remembered for a few seconds: the grant shows once that has passed.
    wait_for(lambda: call(guarded, "GET", token).status_code == 200, 30, "reads allowed by the new RoleBinding")
    write = call(guarded, "POST", token, json={"text": "hello"})
    assert write.status_code == 403, write.text
    assert "update" in write.text


def test_api_keys_come_from_the_secret(keyed):
    assert call(keyed, "GET").status_code == 401
    wrong = call(keyed, "GET", "k-not-a-key")
    assert wrong.status_code == 401, wrong.text
    assert call(keyed, "GET", KEY).status_code == 200
    created = call(keyed, "POST", KEY, json={"text": "hello"})
    assert created.status_code == 201, created.text
    by_header = httpx.get(f"{keyed.url}/api/v1/notes", headers={"X-API-Key": KEY}, timeout=10)
    assert by_header.json()["total"] == 1


def test_the_operator_reads_the_metrics_of_both(cluster, ns):
    """/metrics takes Kubernetes tokens in both modes; the probes show one for the probe audience:
    the chart's projected token in a cluster (kind runs this suite so), one made with ``kubectl
    create token --audience pim.dev`` outside it."""
    for each in ("guarded", "keyed"):
        metrics = wait_for(
            lambda each=each: status_of(cluster, "pi", ns, each).get("metrics"),
            60,
            f"{each}'s status to carry what its /metrics said (a refused scrape leaves it out)",
        )
        assert metrics["memoryBytes"] > 0
