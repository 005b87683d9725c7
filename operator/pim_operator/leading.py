"""The work only the leader does: the queues' workers, the resync timer and the probe loop.

A standby keeps its watch caches warm (the kopf handlers fill them and queue keys either way) but
runs none of this. On taking the lease the leader starts it all and queues every object it knows,
since the previous leader may have stopped half-way. On losing the lease it cancels its reconciles
in flight at once rather than letting them finish: they are idempotent, the next leader starts each
from the current state, and the client's fence refuses their writes from that moment anyway.
"""

from __future__ import annotations

import asyncio
import logging
import time

from pim_operator.probe import loop as probe_loop
from pim_operator.reconciler.piminstance import reconcile as instance_reconciler
from pim_operator.state import Operator

log = logging.getLogger(__name__)


class LeaderWork:
    def __init__(self, op: Operator) -> None:
        self.op = op
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    async def start(self) -> None:
        op = self.op
        for queue in (op.model_queue, op.instance_queue):
            if queue is not None:
                queue.start()
        for key in op.models.keys():
            op.enqueue_model(key)
        for key in op.instances.keys():
            op.enqueue_instance(key)
        self._tasks = [asyncio.create_task(resync(op), name="resync")]
        if op.settings.probe_interval > 0:
            self._tasks.append(asyncio.create_task(probe_loop.run(op), name="probe"))
        log.info("started the work", extra={"models": len(op.models), "instances": len(op.instances)})

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for queue in (self.op.model_queue, self.op.instance_queue):
            if queue is not None:
                await queue.stop()

    def dead(self) -> list[str]:
        """Loops that stopped on their own (a bug): the liveness probe fails on them."""
        return [t.get_name() for t in self._tasks if t.done()]


async def resync(op: Operator) -> None:
    """Re-run every reconcile now and then: drift the watches missed, ConfigMap-sourced models."""
    while True:
        await asyncio.sleep(op.settings.resync_interval)
        for key in op.models.keys():
            op.enqueue_model(key)
        for key in op.instances.keys():
            op.enqueue_instance(key)
        try:
            await instance_reconciler.sweep_cluster_children(op)
        except Exception:  # a failed sweep is retried at the next resync; the loop must go on
            log.exception("sweeping ClusterRoleBindings failed")
        op.last_resync = time.monotonic()
