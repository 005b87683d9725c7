"""A watch-fed cache of the namespace: the models, instances, their Services, pods and Events.

Every read of the API and the UI is served from here, and every change is pushed to subscribers
(the UI's server-sent events) and to waiters (``POST /instances`` waiting for Ready). Each kind is
one list-then-watch loop that relists on 410 Gone and backs off on errors, like client-go's reflector.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pim_console import names
from pim_console.history import History
from pim_console.kube.client import ApiError, KubeClient, path
from pim_engine.loader import load_model_text
from pim_engine.model import Model, ModelError

log = logging.getLogger("pim_console.store")
T = TypeVar("T")
WATCH_TIMEOUT = 290.0


@dataclass(frozen=True)
class Kind:
    key: str  # "models", "instances", ...
    group_version: str
    plural: str
    params: Mapping[str, str] = field(default_factory=dict)


MODELS = Kind("models", "pim.dev/v1alpha1", "pimmodels")
INSTANCES = Kind("instances", "pim.dev/v1alpha1", "piminstances")
SERVICES = Kind("services", "v1", "services", {"labelSelector": "app.kubernetes.io/managed-by=pim-operator"})
PODS = Kind("pods", "v1", "pods", {"labelSelector": "app.kubernetes.io/name=pim-engine"})
EVENTS = Kind("events", "v1", "events", {"fieldSelector": "involvedObject.apiVersion=pim.dev/v1alpha1"})


@dataclass(frozen=True)
class Parsed:
    model: Model | None
    error: str | None


@functools.lru_cache(maxsize=256)
def parse_source(source: str, fmt: str, name: str) -> Parsed:
    """The model text through the engine's own loader (memoized: many reads, few changes)."""
    try:
        return Parsed(load_model_text(source, fmt, source=name), None)  # type: ignore[arg-type]
    except ModelError as exc:
        return Parsed(None, str(exc))


class Reflector:
    """List, then watch from the list's resourceVersion; relist when the watch is too old."""

    def __init__(
        self, client: KubeClient, namespace: str, kind: Kind, on_change: Callable[[str, str, dict], None]
    ) -> None:
        self.client = client
        self.kind = kind
        self.url = path(kind.group_version, kind.plural, namespace)
        self.objects: dict[str, dict[str, Any]] = {}
        self.synced = asyncio.Event()
        self.error: str | None = None
        self._on_change = on_change

    def _set(self, kind: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        old = self.objects.get(name)
        self.objects[name] = obj
        if old is None or old.get("metadata", {}).get("resourceVersion") != obj["metadata"].get("resourceVersion"):
            self._on_change(self.kind.key, kind, obj)

    def _replace(self, items: Iterable[dict[str, Any]]) -> None:
        fresh = {i["metadata"]["name"]: i for i in items}
        for name in set(self.objects) - set(fresh):
            gone = self.objects.pop(name)
            self._on_change(self.kind.key, "DELETED", gone)
        for obj in fresh.values():
            self._set("MODIFIED" if obj["metadata"]["name"] in self.objects else "ADDED", obj)

    async def run(self) -> None:
        backoff = 1.0
        while True:
            try:
                listed = await self.client.list(self.url, dict(self.kind.params))
                self._replace(listed.get("items") or ())
                rv = listed["metadata"].get("resourceVersion", "")
                self.synced.set()
                self.error = None
                backoff = 1.0
                while True:
                    rv = await self._watch(rv)
            except asyncio.CancelledError:
                raise
            except _Relist:
                continue
            except (ApiError, OSError, ValueError, KeyError) as exc:
                self.error = f"{self.kind.plural}: {exc}"
                log.warning("watch of %s failed, retrying in %.0fs: %s", self.kind.plural, backoff, exc)
            except Exception as exc:  # httpx transport errors and the like: keep watching
                self.error = f"{self.kind.plural}: {exc!r}"
                log.warning("watch of %s failed, retrying in %.0fs: %r", self.kind.plural, backoff, exc)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    async def _watch(self, rv: str) -> str:
        params = {**self.kind.params, "resourceVersion": rv}
        async for event in self.client.watch(self.url, params, timeout=WATCH_TIMEOUT):
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise _Relist
                raise ApiError(int(obj.get("code") or 500), obj)  # the event's object is a Status
            rv = (obj.get("metadata") or {}).get("resourceVersion", rv)
            if kind == "BOOKMARK":
                continue
            if kind == "DELETED":
                name = obj["metadata"]["name"]
                if self.objects.pop(name, None) is not None:
                    self._on_change(self.kind.key, "DELETED", obj)
            else:
                self._set(str(kind), obj)
        return rv


class _Relist(Exception):
    pass


class Store:
    def __init__(self, client: KubeClient, namespace: str, *, library: str | None, history: History) -> None:
        self.namespace = namespace
        self.history = history
        kinds = [MODELS, INSTANCES, SERVICES, PODS, EVENTS]
        if library:
            kinds.append(Kind("library", "v1", "configmaps", {"fieldSelector": f"metadata.name={library}"}))
        self.reflectors = {k.key: Reflector(client, namespace, k, self._changed) for k in kinds}
        self._changed_cond = asyncio.Condition()
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self.revision = 0

    # --- lifecycle ---

    async def start(self, timeout: float = 30.0) -> None:
        self._tasks = [asyncio.create_task(r.run(), name=f"watch-{k}") for k, r in self.reflectors.items()]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                for r in self.reflectors.values():
                    await r.synced.wait()

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t

    @property
    def synced(self) -> bool:
        return all(r.synced.is_set() for r in self.reflectors.values())

    def errors(self) -> list[str]:
        return [r.error for r in self.reflectors.values() if r.error]

    # --- reads ---

    def objects(self, key: str) -> dict[str, dict[str, Any]]:
        return self.reflectors[key].objects if key in self.reflectors else {}

    @property
    def models(self) -> dict[str, dict[str, Any]]:
        return self.objects("models")

    @property
    def instances(self) -> dict[str, dict[str, Any]]:
        return self.objects("instances")

    def library_data(self) -> dict[str, str]:
        maps = list(self.objects("library").values())
        return dict(maps[0].get("data") or {}) if maps else {}

    def model_source(self, model: Mapping[str, Any]) -> tuple[str, str] | None:
        """(text, format) of a PimModel: inline, or from the library when it refers there."""
        spec = model.get("spec") or {}
        fmt = str(spec.get("format") or "yaml")
        if spec.get("source"):
            return str(spec["source"]), fmt
        ref = spec.get("configMapRef") or {}
        for cm in self.objects("library").values():
            if cm["metadata"]["name"] == ref.get("name") and ref.get("key") in (cm.get("data") or {}):
                return str(cm["data"][ref["key"]]), fmt
        return None

    def parsed(self, model: Mapping[str, Any]) -> Parsed | None:
        src = self.model_source(model)
        if src is None:
            return None
        return parse_source(src[0], src[1], f"PimModel {model['metadata']['name']}")

    def instances_of(self, model_name: str) -> list[dict[str, Any]]:
        """PimInstances whose modelRef names the PimModel ``model_name``."""
        return sorted(
            (
                i
                for i in self.instances.values()
                if ((i.get("spec") or {}).get("modelRef") or {}).get("name") == model_name
            ),
            key=lambda i: i["metadata"]["name"],
        )

    def pods_of(self, instance: str) -> list[dict[str, Any]]:
        return sorted(
            (
                p
                for p in self.objects("pods").values()
                if (p["metadata"].get("labels") or {}).get(names.INSTANCE_LABEL) == instance
            ),
            key=lambda p: p["metadata"]["name"],
        )

    def service_of(self, instance: str) -> dict[str, Any] | None:
        return self.objects("services").get(instance)

    def events_for(self, kind: str, name: str, limit: int = 20) -> list[dict[str, Any]]:
        found = [
            e
            for e in self.objects("events").values()
            if (e.get("involvedObject") or {}).get("kind") == kind
            and (e.get("involvedObject") or {}).get("name") == name
        ]
        found.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "", reverse=True)
        return found[:limit]

    # --- changes ---

    def _changed(self, key: str, kind: str, obj: dict[str, Any]) -> None:
        self.revision += 1
        name = obj.get("metadata", {}).get("name", "")
        if key == "instances":
            if kind == "DELETED":
                self.history.forget(name)
            else:
                self.history.record(name, (obj.get("status") or {}).get("metrics"), time.time())
        if key == "library":
            parse_source.cache_clear()
        message = {"kind": key, "type": kind, "name": name, "revision": self.revision}
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:  # a slow reader: drop what it has not read, tell it to refetch all
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait({"kind": "all", "type": "RESYNC", "name": "", "revision": self.revision})
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed_cond:
            self._changed_cond.notify_all()

    def subscribe(self, maxsize: int = 256) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=maxsize)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)

    async def wait_for(self, check: Callable[[], T | None], timeout: float) -> T | None:
        """Wait until ``check()`` returns something truthy after a change, or ``timeout``; its last result."""
        deadline = asyncio.get_running_loop().time() + timeout
        async with self._changed_cond:
            while True:
                value = check()
                left = deadline - asyncio.get_running_loop().time()
                if value or left <= 0:
                    return value
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed_cond.wait(), timeout=min(left, 1.0))


async def gather_limited(calls: Iterable[Awaitable[T]], limit: int = 8) -> list[T]:
    sem = asyncio.Semaphore(limit)

    async def one(call: Awaitable[T]) -> T:
        async with sem:
            return await call

    return list(await asyncio.gather(*(one(c) for c in calls)))
