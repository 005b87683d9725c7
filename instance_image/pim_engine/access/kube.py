"""TokenReview and SubjectAccessReview against the cluster's API server, with the pod's own token.

The engine's ServiceAccount (one per instance, bound to ``system:auth-delegator`` by the operator)
may create these two reviews and nothing else. Its token is the projected one the kubelet rotates,
so it is read again every minute and whenever the API server answers 401, as client-go does.
HTTPX rather than the ``kubernetes`` package: two POSTs need none of its kubeconfig machinery,
they must not block the event loop, and the image stays small.

Answers are remembered briefly (:data:`ALLOWED_TTL`, :data:`DENIED_TTL`) in bounded caches keyed
by the token's SHA-256 (the token itself is not kept), so a client pays for a review once per TTL,
not per request; requests that arrive together with one new token share one review.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

import httpx

from pim_engine.access.apiserver import ApiServer, ReviewFailed, TokenFile
from pim_engine.access.cache import TTLCache
from pim_engine.access.reviews import GROUP, User, access_review, allowed, reviewed_user, token_review
from pim_engine.access.rules import Need, Refusal, forbidden, unauthenticated, unavailable

log = logging.getLogger("pim_engine.access")
T = TypeVar("T")

#: How long an answer is reused: a revoked token or a removed RoleBinding stops working within it.
ALLOWED_TTL = 10.0
DENIED_TTL = 5.0
CACHE_SIZE = 4096
#: Reviews in flight at once; more wait (a flood of new tokens must not become a flood of reviews).
CONCURRENT_REVIEWS = 8
REQUEST_TIMEOUT = 5.0
#: Longer bearer tokens are refused without asking the API server.
MAX_TOKEN_BYTES = 16384


_ALLOWED = Refusal(0, "", "allowed")  # the cached "yes"


class Reviewer:
    """Decides whether a bearer token may do what a request needs on one PimInstance.

    ``on_review`` is called once per review sent, with its kind and outcome (the engine's metrics).
    """

    def __init__(
        self,
        api: ApiServer,
        namespace: str,
        name: str,
        *,
        on_review: Callable[[str, str], None] = lambda kind, outcome: None,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self.on_review = on_review
        self._token = TokenFile(api.token_file)
        self._decisions: TTLCache[tuple[bytes, Need], Refusal] = TTLCache(CACHE_SIZE)
        self._users: TTLCache[bytes, User | Refusal] = TTLCache(CACHE_SIZE)
        self._inflight: dict[Hashable, asyncio.Task[Any]] = {}
        self._limit = asyncio.Semaphore(CONCURRENT_REVIEWS)
        self._client: httpx.AsyncClient | None = None

    async def check(self, token: bytes, need: Need) -> Refusal | None:
        """None when allowed; else the refusal to answer with."""
        if len(token) > MAX_TOKEN_BYTES:
            return unauthenticated(f"the bearer token is longer than {MAX_TOKEN_BYTES} bytes")
        key = (hashlib.sha256(token).digest(), need)
        hit = self._decisions.get(key)
        if hit is None:
            try:
                hit = await self._once(key, lambda: self._decide(token, key[0], need))
            except ReviewFailed as err:
                return unavailable(f"cannot check the bearer token: {err}")
        return None if hit is _ALLOWED else hit

    async def aclose(self) -> None:
        for task in list(self._inflight.values()):
            task.cancel()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _once(self, key: Hashable, make: Callable[[], Awaitable[T]]) -> T:
        """One review per key at a time: later callers wait for the first one's answer."""
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(make())
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._settled(key, t))
        # A caller that goes away (client disconnected) must not cancel the others' answer.
        return await asyncio.shield(task)

    def _settled(self, key: Hashable, task: asyncio.Task[Any]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here, so a review nobody waits for any more is not logged as lost

    async def _decide(self, token: bytes, digest: bytes, need: Need) -> Refusal:
        user = self._users.get(digest)
        if user is None:
            user = await self._once(digest, lambda: self._authenticate(token, digest))
        if isinstance(user, Refusal):
            decision = user
        elif await self._authorize(user, need):
            decision = _ALLOWED
        else:
            decision = forbidden(
                f'user "{user.username}" may not {need.verb} {need.resource} {self.name} '
                f"(group {GROUP}) in namespace {self.namespace}"
            )
        self._decisions.put((digest, need), decision, ALLOWED_TTL if decision is _ALLOWED else DENIED_TTL)
        return decision

    async def _authenticate(self, token: bytes, digest: bytes) -> User | Refusal:
        try:
            text = token.decode("ascii")
        except UnicodeDecodeError:
            return unauthenticated("the bearer token is not ASCII")
        body = token_review(text, probe_audience=True)
        found = reviewed_user(await self._create("tokenreviews", body), body["spec"].get("audiences", ()))
        if isinstance(found, str):
            self.on_review("TokenReview", "rejected")
            refused = unauthenticated(f"the Kubernetes API server did not accept the token: {found}")
            self._users.put(digest, refused, DENIED_TTL)
            return refused
        self.on_review("TokenReview", "authenticated")
        self._users.put(digest, found, ALLOWED_TTL)
        return found

    async def _authorize(self, user: User, need: Need) -> bool:
        body = access_review(
            user, self.namespace, need.verb, "piminstances", name=self.name, subresource=need.subresource
        )
        ok = allowed(await self._create("subjectaccessreviews", body))
        self.on_review("SubjectAccessReview", "allowed" if ok else "denied")
        return ok

    async def _create(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        group = "authentication.k8s.io" if plural == "tokenreviews" else "authorization.k8s.io"
        path = f"/apis/{group}/v1/{plural}"
        async with self._limit:
            client = self._http()
            for attempt in range(2):
                token = self._token.get(fresh=attempt > 0)
                try:
                    resp = await client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
                except httpx.HTTPError as err:
                    self.on_review(body["kind"], "error")
                    raise ReviewFailed(f"the Kubernetes API server at {self.api.url} did not answer: {err}") from None
                if resp.status_code != 401:
                    break
                # The kubelet may have rotated the token since it was read: read it again, once.
        if resp.status_code not in (200, 201):
            self.on_review(body["kind"], "error")
            try:
                said = resp.json().get("message") or resp.text
            except ValueError:
                said = resp.text
            said = f"{resp.status_code}: {said[:300]}"
            log.warning("%s refused: %s", body["kind"], said)
            raise ReviewFailed(f"the Kubernetes API server refused the engine's {body['kind']} ({said})")
        return dict(resp.json())

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            verify: ssl.SSLContext | bool = True
            if self.api.ca_file is not None:
                verify = ssl.create_default_context(cafile=str(self.api.ca_file))
            self._client = httpx.AsyncClient(base_url=self.api.url, verify=verify, timeout=REQUEST_TIMEOUT)
        return self._client
