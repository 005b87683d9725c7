"""The console's relay (``pim_console.proxy.Proxy``) alone, in front of one engine: what a request
through ``/instances/{id}/...`` or an instance port costs on top of the engine (bench/console_bench.py)."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pim_console.proxy import Proxy

TARGET = os.environ["RELAY_TARGET"]
proxy = Proxy()


async def relay(request: Request) -> Response:
    return await proxy.forward(request, TARGET, request.url.path, prefix=None, what="the engine")


app = Starlette(routes=[Route("/{path:path}", relay, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])])
