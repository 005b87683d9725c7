"""spec.access against a real API server: the CRD's rules and defaults, and what the operator makes of
it (NetworkPolicy, the engine's ServiceAccount, its ClusterRoleBinding and their cleanup, AccessReady).

Traffic (policies enforced, tokens reviewed by real pods) is the e2e suite's: tests/e2e/test_access.py.
"""

from __future__ import annotations

import json

import pytest

from tests.support.pim import BOOKS, apply, condition, patch_spec, pim_instance, pim_model, wait_condition
from tests.support.waiting import wait_for

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def admission_ns(crds):
    return crds.namespace("pim-access-crd")


def dry_run(cluster, obj):
    return cluster.kubectl("create", "--dry-run=server", "-o", "json", "-f", "-", input=json.dumps(obj), check=False)


@pytest.mark.parametrize(
    ("access", "message"),
    [
        ({"auth": {"mode": "APIKey"}}, "spec.access.auth.apiKeySecretRef is required with mode APIKey"),
        (
            {"auth": {"mode": "Kubernetes", "apiKeySecretRef": {"name": "keys"}}},
            "apiKeySecretRef is required with mode APIKey, and only allowed with it",
        ),
        ({"auth": {"apiKeySecretRef": {"name": "keys"}}}, "only allowed with it"),
        ({"auth": {"mode": "OAuth"}}, 'supported values: "None", "Kubernetes", "APIKey"'),
        ({"auth": {"mode": "APIKey", "apiKeySecretRef": {"name": "Keys_1"}}}, "spec.access.auth.apiKeySecretRef.name"),
        ({"networkPolicy": {"from": [{}]}}, "needs podSelector and/or namespaceSelector, or ipBlock alone"),
        (
            {"networkPolicy": {"from": [{"ipBlock": {"cidr": "192.0.2.0/24"}, "namespaceSelector": {}}]}},
            "needs podSelector and/or namespaceSelector, or ipBlock alone",
        ),
        ({"networkPolicy": {"from": [{"ipBlock": {}}]}}, "spec.access.networkPolicy.from[0].ipBlock.cidr: Required"),
        (
            {"networkPolicy": {"from": [{"podSelector": {"matchExpressions": [{"key": "a", "operator": "Is"}]}}]}},
            'supported values: "In", "NotIn", "Exists", "DoesNotExist"',
        ),
    ],
)
def test_bad_access_is_refused_with_a_reason(crds, admission_ns, access, message):
    res = dry_run(crds, pim_instance(admission_ns, "bad", "m", access=access))
    assert res.returncode != 0
    assert message in res.stderr, res.stderr


def test_access_defaults_to_a_network_policy_and_no_auth(crds, admission_ns):
    spec = json.loads(dry_run(crds, pim_instance(admission_ns, "good", "m")).stdout)["spec"]
    assert spec["access"] == {"networkPolicy": {"enabled": True}, "auth": {"mode": "None"}}
    peers = [{"namespaceSelector": {"matchLabels": {"team": "shop"}}}, {"ipBlock": {"cidr": "192.0.2.0/24"}}]
    keyed = {"auth": {"mode": "APIKey", "apiKeySecretRef": {"name": "orders-keys"}}, "networkPolicy": {"from": peers}}
    spec = json.loads(dry_run(crds, pim_instance(admission_ns, "keyed", "m", access=keyed)).stdout)["spec"]
    assert spec["access"]["networkPolicy"] == {"enabled": True, "from": peers}


def test_explain_documents_access(crds):
    out = crds.kubectl("explain", "piminstance.spec.access.auth").stdout
    assert "TokenReview" in out
    assert "piminstances/metrics" in out


# --- the operator ---


@pytest.fixture
def books(operator, cluster):
    ns = cluster.namespace("pim-access")
    apply(cluster, pim_model(ns, "books", BOOKS))
    wait_condition(cluster, "pm", ns, "books", "Valid", "True")
    return ns


def gone(cluster, *args: str) -> bool:
    return cluster.kubectl("get", *args, check=False).returncode != 0


def binding_of(ns: str, name: str = "shop") -> str:
    return f"pim-engine:{ns}:{name}"


def test_every_instance_gets_a_policy_and_a_service_account_without_a_token(cluster, books):
    apply(cluster, pim_instance(books, "shop", "books"))
    c = wait_condition(cluster, "pi", books, "shop", "AccessReady", "True", "Restricted")
    assert c["message"].startswith("NetworkPolicy admits pods of its namespace and Prometheus;")
    policy = cluster.get("networkpolicy", "shop", "-n", books)
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "shop"
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]
    # no operator peer: this operator runs outside the cluster (the host reaches the pods as their node)
    assert rule["from"] == [
        {"podSelector": {}},
        {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}},
    ]
    sa = cluster.get("serviceaccount", "shop-engine", "-n", books)
    assert sa["automountServiceAccountToken"] is False
    pod = cluster.get("deployment", "shop", "-n", books)["spec"]["template"]["spec"]
    assert (pod["serviceAccountName"], pod["automountServiceAccountToken"]) == ("shop-engine", False)
    assert gone(cluster, "clusterrolebinding", binding_of(books))
    wait_condition(cluster, "pi", books, "shop", "Ready", "True", timeout=90)


def test_kubernetes_auth_binds_the_engine_to_the_auth_delegator_and_unbinds_it(cluster, books):
    apply(cluster, pim_instance(books, "shop", "books", access={"auth": {"mode": "Kubernetes"}}))
    crb = wait_for(
        lambda: cluster.kubectl("get", "clusterrolebinding", binding_of(books), "-o", "json", check=False).stdout,
        60,
        "the engine's ClusterRoleBinding",
    )
    crb = json.loads(crb)
    ns_uid = cluster.get("namespace", books)["metadata"]["uid"]
    assert crb["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Namespace", "name": books, "uid": ns_uid}
    ]
    assert crb["metadata"]["labels"]["pim.dev/instance-namespace"] == books
    assert crb["roleRef"]["name"] == "system:auth-delegator"
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": "shop-engine", "namespace": books}]
    c = wait_condition(cluster, "pi", books, "shop", "AccessReady", "True")
    assert "auth Kubernetes: reads need get, writes update on piminstances shop" in c["message"]
    pod = cluster.get("deployment", "shop", "-n", books)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert (env["PIM_AUTH"], env["PIM_INSTANCE"]) == ("kubernetes", f"{books}/shop")

    # Drift is repaired: a deleted binding comes back.
    cluster.kubectl("delete", "clusterrolebinding", binding_of(books))
    wait_for(lambda: not gone(cluster, "clusterrolebinding", binding_of(books)), 60, "the binding to come back")

    patch_spec(cluster, "pi", books, "shop", {"access": {"auth": {"mode": "None"}}})
    wait_for(lambda: gone(cluster, "clusterrolebinding", binding_of(books)), 60, "the binding to go with auth None")
    patch_spec(cluster, "pi", books, "shop", {"access": {"auth": {"mode": "Kubernetes"}}})
    wait_for(lambda: not gone(cluster, "clusterrolebinding", binding_of(books)), 60, "the binding to come back")
    cluster.kubectl("delete", "pi", "shop", "-n", books)
    wait_for(lambda: gone(cluster, "clusterrolebinding", binding_of(books)), 60, "the binding to go with the instance")


def test_bindings_the_operator_missed_are_swept_at_resync(cluster, books, operator):
    """A binding left by an instance deleted while no operator ran (made by hand here)."""
    stale = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": binding_of(books, "ghost"),
            "labels": {
                "app.kubernetes.io/managed-by": "pim-operator",
                "app.kubernetes.io/instance": "ghost",
                "pim.dev/instance-namespace": books,
            },
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:auth-delegator"},
        "subjects": [{"kind": "ServiceAccount", "name": "ghost-engine", "namespace": books}],
    }
    cluster.create(stale)
    wait_for(lambda: gone(cluster, "clusterrolebinding", binding_of(books, "ghost")), 60, "the stale binding swept")


def test_the_policy_can_be_turned_off_and_access_is_then_open(cluster, books):
    apply(cluster, pim_instance(books, "shop", "books"))
    wait_for(lambda: not gone(cluster, "networkpolicy", "shop", "-n", books), 60, "the NetworkPolicy")
    patch_spec(cluster, "pi", books, "shop", {"access": {"networkPolicy": {"enabled": False}}})
    wait_for(lambda: gone(cluster, "networkpolicy", "shop", "-n", books), 60, "the NetworkPolicy to go")
    c = wait_condition(cluster, "pi", books, "shop", "AccessReady", "True", "Open")
    assert "any client that reaches the Service may read and write" in c["message"]


def test_a_missing_api_key_secret_is_named_until_it_exists(cluster, books):
    access = {"auth": {"mode": "APIKey", "apiKeySecretRef": {"name": "orders-keys"}}}
    apply(cluster, pim_instance(books, "shop", "books", access=access))
    c = wait_condition(cluster, "pi", books, "shop", "AccessReady", "False", "APIKeySecretNotFound")
    assert "Secret orders-keys (spec.access.auth.apiKeySecretRef) not found" in c["message"]
    ready = wait_condition(cluster, "pi", books, "shop", "Ready", "False", "APIKeySecretNotFound")
    assert ready["message"] == c["message"]
    # The pod starts anyway (the volume is optional) and refuses every request until keys arrive.
    pod = cluster.get("deployment", "shop", "-n", books)["spec"]["template"]["spec"]
    assert {"name": "api-keys", "secret": {"secretName": "orders-keys", "optional": True, "defaultMode": 288}} in pod[
        "volumes"
    ]
    cluster.kubectl("create", "secret", "generic", "orders-keys", "-n", books)
    wait_condition(cluster, "pi", books, "shop", "AccessReady", "False", "NoAPIKeys")
    cluster.kubectl("patch", "secret", "orders-keys", "-n", books, "-p", '{"stringData":{"ci":"k1","ops":"k2"}}')
    c = wait_condition(cluster, "pi", books, "shop", "AccessReady", "True", "Restricted")
    assert c["message"].endswith("auth APIKey: 2 keys in Secret orders-keys")
    assert condition(cluster, "pi", books, "shop", "Ready")["reason"] != "APIKeySecretNotFound"
