"""The bodies of TokenReviews and SubjectAccessReviews and what their answers say, free of I/O.

The engine (``--auth kubernetes``) and the console (``auth: kubernetes``) both delegate to the API
server this way; they share this module so that both ask the same questions the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

GROUP = "pim.dev"


@dataclass(frozen=True)
class User:
    """Who a TokenReview says the token belongs to: what a SubjectAccessReview asks about.
    Hashable (``extra`` as sorted tuples), so that it can key a cache."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


def token_review(token: str) -> dict[str, Any]:
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}


def reviewed_user(review: Mapping[str, Any]) -> User | str:
    """The user a TokenReview answer names, or why the token was not accepted."""
    status = review.get("status") or {}
    if not status.get("authenticated"):
        return str(status.get("error") or "not authenticated")
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
