"""Where the API server is and who the operator is, as the ``kubernetes`` package loads it.

That package does everything a kubeconfig may ask for: merged ``KUBECONFIG`` lists, contexts, exec
credential plugins (what EKS, GKE and AKS kubeconfigs use), auth providers, token files, client
certificates, and the in-cluster ServiceAccount token that the kubelet rotates. This module turns
its ``Configuration`` into what HTTPX and kopf need, lets the package refresh it when due (off the
event loop: exec plugins run programs), and loads everything again when the API server answers 401.
Both kopf's login and the operator's own client load credentials here, so they are always one identity.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from pim_operator import metrics

SA_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
#: How often the package's own refresh hook runs (it re-reads a rotated token, re-runs an expired plugin).
REFRESH_EVERY = 30.0
#: At most one reload per this many seconds: a broken exec plugin must not run once per request.
RELOAD_AT_MOST_EVERY = 1.0


class ConfigError(RuntimeError):
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
                raise ConfigError(f"in-cluster ServiceAccount credentials: {exc}") from exc
            namespace = SA_NAMESPACE.read_text().strip() if SA_NAMESPACE.exists() else "default"
            return Loaded(cfg, namespace, "the pod's ServiceAccount")
        paths = self.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        try:
            k8s_config.load_kube_config(
                config_file=paths, context=self.context, client_configuration=cfg, persist_config=False
            )
            contexts, current = k8s_config.list_kube_config_contexts(config_file=paths)
        except (ConfigException, OSError, KeyError, TypeError) as exc:
            raise ConfigError(f"kubeconfig {paths}: {exc}") from exc
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


class Credentials:
    """The operator's current credentials: refreshed when due, reloaded whole after a 401.

    A 401 means the token we sent is no longer accepted (rotated, expired, revoked): reloading from
    the source re-reads token files and re-runs exec plugins, which the refresh hook alone does not
    do for a token that has no expiry. Concurrent 401s reload once.
    """

    def __init__(self, source: Source | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source or Source()
        self._clock = clock
        self.current = self.source.load()
        self._refreshed, self._reloaded = clock(), float("-inf")
        self._lock = threading.Lock()  # loads run in threads

    @property
    def namespace(self) -> str:
        return self.current.namespace

    async def authorization(self) -> str | None:
        if self._clock() - self._refreshed > REFRESH_EVERY:
            self._refreshed = self._clock()
            await asyncio.to_thread(self._locked, self.current.refresh)
        return self.current.authorization()

    async def reload(self, rejected: str | None) -> bool:
        """After a 401 for the header ``rejected``: load afresh unless someone already did.
        True when the header to send now differs from the rejected one (a retry may succeed)."""
        await asyncio.to_thread(self._locked, lambda: self._reload_if(rejected))
        return self.current.authorization() != rejected

    def _reload_if(self, rejected: str | None) -> None:
        if self.current.authorization() == rejected and self._clock() - self._reloaded >= RELOAD_AT_MOST_EVERY:
            self.current = self.source.load()
            self._refreshed = self._reloaded = self._clock()
            metrics.CREDENTIAL_RELOADS.inc()

    def _locked(self, fn: Callable[[], None]) -> None:
        with self._lock:
            fn()
