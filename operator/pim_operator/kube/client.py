"""Async Kubernetes client over HTTPX: only the verbs the operator needs.

Writes of children go through server-side apply with one field manager, so a re-apply of an
unchanged object is a no-op on the server and fields owned by others (an HPA's replica count,
defaults) are left alone.

Every write passes the client's fence first (``may_write``: this replica holds the leader lease), so
a replica that lost the lease cannot write even from a reconcile that has not noticed yet. The
lease itself is written past the fence. A 401 reloads the credentials and retries once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import httpx

from pim_operator import metrics
from pim_operator.kube import kinds
from pim_operator.kube.config import Credentials

FIELD_MANAGER = "pim-operator"
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class NotLeader(RuntimeError):
    """A write refused by the client's fence: this replica does not hold the leader lease."""


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
    def __init__(
        self,
        credentials: Credentials,
        *,
        field_manager: str = FIELD_MANAGER,
        timeout: float = 30.0,
        may_write: Callable[[], bool] | None = None,
    ) -> None:
        self.credentials = credentials
        self.field_manager = field_manager
        self.may_write = may_write or (lambda: True)
        self._timeout = timeout
        self._tls = credentials.current.tls
        self._http = self._connect()
        self._streams: httpx.AsyncClient | None = None  # watches (``watch_one``), made on first use
        self._streams_tls = self._tls

    def _connect(self) -> httpx.AsyncClient:
        current = self.credentials.current
        return httpx.AsyncClient(
            base_url=current.server,
            verify=current.ssl_context(),
            timeout=self._timeout,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )

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
        fenced: bool = True,
    ) -> httpx.Response:
        if fenced and method in WRITE_VERBS and not self.may_write():
            metrics.WRITES_FENCED.labels(kind=kind).inc()
            raise NotLeader(f"{method} {path}: this replica does not hold the leader lease")
        headers = {"Accept": "application/json"}
        content = None
        if body is not None:
            headers["Content-Type"] = content_type
            content = json.dumps(body).encode()
        auth = await self._send_headers(headers)
        resp = await self._send(method, path, params, content, headers, kind)
        if resp.status_code == 401 and await self.credentials.reload(rejected=auth):
            await self._send_headers(headers)
            resp = await self._send(method, path, params, content, headers, kind)
        return resp

    async def _send_headers(self, headers: dict[str, str]) -> str | None:
        auth = await self.credentials.authorization()
        if auth:
            headers["Authorization"] = auth
        else:
            headers.pop("Authorization", None)
        if self.credentials.current.tls != self._tls:  # new client certificate or CA: new connections
            self._tls = self.credentials.current.tls
            old, self._http = self._http, self._connect()
            await old.aclose()
        return auth

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        content: bytes | None,
        headers: dict[str, str],
        kind: str,
    ) -> httpx.Response:
        sni = self.credentials.current.config.tls_server_name
        resp = await self._http.request(
            method,
            path,
            params=params,
            content=content,
            headers=headers,
            extensions={"sni_hostname": sni} if sni else None,
        )
        metrics.API_REQUESTS.labels(verb=method, kind=kind, code=str(resp.status_code)).inc()
        if method in WRITE_VERBS and kind != kinds.LEASE.kind:
            metrics.WRITES.labels(kind=kind).inc()
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

        Watches run on a pool of their own, so they never take the connections that reconciles need:
        one HTTP/1.1 connection per watch, as kopf's and the ``kubernetes`` package's watches. Not
        HTTP/2: httpx's HTTP/2 (httpcore) loses events when many long streams share a connection (30
        Secret watches on one connection, each Secret labelled once: 18 and 29 of the 30 events
        arrived; over HTTP/1.1, 30 of 30; tests/cluster/test_secret_watch_streams.py), and it sends no
        RST_STREAM for a cancelled stream (encode/httpcore#943, closed as wontfix).

        Without ``resource_version`` the server first sends the object as it is now (if it exists).
        Raises ``ApiError`` (410 Gone: start over; 401 after the credentials were reloaded: the
        caller's retry uses the new ones).
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
        auth = await self._send_headers(headers)
        read = httpx.Timeout(30.0, read=timeout + 30.0)
        current = self.credentials.current
        if self._streams is None or self._streams_tls != current.tls:
            if self._streams is not None:
                await self._streams.aclose()
            self._streams = httpx.AsyncClient(
                base_url=current.server,
                verify=current.ssl_context(),
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
            )
            self._streams_tls = current.tls
        sni = current.config.tls_server_name
        async with self._streams.stream(
            "GET",
            kind.path(namespace),
            params=params,
            headers=headers,
            timeout=read,
            extensions={"sni_hostname": sni} if sni else None,
        ) as resp:
            metrics.API_REQUESTS.labels(verb="WATCH", kind=kind.kind, code=str(resp.status_code)).inc()
            if resp.is_error:
                await resp.aread()
                if resp.status_code == 401:
                    await self.credentials.reload(rejected=auth)
                raise ApiError.from_response(resp)
            async for line in resp.aiter_lines():
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    st = event.get("object") or {}
                    raise ApiError(int(st.get("code") or 500), str(st.get("reason")), str(st.get("message")))
                yield event

    async def create(self, obj: Mapping[str, Any], *, fenced: bool = True) -> dict[str, Any]:
        kind = kinds.of(obj)
        path = kind.path(obj["metadata"].get("namespace"))
        resp = await self._request("POST", path, kind=kind.kind, body=obj, fenced=fenced)
        if resp.is_error:
            raise ApiError.from_response(resp)
        return resp.json()

    async def replace(self, obj: Mapping[str, Any], *, fenced: bool = True) -> dict[str, Any]:
        """PUT ``obj``; its ``metadata.resourceVersion`` makes it a compare-and-swap (409 if stale)."""
        kind = kinds.of(obj)
        meta = obj["metadata"]
        path = kind.path(meta.get("namespace"), meta["name"])
        resp = await self._request("PUT", path, kind=kind.kind, body=obj, fenced=fenced)
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
