"""The operator against the real API server through a kubeconfig whose user is an exec credential
plugin, with exactly the chart's RBAC, and a token that is revoked while it runs.

The plugin is a small program that prints an ``ExecCredential`` with a ServiceAccount token bound
to a Secret (``kubectl create token --bound-object-kind Secret``): deleting that Secret makes the
API server refuse the token (401), as a rotated or expired credential would be. The operator must
run the plugin again, get the new token, and carry on.
"""

from __future__ import annotations

import json
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.helm import CHART, Helm, set_args
from tests.support.operator_proc import OperatorProcess
from tests.support.pim import BOOKS, apply, pim_instance, pim_model, wait_condition
from tests.support.waiting import wait_for

pytestmark = pytest.mark.cluster
RELEASE = "creds"
SERVICE_ACCOUNT = LEASE = f"{RELEASE}-pim-operator"  # the chart's full name for this release


@dataclass
class ExecPlugin:
    kubeconfig: Path
    token_file: Path
    runs_file: Path

    @property
    def runs(self) -> int:
        return int(self.runs_file.read_text()) if self.runs_file.exists() else 0


def exec_kubeconfig(cluster, directory: Path) -> ExecPlugin:
    """A kubeconfig for the cluster's server and CA whose user is a real exec credential plugin."""
    token_file, runs_file, plugin = directory / "token", directory / "runs", directory / "credential-plugin"
    plugin.write_text(
        f"#!{sys.executable}\n"
        '"""Prints an ExecCredential with the token in the file next to it; counts its runs."""\n'
        "import json, os, pathlib\n"
        f"runs = pathlib.Path({str(runs_file)!r})\n"
        "runs.write_text(str(int(runs.read_text()) + 1 if runs.exists() else 1))\n"
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        f"token = pathlib.Path({str(token_file)!r}).read_text().strip()\n"
        "print(json.dumps({'apiVersion': info['apiVersion'], 'kind': 'ExecCredential', 'status': {'token': token}}))\n"
    )
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    view = json.loads(cluster.kubectl("config", "view", "--minify", "--raw", "-o", "json").stdout)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": view["clusters"][0]["cluster"]}],
        "users": [
            {
                "name": "operator",
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1",
                        "command": str(plugin),
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
        "contexts": [{"name": "operator", "context": {"cluster": "local", "user": "operator"}}],
        "current-context": "operator",
    }
    kubeconfig = directory / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    kubeconfig.chmod(0o600)
    return ExecPlugin(kubeconfig, token_file, runs_file)


def bound_token(cluster, ns: str, secret: str) -> str:
    """A token of the operator's ServiceAccount that is valid while ``secret`` exists."""
    cluster.kubectl("create", "secret", "generic", secret, "-n", ns)
    out = cluster.kubectl(
        "create", "token", SERVICE_ACCOUNT, "-n", ns, "--bound-object-kind", "Secret", "--bound-object-name", secret
    )
    return out.stdout.strip()


@pytest.fixture
def chart_rbac(crds, fake_node, cluster, tmp_path) -> Iterator[str]:
    """A namespace with the chart's ServiceAccount, Roles and Lease for a namespaced install
    watching that namespace: what the operator may do is exactly what the chart grants."""
    ns = cluster.namespace("own-op-creds")
    helm = Helm(cluster.kubeconfig, tmp_path / "helm")
    values = {"rbac.scope": "namespaced", "watchNamespaces": [ns]}
    shown = [a for t in ("serviceaccount", "rbac", "lease") for a in ("--show-only", f"templates/{t}.yaml")]
    manifest = helm("template", RELEASE, str(CHART), "-n", ns, *set_args(values), *shown).stdout
    cluster.kubectl("apply", "-f", "-", input=manifest)
    yield ns
    # The ClusterRole and its binding outlive the namespace.
    cluster.kubectl("delete", "-f", "-", "--ignore-not-found", "--wait=false", input=manifest, check=False)


def test_the_operator_runs_on_an_exec_plugin_and_survives_a_revoked_token(cluster, chart_rbac, tmp_path):
    ns = chart_rbac
    plugin = exec_kubeconfig(cluster, tmp_path)
    first_token = bound_token(cluster, ns, "token-1")
    plugin.token_file.write_text(first_token)
    whoami = json.loads(
        cluster.kubectl(f"--kubeconfig={plugin.kubeconfig}", "auth", "whoami", "-o", "json").stdout
    )  # kubectl runs the same plugin: the token is the ServiceAccount's
    assert whoami["status"]["userInfo"]["username"] == f"system:serviceaccount:{ns}:{SERVICE_ACCOUNT}"
    runs_by_kubectl = plugin.runs
    op = OperatorProcess(
        plugin.kubeconfig,
        tmp_path,
        "--namespace",
        ns,
        "--leader-election-id",
        LEASE,
        "--leader-election-namespace",
        ns,
        "--probe-interval",
        "0",
        "--resync-interval",
        "3",
    )
    op.start()
    try:
        wait_for(op.leading, 30, "the operator to take the chart's Lease")
        apply(cluster, pim_model(ns, "books", BOOKS))
        apply(cluster, pim_instance(ns, "before", "books"))
        wait_condition(cluster, "pi", ns, "before", "Ready", "True", timeout=60)
        assert plugin.runs >= runs_by_kubectl + 2  # the operator's client, and kopf's login for its watches
        lease = cluster.get("lease", LEASE, "-n", ns)
        assert lease["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE  # kept: helm still owns it
        assert lease["spec"]["holderIdentity"]

        # Revoke the token the operator holds; the plugin now hands out a new one.
        runs = plugin.runs
        plugin.token_file.write_text(bound_token(cluster, ns, "token-2"))
        cluster.kubectl("delete", "secret", "token-1", "-n", ns, "--wait=true")
        # The API server caches a token's review for a few seconds: wait until it refuses it.
        old = cluster.with_token(first_token, tmp_path / "old-token.kubeconfig")
        wait_for(
            lambda: "Unauthorized" in old.kubectl("auth", "whoami", check=False).stderr,
            60,
            "the API server to refuse the revoked token",
        )
        apply(cluster, pim_instance(ns, "after", "books"))
        wait_condition(cluster, "pi", ns, "after", "Ready", "True", timeout=60)
        assert plugin.runs > runs
        assert op.metric("pim_operator_credential_reloads_total") >= 1
        assert op.metric("pim_operator_api_requests_total", code="401") >= 1  # it was refused, then recovered
        assert op.leading()  # the renewals got through with the new token in time
        assert cluster.get("deployment", "after", "-n", ns)["metadata"]["ownerReferences"][0]["name"] == "after"
    finally:
        op.stop()
    log = op.log_path.read_text()
    assert "Traceback" not in log, log[-3000:]
