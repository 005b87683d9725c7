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

This module is the run (arguments, the cluster's life, the output); the objects applied are built in
``operator_objects``, applied and counted by ``operator_cluster``, timed in ``operator_scenarios``
and written up by ``operator_report``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.kube_api import KubeApi
from bench.operator_cluster import Bench
from bench.operator_report import section, table, versions
from bench.operator_scenarios import Result, run_baseline, run_operator
from bench.report import BENCHMARKS, say, update_block
from tests.support.cluster import local_cluster

CRDS = Path(__file__).resolve().parent.parent / "deploy" / "crds"


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
