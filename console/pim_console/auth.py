"""Who may use the console.

``none``: the console listens on loopback only, so the only way in is ``kubectl port-forward``, which
the API server authorizes (``create pods/portforward`` in the console's namespace). ``kubernetes``:
every request carries a bearer token (header, or the cookie the UI's sign-in sets); a TokenReview
says whose it is and a SubjectAccessReview whether that user may do this on the custom resources,
so the console never lends its own rights to anyone. Answers are cached briefly.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from pim_console.kube.client import KubeClient

COOKIE = "pim_console_token"
TOKEN_TTL = 30.0
DENIED_TTL = 5.0
ACCESS_TTL = 15.0


@dataclass(frozen=True)
class User:
    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict)


ANONYMOUS = User("anonymous (auth none: port-forward only)")


class AuthError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(detail)


class _TTLCache:
    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._data: OrderedDict[Any, tuple[float, Any]] = OrderedDict()

    def get(self, key: Any) -> Any:
        hit = self._data.get(key)
        if hit is None or hit[0] < time.monotonic():
            self._data.pop(key, None)
            return None
        return hit[1]

    def put(self, key: Any, value: Any, ttl: float) -> None:
        self._data[key] = (time.monotonic() + ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)


def bearer(authorization: str | None, cookie: str | None) -> str | None:
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return cookie or None


class Authenticator:
    def __init__(self, mode: str, client: KubeClient | None, namespace: str) -> None:
        self.mode = mode
        self.client = client
        self.namespace = namespace
        self._tokens = _TTLCache()
        self._access = _TTLCache(4096)

    @property
    def enabled(self) -> bool:
        return self.mode == "kubernetes"

    async def user(self, token: str | None) -> User:
        if not self.enabled:
            return ANONYMOUS
        if not token:
            raise AuthError(
                401, "a bearer token is required (Authorization: Bearer <token>; kubectl create token NAME)"
            )
        key = hashlib.sha256(token.encode()).hexdigest()
        cached = self._tokens.get(key)
        if cached is not None:
            if isinstance(cached, User):
                return cached
            raise AuthError(401, cached)
        assert self.client is not None
        review = await self.client.create(
            "/apis/authentication.k8s.io/v1/tokenreviews",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}},
        )
        status = review.get("status") or {}
        if not status.get("authenticated"):
            reason = f"the token was not accepted by the API server: {status.get('error') or 'unauthenticated'}"
            self._tokens.put(key, reason, DENIED_TTL)
            raise AuthError(401, reason)
        info = status.get("user") or {}
        user = User(
            str(info.get("username", "")),
            str(info.get("uid", "")),
            tuple(info.get("groups") or ()),
            {k: list(v) for k, v in (info.get("extra") or {}).items()},
        )
        self._tokens.put(key, user, TOKEN_TTL)
        return user

    async def allowed(self, user: User, verb: str, resource: str, name: str | None = None) -> bool:
        if not self.enabled:
            return True
        key = (user.username, user.uid, user.groups, verb, resource, name)
        cached = self._access.get(key)
        if cached is not None:
            return bool(cached)
        attrs: dict[str, Any] = {"namespace": self.namespace, "verb": verb, "group": "pim.dev", "resource": resource}
        if name:
            attrs["name"] = name
        spec: dict[str, Any] = {"user": user.username, "groups": list(user.groups), "resourceAttributes": attrs}
        if user.uid:
            spec["uid"] = user.uid
        if user.extra:
            spec["extra"] = user.extra
        assert self.client is not None
        review = await self.client.create(
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec},
        )
        ok = bool((review.get("status") or {}).get("allowed"))
        self._access.put(key, ok, ACCESS_TTL)
        return ok

    async def require(self, token: str | None, verb: str, resource: str, name: str | None = None) -> User:
        user = await self.user(token)
        if not await self.allowed(user, verb, resource, name):
            target = f"{resource}/{name}" if name else resource
            raise AuthError(
                403, f'user "{user.username}" may not {verb} {target} (group pim.dev) in namespace {self.namespace}'
            )
        return user
