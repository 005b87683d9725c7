"""What a request needs, from its method and path alone: the table the README documents.

=====================================  =================================================
request                                needs
=====================================  =================================================
``/health``, ``/ready`` (any method)   nothing: the kubelet probes them without a token
``GET``/``HEAD`` ``/metrics``          ``get`` on ``piminstances/metrics`` (or an API key)
``GET``, ``HEAD``, ``OPTIONS``         ``get`` on ``piminstances`` ``<name>``
``POST``, ``PUT``, ``PATCH``, ...      ``update`` on ``piminstances`` ``<name>``
=====================================  =================================================

``piminstances/metrics`` is a subresource that exists for authorization only, as the kubelet's
``nodes/metrics`` does: Prometheus gets the metrics of every instance it is granted without being
able to read a single row, which ``get`` on ``piminstances`` would allow.
"""

from __future__ import annotations

from dataclasses import dataclass

OPEN_PATHS = frozenset({"/health", "/ready"})
METRICS_PATH = "/metrics"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Need:
    """A permission on the instance's PimInstance: ``verb`` on ``piminstances[/subresource]``."""

    verb: str
    subresource: str = ""

    @property
    def resource(self) -> str:
        return f"piminstances/{self.subresource}" if self.subresource else "piminstances"


READ = Need("get")
WRITE = Need("update")
METRICS = Need("get", "metrics")


def need(method: str, path: str) -> Need | None:
    """The permission a request needs; None for the probes, which stay open."""
    if path in OPEN_PATHS:
        return None
    if method in SAFE_METHODS:
        return METRICS if path == METRICS_PATH else READ
    return WRITE


@dataclass(frozen=True)
class Refusal:
    """Why a request is turned away: 401 (no or bad credential), 403 (not allowed), 503 (cannot check)."""

    status: int
    message: str
    kind: str


UNAUTHENTICATED, FORBIDDEN, UNAVAILABLE = "unauthenticated", "forbidden", "auth_unavailable"


def unauthenticated(message: str) -> Refusal:
    return Refusal(401, message, UNAUTHENTICATED)


def forbidden(message: str) -> Refusal:
    return Refusal(403, message, FORBIDDEN)


def unavailable(message: str) -> Refusal:
    return Refusal(503, message, UNAVAILABLE)
