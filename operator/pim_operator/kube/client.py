"""Async Kubernetes client over HTTPX: only the verbs the operator needs.

Writes of children go through server-side apply with one field manager, so a re-apply of an
unchanged object is a no-op on the server and fields owned by others (an HPA's replica count,
defaults) are left alone.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from pim_operator import metrics
from pim_operator.kube import kinds
from pim_operator.kube.config import ClusterConfig

FIELD_MANAGER = "pim-operator"


class ApiError(RuntimeError):
    """A non-2xx answer from the API server, with its Status reason and message."""

    def __init__(self, status: int, reason: str, message: str, details: Mapping[str, Any] | None = None) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        self.details = dict(details or {})
        super().__init__(f"{status} {reason}: {message}")

    @classmethod
    def from_response(cls, resp: httpx.Response) -> ApiError:
        try:
            body = resp.json()
        except ValueError:
            body = {}
        return cls(
            resp.status_code,
            str(body.get("reason") or resp.reason_phrase),
            str(body.get("message") or resp.text[:500]),
            body.get("details"),
        )


class KubeClient:
    def __init__(self, config: ClusterConfig, *, field_manager: str = FIELD_MANAGER, timeout: float = 30.0) -> None:
        self.config = config
        self.field_manager = field_manager
        self._http = httpx.AsyncClient(
            base_url=config.server,
            verify=config.ssl_context(),
            timeout=timeout,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )
        self._streams: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._streams is not None:
            await self._streams.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        kind: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> httpx.Response:
        headers = {"Accept": "application/json"}
        token = self.config.bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        content = None
        if body is not None:
            headers["Content-Type"] = content_type
            content = json.dumps(body).encode()
        resp = await self._http.request(method, path, params=params, content=content, headers=headers)
        metrics.API_REQUESTS.labels(verb=method, kind=kind, code=str(resp.status_code)).inc()
        return resp

    async def get(self, kind: kinds.Kind, namespace: str | None, name: str) -> dict[str, Any] | None:
        resp = await self._request("GET", kind.path(namespace, name), kind=kind.kind)
        if resp.status_code == 404:
            return None
        if resp.is_error:
            raise ApiError.from_response(resp)
        return resp.json()

    async def apply(self, obj: Mapping[str, Any], *, force: bool = True) -> dict[str, Any]:
        """Server-side apply ``obj`` as this client's field manager; returns the live object."""
        kind = kinds.of(obj)
        meta = obj["metadata"]
        params = {"fieldManager": self.field_manager}
        if force:
            params["force"] = "true"
        resp = await self._request(
            "PATCH",
            kind.path(meta.get("namespace"), meta["name"]),
            kind=kind.kind,
            params=params,
            body=obj,
            content_type="application/apply-patch+yaml",
        )
        if resp.is_error:
            raise ApiError.from_response(resp)
        return resp.json()

    async def delete(self, kind: kinds.Kind, namespace: str | None, name: str) -> bool:
        """Delete with background propagation; False when it was already gone."""
        resp = await self._request(
            "DELETE",
            kind.path(namespace, name),
            kind=kind.kind,
            body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
        )
        if resp.status_code == 404:
            return False
        if resp.is_error:
            raise ApiError.from_response(resp)
        return True

    async def patch_status(
        self, kind: kinds.Kind, namespace: str | None, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Merge-patch ``status`` (the operator is its only writer); None if the object is gone."""
        resp = await self._request(
            "PATCH",
            kind.path(namespace, name) + "/status",
            kind=kind.kind,
            body={"status": status},
            content_type="application/merge-patch+json",
        )
        if resp.status_code == 404:
            return None
        if resp.is_error:
            raise ApiError.from_response(resp)
        return resp.json()

    async def watch_one(
        self,
        kind: kinds.Kind,
        namespace: str,
        name: str,
        *,
        resource_version: str | None,
        timeout: int = 300,
    ) -> AsyncIterator[dict[str, Any]]:
        """Watch events of one object (a ``metadata.name`` field selector: RBAC ``watch``, no ``list``).

        Watches run on a connection pool of their own (HTTP/2: many watches share one connection),
        so they never take the connections that reconciles need. Without ``resource_version`` the server first
        sends the object as it is now (if it exists). Raises ``ApiError`` (410 Gone: start over).
        """
        params = {
            "watch": "true",
            "fieldSelector": f"metadata.name={name}",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout),
        }
        if resource_version:
            params["resourceVersion"] = resource_version
        headers = {"Accept": "application/json"}
        token = self.config.bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        read = httpx.Timeout(30.0, read=timeout + 30.0)
        if self._streams is None:
            self._streams = httpx.AsyncClient(base_url=self.config.server, verify=self.config.ssl_context(), http2=True)
        async with self._streams.stream(
            "GET", kind.path(namespace), params=params, headers=headers, timeout=read
        ) as resp:
            metrics.API_REQUESTS.labels(verb="WATCH", kind=kind.kind, code=str(resp.status_code)).inc()
            if resp.is_error:
                await resp.aread()
                raise ApiError.from_response(resp)
            async for line in resp.aiter_lines():
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    st = event.get("object") or {}
                    raise ApiError(int(st.get("code") or 500), str(st.get("reason")), str(st.get("message")))
                yield event

    async def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        kind = kinds.of(obj)
        resp = await self._request("POST", kind.path(obj["metadata"].get("namespace")), kind=kind.kind, body=obj)
        if resp.is_error:
            raise ApiError.from_response(resp)
        return resp.json()

    async def has_kind(self, kind: kinds.Kind) -> bool:
        """Whether the cluster serves ``kind`` (e.g. the Prometheus Operator's ServiceMonitor)."""
        resp = await self._request("GET", kind.base, kind="Discovery")
        if resp.status_code == 404:
            return False
        if resp.is_error:
            raise ApiError.from_response(resp)
        return any(r.get("kind") == kind.kind for r in resp.json().get("resources") or ())
