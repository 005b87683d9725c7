"""An async client for the few calls the console makes, watches included.

Every answer that is not 2xx becomes an ``ApiError`` carrying the API server's own reason and
message, so the console can pass a CEL rule's words back to the user unchanged.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from pim_console.kube.credentials import Credentials

MERGE_PATCH = "application/merge-patch+json"


class ApiError(RuntimeError):
    """A refusal: the HTTP status, and the reason and message of the API server's Status object."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        self.status = status
        self.reason = str(body.get("reason") or "")
        self.message = str(body.get("message") or "")
        super().__init__(f"{status} {self.reason}: {self.message}")


def refusal(resp: httpx.Response, content: bytes) -> ApiError:
    """The error for a non-2xx answer, whatever its body is (a proxy in between may send HTML)."""
    try:
        body = json.loads(content)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"reason": resp.reason_phrase, "message": content[:500].decode(errors="replace")}
    return ApiError(resp.status_code, body)


def path(
    group_version: str, plural: str, namespace: str | None = None, name: str | None = None, sub: str | None = None
) -> str:
    """The REST path of a collection or an object (``v1`` is the core group)."""
    base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    if namespace:
        base += f"/namespaces/{namespace}"
    base += f"/{plural}"
    if name:
        base += f"/{name}"
    if sub:
        base += f"/{sub}"
    return base


class KubeClient:
    def __init__(self, credentials: Credentials, *, timeout: float = 30.0) -> None:
        self.credentials = credentials
        self._http = httpx.AsyncClient(
            base_url=credentials.server,
            verify=credentials.ssl_context(),
            timeout=timeout,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
        )

    @property
    def namespace(self) -> str:
        return self.credentials.namespace

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _headers(self, content_type: str | None, force: bool = False) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        auth = await self.credentials.authorization(force=force)
        if auth:
            headers["Authorization"] = auth
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        missing_ok: bool = False,
    ) -> dict[str, Any] | None:
        content = json.dumps(body).encode() if body is not None else None
        ctype = content_type if body is not None else None
        resp = await self._http.request(method, url, params=params, content=content, headers=await self._headers(ctype))
        if resp.status_code == 401:  # a rotated token or an expired exec credential: once more, fresh
            resp = await self._http.request(
                method, url, params=params, content=content, headers=await self._headers(ctype, force=True)
            )
        if resp.status_code == 404 and missing_ok:
            return None
        if resp.is_error:
            raise refusal(resp, resp.content)
        return resp.json()

    async def get(self, url: str) -> dict[str, Any] | None:
        return await self.request("GET", url, missing_ok=True)

    async def list(self, url: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        out = await self.request("GET", url, params=params)
        assert out is not None
        return out

    async def create(self, url: str, body: Mapping[str, Any]) -> dict[str, Any]:
        out = await self.request("POST", url, body=body)
        assert out is not None
        return out

    async def merge_patch(self, url: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
        return await self.request("PATCH", url, body=body, content_type=MERGE_PATCH, missing_ok=True)

    async def delete(self, url: str, *, propagation: str = "Background") -> dict[str, Any] | None:
        """Delete; None when it was already gone."""
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        return await self.request("DELETE", url, body=options, missing_ok=True)

    async def watch(self, url: str, params: Mapping[str, str], *, timeout: float) -> AsyncIterator[dict[str, Any]]:
        """The events of one watch request, until the server ends it (at ``timeoutSeconds``)."""
        query = {**params, "watch": "true", "allowWatchBookmarks": "true", "timeoutSeconds": str(int(timeout))}
        headers = await self._headers(None)
        async with self._http.stream(
            "GET", url, params=query, headers=headers, timeout=httpx.Timeout(10.0, read=timeout + 30)
        ) as resp:
            if resp.is_error:
                raise refusal(resp, await resp.aread())
            async for line in resp.aiter_lines():
                if line.strip():
                    yield json.loads(line)
