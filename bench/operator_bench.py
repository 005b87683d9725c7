"""Benchmark the operator at scale against applying the same children by hand (issue 4, section 8).

Not a test. One run starts its own local cluster (``hack/cluster/up.sh`` in a temporary directory,
through the harness's ``tests.support.cluster``;
etcd, kube-apiserver, controller-manager, scheduler, kwok fake nodes, all on loopback), so every
figure is a same-session ratio, and tears it down at the end, also on failure. For each N:

1. **Baseline**: the operator's own pure builders render the ConfigMap, Deployment and Service of N
   instances (no ownerReferences: there is no owner) into multi-document files, applied with
   ``kubectl apply --server-side --field-manager=bench``; timed from the apply's start until every
   Deployment reports ``readyReplicas == 1``.
2. **Operator**: a fresh operator process (no probing: kwok pod IPs must never be contacted) gets one
   PimModel and N PimInstances, applied the same way; timed until every instance is ``Ready=True``
   (its children are counted afterwards). Its RSS (peak VmRSS and VmHWM), CPU seconds and API
   requests per instance (from its /metrics) cover the same window.
3. **No-op resync**: once settled, at least two resync periods pass and full resyncs of every
   instance complete; the write requests (POST/PUT/PATCH/DELETE) in that window should be zero.

Each phase works in its own namespace and waits until the namespace is gone before the next starts.
Progress goes to stderr; the result is printed as JSON and a Markdown table, and the table is
written between markers in the "Operator" section of BENCHMARKS.md (``--no-write`` skips that).

    .venv/bin/python -m bench.operator_bench --n 100 --n 1000
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.kube_api import CountTracker, KubeApi
from bench.operator_proc import Metrics, OperatorProcess, delta
from bench.report import BENCHMARKS, update_block
from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.reconciler.piminstance.resources.configmap import config_digest, make_configmap
from pim_operator.reconciler.piminstance.resources.deployment import make_deployment
from pim_operator.reconciler.piminstance.resources.service import make_service
from pim_operator.reconciler.pimmodel.load import load
from pim_operator.settings import DEFAULT_ENGINE_IMAGE
from tests.support.cluster import Cluster, local_cluster
from tests.support.kubectl import KUBECTL
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent
CRDS = ROOT / "deploy" / "crds"
MODEL = ROOT / "bench" / "item.yaml"
MODEL_NAME = "items"
FAKE_TOLERATION = {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}
PODS_PER_NODE = 250


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- the objects (pure) ----


def instance(ns: str, i: int) -> dict[str, Any]:
    return {
        "apiVersion": "pim.dev/v1alpha1",
        "kind": "PimInstance",
        "metadata": {"name": f"inst-{i:04d}", "namespace": ns},
        "spec": {
            "modelRef": {"name": MODEL_NAME},
            "nodeSelector": {"type": "kwok"},
            "tolerations": [FAKE_TOLERATION],
        },
    }


def model(ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "pim.dev/v1alpha1",
        "kind": "PimModel",
        "metadata": {"name": MODEL_NAME, "namespace": ns},
        "spec": {"format": "yaml", "source": MODEL.read_text()},
    }


def children(ns: str, i: int) -> list[dict[str, Any]]:
    """What the operator would apply for instance ``i``, rendered by its own builders, minus the
    ownerReferences (there is no owner here, and the garbage collector would delete orphans)."""
    body = instance(ns, i)
    body["metadata"]["uid"] = f"00000000-0000-0000-0000-{i:012d}"
    inst = PimInstance.from_body(body)
    loaded = load(MODEL.read_text(), "yaml", f"pimmodel/{ns}/{MODEL_NAME}")
    assert loaded.model is not None, loaded.error
    cm = make_configmap(inst, loaded.snapshot)
    objs = [
        cm,
        make_deployment(
            inst,
            image=DEFAULT_ENGINE_IMAGE,
            model_digest=loaded.model.digest,
            config_digest=config_digest(cm),
        ),
        make_service(inst),
    ]
    for obj in objs:
        obj["metadata"].pop("ownerReferences", None)
    return objs


def chunks(objs: list[dict[str, Any]], parts: int) -> list[list[dict[str, Any]]]:
    size = math.ceil(len(objs) / parts)
    return [objs[k : k + size] for k in range(0, len(objs), size)]


def deployment_ready(obj: Mapping[str, Any]) -> bool:
    return int((obj.get("status") or {}).get("readyReplicas") or 0) == 1


def instance_ready(obj: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (obj.get("status") or {}).get("conditions") or ()
    )


# ---- the cluster (imperative shell) ----


@dataclass
class Bench:
    api: KubeApi
    cluster: Cluster
    work: Path
    parallel: int
    resync: float
    workers: int

    def apply_parallel(self, objs: list[dict[str, Any]], tag: str, extra: list[str], timeout: float) -> float:
        """Apply ``objs`` as ``parallel`` multi-document files, one kubectl each, all at once.

        Returns the wall time of the slowest kubectl."""
        files = []
        for k, part in enumerate(chunks(objs, self.parallel)):
            path = self.work / f"{tag}-{k}.json"
            # A stream of JSON objects: kubectl reads it as multi-document input.
            path.write_text("".join(json.dumps(o) + "\n" for o in part))
            files.append(path)
        t0 = time.monotonic()
        procs = [
            subprocess.Popen(
                self.cluster.argv("apply", "--server-side", *extra, "-f", str(f)),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for f in files
        ]
        try:
            for p in procs:
                _, err = p.communicate(timeout=max(1.0, t0 + timeout - time.monotonic()))
                if p.returncode != 0:
                    raise RuntimeError(f"kubectl apply exited {p.returncode}: {err.strip()[-800:]}")
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        return time.monotonic() - t0

    def namespace(self, name: str) -> None:
        self.api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        # Pods are rejected until the namespace's default ServiceAccount exists.
        wait_for(
            lambda: self.api.exists(f"/api/v1/namespaces/{name}/serviceaccounts/default"),
            60,
            f"the default ServiceAccount in {name}",
        )

    def delete_namespace(self, name: str, timeout: float) -> float:
        t0 = time.monotonic()
        self.api.delete(f"/api/v1/namespaces/{name}")
        wait_for(
            lambda: not self.api.exists(f"/api/v1/namespaces/{name}"),
            timeout,
            f"namespace {name} to be deleted",
            interval=1.0,
        )
        return time.monotonic() - t0

    def counts(self, ns: str) -> dict[str, int]:
        return {
            "configmaps": self.api.count(f"/api/v1/namespaces/{ns}/configmaps") - 1,  # kube-root-ca.crt
            "deployments": self.api.count(f"/apis/apps/v1/namespaces/{ns}/deployments"),
            "services": self.api.count(f"/api/v1/namespaces/{ns}/services"),
        }

    def create_nodes(self, count: int) -> None:
        capacity = {"cpu": "256", "memory": "1Ti", "pods": str(PODS_PER_NODE)}
        self.cluster.create_fake_nodes(count, prefix="bench-kwok", capacity=capacity)


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


# ---- reporting ----


def versions(api: KubeApi) -> dict[str, str]:
    server = api.get("/version")
    client = json.loads(
        subprocess.run(
            [KUBECTL, "version", "--client", "-o", "json"], capture_output=True, text=True, check=False
        ).stdout
        or "{}"
    )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "kubernetes": server.get("gitVersion", "?"),
        "kwok": os.environ.get("KWOK_VERSION", "?"),
        "etcd": os.environ.get("ETCD_VERSION", "?"),
        "kubectl": (client.get("clientVersion") or {}).get("gitVersion", "?"),
        "python": platform.python_version(),
        "kopf": importlib.metadata.version("kopf"),
        "httpx": importlib.metadata.version("httpx"),
        "cpu": f"{cpu}, {os.cpu_count()} cores",
    }


def table(results: list[Result]) -> str:
    rows = [
        "| N | baseline s | operator s | ratio (target ≤ 1.5×) | peak RSS MB (target ≤ 150 @1000) "
        "| CPU s | requests / instance | writes / instance | resync writes (target 0) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        rows.append(
            f"| {r.n} | {r.baseline_s:.1f} | {r.operator_s:.1f} | {r.ratio:.2f}× "
            f"| {max(r.peak_rss_mb, r.peak_hwm_mb):.0f} | {r.cpu_s:.1f} | {r.requests / r.n:.2f} "
            f"| {r.writes / r.n:.2f} | {r.resync_writes:g} |"
        )
    return "\n".join(rows)


def section(results: list[Result], info: dict[str, Any]) -> str:
    v = info["versions"]
    lines = [
        f"Run {info['date']} (`{info['command']}`; load average {info['load_before']} before, "
        f"{info['load_after']} after; {info['nodes']} kwok nodes; {info['parallel']} parallel kubectl "
        f"applies; operator `--workers {info['workers']} --resync-interval {info['resync']:g} "
        "--probe-interval 0`).",
        "",
        table(results),
        "",
        "| N | kubectl apply s (baseline / operator) | instance reconciles | settle s after Ready "
        "| resync window s | resync reconciles | resync requests | resync CPU s | idle RSS MB |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.n} | {r.baseline_apply_s:.1f} / {r.operator_apply_s:.1f} | {r.reconciles:g} "
            f"| {r.settle_s:.1f} | {r.resync_window_s:.1f} | {r.resync_reconciles:g} "
            f"| {r.resync_requests:g} | {r.resync_cpu_s:.1f} | {r.idle_rss_mb:.0f} |"
        )
    lines += [
        "",
        f"Machine: {v['cpu']}. Versions: Kubernetes {v['kubernetes']}, etcd {v['etcd']}, kwok {v['kwok']}, "
        f"kubectl {v['kubectl']}, Python {v['python']}, kopf {v['kopf']}, httpx {v['httpx']}.",
    ]
    return "\n".join(lines)


# ---- the run ----


def load_cluster_env(env: Mapping[str, str]) -> None:
    """Component versions from cluster.env: K8S_VERSION, and the others from their binary caches
    (``.../etcd-v3.5.35``)."""
    for name, value in env.items():
        if name.endswith("_VERSION"):
            os.environ[name] = value
        elif name in ("ETCD_BIN", "KWOK_BIN"):
            os.environ[name.replace("_BIN", "_VERSION")] = Path(value).name.rpartition("-v")[2]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, action="append", help="instances (repeatable; default 100 and 1000)")
    p.add_argument("--parallel", type=int, default=4, help="kubectl applies run side by side (both phases)")
    p.add_argument("--resync-interval", type=float, default=10.0)
    p.add_argument("--workers", type=int, default=8, help="the operator's --workers")
    p.add_argument("--no-write", action="store_true", help=f"do not update {BENCHMARKS.name}")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, manifests)")
    a = p.parse_args(argv)
    ns_list = a.n or [100, 1000]

    # SIGTERM/SIGHUP unwind through the finally blocks, so the cluster is always torn down.
    def interrupted(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)

    work = Path(tempfile.mkdtemp(prefix="pim-operator-bench-"))
    say(f"work directory {work}")
    info: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "command": "python -m bench.operator_bench " + " ".join(f"--n {n}" for n in ns_list),
        "load_before": "{:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg()),
        "parallel": a.parallel,
        "workers": a.workers,
        "resync": a.resync_interval,
        "nodes": max(2, math.ceil(max(ns_list) / 100)),
    }
    results: list[Result] = []
    ok = False
    try:
        say("starting the cluster")
        with local_cluster(work / "cluster", work / "kubectl-cache", node=False, timeout=300, echo=True) as cluster:
            load_cluster_env(cluster.env)
            api = KubeApi(cluster.kubeconfig)
            b = Bench(api, cluster, work, a.parallel, a.resync_interval, a.workers)
            info["versions"] = versions(api)
            cluster.kubectl("apply", "--server-side", "-f", str(CRDS), timeout=120)
            cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(CRDS), timeout=120)
            b.create_nodes(info["nodes"])
            say(f"{info['nodes']} kwok nodes ready")
            for n in ns_list:
                r = Result(n)
                run_baseline(b, n, r)
                run_operator(b, n, r)
                results.append(r)
            api.close()
        ok = True
    finally:
        if ok and not a.keep:
            subprocess.run(["rm", "-rf", str(work)], check=False)
        else:
            say(f"logs and manifests kept in {work}")
        if not ok and results:
            print(table(results))
    info["load_after"] = "{:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg())
    print(json.dumps({"info": info, "results": [asdict(r) | {"ratio": r.ratio} for r in results]}, indent=2))
    print()
    print(table(results))
    if not a.no_write:
        update_block(BENCHMARKS, "Operator", "operator-bench", section(results, info))
        say(f"wrote the Operator section of {BENCHMARKS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
