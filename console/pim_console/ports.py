"""The v2 port plan: every instance has its own port, free ones come from 8001-8999.

A port belongs to the instance that claimed it first (creation time, then name), the rule the
operator uses for nodePorts; so two writers racing for one port agree on the winner without
talking to each other, and the console refuses the loser with 409 naming the holder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pim_console import names

FIRST, LAST = 8001, 8999
DEFAULT_PORT = 8000  # the CRD's default spec.port


@dataclass(frozen=True, order=True)
class Claim:
    """An instance's hold on a port; ordering puts the earliest claim first."""

    created: str
    name: str
    port: int
    instance_id: str

    @classmethod
    def of(cls, instance: Mapping[str, Any]) -> Claim:
        meta = instance.get("metadata") or {}
        spec = instance.get("spec") or {}
        return cls(
            created=str(meta.get("creationTimestamp") or ""),
            name=str(meta.get("name") or ""),
            port=int(spec.get("port") or DEFAULT_PORT),
            instance_id=names.original(instance, names.INSTANCE_ID),
        )


def claims(instances: Iterable[Mapping[str, Any]]) -> list[Claim]:
    """Claims of the live instances (one being deleted is letting go of its port)."""
    return sorted(Claim.of(i) for i in instances if not (i.get("metadata") or {}).get("deletionTimestamp"))


def holders(instances: Iterable[Mapping[str, Any]]) -> dict[int, Claim]:
    """Each claimed port and the instance that holds it."""
    out: dict[int, Claim] = {}
    for claim in claims(instances):
        out.setdefault(claim.port, claim)
    return out


class PortUnavailable(ValueError):
    """The port cannot be had; the message names who holds it or why."""


def choose(
    wanted: int | None,
    instances: Iterable[Mapping[str, Any]],
    reserved: Mapping[int, str],
    first: int = FIRST,
    last: int = LAST,
) -> int:
    """``wanted`` if it is free, else the lowest free port in [first, last] when none was asked for.

    ``reserved`` holds ports that are not instances' to take (the console's own), with who holds them.
    """
    taken = holders(instances)
    if wanted is not None:
        if wanted in reserved:
            raise PortUnavailable(f"port {wanted} is reserved for {reserved[wanted]}")
        if wanted in taken:
            raise PortUnavailable(f"port {wanted} is already used by instance '{taken[wanted].instance_id}'")
        return wanted
    for port in range(first, last + 1):
        if port not in taken and port not in reserved:
            return port
    raise PortUnavailable(f"no free port left in {first}-{last}")


def lost_race(mine: Mapping[str, Any], instances: Iterable[Mapping[str, Any]]) -> Claim | None:
    """The earlier claim on ``mine``'s port if there is one: then ``mine`` must give way."""
    me = Claim.of(mine)
    uid = (mine.get("metadata") or {}).get("uid")
    others = [(Claim.of(i), i) for i in instances if (i.get("metadata") or {}).get("uid") != uid]
    for claim, obj in sorted(others, key=lambda pair: pair[0]):
        if claim.port == me.port and claim < me and not (obj.get("metadata") or {}).get("deletionTimestamp"):
            return claim
    return None
