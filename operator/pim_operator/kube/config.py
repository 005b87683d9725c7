"""The operator's credentials: loaded as the ``kubernetes`` package loads them (``pim_kube``), refreshed
when due and loaded again whole when the API server answers 401.

The package runs its refresh hook (off the event loop: exec plugins run programs); a 401 reloads from
the source. Both kopf's login and the operator's own client load credentials here, so they are always
one identity.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from pim_kube.credentials import CredentialsError, Loaded, Source
from pim_operator import metrics

__all__ = ["Credentials", "CredentialsError", "Loaded", "Source"]

#: How often the package's own refresh hook runs (it re-reads a rotated token, re-runs an expired plugin).
REFRESH_EVERY = 30.0
#: At most one reload per this many seconds: a broken exec plugin must not run once per request.
RELOAD_AT_MOST_EVERY = 1.0


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
