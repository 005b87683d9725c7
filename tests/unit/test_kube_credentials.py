"""Credentials as the ``kubernetes`` package loads them: merged KUBECONFIG lists, contexts, inline and
relative files, exec credential plugins (real programs), rotating token files, the in-cluster
ServiceAccount (``pim_kube``); the operator's reload after a 401, and the console's refresh."""

from __future__ import annotations

import asyncio
import base64
import json
import stat
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes import config as k8s_config

from pim_console.kube import credentials as console_credentials
from pim_kube import credentials
from pim_operator.kube import config
from pim_operator.kube.config import Credentials, CredentialsError, Source

pytestmark = pytest.mark.unit
CA = b"-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"


def write(path: Path, doc: dict) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def cluster(name: str, server: str, **extra) -> dict:
    return {"name": name, "cluster": {"server": server, **extra}}


def context(name: str, cluster: str, user: str, **extra) -> dict:
    return {"name": name, "context": {"cluster": cluster, "user": user, **extra}}


@pytest.fixture(autouse=True)
def outside_a_pod(monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)


def test_a_kubeconfig_list_is_merged_and_the_context_picks_cluster_user_and_namespace(tmp_path, monkeypatch):
    a = write(
        tmp_path / "a.yaml",
        {
            "clusters": [cluster("c1", "https://127.0.0.1:1"), cluster("c2", "https://127.0.0.1:2")],
            "users": [{"name": "u1", "user": {"token": "t1"}}, {"name": "u2", "user": {"token": "t2"}}],
        },
    )
    b = write(
        tmp_path / "b.yaml",
        {
            "current-context": "team",
            "contexts": [context("plain", "c1", "u1"), context("team", "c2", "u2", namespace="shop")],
        },
    )
    monkeypatch.setenv("KUBECONFIG", f"{a}:{tmp_path / 'missing.yaml'}:{b}")
    loaded = Source().load()
    assert (loaded.server, loaded.authorization(), loaded.namespace) == ("https://127.0.0.1:2", "Bearer t2", "shop")
    assert loaded.scheme_and_token() == ("Bearer", "t2")
    other = Source(context="plain").load()
    assert (other.server, other.authorization(), other.namespace) == ("https://127.0.0.1:1", "Bearer t1", "default")


def test_inline_data_becomes_files_and_relative_paths_follow_the_kubeconfig(tmp_path):
    inline = write(
        tmp_path / "inline.yaml",
        {
            "current-context": "x",
            "contexts": [context("x", "c", "u")],
            "clusters": [
                cluster("c", "https://127.0.0.1:3", **{"certificate-authority-data": base64.b64encode(CA).decode()})
            ],
            "users": [{"name": "u", "user": {"token": "t"}}],
        },
    )
    loaded = Source(inline).load()
    assert Path(loaded.config.ssl_ca_cert).read_bytes() == CA
    (tmp_path / "pki").mkdir()
    for name in ("ca.crt", "u.crt", "u.key"):
        (tmp_path / "pki" / name).write_text(name)
    relative = write(
        tmp_path / "rel.yaml",
        {
            "current-context": "x",
            "contexts": [context("x", "c", "u")],
            "clusters": [cluster("c", "https://127.0.0.1:4", **{"certificate-authority": "pki/ca.crt"})],
            "users": [{"name": "u", "user": {"client-certificate": "pki/u.crt", "client-key": "pki/u.key"}}],
        },
    )
    loaded = Source(relative).load()
    assert loaded.config.ssl_ca_cert == str(tmp_path / "pki" / "ca.crt")
    assert (loaded.config.cert_file, loaded.config.key_file) == (
        str(tmp_path / "pki" / "u.crt"),
        str(tmp_path / "pki" / "u.key"),
    )
    assert loaded.authorization() is None


def test_errors_name_the_kubeconfig(tmp_path):
    with pytest.raises(CredentialsError, match=r"absent\.yaml"):
        Source(str(tmp_path / "absent.yaml")).load()
    broken = write(tmp_path / "broken.yaml", {"current-context": "nope", "contexts": []})
    with pytest.raises(CredentialsError, match=r"broken\.yaml.*nope"):
        Source(broken).load()


def exec_plugin(tmp_path: Path, expires: str | None = None) -> tuple[str, Path, Path]:
    """A real exec credential plugin: prints the token in ``token`` and counts its runs in ``runs``."""
    token, runs = tmp_path / "token", tmp_path / "runs"
    token.write_text("first")
    status = {"token": "__TOKEN__"}
    if expires:
        status["expirationTimestamp"] = expires
    script = tmp_path / "plugin.py"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, pathlib\n"
        f"runs = pathlib.Path({str(runs)!r})\n"
        "runs.write_text(str(int(runs.read_text() or 0) + 1) if runs.exists() else '1')\n"
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        f"status = {json.dumps(status)!r}.replace('__TOKEN__', pathlib.Path({str(token)!r}).read_text())\n"
        "out = {'apiVersion': info['apiVersion'], 'kind': 'ExecCredential', 'status': json.loads(status)}\n"
        "print(json.dumps(out))\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    kubeconfig = write(
        tmp_path / "exec.yaml",
        {
            "current-context": "x",
            "contexts": [context("x", "c", "u")],
            "clusters": [cluster("c", "https://127.0.0.1:5")],
            "users": [
                {
                    "name": "u",
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1",
                            "command": str(script),
                            "interactiveMode": "Never",
                        }
                    },
                }
            ],
        },
    )
    return kubeconfig, token, runs


def test_an_exec_plugin_runs_and_a_401_runs_it_again(tmp_path):
    kubeconfig, token, runs = exec_plugin(tmp_path)

    async def main() -> None:
        creds = Credentials(Source(kubeconfig))
        assert await creds.authorization() == "Bearer first"
        assert runs.read_text() == "1"
        token.write_text("second")
        # the API server refused "first": load again, and the retry may succeed with the new token
        assert await creds.reload(rejected="Bearer first") is True
        assert await creds.authorization() == "Bearer second"
        assert runs.read_text() == "2"
        # a second request that failed with the old token does not reload again
        assert await creds.reload(rejected="Bearer first") is True
        assert runs.read_text() == "2"
        # the same token refused again right away: no reload storm, no use retrying
        assert await creds.reload(rejected="Bearer second") is False
        assert runs.read_text() == "2"

    asyncio.run(main())


def test_an_expired_exec_credential_is_refreshed_when_due(tmp_path):
    kubeconfig, token, runs = exec_plugin(tmp_path, expires="2000-01-01T00:00:00Z")
    now = [0.0]

    async def main() -> None:
        creds = Credentials(Source(kubeconfig), clock=lambda: now[0])
        assert await creds.authorization() == "Bearer first"
        token.write_text("renewed")
        assert await creds.authorization() == "Bearer first"  # not due yet: no program runs per request
        now[0] += config.REFRESH_EVERY + 1
        assert await creds.authorization() == "Bearer renewed"
        assert int(runs.read_text()) >= 2

    asyncio.run(main())


def test_a_rotated_token_file_is_read_again_after_a_401(tmp_path):
    token = tmp_path / "token"
    token.write_text("old")
    kubeconfig = write(
        tmp_path / "file.yaml",
        {
            "current-context": "x",
            "contexts": [context("x", "c", "u")],
            "clusters": [cluster("c", "https://127.0.0.1:6")],
            "users": [{"name": "u", "user": {"tokenFile": str(token)}}],
        },
    )

    async def main() -> None:
        creds = Credentials(Source(kubeconfig))
        assert await creds.authorization() == "Bearer old"
        token.write_text("new")
        assert await creds.reload(rejected="Bearer old")
        assert await creds.authorization() == "Bearer new"

    asyncio.run(main())


def test_in_a_pod_the_service_account_is_used_and_its_rotated_token_reread(tmp_path, monkeypatch):
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("projected-1")
    (sa / "ca.crt").write_bytes(CA)
    (sa / "namespace").write_text("pim-system\n")
    monkeypatch.setattr(k8s_config.incluster_config, "SERVICE_TOKEN_FILENAME", str(sa / "token"))
    monkeypatch.setattr(k8s_config.incluster_config, "SERVICE_CERT_FILENAME", str(sa / "ca.crt"))
    monkeypatch.setattr(credentials, "SA_NAMESPACE", sa / "namespace")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")

    async def main() -> None:
        creds = Credentials()
        assert creds.current.server == "https://10.0.0.1:443"
        assert creds.namespace == "pim-system"
        assert creds.current.config.ssl_ca_cert == str(sa / "ca.crt")
        first = await creds.authorization()
        assert first is not None
        assert first.lower() == "bearer projected-1"
        (sa / "token").write_text("projected-2")  # the kubelet rotated it
        assert await creds.reload(rejected=first)
        assert (await creds.authorization() or "").lower() == "bearer projected-2"

    asyncio.run(main())
    # a kubeconfig named explicitly wins over the pod's ServiceAccount
    named = write(
        tmp_path / "named.yaml",
        {
            "current-context": "x",
            "contexts": [context("x", "c", "u")],
            "clusters": [cluster("c", "https://127.0.0.1:7")],
            "users": [{"name": "u", "user": {"token": "t"}}],
        },
    )
    assert Source(named).load().server == "https://127.0.0.1:7"


def test_operator_settings_from_flags_and_env(monkeypatch):
    from pim_operator.settings import parse

    monkeypatch.setenv("PIM_ENGINE_IMAGE", "reg/engine:9")
    monkeypatch.setenv("PIM_OPERATOR_NAMESPACES", "a,b")
    monkeypatch.setenv("POD_NAME", "pim-operator-abc")
    s = parse(["--probe-interval", "5", "--probe-networks", "10.244.0.0/24", "--discovery-interval", "2"])
    assert (s.engine_image, s.namespaces, s.clusterwide) == ("reg/engine:9", ("a", "b"), False)
    assert (s.probe_interval, s.discovery_interval) == (5.0, 2.0)
    assert [str(n) for n in s.probe_networks] == ["10.244.0.0/24"]
    assert (s.leader_elect, s.lease_name, s.lease_duration, s.renew_deadline, s.retry_period) == (
        True,
        "pim-operator",
        10.0,
        7.0,
        2.0,
    )
    assert s.pod_name == "pim-operator-abc"
    monkeypatch.delenv("PIM_OPERATOR_NAMESPACES")
    monkeypatch.setenv("PIM_LEADER_ELECT", "false")
    assert parse([]).clusterwide
    assert parse([]).leader_elect is False
    assert parse(["--leader-elect"]).leader_elect is True
    with pytest.raises(SystemExit):
        parse(["--lease-duration", "5", "--renew-deadline", "7"])


# The console loads the same way (pim_kube) and keeps its own refresh: when due, and at once after a 401.


def test_the_console_works_in_the_namespace_of_the_context_it_was_given(tmp_path):
    kubeconfig = write(
        tmp_path / "two.yaml",
        {
            "current-context": "plain",
            "contexts": [context("plain", "c", "u"), context("team", "c", "u", namespace="shop")],
            "clusters": [cluster("c", "https://127.0.0.1:7/")],
            "users": [{"name": "u", "user": {"token": "t"}}],
        },
    )
    assert console_credentials.load(kubeconfig).namespace == "default"
    team = console_credentials.load(kubeconfig, "team")
    assert (team.server, team.namespace) == ("https://127.0.0.1:7", "shop")
    assert console_credentials.load(kubeconfig, "team", "books").namespace == "books"
    with pytest.raises(console_credentials.CredentialsError, match=r"absent\.yaml"):
        console_credentials.load(str(tmp_path / "absent.yaml"))


def test_the_console_runs_an_exec_plugin_again_when_due_or_forced(tmp_path, monkeypatch):
    kubeconfig, token, runs = exec_plugin(tmp_path, expires="2000-01-01T00:00:00Z")
    now = [1000.0]
    monkeypatch.setattr(console_credentials.time, "monotonic", lambda: now[0])

    async def main() -> None:
        creds = console_credentials.load(kubeconfig)
        assert await creds.authorization() == "Bearer first"
        token.write_text("second")
        assert await creds.authorization() == "Bearer first"  # refreshed a moment ago: not due
        assert await creds.authorization(force=True) == "Bearer second"  # after a 401
        token.write_text("third")
        now[0] += console_credentials.REFRESH_EVERY + 1
        assert await creds.authorization() == "Bearer third"
        assert int(runs.read_text()) >= 3

    asyncio.run(main())
