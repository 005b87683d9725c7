"""What every route needs: the console object, the caller's token, and the access check."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from pim_console import names
from pim_console.actions import Problem
from pim_console.auth import COOKIE, User, bearer
from pim_console.runtime import Console


def console_of(request: Request) -> Console:
    return request.app.state.console


def token_of(request: Request) -> str | None:
    return bearer(request.headers.get("authorization"), request.cookies.get(COOKIE))


async def allow(request: Request, verb: str, resource: str, name: str | None = None) -> User:
    """The caller, if it may ``verb`` ``resource`` (pim.dev) in the console's namespace; else AuthError."""
    return await console_of(request).auth.require(token_of(request), verb, resource, name)


def instance_verb(method: str) -> str:
    """Reading an instance's data needs ``get`` on it, changing it ``update``."""
    return "get" if method in ("GET", "HEAD", "OPTIONS") else "update"


async def model_for(request: Request, model_name: str, verb: str) -> dict[str, Any]:
    """The PimModel loaded as ``model_name``, once the caller may ``verb`` it; 404 when there is none."""
    console = console_of(request)
    model = console.find_model(model_name)
    await allow(request, verb, "pimmodels", model["metadata"]["name"] if model else names.model_name(model_name))
    if model is None:
        raise Problem(404, f"Model '{model_name}' not found")
    return model


async def instance_for(request: Request, instance_id: str, verb: str) -> dict[str, Any]:
    """The PimInstance of v2 id ``instance_id``, once the caller may ``verb`` it; 404 when there is none."""
    await allow(request, verb, "piminstances", names.instance_name(instance_id))
    found = console_of(request).find_instance(instance_id)
    if found is None:
        raise Problem(404, f"Instance '{instance_id}' not found")
    return found
