"""Who may use the console.

``none``: the console listens on loopback only, so the only way in is ``kubectl port-forward``, which
the API server authorizes (``create pods/portforward`` in the console's namespace). ``kubernetes``:
every request carries a bearer token (header, or the cookie the UI's sign-in sets); a TokenReview
says whose it is and a SubjectAccessReview whether that user may do this on the custom resources,
so the console never lends its own rights to anyone. Answers are cached briefly.
"""

from __future__ import annotations

import hashlib

from pim_console.kube.client import KubeClient
from pim_engine.access.cache import TTLCache
from pim_engine.access.reviews import User, access_review, allowed, reviewed_user, token_review

COOKIE = "pim_console_token"
TOKEN_TTL = 30.0
DENIED_TTL = 5.0
ACCESS_TTL = 15.0


ANONYMOUS = User("anonymous (auth none: port-forward only)")


class AuthError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(detail)


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
        self._tokens: TTLCache[str, User | str] = TTLCache(1024)
        self._access: TTLCache[tuple[User, str, str, str | None], bool] = TTLCache(4096)

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
        found = reviewed_user(
            await self.client.create("/apis/authentication.k8s.io/v1/tokenreviews", token_review(token))
        )
        if isinstance(found, str):
            reason = f"the token was not accepted by the API server: {found}"
            self._tokens.put(key, reason, DENIED_TTL)
            raise AuthError(401, reason)
        self._tokens.put(key, found, TOKEN_TTL)
        return found

    async def allowed(self, user: User, verb: str, resource: str, name: str | None = None) -> bool:
        if not self.enabled:
            return True
        key = (user, verb, resource, name)
        cached = self._access.get(key)
        if cached is not None:
            return cached
        assert self.client is not None
        body = access_review(user, self.namespace, verb, resource, name=name)
        ok = allowed(await self.client.create("/apis/authorization.k8s.io/v1/subjectaccessreviews", body))
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
