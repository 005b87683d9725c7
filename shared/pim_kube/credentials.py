"""Where the API server is and who we are, as the ``kubernetes`` package loads it.

That package does everything a kubeconfig may ask for: merged ``KUBECONFIG`` lists, contexts, exec
credential plugins (what EKS, GKE and AKS kubeconfigs use), auth providers, token files, client
certificates, and the in-cluster ServiceAccount token that the kubelet rotates. This module turns
its ``Configuration`` into what an HTTPX client needs. The operator and the console both load their
credentials here (each keeps its own policy for refreshing them), so both read a kubeconfig alike.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

SA_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class CredentialsError(RuntimeError):
    """No usable cluster credentials; the message says what was tried."""


@dataclass(frozen=True)
class Source:
    """Where credentials come from: a kubeconfig (None: ``$KUBECONFIG``, else ``~/.kube/config``) and
    context, or the pod's ServiceAccount when running in a pod and no kubeconfig is named."""

    kubeconfig: str | None = None
    context: str | None = None

    def load(self) -> Loaded:
        cfg = k8s_client.Configuration()
        if self.kubeconfig is None and _in_pod():
            try:
                k8s_config.load_incluster_config(client_configuration=cfg)
            except ConfigException as exc:
                raise CredentialsError(f"in-cluster ServiceAccount credentials: {exc}") from exc
            namespace = SA_NAMESPACE.read_text().strip() if SA_NAMESPACE.exists() else "default"
            return Loaded(cfg, namespace, "the pod's ServiceAccount")
        paths = self.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        try:
            k8s_config.load_kube_config(
                config_file=paths, context=self.context, client_configuration=cfg, persist_config=False
            )
            contexts, current = k8s_config.list_kube_config_contexts(config_file=paths)
        except (ConfigException, OSError, KeyError, TypeError) as exc:
            raise CredentialsError(f"kubeconfig {paths}: {exc}") from exc
        if self.context:
            current = next((c for c in contexts if c["name"] == self.context), current)
        namespace = (current.get("context") or {}).get("namespace") or "default"
        return Loaded(cfg, namespace, f"kubeconfig {paths} (context {current.get('name')})")


def _in_pod() -> bool:
    token = Path(k8s_config.incluster_config.SERVICE_TOKEN_FILENAME)
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and token.exists()


@dataclass(frozen=True)
class Loaded:
    """One load of the credentials: the package's Configuration, the default namespace, and whence."""

    config: k8s_client.Configuration
    namespace: str
    origin: str

    @property
    def server(self) -> str:
        return str(self.config.host).rstrip("/")

    @property
    def tls(self) -> tuple[object, ...]:
        """What the TLS context is made of: a change needs a new connection pool."""
        c = self.config
        return (c.verify_ssl, c.ssl_ca_cert, c.cert_file, c.key_file, c.tls_server_name)

    def ssl_context(self) -> ssl.SSLContext | bool:
        c = self.config
        if not c.verify_ssl:
            return False
        ctx = ssl.create_default_context(cafile=c.ssl_ca_cert or None)
        if c.cert_file and c.key_file:
            ctx.load_cert_chain(c.cert_file, c.key_file)
        return ctx

    def authorization(self) -> str | None:
        """The Authorization header as loaded (``Bearer …``, ``Basic …``), without running the refresh hook.

        (The package's own ``get_api_key_with_prefix`` runs the hook, an exec plugin maybe, on every call.)
        """
        keys, prefixes = self.config.api_key or {}, self.config.api_key_prefix or {}
        for ident in ("BearerToken", "authorization"):
            if keys.get(ident):
                prefix = prefixes.get(ident)
                return f"{prefix} {keys[ident]}" if prefix else str(keys[ident])
        return None

    def scheme_and_token(self) -> tuple[str | None, str | None]:
        """The Authorization header split as kopf's ConnectionInfo wants it (RFC 7235)."""
        header = self.authorization()
        if not header:
            return None, None
        scheme, _, token = header.partition(" ")
        return (scheme, token) if token else (None, scheme)

    def refresh(self) -> None:
        """Run the package's refresh hook: re-reads a projected token after a minute, re-runs an
        exec plugin whose credential expired. Blocking: call it from a thread."""
        hook = self.config.refresh_api_key_hook
        if hook is not None:
            hook(self.config)
