"""spec.access, built without a cluster: the NetworkPolicy, the engine's ServiceAccount and its
ClusterRoleBinding, what the pods get, the AccessReady condition, and the operator's flags."""

from __future__ import annotations

import pytest
from kopf._cogs.structs.references import match_namespace  # kopf's own rule, the one to agree with

from pim_operator.apis.v1alpha1 import piminstance_lifecycle as lifecycle
from pim_operator.apis.v1alpha1.piminstance_types import Access, PimInstance
from pim_operator.reconciler.piminstance import access
from pim_operator.reconciler.piminstance.resources.deployment import make_deployment
from pim_operator.reconciler.piminstance.resources.networkpolicy import admitted, make_network_policy, trusted_peers
from pim_operator.reconciler.piminstance.resources.serviceaccount import (
    make_auth_delegator_binding,
    make_service_account,
)
from pim_operator.settings import labels, parse

pytestmark = pytest.mark.unit

OPERATOR = {"app.kubernetes.io/instance": "pim", "app.kubernetes.io/part-of": "pim-operator"}
TRUSTED = trusted_peers(
    operator_namespace="pim-system",
    operator_pods=OPERATOR,
    prometheus_namespaces={},
    prometheus_pods={"app.kubernetes.io/name": "prometheus"},
)


def instance(**spec: object) -> PimInstance:
    return PimInstance.from_body(
        {
            "apiVersion": "pim.dev/v1alpha1",
            "kind": "PimInstance",
            "metadata": {"name": "shop", "namespace": "team-a", "uid": "u-1", "generation": 1},
            "spec": {"modelRef": {"name": "orders"}, **spec},
        }
    )


def pod_of(inst: PimInstance) -> dict:
    return make_deployment(inst, image="e:1", model_digest="sha256:a", config_digest="sha256:c")["spec"]["template"][
        "spec"
    ]


def env_of(inst: PimInstance) -> dict[str, str]:
    return {e["name"]: e["value"] for e in pod_of(inst)["containers"][0]["env"]}


def test_access_defaults_to_a_network_policy_and_no_auth():
    assert instance().spec.access == Access(network_policy=True, sources=(), auth="None", api_key_secret=None)
    assert not instance().spec.access.reviews
    typed = instance(access={"auth": {"mode": "APIKey", "apiKeySecretRef": {"name": "keys"}}}).spec.access
    assert (typed.auth, typed.api_key_secret, typed.reviews) == ("APIKey", "keys", True)


def test_the_policy_admits_its_namespace_the_from_peers_the_operator_and_prometheus_on_the_engine_port():
    team = {"namespaceSelector": {"matchLabels": {"team": "shop"}}}
    policy = make_network_policy(instance(port=8080, access={"networkPolicy": {"from": [team]}}), TRUSTED)
    assert policy["apiVersion"] == "networking.k8s.io/v1"
    assert policy["metadata"]["name"] == "shop"
    assert policy["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    spec = policy["spec"]
    assert spec["podSelector"] == {
        "matchLabels": {"app.kubernetes.io/name": "pim-engine", "app.kubernetes.io/instance": "shop"}
    }
    assert spec["policyTypes"] == ["Ingress"]
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8080}]
    assert rule["from"] == [
        {"podSelector": {}},
        team,
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "pim-system"}},
            "podSelector": {"matchLabels": OPERATOR},
        },
        # every namespace is {}, as the API server stores it (an empty matchLabels would be dropped)
        {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}},
    ]


def test_peers_are_written_as_the_api_server_stores_them():
    """Empty maps and lists are dropped by the API server; kept, the policy would never look applied."""
    peer = {
        "namespaceSelector": {"matchLabels": {}, "matchExpressions": []},
        "podSelector": {"matchLabels": {"a": "b"}, "matchExpressions": []},
    }
    block = {"ipBlock": {"cidr": "192.0.2.0/24", "except": []}}
    policy = make_network_policy(instance(access={"networkPolicy": {"from": [peer, block]}}), {})
    assert policy["spec"]["ingress"][0]["from"][1:] == [
        {"namespaceSelector": {}, "podSelector": {"matchLabels": {"a": "b"}}},
        {"ipBlock": {"cidr": "192.0.2.0/24"}},
    ]


@pytest.mark.parametrize("service_type", ["NodePort", "LoadBalancer"])
def test_an_instance_exposed_on_nodes_admits_every_source_on_its_port(service_type):
    policy = make_network_policy(instance(serviceType=service_type), TRUSTED)
    assert policy["spec"]["ingress"] == [{"ports": [{"protocol": "TCP", "port": 8000}]}]
    assert "exposes the instance on nodes" in admitted(instance(serviceType=service_type), TRUSTED)


def test_trusted_peers_follow_the_operator_settings():
    assert list(TRUSTED) == ["the operator", "Prometheus"]
    outside = trusted_peers(operator_namespace=None, operator_pods={}, prometheus_namespaces={}, prometheus_pods={})
    assert outside == {}
    whole_namespace = trusted_peers(
        operator_namespace="ops", operator_pods={}, prometheus_namespaces={"m": "1"}, prometheus_pods={"p": "1"}
    )
    assert whole_namespace["the operator"]["podSelector"] == {}
    assert whole_namespace["Prometheus"]["namespaceSelector"] == {"matchLabels": {"m": "1"}}


def test_every_instance_runs_as_its_own_service_account_without_a_token_unless_auth_needs_one():
    sa = make_service_account(instance())
    assert sa["metadata"]["name"] == "shop-engine"
    assert sa["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert sa["automountServiceAccountToken"] is False
    pod = pod_of(instance())
    assert pod["serviceAccountName"] == "shop-engine"
    assert pod["automountServiceAccountToken"] is False
    assert env_of(instance())["PIM_AUTH"] == "none"
    assert "PIM_INSTANCE" not in env_of(instance())


def test_kubernetes_auth_mounts_the_token_and_names_the_instance():
    inst = instance(access={"auth": {"mode": "Kubernetes"}})
    pod = pod_of(inst)
    assert pod["automountServiceAccountToken"] is True
    env = env_of(inst)
    assert (env["PIM_AUTH"], env["PIM_INSTANCE"]) == ("kubernetes", "team-a/shop")
    assert not [v for v in pod["volumes"] if "secret" in v]


def test_api_keys_come_from_an_optional_secret_volume_read_in_place():
    inst = instance(access={"auth": {"mode": "APIKey", "apiKeySecretRef": {"name": "orders-keys"}}})
    pod = pod_of(inst)
    (volume,) = [v for v in pod["volumes"] if v["name"] == "api-keys"]
    assert volume["secret"] == {"secretName": "orders-keys", "optional": True, "defaultMode": 0o440}
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "api-keys"]
    assert mount == {"name": "api-keys", "mountPath": "/etc/pim/api-keys", "readOnly": True}
    env = env_of(inst)
    assert (env["PIM_AUTH"], env["PIM_API_KEYS_DIR"], env["PIM_INSTANCE"]) == (
        "apikey",
        "/etc/pim/api-keys",
        "team-a/shop",
    )
    assert pod["automountServiceAccountToken"] is True  # /metrics takes Prometheus's token
    # A rotated Secret changes nothing in the pod template: the pods are not rolled.
    assert "orders-keys" not in str(
        make_deployment(inst, image="e", model_digest="d", config_digest="c")["spec"]["template"]["metadata"]
    )


def test_the_auth_delegator_binding_is_labelled_and_owned_by_the_namespace_not_the_instance():
    crb = make_auth_delegator_binding(instance(access={"auth": {"mode": "Kubernetes"}}), namespace_uid="ns-uid")
    meta = crb["metadata"]
    assert meta["name"] == "pim-engine:team-a:shop"
    assert "namespace" not in meta
    assert meta["labels"]["pim.dev/instance-namespace"] == "team-a"
    assert meta["labels"]["app.kubernetes.io/instance"] == "shop"
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "pim-operator"
    assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Namespace", "name": "team-a", "uid": "ns-uid"}]
    assert crb["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "system:auth-delegator",
    }
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": "shop-engine", "namespace": "team-a"}]
    assert "ownerReferences" not in make_auth_delegator_binding(instance(), namespace_uid=None)["metadata"]


def test_access_ready_words_what_is_in_place():
    c = access.condition(instance(), TRUSTED)
    assert (c.type, c.status, c.reason) == ("AccessReady", "True", "Restricted")
    assert c.message == (
        "NetworkPolicy admits pods of its namespace, the operator and Prometheus; "
        "no auth: whoever the network admits may read and write"
    )
    peers = {"networkPolicy": {"from": [{"namespaceSelector": {}}]}, "auth": {"mode": "Kubernetes"}}
    c = access.condition(instance(access=peers), TRUSTED)
    assert c.message == (
        "NetworkPolicy admits pods of its namespace, the operator, Prometheus and the 1 peers of "
        "spec.access.networkPolicy.from; auth Kubernetes: reads need get, writes update on piminstances shop"
    )
    c = access.condition(instance(access={"networkPolicy": {"enabled": False}}), TRUSTED)
    assert (c.status, c.reason) == ("True", "Open")


def test_access_ready_names_a_missing_or_empty_key_secret_and_a_forbidden_binding():
    keyed = instance(access={"auth": {"mode": "APIKey", "apiKeySecretRef": {"name": "orders-keys"}}})
    c = access.condition(keyed, TRUSTED, api_keys=None)
    assert (c.status, c.reason) == ("False", "APIKeySecretNotFound")
    assert "Secret orders-keys (spec.access.auth.apiKeySecretRef) not found" in c.message
    c = access.condition(keyed, TRUSTED, api_keys=[])
    assert (c.status, c.reason) == ("False", "NoAPIKeys")
    c = access.condition(keyed, TRUSTED, api_keys=["ci", "ops"])
    assert (c.status, c.reason) == ("True", "Restricted")
    assert c.message.endswith("auth APIKey: 2 keys in Secret orders-keys")
    c = access.condition(keyed, TRUSTED, api_keys=["ci"], delegation_error="forbidden: user cannot bind")
    assert (c.status, c.reason) == ("False", "AuthDelegationForbidden")
    assert "ClusterRoleBinding pim-engine:team-a:shop" in c.message
    assert "bind on the ClusterRole system:auth-delegator" in c.message


def test_what_no_watch_reports_is_retried_with_backoff():
    """The operator watches neither Secrets nor its own RBAC: those reasons requeue the instance."""
    keyed = instance(access={"auth": {"mode": "APIKey", "apiKeySecretRef": {"name": "orders-keys"}}})
    for keys, error in ((None, None), ([], None), (["ci"], "forbidden")):
        stuck = access.condition(keyed, TRUSTED, api_keys=keys, delegation_error=error)
        assert lifecycle.CONDITIONS.retry_reason([stuck]) == stuck
    unread = access.condition(keyed, TRUSTED, api_keys=None, secret_error="secrets is forbidden")
    assert (unread.status, unread.reason) == ("False", "APIKeySecretForbidden")
    assert "Secret orders-keys" in unread.message
    assert "secrets is forbidden" in unread.message
    assert lifecycle.CONDITIONS.retry_reason([unread]) == unread
    assert lifecycle.CONDITIONS.retry_reason([access.condition(keyed, TRUSTED, api_keys=["ci"])]) is None


def test_operator_flags_for_the_policy_peers(monkeypatch):
    monkeypatch.delenv("PIM_OPERATOR_NAMESPACE", raising=False)
    s = parse(["--operator-namespace", "pim-system", "--operator-pod-labels", "a=b, c=d"])
    assert (s.operator_namespace, s.operator_pod_labels) == ("pim-system", {"a": "b", "c": "d"})
    assert s.prometheus_pod_labels == {"app.kubernetes.io/name": "prometheus"}
    assert parse(["--prometheus-pod-labels", ""]).prometheus_pod_labels == {}
    with pytest.raises(ValueError, match="'oops' is not key=value"):
        labels("a=b,oops")
    with pytest.raises(SystemExit):
        parse(["--operator-pod-labels", "=x"])


def test_which_namespaces_an_operator_serves():
    assert parse([]).watches("anything")
    excluding = parse(["--namespace", "!e2e-helm-*"])
    assert not excluding.watches("e2e-helm-ab12")
    assert excluding.watches("team-a")
    only = parse(["--namespace", "team-*", "--namespace", "!team-x"])
    assert only.watches("team-a")
    assert not only.watches("team-x")
    assert not only.watches("other")


@pytest.mark.parametrize(
    "flags",
    [
        [],
        ["team-a"],
        ["team-a", "team-b"],
        ["!e2e-helm-*"],
        ["!e2e-helm-*", "!own-op-*"],
        ["team-*", "!team-x"],
        ["team-*", "shop-*", "!*-x", "!*-y"],
    ],
)
def test_kopf_serves_exactly_the_namespaces_the_operator_does(flags: list[str]):
    """kopf's own matcher over what the operator hands it: kopf ORs its patterns, so two plain
    exclusions handed over as they are would have served every namespace."""
    settings = parse([arg for flag in flags for arg in ("--namespace", flag)])
    names = ["team-a", "team-b", "team-x", "shop-x", "shop-z", "e2e-helm-1", "own-op-ha", "other", "x-y"]
    for name in names:
        kopf_serves = not settings.kopf_namespaces or any(
            match_namespace(name, pattern) for pattern in settings.kopf_namespaces
        )
        assert kopf_serves == settings.watches(name), (flags, name, settings.kopf_namespaces)
