"""The Helm chart, checked without a cluster: its CRDs are deploy/crds' bytes, it lints clean, and
every rendering (both RBAC scopes, one and two replicas) grants the operator exactly the verbs it
uses, with no wildcard, runs only restricted-PodSecurity pods, and runs replicas that elect a
leader on a Lease, spread by a preferred anti-affinity and kept by a PodDisruptionBudget.

helm is a real binary fetched by hack/helm.sh (cached); when it cannot be had, these tests fail
with the script's reason rather than skip.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pim_engine.access.reviews import PROBE_AUDIENCE
from pim_operator.kube import kinds
from pim_operator.state import CHILD_KINDS

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "pim-operator"
CRDS = REPO / "deploy" / "crds"
HELM = REPO / "hack" / "helm.sh"
RELEASE = "pimtest"
NAMESPACE = "pim-system"
WATCHED = ("team-a", "team-b")
RBAC_KINDS = {"Role", "ClusterRole"}


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=300, check=False)
    if check and proc.returncode != 0:
        pytest.fail(f"hack/helm.sh {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}", pytrace=False)
    return proc


def render(*sets: str, console: bool = False) -> list[dict[str, Any]]:
    """The rendered objects; the console's (tests/unit/test_console_chart.py) only when asked."""
    args = [a for s in sets for a in ("--set", s)]
    out = helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args).stdout
    docs = [doc for doc in yaml.safe_load_all(out) if doc]
    if console:
        return docs
    return [d for d in docs if d["metadata"].get("labels", {}).get("app.kubernetes.io/component") != "console"]


SCENARIOS = {
    "cluster-1": ("rbac.scope=cluster", "replicaCount=1"),
    "cluster-2": ("rbac.scope=cluster", "replicaCount=2"),
    "namespaced-1": ("rbac.scope=namespaced", "replicaCount=1", f"watchNamespaces={{{','.join(WATCHED)}}}"),
    "namespaced-2": ("rbac.scope=namespaced", "replicaCount=2", f"watchNamespaces={{{','.join(WATCHED)}}}"),
}


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(*SCENARIOS[request.param])


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def operator_env(docs: list[dict[str, Any]]) -> dict[str, str]:
    (deployment,) = of_kind(docs, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", "") for e in container["env"]}


def granted(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (group, res, verb) for r in rules for group in r["apiGroups"] for res in r["resources"] for verb in r["verbs"]
    }


def group_of(kind: kinds.Kind) -> str:
    return kind.api_version.rpartition("/")[0]


def test_chart_crds_are_the_deploy_crds() -> None:
    sources = {p.name: p.read_bytes() for p in CRDS.glob("*.yaml")}
    copies = {p.name: p.read_bytes() for p in (CHART / "crds").glob("*.yaml")}
    assert sources, f"no CRDs in {CRDS}"
    stale = sorted(n for n in sources.keys() | copies.keys() if sources.get(n) != copies.get(n))
    assert not stale, f"chart CRDs differ from deploy/crds ({', '.join(stale)}): run hack/sync-crds.sh"


def test_lint_strict_is_clean() -> None:
    for sets in SCENARIOS.values():
        args = [a for s in sets for a in ("--set", s)]
        out = helm("lint", "--strict", str(CHART), *args).stdout
        problems = [line for line in out.splitlines() if "[WARNING]" in line or "[ERROR]" in line]
        assert not problems, out


def test_values_schema_rejects_a_typo() -> None:
    proc = helm("template", RELEASE, str(CHART), "--set", "rbac.scpoe=namespaced", check=False)
    assert proc.returncode != 0
    assert "scpoe" in proc.stderr


def test_cluster_scope_refuses_watch_namespaces() -> None:
    proc = helm("template", RELEASE, str(CHART), "--set", "watchNamespaces={a}", check=False)
    assert proc.returncode != 0
    assert "watchNamespaces needs rbac.scope=namespaced" in proc.stderr


def test_cluster_scope_excludes_namespaces() -> None:
    env = operator_env(render("excludeNamespaces={e2e-helm-*,kube-system}"))
    assert env["PIM_OPERATOR_NAMESPACES"] == "!e2e-helm-*,!kube-system"
    assert operator_env(render())["PIM_OPERATOR_NAMESPACES"] == ""


def test_rbac_has_no_wildcard(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = rendered
    roles = [d for d in docs if d["kind"] in RBAC_KINDS | {"RoleBinding", "ClusterRoleBinding"}]
    assert roles
    for role in roles:
        wild = [s for s in strings(role.get("rules", [])) if "*" in s]
        assert not wild, f"{role['kind']} {role['metadata']['name']} has wildcards: {wild}"


def operator_cluster_roles(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ClusterRoles bound to the operator's ServiceAccount (not those the chart offers others)."""
    (sa,) = of_kind(docs, "ServiceAccount")
    bound = {
        b["roleRef"]["name"]
        for b in of_kind(docs, "ClusterRoleBinding")
        if {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": NAMESPACE} in b["subjects"]
    }
    return [d for d in of_kind(docs, "ClusterRole") if d["metadata"]["name"] in bound]


def test_rbac_grants_what_the_operator_uses(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    scenario, docs = rendered
    lease_roles = [d for d in of_kind(docs, "Role") if d["metadata"]["name"].endswith("-leader-election")]
    roles = [d for d in of_kind(docs, "Role") if d not in lease_roles]
    cluster_rules = [r for d in operator_cluster_roles(docs) for r in d["rules"]]
    if scenario.startswith("cluster"):
        scopes = {None: cluster_rules}
        assert not roles
    else:
        scopes = {d["metadata"]["namespace"]: d["rules"] for d in roles}
        assert set(scopes) == set(WATCHED)
        # The cluster-level roles (kopf's scanning, the engines' auth delegation) grant nothing on
        # the operator's namespaced objects.
        cluster_level = granted(cluster_rules)
        assert {g for g, _, _ in cluster_level} <= {"apiextensions.k8s.io", "", "kopf.dev", "rbac.authorization.k8s.io"}
        assert not {res for _, res, _ in cluster_level} - {
            "customresourcedefinitions",
            "namespaces",
            "clusterrolebindings",
            "clusterroles",
        }
    # The leader Lease: its own Role in the release namespace, limited to the one Lease but for create.
    (lease_role,) = lease_roles
    assert lease_role["metadata"]["namespace"] == NAMESPACE
    lease = operator_env(docs)["PIM_LEADER_ELECTION_ID"]
    assert {(r.get("resourceNames") and tuple(r["resourceNames"]), tuple(r["verbs"])) for r in lease_role["rules"]} == {
        ((lease,), ("get", "update")),
        (None, ("create",)),
    }
    assert all(r["apiGroups"] == ["coordination.k8s.io"] and r["resources"] == ["leases"] for r in lease_role["rules"])
    namespaced = [k for k in CHILD_KINDS if k.namespaced]
    needed = {
        (group_of(k), k.plural, v) for k in namespaced for v in ("get", "list", "watch", "create", "patch", "delete")
    }
    needed |= {(group_of(kinds.POD), "pods", v) for v in ("get", "list", "watch")}
    needed |= {(group_of(kinds.EVENT), "events", "create")}
    needed |= {(group_of(kinds.SECRET), "secrets", v) for v in ("get", "watch")}
    needed.add(("pim.dev", "piminstances/metrics", "get"))
    for k in (kinds.PIMMODEL, kinds.PIMINSTANCE):
        needed |= {(group_of(k), k.plural, v) for v in ("get", "list", "watch")}
        needed.add((group_of(k), f"{k.plural}/status", "patch"))
    for ns, rules in scopes.items():
        missing = needed - granted(rules)
        assert not missing, f"rules for {ns or 'the cluster'} lack {sorted(missing)}"
        # Secrets are read and watched by name (the ones instances reference): never enumerated.
        assert {v for g, res, v in granted(rules) if res == "secrets"} == {"get", "watch"}
    cluster_needed = {
        (group_of(k), k.plural, v)
        for k in CHILD_KINDS
        if not k.namespaced
        for v in ("get", "list", "watch", "create", "patch", "delete")
    }
    cluster_needed |= {("", "namespaces", "get")}
    missing = cluster_needed - granted(cluster_rules)
    assert not missing, f"cluster-level rules lack {sorted(missing)}"
    bindings = of_kind(docs, "RoleBinding") + of_kind(docs, "ClusterRoleBinding")
    (sa,) = of_kind(docs, "ServiceAccount")
    for binding in bindings:
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": NAMESPACE}
        ]


def test_the_operator_may_bind_exactly_system_auth_delegator(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    """Creating a ClusterRoleBinding needs bind on its ClusterRole (or holding its permissions): the
    chart grants bind on system:auth-delegator alone, so the operator can grant nothing else."""
    _, docs = rendered
    binds = [
        r for d in operator_cluster_roles(docs) for r in d["rules"] if "bind" in r["verbs"] or "escalate" in r["verbs"]
    ]
    assert binds == [
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["clusterroles"],
            "verbs": ["bind"],
            "resourceNames": ["system:auth-delegator"],
        }
    ]


def test_prometheus_gets_metrics_and_nothing_else() -> None:
    docs = render(
        "access.prometheus.serviceAccounts[0].namespace=monitoring", "access.prometheus.serviceAccounts[0].name=prom"
    )
    (role,) = [d for d in of_kind(docs, "ClusterRole") if d["metadata"]["name"].endswith("-metrics-reader")]
    assert role["rules"] == [{"apiGroups": ["pim.dev"], "resources": ["piminstances/metrics"], "verbs": ["get"]}]
    (binding,) = [d for d in of_kind(docs, "ClusterRoleBinding") if d["roleRef"]["name"] == role["metadata"]["name"]]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "prom", "namespace": "monitoring"}]
    env = operator_env(docs)
    assert (
        env["PIM_OPERATOR_POD_LABELS"] == f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/part-of=pim-operator"
    )
    assert env["PIM_PROMETHEUS_POD_LABELS"] == "app.kubernetes.io/name=prometheus"
    assert env["PIM_PROMETHEUS_NAMESPACE_LABELS"] == ""


def test_every_pod_is_restricted(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = rendered
    pods = [d["spec"]["template"]["spec"] for d in of_kind(docs, "Deployment")] + [
        d["spec"] for d in of_kind(docs, "Pod")
    ]
    assert len(pods) == 2, "the operator Deployment and the helm test pod"
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for host_namespace in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(host_namespace), host_namespace
        for c in pod["containers"] + pod.get("initContainers", []):
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True, c["name"]
            assert sc["runAsUser"] == 65532, c["name"]
            assert sc["readOnlyRootFilesystem"] is True, c["name"]
            assert sc["allowPrivilegeEscalation"] is False, c["name"]
            assert sc["capabilities"] == {"drop": ["ALL"]}, c["name"]
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, c["name"]
        for volume in pod.get("volumes", []):
            assert set(volume) - {"name"} <= {"emptyDir", "configMap", "secret", "projected"}, volume


def test_replicas_elect_a_leader_spread_out_and_keep_one_through_disruptions(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    scenario, docs = rendered
    (deployment,) = of_kind(docs, "Deployment")
    env = operator_env(docs)
    assert not of_kind(docs, "KopfPeering") + of_kind(docs, "ClusterKopfPeering")
    assert (env["PIM_LEADER_ELECT"], env["PIM_LEADER_ELECTION_NAMESPACE"]) == ("true", NAMESPACE)
    assert env["PIM_LEADER_ELECTION_ID"] == f"{RELEASE}-pim-operator"
    assert float(env["PIM_LEASE_DURATION"]) > float(env["PIM_RENEW_DEADLINE"]) > float(env["PIM_RETRY_PERIOD"])
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    pod_name = next(e for e in container["env"] if e["name"] == "POD_NAME")
    assert pod_name["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    # A new pod starts as a standby before the old leader stops (and releases the lease).
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }
    selector = deployment["spec"]["selector"]["matchLabels"]
    (term,) = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert term["podAffinityTerm"] == {
        "topologyKey": "kubernetes.io/hostname",
        "labelSelector": {"matchLabels": selector},
    }
    (lease_object,) = of_kind(docs, "Lease")  # the chart's, so that uninstall removes it; the operator fills it
    assert (lease_object["metadata"]["name"], lease_object["metadata"]["namespace"]) == (
        env["PIM_LEADER_ELECTION_ID"],
        NAMESPACE,
    )
    assert lease_object["spec"] == {}
    budgets = of_kind(docs, "PodDisruptionBudget")
    if scenario.endswith("-1"):
        assert deployment["spec"]["replicas"] == 1
        assert not budgets  # a budget for one pod would block every drain
    else:
        assert deployment["spec"]["replicas"] == 2
        (budget,) = budgets
        assert budget["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": selector}}


def test_defaults_are_two_replicas_and_election_can_be_turned_off() -> None:
    docs = render()
    assert of_kind(docs, "Deployment")[0]["spec"]["replicas"] == 2
    assert of_kind(docs, "PodDisruptionBudget")
    single = render("replicaCount=1", "leaderElection.enabled=false")
    (deployment,) = of_kind(single, "Deployment")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}  # never two unelected operators
    assert operator_env(single)["PIM_LEADER_ELECT"] == "false"
    assert not [d for d in of_kind(single, "Role") if d["metadata"]["name"].endswith("-leader-election")]
    bad = helm("template", RELEASE, str(CHART), "--set", "leaderElection.renewDeadline=30", check=False)
    assert bad.returncode != 0
    assert "leaseDuration > renewDeadline > retryPeriod" in bad.stderr


def test_operator_env_follows_values(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    scenario, docs = rendered
    env = operator_env(docs)
    assert env["PIM_OPERATOR_NAMESPACES"] == ("" if scenario.startswith("cluster") else ",".join(WATCHED))
    assert env["PIM_ENGINE_IMAGE"] == "pim.dev/pim-engine:dev"
    (deployment,) = of_kind(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "pim.dev/pim-operator:dev"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": int(env["PIM_METRICS_PORT"]), "health": int(env["PIM_HEALTH_PORT"])}
    assert deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"] == "true"


def test_the_probes_show_instances_a_token_only_instances_accept(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    """Not the operator's API credentials: a projected token for the probe audience, which the
    engine reviews for that audience and the API server refuses."""
    _, docs = rendered
    (deployment,) = of_kind(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    token_file = Path(operator_env(docs)["PIM_PROBE_TOKEN_FILE"])
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == str(token_file.parent)]
    assert mount["readOnly"] is True
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    (source,) = volume["projected"]["sources"]
    assert source["serviceAccountToken"]["audience"] == PROBE_AUDIENCE
    assert source["serviceAccountToken"]["path"] == token_file.name
    assert 600 <= source["serviceAccountToken"]["expirationSeconds"] <= 3600


def test_metrics_service_and_test_pod_agree() -> None:
    docs = render()
    (service,) = of_kind(docs, "Service")
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}]
    (test_pod,) = of_kind(docs, "Pod")
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    env_prefix = service["metadata"]["name"].upper().replace("-", "_")
    assert f'os.environ["{env_prefix}_SERVICE_HOST"]' in test_pod["spec"]["containers"][0]["command"][-1]
    # The test pod must not become an endpoint of the Service it checks.
    selector = service["spec"]["selector"].items()
    assert not selector <= test_pod["metadata"]["labels"].items()
    assert not of_kind(docs, "ServiceMonitor")


def test_service_monitor_and_placement_values() -> None:
    docs = render(
        "metrics.serviceMonitor.enabled=true",
        "nodeSelector.type=kwok",
        "tolerations[0].key=kwok.x-k8s.io/node,tolerations[0].operator=Exists",
        "logLevel=DEBUG",
        "probeInterval=0",
        "probeNetworks=10.244.0.0/24",
        "resyncInterval=30",
    )
    (monitor,) = of_kind(docs, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    for pod in [of_kind(docs, "Deployment")[0]["spec"]["template"]["spec"], of_kind(docs, "Pod")[0]["spec"]]:
        assert pod["nodeSelector"] == {"type": "kwok"}
        assert pod["tolerations"] == [{"key": "kwok.x-k8s.io/node", "operator": "Exists"}]
    env = operator_env(docs)
    assert (env["PIM_LOG_LEVEL"], env["PIM_PROBE_INTERVAL"], env["PIM_RESYNC_INTERVAL"]) == (
        "DEBUG",
        "0",
        "30",
    )
    assert env["PIM_PROBE_NETWORKS"] == "10.244.0.0/24"


def test_kind_config_has_a_worker_with_node_ports() -> None:
    config = yaml.safe_load((REPO / "kind-config.yaml").read_text())
    roles = [n["role"] for n in config["nodes"]]
    assert roles == ["control-plane", "worker"]
    mappings = config["nodes"][1]["extraPortMappings"]
    assert mappings
    assert all(30000 <= m["containerPort"] <= 32767 for m in mappings)
    assert all(m["hostPort"] == m["containerPort"] and m["listenAddress"] == "127.0.0.1" for m in mappings)
