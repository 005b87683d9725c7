"""Throughput through an instance's Service on a managed PostgreSQL: 1 replica against 3.

The same instance, the same CloudNativePG database and the same load (``--clients`` keep-alive
clients on this host, a mix of 20 % creates, 40 % list pages and 40 % reads by id, for
``--seconds``), alternating 1 and 3 replicas over ``--rounds`` so that drift in the machine hits
both; the 1-replica run is the baseline of the ratio. On a 2-core machine the load generator, the
engines, PostgreSQL and the control plane share the same two cores: the ratio says how much of
the work the replicas can take, not what a real cluster would do.

    .venv/bin/python -m bench.pg_service_bench [--rounds 3] [--seconds 20] [--clients 16] [--write BENCHMARKS.md]

Starts its own local cluster with a real node and the add-ons through the harness
(``tests.support.cluster``, ``tests.support.addons``; root, images cached), and stops it. Hold
``/tmp/pim-node.lock`` around it where several people share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.e2e_bench import MODEL  # the same Item
from tests.support.addons import install_addons
from tests.support.cluster import Cluster, local_cluster
from tests.support.operator_proc import OperatorProcess
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[1]
RESOURCES = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}


def serving(cluster: Cluster, ns: str, replicas: int) -> bool:
    """The Deployment has exactly ``replicas`` available pods, all current, and the Service
    lists exactly those as ready endpoints (so kube-proxy spreads the load over all of them)."""
    d = cluster.get("deployment", "b", "-n", ns)["status"]
    if not (d.get("availableReplicas") == d.get("replicas") == d.get("updatedReplicas") == replicas):
        return False
    slices = cluster.get("endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=b")["items"]
    ready = [e for sl in slices for e in sl.get("endpoints") or () if (e.get("conditions") or {}).get("ready")]
    return len(ready) == replicas


async def load(url: str, *, clients: int, seconds: float, seed: int) -> dict[str, float]:
    """Requests completed per second (2xx), and the errors, over ``seconds``."""
    rng = random.Random(seed)
    done = errors = 0
    ids: list[int] = []
    stop = time.monotonic() + seconds

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal done, errors
        while time.monotonic() < stop:
            roll = rng.random()
            try:
                if roll < 0.2 or not ids:
                    resp = await http.post("/api/v1/items", json={"name": f"i{rng.random()}", "qty": 1})
                    if resp.status_code == 201:
                        ids.append(resp.json()["id"])
                elif roll < 0.6:
                    resp = await http.get("/api/v1/items", params={"limit": 20, "skip": rng.randrange(0, 200)})
                else:
                    resp = await http.get(f"/api/v1/items/{rng.choice(ids)}")
            except httpx.HTTPError:
                errors += 1
                continue
            if resp.is_success:
                done += 1
            else:
                errors += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=limits) as http:
        t0 = time.monotonic()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.monotonic() - t0
    return {"rps": done / elapsed, "errors": errors}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--write", type=Path, default=None, help="append the results to this Markdown file")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pim-pg-bench-"))
    results: dict[int, list[dict[str, float]]] = {1: [], 3: []}
    with local_cluster(work / "cluster", work / "kube-cache", node=True, echo=True) as cluster:
        install_addons(cluster)
        cluster.kubectl("apply", "--server-side", "-f", str(REPO / "deploy/crds"))
        cluster.kubectl("wait", "--for=condition=Established", "crd/piminstances.pim.dev", "crd/pimmodels.pim.dev")
        op = OperatorProcess(cluster.kubeconfig, work, "--probe-interval", "10", "--probe-networks", "10.244.0.0/16")
        op.start()
        try:
            ns = cluster.namespace("bench")
            model = {
                "apiVersion": "pim.dev/v1alpha1",
                "kind": "PimModel",
                "metadata": {"name": "bench", "namespace": ns},
            }
            model["spec"] = {"format": "yaml", "source": MODEL}
            inst = {"apiVersion": "pim.dev/v1alpha1", "kind": "PimInstance", "metadata": {"name": "b", "namespace": ns}}
            inst["spec"] = {
                "modelRef": {"name": "bench"},
                "replicas": 1,
                "resources": RESOURCES,
                "database": {
                    "type": "PostgreSQL",
                    "postgres": {"managed": {"instances": 1, "reclaimPolicy": "Delete"}},
                },
            }
            cluster.apply(model, inst)
            cluster.kubectl("wait", "--for=condition=Ready", "pi/b", "-n", ns, "--timeout=900s", timeout=930)
            svc = cluster.get("service", "b", "-n", ns)["spec"]
            url = f"http://{svc['clusterIP']}:{svc['ports'][0]['port']}"
            asyncio.run(load(url, clients=4, seconds=5, seed=0))  # warm up: rows to read, pools filled
            for r in range(args.rounds):
                for replicas in (1, 3):
                    cluster.kubectl("scale", "pi/b", "-n", ns, f"--replicas={replicas}")
                    wait_for(lambda n=replicas: serving(cluster, ns, n), 300, f"{replicas} ready replicas behind b")
                    out = asyncio.run(load(url, clients=args.clients, seconds=args.seconds, seed=r))
                    results[replicas].append(out)
                    print(
                        f"round {r}: {replicas} replica(s): {out['rps']:.0f} req/s, {out['errors']} errors", flush=True
                    )
        finally:
            op.stop()

    one = statistics.median(x["rps"] for x in results[1])
    three = statistics.median(x["rps"] for x in results[3])
    errors = sum(x["errors"] for xs in results.values() for x in xs)
    load_avg = os.getloadavg()[0]
    table = "\n".join(
        [
            "| replicas | req/s through the Service (median of rounds) | ratio to 1 replica |",
            "| ---: | ---: | ---: |",
            f"| 1 | {one:.0f} | 1.00× |",
            f"| 3 | {three:.0f} | {three / one:.2f}× |",
            "",
            f"{args.rounds} rounds of {args.seconds:.0f} s, {args.clients} clients, 20/40/40 create/list/read; "
            f"{errors} errors; load average {load_avg:.1f} on {os.cpu_count()} cores.",
        ]
    )
    print(table)
    if args.write:
        with args.write.open("a") as fh:
            fh.write(
                f"\n## Through the Service on PostgreSQL, 1 vs 3 replicas "
                f"(`bench/pg_service_bench.py`, {time.strftime('%Y-%m-%d')})\n\n{table}\n"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
