"""Leader election on a ``coordination.k8s.io/v1`` Lease, the way client-go's leaderelection does it.

kopf's peering is not leader election: it pauses kopf's own handlers on the lower-priority peers,
but nothing fences a paused peer's writes, and our queues and loops would keep running there. So
the replicas elect a leader on a Lease, and only the leader works and writes (see ``leading.py``).

The rules are client-go's:

- A candidate reads the Lease every ``retry_period``. It may take a Lease held by another only when
  the record has not changed for the record's ``leaseDurationSeconds`` *as measured by its own clock*
  from when it first saw that version: the ``renewTime`` inside is informational, since two
  machines' clocks need not agree.
- Taking or renewing is a compare-and-swap (a PUT with the ``resourceVersion`` read), so two
  candidates can never both win one version.
- The leader renews every ``retry_period``. When no renewal has succeeded for ``renew_deadline``,
  it stops leading; ``renew_deadline < lease_duration`` means it stops before anyone else may start.
- The fence (``leading``) closes ``renew_deadline`` after the last successful renewal was *sent*,
  whether or not the renew loop has run since (a stalled event loop, a SIGSTOPped process): a replica
  waking up late refuses to write instead of writing after another replica's first write.
- A clean shutdown releases the Lease (empty holder, duration 1 s), so a standby takes over at its
  next read rather than a whole lease duration later.

The holder identity is the pod name plus a per-process suffix (as kube-controller-manager's
``hostname_uuid``): a restarted container is a new candidate, not the holder of its predecessor's
lease. The pure parts (the record, the decision, the Lease body) are functions, unit-tested alone.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from pim_operator import metrics
from pim_operator.kube import kinds
from pim_operator.kube.client import ApiError, KubeClient
from pim_operator.kube.config import CredentialsError

log = logging.getLogger(__name__)
RELEASED_DURATION = 1  # seconds: what a released Lease says, so the next candidate need not wait


@dataclass(frozen=True)
class Timing:
    lease_duration: float = 10.0
    renew_deadline: float = 7.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline > self.retry_period > 0:
            raise ValueError(
                "leader election needs lease duration > renew deadline > retry period > 0, got "
                f"{self.lease_duration:g} s, {self.renew_deadline:g} s, {self.retry_period:g} s"
            )


@dataclass(frozen=True)
class Record:
    """What a Lease says: who holds it, for how long, and how many times it changed hands."""

    holder: str = ""
    lease_duration: float = 0.0
    acquire_time: str | None = None
    renew_time: str | None = None
    transitions: int = 0

    @classmethod
    def of(cls, lease: Mapping[str, Any]) -> Record:
        spec = lease.get("spec") or {}
        return cls(
            holder=spec.get("holderIdentity") or "",
            lease_duration=float(spec.get("leaseDurationSeconds") or 0),
            acquire_time=spec.get("acquireTime"),
            renew_time=spec.get("renewTime"),
            transitions=int(spec.get("leaseTransitions") or 0),
        )


def micro_time(at: datetime.datetime) -> str:
    """A Kubernetes MicroTime: RFC 3339 with microseconds, in UTC."""
    return at.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def may_take(old: Record, observed_at: float, now: float, identity: str) -> bool:
    """Whether ``identity`` may write itself into a Lease whose record is ``old``, first seen at ``observed_at``."""
    if not old.holder or old.holder == identity:
        return True
    return observed_at + old.lease_duration <= now


def next_record(old: Record | None, identity: str, duration: float, now: str) -> Record:
    """The record to write when taking (or renewing) a Lease that said ``old``."""
    if old is not None and old.holder == identity:
        return Record(identity, duration, old.acquire_time or now, now, old.transitions)
    transitions = 0 if old is None else old.transitions + (1 if old.holder else 0)
    return Record(identity, duration, now, now, transitions)


def lease_body(name: str, namespace: str, record: Record) -> dict[str, Any]:
    """A new Lease that says ``record``."""
    meta = {"name": name, "namespace": namespace}
    return {
        "apiVersion": kinds.LEASE.api_version,
        "kind": kinds.LEASE.kind,
        "metadata": meta,
        "spec": lease_spec(record),
    }


def with_record(lease: Mapping[str, Any], record: Record) -> dict[str, Any]:
    """``lease`` as read (its ``resourceVersion`` makes the update a compare-and-swap; its labels and
    annotations, Helm's say, are kept) saying ``record`` instead."""
    return {**lease, "spec": lease_spec(record)}


def lease_spec(record: Record) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "holderIdentity": record.holder,
        "leaseDurationSeconds": max(1, round(record.lease_duration)),
        "leaseTransitions": record.transitions,
    }
    for key, value in (("acquireTime", record.acquire_time), ("renewTime", record.renew_time)):
        if value:
            spec[key] = value
    return spec


Callback = Callable[[], Awaitable[None]]


class LeaderElector:
    def __init__(
        self,
        client: KubeClient,
        *,
        name: str,
        namespace: str,
        identity: str,
        timing: Timing,
        on_started_leading: Callback,
        on_stopped_leading: Callback,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
    ) -> None:
        self.client = client
        self.name, self.namespace, self.identity, self.timing = name, namespace, identity, timing
        self._on_started, self._on_stopped = on_started_leading, on_stopped_leading
        self._clock, self._wall = clock, wall
        self._leading = False
        self._renew_sent = float("-inf")  # when the last successful take or renewal was sent
        self._observed: Record | None = None
        self._observed_version: str | None = None
        self._observed_at = 0.0
        metrics.LEADER.labels(identity=identity).set(0)

    @property
    def leading(self) -> bool:
        """The write fence: this replica holds the lease and renewed it less than a renew deadline ago."""
        return self._leading and self._clock() < self._renew_sent + self.timing.renew_deadline

    @property
    def holder(self) -> str:
        """The holder of the Lease as last read (empty: free, or not read yet)."""
        return self._observed.holder if self._observed else ""

    async def run(self) -> None:
        """Stand by, lead, and stand by again, until cancelled."""
        while True:
            await self._acquire()
            self._leading = True
            self._transition("started", 1)
            log.info("leading", extra={"identity": self.identity, "lease": f"{self.namespace}/{self.name}"})
            try:
                await self._on_started()
                await self._renew_until_lost()
            finally:
                self._leading = False
            self._transition("stopped", 0)
            log.warning("lost the leader lease, standing by", extra={"identity": self.identity, "holder": self.holder})
            await self._on_stopped()

    async def release(self) -> None:
        """Give the lease up on a clean shutdown, once the work has stopped. Best effort: a lease
        not released simply expires."""
        self._leading = False
        if self.holder != self.identity:
            return
        self._transition("released", 0)
        try:
            lease = await self.client.get(kinds.LEASE, self.namespace, self.name)
            if lease is None or Record.of(lease).holder != self.identity:
                return
            now = micro_time(self._wall())
            freed = Record("", RELEASED_DURATION, now, now, Record.of(lease).transitions)
            self._observed = Record.of(await self.client.replace(with_record(lease, freed), fenced=False))
            log.info("released the leader lease", extra={"identity": self.identity})
        except (ApiError, httpx.HTTPError, CredentialsError) as exc:
            log.warning("could not release the leader lease", extra={"error": str(exc)})

    async def _acquire(self) -> None:
        while not await self._try():
            await asyncio.sleep(self.timing.retry_period * (1 + 0.1 * random.random()))  # noqa: S311

    async def _renew_until_lost(self) -> None:
        while True:
            await asyncio.sleep(self.timing.retry_period)
            while not await self._try_before_deadline():
                if not self.leading or (self._observed and self._observed.holder != self.identity):
                    return
                await asyncio.sleep(self.timing.retry_period)

    async def _try_before_deadline(self) -> bool:
        remaining = self._renew_sent + self.timing.renew_deadline - self._clock()
        if remaining <= 0:
            return False
        try:
            return await asyncio.wait_for(self._try(), timeout=remaining)
        except TimeoutError:
            return False

    async def _try(self) -> bool:
        """client-go's tryAcquireOrRenew: one read, and one compare-and-swap write when allowed."""
        sent = self._clock()
        try:
            lease = await self.client.get(kinds.LEASE, self.namespace, self.name)
        except (ApiError, httpx.HTTPError) as exc:
            log.debug("cannot read the leader lease", extra={"error": str(exc)})
            return False
        except CredentialsError as exc:  # credentials that cannot be loaded now (a failing exec plugin)
            log.warning("cannot read the leader lease", extra={"error": str(exc)})
            return False
        now = micro_time(self._wall())
        old: Record | None = None
        version: str | None = None
        if lease is not None:
            old, version = Record.of(lease), lease["metadata"].get("resourceVersion")
            if version != self._observed_version:
                self._observed, self._observed_version, self._observed_at = old, version, self._clock()
            if not may_take(old, self._observed_at, self._clock(), self.identity):
                return False
        record = next_record(old, self.identity, self.timing.lease_duration, now)
        try:
            if lease is None:
                written = await self.client.create(lease_body(self.name, self.namespace, record), fenced=False)
            else:
                written = await self.client.replace(with_record(lease, record), fenced=False)
        except (ApiError, httpx.HTTPError, CredentialsError) as exc:
            log.debug("cannot write the leader lease", extra={"error": str(exc)})
            return False
        self._observed = Record.of(written)
        self._observed_version, self._observed_at = written["metadata"].get("resourceVersion"), self._clock()
        self._renew_sent = sent
        return True

    def _transition(self, what: str, value: int) -> None:
        metrics.LEADER.labels(identity=self.identity).set(value)
        metrics.LEADER_TRANSITIONS.labels(transition=what).inc()
        if value:
            metrics.LEADER_SINCE.set(time.time())
