"""The bodies of TokenReviews and SubjectAccessReviews and what their answers say, free of I/O.

The engine (``--auth kubernetes``) and the console (``auth: kubernetes``) both delegate to the API
server this way; they share this module so that both ask the same questions the same way.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

GROUP = "pim.dev"
#: The audience of the token the operator's probes show instances (a projected ServiceAccount token
#: the chart mounts): one the API server itself refuses, so a pod that receives it cannot use it as
#: the operator. A review of such a token asks for this audience; any other token, for the API
#: server's own.
PROBE_AUDIENCE = "pim.dev"


@dataclass(frozen=True)
class User:
    """Who a TokenReview says the token belongs to: what a SubjectAccessReview asks about.
    Hashable (``extra`` as sorted tuples), so that it can key a cache."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


def claimed_audiences(token: str) -> tuple[str, ...]:
    """The ``aud`` claim of a JWT, unverified: it only chooses the audience a review asks for (the
    API server verifies the token for that audience). Empty for anything that is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return ()
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return ()
    aud = claims.get("aud") if isinstance(claims, dict) else None
    if isinstance(aud, str):
        return (aud,)
    return tuple(a for a in aud if isinstance(a, str)) if isinstance(aud, list) else ()


def token_review(token: str, *, probe_audience: bool = False) -> dict[str, Any]:
    """A TokenReview of ``token`` for the API server's own audience (no ``audiences``); with
    ``probe_audience`` (the engine), for the probe audience instead if the token claims it."""
    spec: dict[str, Any] = {"token": token}
    if probe_audience and PROBE_AUDIENCE in claimed_audiences(token):
        spec["audiences"] = [PROBE_AUDIENCE]
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}


def reviewed_user(review: Mapping[str, Any], audiences: Sequence[str] = ()) -> User | str:
    """The user a TokenReview answer names, or why the token was not accepted. ``audiences``: those
    the review asked for; the answer must name one of them (an authenticator that ignores
    audiences answers without them, and its yes is not one for the audience asked)."""
    status = review.get("status") or {}
    if not status.get("authenticated"):
        return str(status.get("error") or "not authenticated")
    if audiences and not set(audiences) & set(status.get("audiences") or ()):
        return f"the token is not valid for audience {', '.join(audiences)}"
    info = status.get("user") or {}
    return User(
        str(info.get("username", "")),
        str(info.get("uid", "")),
        tuple(str(g) for g in info.get("groups") or ()),
        tuple(sorted((str(k), tuple(str(x) for x in v)) for k, v in (info.get("extra") or {}).items())),
    )


def access_review(
    user: User, namespace: str, verb: str, resource: str, *, name: str | None = None, subresource: str = ""
) -> dict[str, Any]:
    """A SubjectAccessReview: may ``user`` do ``verb`` on ``resource`` (group pim.dev) in ``namespace``?"""
    attributes: dict[str, Any] = {"namespace": namespace, "verb": verb, "group": GROUP, "resource": resource}
    if subresource:
        attributes["subresource"] = subresource
    if name:
        attributes["name"] = name
    spec: dict[str, Any] = {"user": user.username, "groups": list(user.groups), "resourceAttributes": attributes}
    if user.uid:
        spec["uid"] = user.uid
    if user.extra:
        spec["extra"] = {k: list(v) for k, v in user.extra}
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


def allowed(review: Mapping[str, Any]) -> bool:
    return bool((review.get("status") or {}).get("allowed"))
