"""The access check, before routing: a pure ASGI middleware, installed only when auth is on.

With ``--auth none`` the app has no such middleware at all, so the default costs nothing per
request. Otherwise each request but ``/health`` and ``/ready`` shows a credential (``rules.need``
says what it must allow); refusals have FastAPI's error shape, ``{"detail": [{loc, msg, type}]}``,
with ``loc`` naming the header at fault, and a 401 carries ``WWW-Authenticate: Bearer``.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from pim_engine.access import rules
from pim_engine.access.keys import KeyRing
from pim_engine.access.kube import Reviewer
from pim_engine.access.rules import Need, Refusal, unauthenticated
from pim_engine.errors import error, error_response

KUBERNETES, APIKEY = "kubernetes", "apikey"
_BEARER = b"bearer "
_AUTHORIZATION = ["header", "authorization"]
_API_KEY = ["header", "x-api-key"]


def credentials(scope: Scope) -> tuple[bytes | None, bytes | None, bool]:
    """(bearer token, X-API-Key, whether Authorization used another scheme) from the raw headers."""
    bearer = api_key = None
    other = False
    for name, value in scope["headers"]:
        if name == b"authorization":
            if value[:7].lower() == _BEARER:
                bearer = value[7:].strip() or None
            else:
                other = True
        elif name == b"x-api-key":
            api_key = value.strip() or None
    return bearer, api_key, other


class AccessGuard:
    """``mode`` kubernetes: a token that ``reviewer`` allows. apikey: one of ``keys`` (and, for
    ``/metrics`` only, a token that ``reviewer`` allows, when there is a reviewer)."""

    def __init__(self, app: ASGIApp, *, mode: str, reviewer: Reviewer | None, keys: KeyRing | None = None) -> None:
        if mode == KUBERNETES and reviewer is None:
            raise ValueError("auth kubernetes needs a reviewer")
        if mode == APIKEY and keys is None:
            raise ValueError("auth apikey needs keys")
        self.app = app
        self.mode = mode
        self.reviewer = reviewer
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        need = rules.need(scope["method"], scope["path"])
        if need is not None:
            refusal, loc = await self._check(scope, need)
            if refusal is not None:
                headers = {"www-authenticate": 'Bearer realm="pim-engine"'} if refusal.status == 401 else {}
                if refusal.status == 503:
                    headers["retry-after"] = "1"
                response = error_response(refusal.status, [error(loc, refusal.message, refusal.kind)], headers)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _check(self, scope: Scope, need: Need) -> tuple[Refusal | None, list[str]]:
        bearer, api_key, other = credentials(scope)
        if self.mode == APIKEY:
            assert self.keys is not None
            given, loc = (api_key, _API_KEY) if api_key is not None else (bearer, _AUTHORIZATION)
            if given is None:
                return _missing(other, "an API key is required: X-API-Key: <key> or Authorization: Bearer <key>"), loc
            if self.keys.matches(given):
                return None, loc
            if need is rules.METRICS and bearer is not None and self.reviewer is not None:
                return await self.reviewer.check(bearer, need), _AUTHORIZATION
            if not len(self.keys):
                return unauthenticated("this instance has no API keys yet (its Secret is missing or empty)"), loc
            return unauthenticated("not one of this instance's API keys"), loc
        assert self.reviewer is not None
        if bearer is None:
            hint = "a bearer token is required: Authorization: Bearer <token> (kubectl create token NAME)"
            return _missing(other, hint), _AUTHORIZATION
        return await self.reviewer.check(bearer, need), _AUTHORIZATION


def _missing(other_scheme: bool, hint: str) -> Refusal:
    if other_scheme:  # (not echoed: the errors never mirror what a client sent)
        return unauthenticated(f"the Authorization header must use the Bearer scheme; {hint}")
    return unauthenticated(hint)
