"""The operator benchmark's two timed runs for one N: the baseline (the children applied by hand)
and the operator (the custom resources applied, then a watched no-op resync), and their figures."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from bench.kube_api import CountTracker
from bench.operator_cluster import Bench
from bench.operator_objects import children, deployment_ready, instance, instance_ready, model
from bench.operator_proc import Metrics, OperatorProcess, delta
from bench.report import say
from tests.support.waiting import wait_for


@dataclass
class Result:
    n: int
    baseline_s: float = 0.0
    baseline_apply_s: float = 0.0
    operator_s: float = 0.0
    operator_apply_s: float = 0.0
    peak_rss_mb: float = 0.0
    peak_hwm_mb: float = 0.0
    idle_rss_mb: float = 0.0
    cpu_s: float = 0.0
    requests: float = 0.0
    writes: float = 0.0
    reconciles: float = 0.0
    requests_by: dict[str, float] = field(default_factory=dict)
    children: dict[str, int] = field(default_factory=dict)
    settle_s: float = 0.0
    resync_window_s: float = 0.0
    resync_reconciles: float = 0.0
    resync_requests: float = 0.0
    resync_writes: float = 0.0
    resync_requests_by: dict[str, float] = field(default_factory=dict)
    resync_cpu_s: float = 0.0

    @property
    def ratio(self) -> float:
        return self.operator_s / self.baseline_s if self.baseline_s else math.inf


def run_baseline(b: Bench, n: int, result: Result) -> None:
    ns = f"bench-base-{n}"
    b.namespace(ns)
    objs = [o for i in range(n) for o in children(ns, i)]
    tracker = CountTracker(b.api, f"/apis/apps/v1/namespaces/{ns}/deployments", deployment_ready, n)
    tracker.start()
    deadline = time.monotonic() + 120 + 0.6 * n
    t0 = time.monotonic()
    result.baseline_apply_s = b.apply_parallel(objs, f"base-{n}", ["--field-manager=bench"], timeout=deadline - t0)
    result.baseline_s = tracker.wait(deadline) - t0
    say(f"baseline N={n}: applied in {result.baseline_apply_s:.1f}s, all ready after {result.baseline_s:.1f}s")
    got = b.counts(ns)
    if got != {"configmaps": n, "deployments": n, "services": n}:
        raise RuntimeError(f"baseline N={n}: children counted {got}")
    say(f"baseline N={n}: namespace deleted in {b.delete_namespace(ns, 180 + 0.6 * n):.1f}s")


def settled(op: OperatorProcess, quiet: float, timeout: float) -> Metrics:
    """Wait until the queues are empty and no write has been sent for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    last = op.metrics()
    since = time.monotonic()
    while True:
        time.sleep(1.0)
        now = op.metrics()
        if now.writes() != last.writes() or now.total("pim_operator_queue_depth") > 0:
            since = time.monotonic()
        last = now
        if time.monotonic() - since >= quiet:
            return now
        if time.monotonic() >= deadline:
            raise TimeoutError(f"the operator did not settle in {timeout:g}s")


def run_operator(b: Bench, n: int, result: Result) -> None:
    ns = f"bench-op-{n}"
    b.namespace(ns)
    logs = b.work / f"operator-{n}"
    logs.mkdir(exist_ok=True)
    op = OperatorProcess(
        b.cluster.kubeconfig,
        logs,
        "--probe-interval",
        "0",  # kwok pod IPs are fake: never contact them
        "--resync-interval",
        f"{b.resync:g}",
        "--workers",
        str(b.workers),
    )
    try:
        op.start()
        op.start_sampling()
        time.sleep(2.0)  # let kopf's initial lists of every watched kind arrive
        result.idle_rss_mb = op.memory()[0] / 1e6
        m0, cpu0 = op.metrics(), op.cpu_seconds()
        objs = [model(ns), *(instance(ns, i) for i in range(n))]
        tracker = CountTracker(b.api, f"/apis/pim.dev/v1alpha1/namespaces/{ns}/piminstances", instance_ready, n)
        tracker.start()
        deadline = time.monotonic() + 180 + 0.9 * n
        t0 = time.monotonic()
        result.operator_apply_s = b.apply_parallel(objs, f"op-{n}", [], timeout=deadline - t0)
        result.operator_s = tracker.wait(deadline) - t0
        m1, cpu1 = op.metrics(), op.cpu_seconds()
        result.cpu_s = cpu1 - cpu0
        result.requests = m1.requests() - m0.requests()
        result.writes = m1.writes() - m0.writes()
        result.reconciles = m1.total("pim_operator_reconcile_total", kind="PimInstance") - m0.total(
            "pim_operator_reconcile_total", kind="PimInstance"
        )
        result.requests_by = delta(m1.requests_by(), m0.requests_by())
        result.children = b.counts(ns)
        say(
            f"operator N={n}: applied in {result.operator_apply_s:.1f}s, "
            f"all Ready after {result.operator_s:.1f}s; children {result.children}"
        )
        if result.children != {"configmaps": n, "deployments": n, "services": n}:
            raise RuntimeError(f"operator N={n}: children counted {result.children}")

        t_settle = time.monotonic()
        m2 = settled(op, quiet=5.0, timeout=120 + 0.3 * n)
        result.settle_s = time.monotonic() - t_settle
        result.peak_rss_mb, result.peak_hwm_mb = op.peak_rss / 1e6, op.peak_hwm / 1e6
        cpu2 = op.cpu_seconds()
        say(f"operator N={n}: settled {result.settle_s:.1f}s after Ready; watching {2} resyncs")
        r2 = m2.total("pim_operator_reconcile_total", kind="PimInstance")
        t2 = time.monotonic()
        window = 2 * b.resync + 120 + 0.3 * n
        wait_for(
            lambda: (
                time.monotonic() - t2 >= 2 * b.resync + 1
                and op.metrics().total("pim_operator_reconcile_total", kind="PimInstance") - r2 >= 2 * n
            ),
            window,
            "two full resyncs",
            interval=0.5,
        )
        wait_for(
            lambda: op.metrics().total("pim_operator_queue_depth") == 0,
            t2 + window - time.monotonic(),
            "the queue to drain",
            interval=0.5,
        )
        m3 = op.metrics()
        result.resync_window_s = time.monotonic() - t2
        result.resync_cpu_s = op.cpu_seconds() - cpu2
        result.resync_reconciles = m3.total("pim_operator_reconcile_total", kind="PimInstance") - r2
        result.resync_requests = m3.requests() - m2.requests()
        result.resync_writes = m3.writes() - m2.writes()
        result.resync_requests_by = delta(m3.requests_by(), m2.requests_by())
        result.peak_rss_mb, result.peak_hwm_mb = op.peak_rss / 1e6, op.peak_hwm / 1e6
        say(
            f"operator N={n}: {result.resync_reconciles:g} reconciles in a {result.resync_window_s:.1f}s "
            f"resync window, {result.resync_writes:g} writes; peak RSS {result.peak_rss_mb:.1f} MB"
        )
    finally:
        op.stop()
    say(f"operator N={n}: namespace deleted in {b.delete_namespace(ns, 180 + 0.6 * n):.1f}s")
