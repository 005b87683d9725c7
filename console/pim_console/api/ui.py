"""The web UI's data: richer views than v2's, a sign-in for ``kubernetes`` auth, and live changes.

Live changes are server-sent events fed by the watch cache: each names what changed (kind, name),
and the page refetches what it shows. The UI's actions go through the v2 API and the instance relay.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from pim_console import actions, modelview, prometheus
from pim_console.api.common import allow, console_of, instance_for, model_for
from pim_console.auth import COOKIE, AuthError
from pim_console.proxy import Unavailable, service_base
from pim_engine.loader import model_from_dict
from pim_engine.model import ModelError

router = APIRouter(prefix="/ui")
KEEPALIVE = 15.0


class Login(BaseModel):
    token: str = Field(min_length=1, max_length=16384)


@router.get("/api/session")
async def session(request: Request) -> dict[str, Any]:
    console = console_of(request)
    user = None
    if console.auth.enabled:
        try:
            user = (await allow(request, "list", "piminstances")).username
        except AuthError as exc:
            return JSONResponse({"auth": "kubernetes", "detail": exc.detail}, exc.status)  # type: ignore[return-value]
    return {
        "auth": console.settings.auth,
        "user": user,
        "namespace": console.namespace,
        "prometheus": bool(console.settings.prometheus_url),
        "instancePorts": console.settings.instance_ports,
        "library": console.settings.library,
        "synced": console.store.synced,
        "errors": console.store.errors(),
    }


@router.post("/api/login")
async def login(request: Request, body: Login) -> Response:
    console = console_of(request)
    if not console.auth.enabled:
        return JSONResponse({"detail": "this console runs without authentication (auth none)"}, 400)
    user = await console.auth.user(body.token)
    resp = JSONResponse({"user": user.username})
    resp.set_cookie(
        COOKIE, body.token, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
    )
    return resp


@router.post("/api/logout")
async def logout() -> Response:
    resp = JSONResponse({"ok": True})
    resp.delete_cookie(COOKIE, path="/")
    return resp


def _event(e: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": e.get("type"),
        "reason": e.get("reason"),
        "message": e.get("message"),
        "count": e.get("count") or 1,
        "last": e.get("lastTimestamp") or e.get("eventTime") or (e.get("metadata") or {}).get("creationTimestamp"),
    }


@router.get("/api/models")
async def models(request: Request) -> dict[str, Any]:
    await allow(request, "list", "pimmodels")
    console = console_of(request)
    out = [
        actions.model_info(console, m)
        for m in sorted(console.store.models.values(), key=lambda m: m["metadata"]["name"])
    ]
    return {"models": out, "library": actions.library(console)}


@router.get("/api/models/{model_name}")
async def model(request: Request, model_name: str) -> dict[str, Any]:
    console = console_of(request)
    obj = await model_for(request, model_name, "get")
    parsed = console.store.parsed(obj)
    info = actions.model_info(console, obj)
    info["view"] = modelview.model_view(parsed.model) if parsed and parsed.model else None
    info["loadError"] = parsed.error if parsed else "the model's text is in a ConfigMap the console cannot read"
    info["format"] = (obj.get("spec") or {}).get("format", "yaml")
    info["instanceDetails"] = [
        actions.instance_info(console, i) for i in console.store.instances_of(obj["metadata"]["name"])
    ]
    info["events"] = [_event(e) for e in console.store.events_for("PimModel", obj["metadata"]["name"])]
    return info


@router.get("/api/instances")
async def instances(request: Request) -> dict[str, Any]:
    await allow(request, "list", "piminstances")
    console = console_of(request)
    items = sorted(console.store.instances.values(), key=lambda i: i["metadata"]["name"])
    return {"instances": [actions.instance_info(console, i) for i in items]}


@router.get("/api/instances/{instance_id}")
async def instance(request: Request, instance_id: str) -> dict[str, Any]:
    console = console_of(request)
    obj = await instance_for(request, instance_id, "get")
    info = actions.instance_info(console, obj)
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    info["spec"] = {k: spec.get(k) for k in ("replicas", "suspend", "storage", "autoscaling", "serviceType", "image")}
    info["conditions"] = list(status.get("conditions") or ())
    info["health"] = status.get("health") or {}
    info["metrics"] = status.get("metrics") or {}
    info["observedGeneration"] = status.get("observedGeneration")
    info["generation"] = obj["metadata"].get("generation")
    info["replicas"] = await console.replica_health(obj)
    info["events"] = [_event(e) for e in console.store.events_for("PimInstance", obj["metadata"]["name"])]
    info["proxyPath"] = f"/instances/{instance_id}"
    return info


@router.get("/api/instances/{instance_id}/metrics")
async def metrics(request: Request, instance_id: str, minutes: int = 30) -> dict[str, Any]:
    console = console_of(request)
    obj = await instance_for(request, instance_id, "get")
    name = obj["metadata"]["name"]
    end = time.time()
    start = end - max(1, min(minutes, 24 * 60)) * 60
    s = console.settings
    if s.prometheus_url:
        try:
            points = await prometheus.series(
                console.http, s.prometheus_url, s.prometheus_selector, console.namespace, name, start, end
            )
            return {"source": "prometheus", "points": points, "start": start, "end": end}
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            history = console.history.series(name, start)
            return {
                "source": "history",
                "points": history,
                "start": start,
                "end": end,
                "warning": f"Prometheus: {exc!r}",
            }
    return {"source": "history", "points": console.history.series(name, start), "start": start, "end": end}


@router.get("/api/instances/{instance_id}/schema")
async def schema(request: Request, instance_id: str) -> dict[str, Any]:
    """The entities' forms, from the model the instance itself serves (its ``/model``) when it answers."""
    console = console_of(request)
    obj = await instance_for(request, instance_id, "get")
    try:
        base = service_base(console.store.service_of(obj["metadata"]["name"]), int(obj["spec"].get("port") or 8000))
        code, body = await console.proxy.get_json(base + "/model", console.settings.probe_timeout)
        if code == 200 and isinstance(body, dict):
            return {"source": "instance", **modelview.model_view(model_from_dict(body))}
    except (Unavailable, httpx.HTTPError, ModelError):
        pass
    ref = ((obj.get("spec") or {}).get("modelRef") or {}).get("name", "")
    pm = console.store.models.get(ref)
    parsed = console.store.parsed(pm) if pm else None
    if parsed is None or parsed.model is None:
        raise actions.Problem(503, f"instance '{instance_id}' does not answer and its model {ref!r} does not load")
    return {"source": "model", **modelview.model_view(parsed.model)}


@router.get("/events")
async def events(request: Request) -> StreamingResponse:
    await allow(request, "list", "pimmodels")
    await allow(request, "list", "piminstances")
    console = console_of(request)
    queue = console.store.subscribe()

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 2000\nevent: hello\ndata: {}\n\n"
            while True:  # ends when the client goes: Starlette cancels us, or the next write fails
                try:
                    message = await asyncio.wait_for(queue.get(), KEEPALIVE)
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                yield f"data: {json.dumps(message)}\n\n".encode()
        finally:
            console.store.unsubscribe(queue)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
