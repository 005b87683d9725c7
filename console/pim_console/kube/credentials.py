"""Credentials as the ``kubernetes`` package loads them.

That package knows every way a kubeconfig can authenticate (merged ``KUBECONFIG`` lists, contexts,
exec credential plugins, auth providers) and the in-cluster ServiceAccount token, which rotates.
The console uses it for that alone: requests and watches go through one async HTTPX client.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, field

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

REFRESH_EVERY = 30.0


class CredentialsError(RuntimeError):
    """No usable cluster credentials; the message says what was tried."""


@dataclass
class Credentials:
    config: k8s_client.Configuration
    namespace: str
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _refreshed: float = 0.0

    @property
    def server(self) -> str:
        return str(self.config.host).rstrip("/")

    def ssl_context(self) -> ssl.SSLContext | bool:
        c = self.config
        if not c.verify_ssl:
            return False
        ctx = ssl.create_default_context(cafile=c.ssl_ca_cert or None)
        if c.cert_file and c.key_file:
            ctx.load_cert_chain(c.cert_file, c.key_file)
        return ctx

    async def authorization(self, *, force: bool = False) -> str | None:
        """The Authorization header value, refreshed (in a thread: exec plugins run programs) when due."""
        hook = self.config.refresh_api_key_hook
        if hook is not None and (force or time.monotonic() - self._refreshed > REFRESH_EVERY):
            async with self._lock:
                if force or time.monotonic() - self._refreshed > REFRESH_EVERY:
                    await asyncio.to_thread(hook, self.config)
                    self._refreshed = time.monotonic()
        # Read the key directly: the package's own getter runs the refresh hook inline, on every call.
        keys, prefixes = self.config.api_key or {}, self.config.api_key_prefix or {}
        for ident in ("BearerToken", "authorization"):
            if keys.get(ident):
                prefix = prefixes.get(ident)
                return f"{prefix} {keys[ident]}" if prefix else str(keys[ident])
        return None


def load(kubeconfig: str | None = None, context: str | None = None, namespace: str | None = None) -> Credentials:
    """In-cluster when running in a pod (and no kubeconfig is named), else the kubeconfig."""
    cfg = k8s_client.Configuration()
    in_cluster_ns: str | None = None
    if kubeconfig is None:
        try:
            k8s_config.load_incluster_config(client_configuration=cfg)
            with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as fh:
                in_cluster_ns = fh.read().strip()
        except (ConfigException, OSError):
            cfg = k8s_client.Configuration()
    if in_cluster_ns is None:
        try:
            k8s_config.load_kube_config(
                config_file=kubeconfig, context=context, client_configuration=cfg, persist_config=False
            )
        except (ConfigException, OSError) as exc:
            raise CredentialsError(f"no in-cluster ServiceAccount and no usable kubeconfig: {exc}") from exc
    if namespace is None:
        if in_cluster_ns is not None:
            namespace = in_cluster_ns
        else:
            try:
                _, current = k8s_config.list_kube_config_contexts(config_file=kubeconfig)
                namespace = (current.get("context") or {}).get("namespace") or "default"
            except (ConfigException, OSError):
                namespace = "default"
    return Credentials(cfg, namespace)
