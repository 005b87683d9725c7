"""The instance's NetworkPolicy: who may open a connection to the engine's port.

Admitted: every pod of the instance's own namespace, the ``from`` peers of the spec, and the peers
the operator trusts for every instance (its own pods, whose probes read /ready and /metrics, and
Prometheus), which :func:`trusted_peers` makes from the operator's settings. An instance exposed on
nodes (NodePort, LoadBalancer) admits every source: what comes in through a node arrives from the
node's address (or the client's), never from a namespace, so a namespace rule would only break the
exposure the spec asks for. The kubelet's probes come from the node itself, which NetworkPolicy
implementations admit; so do the probes of an operator run outside the cluster on a node, and a
Prometheus there (kube-router: ``--src-type LOCAL``; tests/e2e/test_network.py shows it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.reconciler.piminstance.resources import names

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set on every Namespace by the API server


def trusted_peers(
    *,
    operator_namespace: str | None,
    operator_pods: Mapping[str, str],
    prometheus_namespaces: Mapping[str, str],
    prometheus_pods: Mapping[str, str],
) -> dict[str, dict[str, Any]]:
    """NetworkPolicyPeers of the operator (its namespace, its pods there: empty labels for all of
    them; no namespace: the operator runs outside the cluster and has no peer) and of Prometheus
    (pods with ``prometheus_pods`` in namespaces with ``prometheus_namespaces``, empty for every
    namespace; no pod labels: no Prometheus peer). Keyed by who they are, for the status."""
    out: dict[str, dict[str, Any]] = {}
    if operator_namespace:
        out["the operator"] = {
            "namespaceSelector": _selector({NAMESPACE_NAME_LABEL: operator_namespace}),
            "podSelector": _selector(operator_pods),
        }
    if prometheus_pods:
        out["Prometheus"] = {
            "namespaceSelector": _selector(prometheus_namespaces),
            "podSelector": _selector(prometheus_pods),
        }
    return out


def _selector(labels: Mapping[str, str]) -> dict[str, Any]:
    return {"matchLabels": dict(labels)} if labels else {}


def _normalized(value: Any) -> Any:
    """A peer as the API server stores it: empty maps and lists left out (Go's omitempty), so that
    comparing the live policy with the desired one does not see a difference that is not there."""
    if isinstance(value, Mapping):
        empty = {k for k, v in value.items() if isinstance(v, Mapping | list) and not v and k not in _KEEP_EMPTY}
        return {k: _normalized(v) for k, v in value.items() if k not in empty}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


#: Selectors mean something when empty ({} selects everything): they are kept.
_KEEP_EMPTY = frozenset({"podSelector", "namespaceSelector"})


def make_network_policy(instance: PimInstance, trusted: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    spec = instance.spec
    rule: dict[str, Any] = {"ports": [{"protocol": "TCP", "port": spec.port}]}
    if spec.service_type == "ClusterIP":
        own_namespace: dict[str, Any] = {"podSelector": {}}
        rule["from"] = [own_namespace, *(_normalized(p) for p in (*spec.access.sources, *trusted.values()))]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": names.child_metadata(instance, names.network_policy(instance.name)),
        "spec": {
            "podSelector": {"matchLabels": names.selector_labels(instance.name)},
            "policyTypes": ["Ingress"],
            "ingress": [rule],
        },
    }


def admitted(instance: PimInstance, trusted: Mapping[str, Mapping[str, Any]]) -> str:
    """Who the policy admits, in words, for the AccessReady condition."""
    spec = instance.spec
    if spec.service_type != "ClusterIP":
        return f"every source on port {spec.port} (serviceType {spec.service_type} exposes the instance on nodes)"
    parts = ["pods of its namespace", *trusted]
    if spec.access.sources:
        parts.append(f"the {len(spec.access.sources)} peers of spec.access.networkPolicy.from")
    return f"{', '.join(parts[:-1])} and {parts[-1]}" if len(parts) > 1 else parts[0]
