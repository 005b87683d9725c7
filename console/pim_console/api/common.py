"""What every route needs: the console object, the caller's token, and the access check."""

from __future__ import annotations

from fastapi import Request

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
