"""The chart's console, rendered without a cluster: on by default, least RBAC, restricted pod,
settings that follow the values, and a library of models that the engine's loader accepts."""

from __future__ import annotations

from typing import Any

import pytest
from test_chart_static import NAMESPACE, RELEASE, WATCHED, granted, helm, of_kind, render, strings

from pim_console import store
from pim_engine.loader import format_of, load_model_text

pytestmark = pytest.mark.unit
CHART_DIR = "deploy/helm/pim-operator"


def console_docs(*sets: str) -> list[dict[str, Any]]:
    return [
        d
        for d in render(*sets, console=True)
        if d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "console"
    ]


def env_of(docs: list[dict[str, Any]]) -> dict[str, str]:
    (deployment,) = of_kind(docs, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", "") for e in container["env"]}


def test_console_is_on_by_default_with_a_cluster_ip_service_on_8000() -> None:
    docs = console_docs()
    assert sorted(d["kind"] for d in docs) == [
        "ConfigMap",
        "Deployment",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
    ]
    (service,) = of_kind(docs, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}]
    (deployment,) = of_kind(docs, "Deployment")
    pod = deployment["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    assert container["image"] == "pim.dev/pim-console:dev"
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 8000, "health": 8081}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    # The operator's selector does not pick the console's pods, nor the other way round.
    (operator,) = of_kind(render(), "Deployment")
    assert not operator["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()


def test_auth_none_listens_on_loopback_and_needs_no_cluster_role() -> None:
    docs = console_docs()
    env = env_of(docs)
    assert (env["PIM_CONSOLE_AUTH"], env["PIM_CONSOLE_HOST"]) == ("none", "127.0.0.1")
    assert env["PIM_CONSOLE_NAMESPACE"] == NAMESPACE
    assert env["PIM_CONSOLE_INSTANCE_PORTS"] == "true"
    assert env["PIM_CONSOLE_PORT_RANGE"] == "8001-8999"
    assert not of_kind(docs, "ClusterRole")


def test_auth_kubernetes_adds_only_the_review_apis() -> None:
    docs = console_docs("console.auth=kubernetes")
    assert env_of(docs)["PIM_CONSOLE_HOST"] == "0.0.0.0"
    (cluster_role,) = of_kind(docs, "ClusterRole")
    assert granted(cluster_role["rules"]) == {
        ("authentication.k8s.io", "tokenreviews", "create"),
        ("authorization.k8s.io", "subjectaccessreviews", "create"),
    }
    (binding,) = of_kind(docs, "ClusterRoleBinding")
    (sa,) = of_kind(docs, "ServiceAccount")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": NAMESPACE}]


def test_role_is_exactly_what_the_console_uses() -> None:
    docs = console_docs()
    (role,) = of_kind(docs, "Role")
    (library,) = of_kind(docs, "ConfigMap")
    assert not [s for s in strings(role["rules"]) if "*" in s]
    grants = granted(role["rules"])
    watched = [store.MODELS, store.INSTANCES, store.SERVICES, store.PODS, store.EVENTS]
    needed = {
        ("" if k.group_version == "v1" else k.group_version.split("/")[0], k.plural, v)
        for k in watched
        for v in ("list", "watch")
    }
    needed |= {("pim.dev", r, v) for r in ("pimmodels", "piminstances") for v in ("create", "patch", "delete")}
    needed |= {("", "configmaps", "watch"), ("", "persistentvolumeclaims", "delete")}
    assert needed <= grants
    writes = {(g, r, v) for g, r, v in grants if v not in ("get", "list", "watch")}
    assert writes == {
        ("pim.dev", r, v) for r in ("pimmodels", "piminstances") for v in ("create", "patch", "delete")
    } | {("", "persistentvolumeclaims", "delete")}
    (cm_rule,) = [r for r in role["rules"] if "configmaps" in r["resources"]]
    assert cm_rule["resourceNames"] == [library["metadata"]["name"]]
    assert env_of(docs)["PIM_CONSOLE_LIBRARY"] == library["metadata"]["name"]


def test_namespaced_install_manages_the_first_watched_namespace() -> None:
    docs = console_docs("rbac.scope=namespaced", f"watchNamespaces={{{','.join(WATCHED)}}}")
    (role,) = of_kind(docs, "Role")
    (library,) = of_kind(docs, "ConfigMap")
    assert role["metadata"]["namespace"] == library["metadata"]["namespace"] == WATCHED[0]
    assert env_of(docs)["PIM_CONSOLE_NAMESPACE"] == WATCHED[0]
    (deployment,) = of_kind(docs, "Deployment")
    assert deployment["metadata"]["namespace"] == NAMESPACE


def test_console_pod_is_restricted() -> None:
    (deployment,) = of_kind(console_docs(), "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (c,) = pod["containers"]
    sc = c["securityContext"]
    assert (sc["readOnlyRootFilesystem"], sc["allowPrivilegeEscalation"], sc["capabilities"]) == (
        True,
        False,
        {"drop": ["ALL"]},
    )
    assert [v for v in pod["volumes"] if set(v) - {"name"} != {"emptyDir"}] == []


def test_library_holds_models_the_engine_loads() -> None:
    (library,) = of_kind(console_docs(), "ConfigMap")
    files = library["data"]
    assert {"user_management.yaml", "order_management.yaml"} <= set(files)
    for name, text in files.items():
        model = load_model_text(text, format_of(name), source=name)
        assert model.entities, name
    users = load_model_text(files["user_management.yaml"], "yaml")
    assert "users" in {e.collection for e in users.entities}  # the quick start's /api/v1/users


def test_values_pass_through_and_disable() -> None:
    docs = console_docs(
        "console.prometheus.url=http://prom:9090",
        "console.instancePorts=false",
        "console.library.samples=false",
        "console.library.models.extra\\.md=# Extra",
        "console.instanceDefaults.storage.type=Ephemeral",
    )
    env = env_of(docs)
    assert env["PIM_CONSOLE_PROMETHEUS_URL"] == "http://prom:9090"
    assert env["PIM_CONSOLE_INSTANCE_PORTS"] == "false"
    assert '"type":"Ephemeral"' in env["PIM_CONSOLE_INSTANCE_DEFAULTS"]
    (library,) = of_kind(docs, "ConfigMap")
    assert library["data"] == {"extra.md": "# Extra"}
    assert console_docs("console.enabled=false") == []


def test_schema_refuses_bad_console_values() -> None:
    for bad in ("console.auth=token", "console.portRange=8001", "console.library.models.x\\.txt=a"):
        proc = helm("template", RELEASE, CHART_DIR, "--set", bad, check=False)
        assert proc.returncode != 0, bad
