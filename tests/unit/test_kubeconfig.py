from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from pim_operator.kube.config import ConfigError, from_kubeconfig

pytestmark = pytest.mark.unit


def write(tmp_path: Path, doc: dict) -> str:
    p = tmp_path / "kubeconfig"
    p.write_text(yaml.safe_dump(doc))
    return str(p)


def test_current_context_with_token_and_inline_ca(tmp_path):
    ca = b"-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"
    path = write(
        tmp_path,
        {
            "current-context": "b",
            "contexts": [
                {"name": "a", "context": {"cluster": "c1", "user": "u1"}},
                {"name": "b", "context": {"cluster": "c2", "user": "u2", "namespace": "team"}},
            ],
            "clusters": [
                {"name": "c1", "cluster": {"server": "https://127.0.0.1:1"}},
                {
                    "name": "c2",
                    "cluster": {
                        "server": "https://127.0.0.1:2",
                        "certificate-authority-data": base64.b64encode(ca).decode(),
                    },
                },
            ],
            "users": [{"name": "u1", "user": {"token": "t1"}}, {"name": "u2", "user": {"token": "t2"}}],
        },
    )
    cfg = from_kubeconfig(path)
    assert (cfg.server, cfg.bearer(), cfg.namespace) == ("https://127.0.0.1:2", "t2", "team")
    assert cfg.ca_path is not None
    assert Path(cfg.ca_path).read_bytes() == ca


def test_relative_paths_resolve_against_the_kubeconfig(tmp_path):
    path = write(
        tmp_path,
        {
            "current-context": "a",
            "contexts": [{"name": "a", "context": {"cluster": "c", "user": "u"}}],
            "clusters": [{"name": "c", "cluster": {"server": "https://x", "certificate-authority": "pki/ca.crt"}}],
            "users": [{"name": "u", "user": {"client-certificate": "pki/u.crt", "client-key": "/abs/u.key"}}],
        },
    )
    cfg = from_kubeconfig(path)
    assert cfg.ca_path == str(tmp_path / "pki" / "ca.crt")
    assert cfg.cert_path == str(tmp_path / "pki" / "u.crt")
    assert cfg.key_path == "/abs/u.key"


def test_errors_name_the_file_and_the_missing_entry(tmp_path):
    path = write(tmp_path, {"current-context": "nope", "contexts": []})
    with pytest.raises(ConfigError, match=r"kubeconfig .*: no context named 'nope'"):
        from_kubeconfig(path)
    with pytest.raises(ConfigError, match="cannot read kubeconfig"):
        from_kubeconfig(str(tmp_path / "absent"))


def test_operator_settings_from_flags_and_env(monkeypatch):
    from pim_operator.settings import parse

    monkeypatch.setenv("PIM_ENGINE_IMAGE", "reg/engine:9")
    monkeypatch.setenv("PIM_OPERATOR_NAMESPACES", "a,b")
    s = parse(["--probe-interval", "5", "--probe-networks", "10.244.0.0/24", "--discovery-interval", "2"])
    assert (s.engine_image, s.namespaces, s.clusterwide) == ("reg/engine:9", ("a", "b"), False)
    assert (s.probe_interval, s.discovery_interval) == (5.0, 2.0)
    assert [str(n) for n in s.probe_networks] == ["10.244.0.0/24"]
    monkeypatch.delenv("PIM_OPERATOR_NAMESPACES")
    assert parse([]).clusterwide
