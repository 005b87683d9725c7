"""Instance traffic: requests relayed to the instance's Service, as the v2 ports were.

The target is the Service's ClusterIP (no cluster DNS needed). A request body is read whole (up to
``MAX_BODY``) so that a connection refused while kube-proxy catches up with a new Service can be
retried safely; the answer streams back as it comes. Hop-by-hop headers stay on their hop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from pim_console.auth import COOKIE

MAX_BODY = 8 * 1024 * 1024
#: Answers up to this size are read whole and sent in one piece: cheaper than streaming them.
BUFFER_MAX = 1024 * 1024
CONNECT_RETRY_FOR = 5.0
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


class Unavailable(Exception):
    """The instance cannot take traffic now (no Service yet, suspended...); 503 with this message."""


def service_base(service: Mapping[str, Any] | None, port: int) -> str:
    """``http://CLUSTER_IP:PORT`` of an instance's Service."""
    if service is None:
        raise Unavailable("its Service does not exist yet")
    ip = (service.get("spec") or {}).get("clusterIP")
    if not ip or ip == "None":
        raise Unavailable("its Service has no cluster IP")
    ports = (service.get("spec") or {}).get("ports") or ()
    svc_port = next((p.get("port") for p in ports if p.get("name") == "http"), None) or port
    host = f"[{ip}]" if ":" in ip else ip
    return f"http://{host}:{svc_port}"


def request_headers(headers: Mapping[str, str], client: str | None, prefix: str | None) -> dict[str, str]:
    out = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
    cookies = [c for c in out.pop("cookie", "").split(";") if c.strip() and not c.strip().startswith(COOKIE + "=")]
    if cookies:
        out["cookie"] = ";".join(cookies)
    if client:
        prior = headers.get("x-forwarded-for")
        out["x-forwarded-for"] = f"{prior}, {client}" if prior else client
    if headers.get("host"):
        out["x-forwarded-host"] = headers["host"]
    out.setdefault("x-forwarded-proto", "http")
    if prefix:
        out["x-forwarded-prefix"] = prefix
    return out


def response_headers(headers: httpx.Headers, prefix: str | None) -> list[tuple[str, str]]:
    out = []
    for k, v in headers.multi_items():
        lk = k.lower()
        if lk in HOP_BY_HOP and lk != "content-length":
            continue
        if lk == "location" and prefix and v.startswith("/") and not v.startswith("//"):
            v = prefix + v
        out.append((k, v))
    return out


class Proxy:
    def __init__(self, timeout: float = 60.0) -> None:
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=3.0),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=32),
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get_json(self, url: str, timeout: float) -> tuple[int, Any]:
        resp = await self._http.get(url, timeout=timeout)
        try:
            return resp.status_code, resp.json()
        except ValueError:
            return resp.status_code, resp.text[:200]

    async def forward(self, request: Request, base: str, path: str, *, prefix: str | None, what: str) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return JSONResponse({"detail": f"request body larger than {MAX_BODY} bytes"}, 413)
        query = request.url.query
        url = base + (path if path.startswith("/") else "/" + path) + (f"?{query}" if query else "")
        client = request.client.host if request.client else None
        outgoing = self._http.build_request(
            request.method, url, headers=request_headers(request.headers, client, prefix), content=bytes(body)
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CONNECT_RETRY_FOR
        while True:
            try:
                upstream = await self._http.send(outgoing, stream=True)
                break
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if loop.time() >= deadline:
                    return JSONResponse({"detail": f"{what} is not reachable at {base}: {exc!r}"}, 502)
                await asyncio.sleep(0.25)
            except httpx.TimeoutException as exc:
                return JSONResponse({"detail": f"{what} did not answer in time: {exc!r}"}, 504)
            except httpx.HTTPError as exc:
                return JSONResponse({"detail": f"{what} failed: {exc!r}"}, 502)
        return await _answer(upstream, prefix)


async def _answer(upstream: httpx.Response, prefix: str | None) -> Response:
    """The instance's answer: read whole when it says it is small (most are), else streamed."""
    headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response_headers(upstream.headers, prefix)
    ]
    length = upstream.headers.get("content-length", "")
    resp: Response
    if length.isdigit() and int(length) <= BUFFER_MAX:
        try:
            body = b"".join([chunk async for chunk in upstream.aiter_raw()])
        except httpx.HTTPError as exc:
            return JSONResponse({"detail": f"the instance broke off its answer: {exc!r}"}, 502)
        finally:
            await upstream.aclose()
        resp = Response(body, status_code=upstream.status_code)
    else:
        resp = StreamingResponse(
            _relay(upstream), status_code=upstream.status_code, background=BackgroundTask(upstream.aclose)
        )
    resp.raw_headers = headers
    return resp


async def _relay(upstream: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    except httpx.HTTPError:
        return  # the instance went away mid-answer: the client sees a short body, not a 500
