"""The console's credentials: loaded as the operator loads them (``pim_kube``: the ``kubernetes``
package, which knows every way a kubeconfig can authenticate and the rotating in-cluster token),
refreshed when due and once more when the API server answers 401.

The console uses that package for credentials alone: requests and watches go through one async
HTTPX client.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, field

from pim_kube.credentials import CredentialsError, Loaded, Source

__all__ = ["Credentials", "CredentialsError", "load"]

REFRESH_EVERY = 30.0


@dataclass
class Credentials:
    loaded: Loaded
    namespace: str
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _refreshed: float = 0.0

    @property
    def server(self) -> str:
        return self.loaded.server

    def ssl_context(self) -> ssl.SSLContext | bool:
        return self.loaded.ssl_context()

    async def authorization(self, *, force: bool = False) -> str | None:
        """The Authorization header value, refreshed (in a thread: exec plugins run programs) when due."""
        hook = self.loaded.config.refresh_api_key_hook
        if hook is not None and (force or time.monotonic() - self._refreshed > REFRESH_EVERY):
            async with self._lock:
                if force or time.monotonic() - self._refreshed > REFRESH_EVERY:
                    await asyncio.to_thread(self.loaded.refresh)
                    self._refreshed = time.monotonic()
        return self.loaded.authorization()


def load(kubeconfig: str | None = None, context: str | None = None, namespace: str | None = None) -> Credentials:
    """In-cluster when running in a pod (and no kubeconfig is named), else the kubeconfig; ``namespace``
    (None: the one the ServiceAccount or the context names) is where the console works."""
    loaded = Source(kubeconfig, context).load()
    return Credentials(loaded, loaded.namespace if namespace is None else namespace)
