"""The running console: its settings, API client, watch cache, auth and proxy, created once.

The web apps (the API on the main port, one relay per instance port, the health port) are thin
layers over this object; it owns every connection and task, and closes them in ``close``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import httpx

from pim_console import names
from pim_console.auth import Authenticator
from pim_console.history import History
from pim_console.kube import credentials
from pim_console.kube.client import KubeClient
from pim_console.proxy import Proxy
from pim_console.settings import Settings
from pim_console.store import Store, gather_limited


class Console:
    def __init__(self, settings: Settings, client: KubeClient) -> None:
        self.settings = settings
        self.client = client
        self.namespace = client.namespace
        self.history = History(settings.history_points)
        self.store = Store(client, self.namespace, library=settings.library, history=self.history)
        self.auth = Authenticator(settings.auth, client, self.namespace)
        self.proxy = Proxy()
        self.http = httpx.AsyncClient(timeout=settings.probe_timeout, trust_env=False)
        #: Port choice and creation happen one at a time in this process (see ports.lost_race for others).
        self.create_lock = asyncio.Lock()
        #: The instance-port relays (``--instance-ports``), set by the serve loop.
        self.listeners: Any = None

    @classmethod
    async def start(cls, settings: Settings) -> Console:
        creds = await asyncio.to_thread(credentials.load, settings.kubeconfig, settings.context, settings.namespace)
        console = cls(settings, KubeClient(creds))
        await console.store.start()
        return console

    async def close(self) -> None:
        await self.store.stop()
        for closer in (self.proxy.aclose, self.http.aclose, self.client.aclose):
            with contextlib.suppress(Exception):
                await closer()

    # --- lookups by v2 id ---

    def find_instance(self, instance_id: str) -> dict[str, Any] | None:
        obj = self.store.instances.get(names.instance_name(instance_id))
        if obj is not None and names.original(obj, names.INSTANCE_ID) == instance_id:
            return obj
        return None

    def find_model(self, model_name: str) -> dict[str, Any] | None:
        """The PimModel loaded as ``model_name``, else the one named as ``model_name`` maps."""
        for obj in self.store.models.values():
            if (obj["metadata"].get("annotations") or {}).get(names.MODEL_NAME) == model_name:
                return obj
        return self.store.models.get(names.model_name(model_name))

    # --- replicas ---

    async def replica_health(self, instance: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Each pod of the instance, probed on its own ``/health`` and ``/ready``."""
        port = int((instance.get("spec") or {}).get("port") or 8000)
        pods = [
            p for p in self.store.pods_of(instance["metadata"]["name"]) if not p["metadata"].get("deletionTimestamp")
        ]
        return await gather_limited(self._probe(p, port) for p in pods)

    async def _probe(self, pod: Mapping[str, Any], port: int) -> dict[str, Any]:
        status = pod.get("status") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ())
        out: dict[str, Any] = {
            "pod": pod["metadata"]["name"],
            "node": (pod.get("spec") or {}).get("nodeName"),
            "ip": status.get("podIP"),
            "phase": status.get("phase"),
            "ready": ready,
            "restarts": sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or ()),
            "healthy": False,
            "message": "",
        }
        ip = status.get("podIP")
        if not ip or status.get("phase") != "Running":
            out["message"] = f"pod is {status.get('phase') or 'pending'}"
            return out
        host = f"[{ip}]" if ":" in ip else ip
        try:
            code, body = await self.proxy.get_json(f"http://{host}:{port}/health", self.settings.probe_timeout)
            out["healthy"] = code == 200
            out["message"] = "ok" if code == 200 else f"/health answered {code}: {body}"
            if code == 200:
                rcode, rbody = await self.proxy.get_json(f"http://{host}:{port}/ready", self.settings.probe_timeout)
                if rcode != 200:
                    out["message"] = f"/ready answered {rcode}: {rbody}"
        except httpx.HTTPError as exc:
            out["message"] = f"/health failed: {exc!r}"
        return out
