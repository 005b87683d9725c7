"""The PIM engine v2 master controller API, on PimModels and PimInstances.

Paths, request bodies and response fields are v2's (see ``shapes``); additions are marked
"extension" and never change what a v2 client sees.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from pim_console import actions, names, shapes
from pim_console.api.common import allow, console_of, instance_for, instance_verb, model_for
from pim_console.proxy import Unavailable, service_base

router = APIRouter()


class LoadModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_name: str = Field(min_length=1, max_length=names.ID_MAX)
    #: extension: the model text itself, instead of a library file
    source: str | None = Field(default=None, min_length=1, max_length=4_000_000)
    format: Literal["yaml", "markdown", "json"] | None = None


class CreateInstance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_name: str = Field(min_length=1, max_length=names.ID_MAX)
    instance_id: str | None = Field(default=None, min_length=1, max_length=names.ID_MAX)
    port: int | None = Field(default=None, ge=1, le=65535)
    config: dict[str, Any] | None = None


class PatchInstance(BaseModel):
    """extension: what the UI changes on a running instance."""

    model_config = ConfigDict(extra="forbid")
    replicas: int | None = Field(default=None, ge=0, le=100)
    suspend: bool | None = None


@router.get("/models", tags=["models"])
async def list_models(request: Request) -> dict[str, Any]:
    await allow(request, "list", "pimmodels")
    console = console_of(request)
    models = [actions.model_info(console, m) for m in sorted(console.store.models.values(), key=_by_name)]
    return {"models": models, "total": len(models)}


@router.get("/library", tags=["models"])
async def list_library(request: Request) -> dict[str, Any]:
    """extension: the model files that ``POST /models/load`` can load."""
    await allow(request, "list", "pimmodels")
    files = actions.library(console_of(request))
    return {"models": files, "total": len(files)}


@router.post("/models/load", tags=["models"])
async def load_model(request: Request, body: LoadModel) -> dict[str, Any]:
    await allow(request, "create", "pimmodels")
    return await actions.load_model(console_of(request), body.model_name, body.source, body.format)


@router.get("/models/{model_name}", tags=["models"])
async def get_model(request: Request, model_name: str) -> dict[str, Any]:
    return actions.model_info(console_of(request), await model_for(request, model_name, "get"))


@router.delete("/models/{model_name}", tags=["models"])
async def unload_model(request: Request, model_name: str, hard: bool = False) -> dict[str, Any]:
    console = console_of(request)
    model = await model_for(request, model_name, "delete")
    if console.store.instances_of(model["metadata"]["name"]):
        await allow(request, "delete", "piminstances")
    return await actions.unload_model(console, model_name, hard)


@router.get("/instances", tags=["instances"])
async def list_instances(request: Request, model: Annotated[str | None, Query()] = None) -> dict[str, Any]:
    await allow(request, "list", "piminstances")
    console = console_of(request)
    items = sorted(console.store.instances.values(), key=_by_name)
    if model is not None:
        target = console.find_model(model)
        ref = target["metadata"]["name"] if target else names.model_name(model)
        items = [i for i in items if ((i.get("spec") or {}).get("modelRef") or {}).get("name") == ref]
    out = [actions.instance_info(console, i) for i in items]
    return {"instances": out, "total": len(out)}


@router.post("/instances", tags=["instances"])
async def create_instance(request: Request, body: CreateInstance, wait: bool = True) -> Response:
    await allow(request, "create", "piminstances")
    code, info = await actions.create_instance(
        console_of(request), body.model_name, body.instance_id, body.port, body.config, wait=wait
    )
    return JSONResponse(info, status_code=code)


@router.get("/instances/{instance_id}", tags=["instances"])
async def get_instance(request: Request, instance_id: str) -> dict[str, Any]:
    return actions.instance_info(console_of(request), await instance_for(request, instance_id, "get"))


@router.patch("/instances/{instance_id}", tags=["instances"])
async def patch_instance(request: Request, instance_id: str, body: PatchInstance) -> dict[str, Any]:
    """extension: scale (``replicas``) or suspend/resume (``suspend``) an instance."""
    await allow(request, "patch", "piminstances", names.instance_name(instance_id))
    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise actions.Problem(422, "nothing to change: give replicas and/or suspend")
    return await actions.patch_instance(console_of(request), instance_id, changes)


@router.delete("/instances/{instance_id}", tags=["instances"])
async def stop_instance(request: Request, instance_id: str, hard: bool = False) -> dict[str, Any]:
    await allow(request, "delete", "piminstances", names.instance_name(instance_id))
    return await actions.stop_instance(console_of(request), instance_id, hard)


@router.get("/instances/{instance_id}/health", tags=["instances"])
async def instance_health(request: Request, instance_id: str) -> dict[str, Any]:
    instance = await instance_for(request, instance_id, "get")
    return shapes.health_info(instance, await console_of(request).replica_health(instance))


@router.api_route(
    "/instances/{instance_id}/{rest:path}",
    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    tags=["instances"],
)
async def instance_traffic(request: Request, instance_id: str, rest: str) -> Response:
    """The instance's own API: ``/instances/user_prod/api/v1/users`` is ``/api/v1/users`` there."""
    instance = await instance_for(request, instance_id, instance_verb(request.method))
    return await relay(request, instance, "/" + rest, prefix=f"/instances/{instance_id}")


async def relay(request: Request, instance: dict[str, Any], path: str, *, prefix: str | None) -> Response:
    console = console_of(request)
    what = f"instance '{names.original(instance, names.INSTANCE_ID)}'"
    try:
        if shapes.instance_status(instance) == "stopped":
            raise Unavailable("it is stopped (suspended or scaled to zero)")
        base = service_base(
            console.store.service_of(instance["metadata"]["name"]), int(instance["spec"].get("port") or 8000)
        )
    except Unavailable as exc:
        return JSONResponse({"detail": f"{what} cannot take traffic: {exc}"}, 503)
    return await console.proxy.forward(request, base, path, prefix=prefix, what=what)


def _by_name(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["name"])
