"""The Secrets that PimInstances reference, watched one by one, as the kubelet watches a pod's.

The operator never lists or caches the cluster's Secrets: each referenced Secret gets a watch of
its own (a ``metadata.name`` field selector, so RBAC needs ``get`` and ``watch`` and no ``list``),
started when the first instance references it and stopped when the last one lets go. What is kept
is a :class:`~pim_operator.secret_summary.SecretSummary`, never a value.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import httpx

from pim_operator.kube import kinds
from pim_operator.kube.client import ApiError, KubeClient
from pim_operator.secret_summary import SecretSummary, summarize

log = logging.getLogger(__name__)
Key = tuple[str, str]  # (namespace, name)


class SecretWatches:
    """Referenced Secrets: their summaries (None: known not to exist), and a watch per Secret.

    ``use`` records which Secret an instance references; a change of a watched Secret calls
    ``on_change`` with each instance that references it.
    """

    def __init__(self, client: KubeClient, on_change: Callable[[Key], None], *, retry: float = 5.0) -> None:
        self._client = client
        self._on_change = on_change
        self._retry = retry
        self._summaries: dict[Key, SecretSummary | None] = {}
        self._tasks: dict[Key, asyncio.Task[None]] = {}
        self._users: dict[Key, set[Key]] = {}
        self._uses: dict[Key, Key] = {}

    def __len__(self) -> int:
        return len(self._tasks)

    async def use(self, instance: Key, secret: Key | None) -> SecretSummary | None:
        """Note that ``instance`` references ``secret`` (None: no Secret); the Secret's summary."""
        old = self._uses.get(instance)
        if old != secret:
            if old is not None:
                self._release(instance, old)
            if secret is not None:
                self._uses[instance] = secret
                self._users.setdefault(secret, set()).add(instance)
        if secret is None:
            return None
        if secret in self._summaries:
            return self._summaries[secret]
        # First reference: read it now (the reconcile needs the answer), then watch from there.
        summary = await self._get(secret)
        if secret in self._users and secret not in self._tasks:
            self._summaries[secret] = summary
            self._tasks[secret] = asyncio.create_task(self._watch(secret), name=f"secret {secret[0]}/{secret[1]}")
        return summary

    def forget(self, instance: Key) -> None:
        """The instance is gone: stop watching what only it referenced."""
        old = self._uses.get(instance)
        if old is not None:
            self._release(instance, old)

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    def _release(self, instance: Key, secret: Key) -> None:
        self._uses.pop(instance, None)
        users = self._users.get(secret)
        if users is not None:
            users.discard(instance)
            if users:
                return
            del self._users[secret]
        self._summaries.pop(secret, None)
        task = self._tasks.pop(secret, None)
        if task is not None:
            task.cancel()

    async def _get(self, secret: Key) -> SecretSummary | None:
        body = await self._client.get(kinds.SECRET, *secret)
        return None if body is None else summarize(body)

    def _update(self, secret: Key, summary: SecretSummary | None) -> None:
        before = self._summaries.get(secret)
        self._summaries[secret] = summary
        if secret not in self._users:
            return
        changed = (before is None) != (summary is None) or (
            before is not None
            and summary is not None
            and (before.uid, before.digests) != (summary.uid, summary.digests)
        )
        if changed:
            for instance in sorted(self._users[secret]):
                self._on_change(instance)

    async def _watch(self, secret: Key) -> None:
        """Follow one Secret until released; on any break, read it again and carry on."""
        ns, name = secret
        current = self._summaries.get(secret)
        rv: str | None = current.resource_version if current is not None else None
        while True:
            try:
                async for event in self._client.watch_one(kinds.SECRET, ns, name, resource_version=rv):
                    obj = event.get("object") or {}
                    rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
                    kind = event.get("type")
                    if kind in ("ADDED", "MODIFIED"):
                        self._update(secret, summarize(obj))
                    elif kind == "DELETED":
                        self._update(secret, None)
                # The server closed the watch after its timeout: resume from the last version seen.
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any: a watch that ended would leave its Secret unfollowed, silently
                if not (isinstance(exc, ApiError) and exc.status == 410):
                    log.warning("watch of Secret %s/%s broke: %s: %s", ns, name, type(exc).__name__, exc)
                    await asyncio.sleep(self._retry)
            # Start over from the Secret as it is now (a 410 Gone, or events missed while away).
            try:
                summary = await self._get(secret)
            except (ApiError, httpx.HTTPError) as exc:
                log.warning("cannot read Secret %s/%s: %s", ns, name, exc)
                await asyncio.sleep(self._retry)
                rv = None
                continue
            self._update(secret, summary)
            rv = summary.resource_version if summary is not None else None
