"""Where the API server is and how to authenticate: in-cluster service account, or a kubeconfig.

Both the operator's own client and kopf's login handler use this, so they always talk to the
same cluster with the same identity.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ConfigError(RuntimeError):
    """No usable cluster credentials."""


@dataclass(frozen=True)
class ClusterConfig:
    server: str
    ca_path: str | None = None
    insecure: bool = False
    token: str | None = None
    token_path: str | None = None
    cert_path: str | None = None
    key_path: str | None = None
    namespace: str = "default"

    def bearer(self) -> str | None:
        """The token, re-read from its file each time: projected tokens rotate."""
        if self.token_path:
            return Path(self.token_path).read_text().strip()
        return self.token

    def ssl_context(self) -> ssl.SSLContext | bool:
        if self.insecure:
            return False
        ctx = ssl.create_default_context(cafile=self.ca_path)
        if self.cert_path and self.key_path:
            ctx.load_cert_chain(self.cert_path, self.key_path)
        return ctx


def load() -> ClusterConfig:
    """In-cluster when running in a pod, else ``$KUBECONFIG`` / ``~/.kube/config``."""
    if os.environ.get("KUBERNETES_SERVICE_HOST") and (SA_DIR / "token").exists():
        return in_cluster()
    path = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or str(Path.home() / ".kube" / "config")
    return from_kubeconfig(path)


def in_cluster() -> ClusterConfig:
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:
        host = f"[{host}]"
    ns_file = SA_DIR / "namespace"
    return ClusterConfig(
        server=f"https://{host}:{port}",
        ca_path=str(SA_DIR / "ca.crt"),
        token_path=str(SA_DIR / "token"),
        namespace=ns_file.read_text().strip() if ns_file.exists() else "default",
    )


def from_kubeconfig(path: str, context: str | None = None) -> ClusterConfig:
    try:
        doc: dict[str, Any] = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read kubeconfig {path}: {exc.strerror}") from exc
    ctx_name = context or doc.get("current-context")
    ctx = _named(doc, "contexts", ctx_name, path).get("context", {})
    cluster = _named(doc, "clusters", ctx.get("cluster"), path).get("cluster", {})
    user = _named(doc, "users", ctx.get("user"), path).get("user", {}) if ctx.get("user") else {}
    base = Path(path).parent
    return ClusterConfig(
        server=cluster["server"],
        ca_path=_file(cluster, "certificate-authority", base),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        token=user.get("token"),
        token_path=_path(user.get("tokenFile"), base),
        cert_path=_file(user, "client-certificate", base),
        key_path=_file(user, "client-key", base),
        namespace=ctx.get("namespace", "default"),
    )


def _named(doc: dict[str, Any], section: str, name: str | None, path: str) -> dict[str, Any]:
    for item in doc.get(section) or ():
        if item.get("name") == name:
            return item
    raise ConfigError(f"kubeconfig {path}: no {section[:-1]} named {name!r}")


def _path(value: str | None, base: Path) -> str | None:
    if not value:
        return None
    p = Path(value)
    return str(p if p.is_absolute() else base / p)


def _file(section: dict[str, Any], key: str, base: Path) -> str | None:
    """A file path for ``key`` or ``key-data`` (inline base64 data is written to a private temp file)."""
    if section.get(key):
        return _path(section[key], base)
    data = section.get(f"{key}-data")
    if not data:
        return None
    fd, name = tempfile.mkstemp(prefix="pim-kube-", suffix=".pem")
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.b64decode(data))
    return name
