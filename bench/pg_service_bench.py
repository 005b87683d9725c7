"""Throughput through an instance's Service on a managed PostgreSQL: 1 replica against 3.

The same instance, the same CloudNativePG database and the same load (``--clients`` keep-alive
clients on this host, a mix of 20 % creates, 40 % list pages and 40 % reads by id, for
``--seconds``), alternating 1 and 3 replicas over ``--rounds`` so that drift in the machine hits
both; the 1-replica run is the baseline of the ratio. On a 2-core machine the load generator, the
engines, PostgreSQL and the control plane share the same two cores: the ratio says how much of
the work the replicas can take, not what a real cluster would do.

    .venv/bin/python bench/pg_service_bench.py [--rounds 3] [--seconds 20] [--clients 16] [--write BENCHMARKS.md]

Starts its own local cluster with a real node and the add-ons (root; images cached), and stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.operator_proc import OperatorProcess  # noqa: E402
from support.waiting import wait_for  # noqa: E402

MODEL = """
domain: bench
entities:
  - name: Item
    attributes:
      name: {type: string, max_length: 80}
      qty: {type: integer, default: 0}
"""
RESOURCES = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}


def kubectl(kubeconfig: Path, *args: str, input: str | None = None) -> str:
    return subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", *args], input=input, capture_output=True, text=True, check=True
    ).stdout


def get(kubeconfig: Path, *args: str) -> Any:
    return json.loads(kubectl(kubeconfig, "get", *args, "-o", "json"))


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
    cluster = work / "cluster"
    env = {**os.environ, "PIM_CLUSTER_NODE": "1"}
    subprocess.run([str(REPO / "hack/cluster/up.sh"), str(cluster)], env=env, check=True)
    kc = cluster / "kubeconfig"
    op = OperatorProcess(kc, work, "--probe-interval", "10", "--probe-networks", "10.244.0.0/16")
    results: dict[int, list[dict[str, float]]] = {1: [], 3: []}
    try:
        subprocess.run([str(REPO / "hack/addons/up.sh"), str(cluster)], check=True)
        kubectl(kc, "apply", "--server-side", "-f", str(REPO / "deploy/crds"))
        kubectl(kc, "wait", "--for=condition=Established", "crd/piminstances.pim.dev", "crd/pimmodels.pim.dev")
        op.start()
        ns = "bench"
        kubectl(kc, "create", "namespace", ns)
        wait_for(lambda: kubectl(kc, "get", "sa", "default", "-n", ns), 30, "default SA")
        model = {"apiVersion": "pim.dev/v1alpha1", "kind": "PimModel", "metadata": {"name": "bench", "namespace": ns}}
        model["spec"] = {"format": "yaml", "source": MODEL}
        inst = {"apiVersion": "pim.dev/v1alpha1", "kind": "PimInstance", "metadata": {"name": "b", "namespace": ns}}
        inst["spec"] = {
            "modelRef": {"name": "bench"},
            "replicas": 1,
            "resources": RESOURCES,
            "database": {"type": "PostgreSQL", "postgres": {"managed": {"instances": 1, "reclaimPolicy": "Delete"}}},
        }
        kubectl(kc, "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [model, inst]}))
        kubectl(kc, "wait", "--for=condition=Ready", "pi/b", "-n", ns, "--timeout=900s")
        svc = get(kc, "service", "b", "-n", ns)["spec"]
        url = f"http://{svc['clusterIP']}:{svc['ports'][0]['port']}"
        asyncio.run(load(url, clients=4, seconds=5, seed=0))  # warm up: rows to read, pools filled
        for r in range(args.rounds):
            for replicas in (1, 3):
                kubectl(kc, "scale", "pi/b", "-n", ns, f"--replicas={replicas}")
                wait_for(
                    lambda replicas=replicas: (
                        (d := get(kc, "deployment", "b", "-n", ns))["status"].get("availableReplicas") == replicas
                        and d["status"].get("replicas") == replicas
                        and d["status"].get("updatedReplicas") == replicas
                    ),
                    300,
                    f"{replicas} available replicas",
                )
                time.sleep(12)  # endpoints in kube-proxy's rules, first probes done
                out = asyncio.run(load(url, clients=args.clients, seconds=args.seconds, seed=r))
                results[replicas].append(out)
                print(f"round {r}: {replicas} replica(s): {out['rps']:.0f} req/s, {out['errors']} errors", flush=True)
    finally:
        op.stop()
        subprocess.run([str(REPO / "hack/cluster/down.sh"), str(cluster)], check=False)

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
