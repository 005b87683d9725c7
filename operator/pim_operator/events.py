"""Kubernetes Events on the operator's objects, emitted on condition transitions only."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from typing import Any

import httpx

from pim_operator.kube.client import ApiError, KubeClient

log = logging.getLogger(__name__)
COMPONENT = "pim-operator"


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_event(involved: Mapping[str, Any], type_: str, reason: str, message: str, *, timestamp: str) -> dict[str, Any]:
    """``involved`` is the ObjectReference of the object the Event is about."""
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{involved['name']}.", "namespace": involved["namespace"]},
        "involvedObject": dict(involved),
        "type": type_,
        "reason": reason,
        "message": message[:1024],
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "firstTimestamp": timestamp,
        "lastTimestamp": timestamp,
        "count": 1,
    }


async def emit(client: KubeClient, involved: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
    """Best effort: a lost Event must never fail a reconcile."""
    try:
        await client.create(make_event(involved, type_, reason, message, timestamp=now()))
    except (ApiError, httpx.HTTPError) as exc:
        log.warning("cannot post event %s: %s", reason, str(exc)[:300], extra={"reason": reason, "error": str(exc)})
