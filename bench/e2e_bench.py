"""Real pods, end to end: how long until an applied PimInstance serves, and until a model update
reaches five instances; and an engine pod's memory under load.

Each figure has a baseline run in the same session on the same node: the same engine image in a
hand-written Deployment + Service applied with kubectl (no operator), and a ``kubectl rollout
restart`` of five such Deployments. The ratio is the operator's overhead.

    .venv/bin/python -m bench.e2e_bench [--rounds 3] [--write BENCHMARKS.md]

Starts its own local cluster with a real node (root; images cached), and stops it at the end.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.reconciler.piminstance.resources.configmap import make_configmap
from pim_operator.reconciler.piminstance.resources.deployment import make_deployment
from pim_operator.reconciler.piminstance.resources.service import make_service
from pim_operator.reconciler.pimmodel.load import load
from tests.support.cluster import Cluster, local_cluster
from tests.support.operator_proc import OperatorProcess
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[1]

MODEL = """
domain: bench
entities:
  - name: Item
    attributes:
      name: {type: string, max_length: 80}
      qty: {type: integer, default: 0}
"""
MODEL_V2 = MODEL + "      note: {type: text, required: false}\n"
IMAGE = "pim.dev/pim-engine:dev"


def serving(kube: Cluster, ns: str, svc: str, digest: str | None = None) -> Callable[[], bool]:
    """True once the Service VIP answers /ready (with ``digest``, when given) from this host."""

    def check() -> bool:
        s = kube.get("service", svc, "-n", ns)["spec"]
        r = httpx.get(f"http://{s['clusterIP']}:{s['ports'][0]['port']}/ready", timeout=2)
        return r.status_code == 200 and (digest is None or r.json().get("digest") == digest)

    return check


def timed(fn: Callable[[], object]) -> float:
    t0 = time.monotonic()
    fn()
    return time.monotonic() - t0


def pim_instance(ns: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "pim.dev/v1alpha1",
        "kind": "PimInstance",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"modelRef": {"name": "bench"}, "image": IMAGE},
    }


def pim_model(ns: str, source: str) -> dict[str, Any]:
    return {
        "apiVersion": "pim.dev/v1alpha1",
        "kind": "PimModel",
        "metadata": {"name": "bench", "namespace": ns},
        "spec": {"format": "yaml", "source": source},
    }


def plain_children(ns: str, name: str, source: str) -> list[dict[str, Any]]:
    """The baseline: the operator's own builders, applied by kubectl with no operator involved."""
    loaded = load(source, "yaml", "bench")
    parent = PimInstance.from_body(
        {"metadata": {"name": name, "namespace": ns, "uid": "none"}, "spec": {"modelRef": {"name": "bench"}}}
    )
    cm = make_configmap(parent, loaded.snapshot)
    dep = make_deployment(parent, image=IMAGE, model_digest=loaded.model.digest, config_digest="baseline")
    out = [cm, dep, make_service(parent)]
    for obj in out:
        obj["metadata"].pop("ownerReferences", None)
    return out


def rss_under_load(kube: Cluster, ns: str, svc: str, requests: int) -> dict[str, float]:
    s = kube.get("service", svc, "-n", ns)["spec"]
    base = f"http://{s['clusterIP']}:{s['ports'][0]['port']}"
    with httpx.Client(base_url=base, timeout=10) as http:
        idle = _rss(http)
        for i in range(requests):
            if i % 5 == 0:
                http.post("/api/v1/items", json={"name": f"i{i}", "qty": i})
            elif i % 5 == 1:
                http.get("/api/v1/items", params={"limit": 20})
            else:
                http.get(f"/api/v1/items/{1 + i % 50}")
        return {"idle_mb": idle, "loaded_mb": _rss(http), "requests": requests}


def _rss(http: httpx.Client) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("process_resident_memory_bytes "):
            return float(line.split()[1]) / 2**20
    raise RuntimeError("no process_resident_memory_bytes")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--write", type=Path, default=None, help="append the results to this Markdown file")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pim-e2e-bench-"))
    results: dict[str, Any] = {}
    with local_cluster(work / "cluster", work / "kubectl-cache", node=True, echo=True) as kube:
        op = OperatorProcess(kube.kubeconfig, work, "--probe-interval", "5", "--probe-networks", "10.244.0.0/16")
        try:
            measure(kube, op, args.rounds, results)
        finally:
            op.stop()
    report(results, args.write)
    return 0


def measure(kube: Cluster, op: OperatorProcess, rounds: int, results: dict[str, Any]) -> None:
    kube.kubectl("apply", "--server-side", "-f", str(REPO / "deploy/crds"))
    kube.kubectl("wait", "--for=condition=Established", "crd/piminstances.pim.dev", "crd/pimmodels.pim.dev")
    op.start()
    ns, base_ns = kube.namespace("bench"), kube.namespace("baseline")
    kube.apply(pim_model(ns, MODEL))
    wait_for(lambda: kube.get("pm", "bench", "-n", ns).get("status", {}).get("digest"), 30, "model valid")

    op_times, base_times = [], []
    for r in range(rounds):  # alternate, so that drift in the machine hits both
        name = f"b{r}"
        base_times.append(
            timed(
                lambda name=name: (
                    kube.apply(*plain_children(base_ns, name, MODEL)),
                    wait_for(serving(kube, base_ns, name), 120, "baseline"),
                )
            )
        )
        op_times.append(
            timed(
                lambda name=name: (
                    kube.apply(pim_instance(ns, name)),
                    wait_for(serving(kube, ns, name), 120, "instance"),
                )
            )
        )
        print(f"round {r}: baseline {base_times[-1]:.1f}s, operator {op_times[-1]:.1f}s", flush=True)
    results["apply_to_serving"] = {
        "operator_s": statistics.median(op_times),
        "baseline_s": statistics.median(base_times),
        "rounds": rounds,
    }

    # five instances on one model; baseline: five plain Deployments restarted by kubectl
    for i in range(5):
        kube.apply(pim_instance(ns, f"u{i}"))
        kube.apply(*plain_children(base_ns, f"u{i}", MODEL))
    for i in range(5):
        wait_for(serving(kube, ns, f"u{i}"), 180, f"u{i}")
        wait_for(serving(kube, base_ns, f"u{i}"), 180, f"baseline u{i}")
    new = load(MODEL_V2, "yaml", "bench").model.digest

    def update_model() -> None:
        kube.apply(pim_model(ns, MODEL_V2))
        for i in range(5):
            wait_for(serving(kube, ns, f"u{i}", new), 180, f"u{i} on the new digest")

    def restart_baseline() -> None:
        kube.kubectl("rollout", "restart", "-n", base_ns, *[f"deployment/u{i}" for i in range(5)])
        for i in range(5):
            kube.kubectl("rollout", "status", "-n", base_ns, f"deployment/u{i}", "--timeout=180s", timeout=190)
        for i in range(5):
            wait_for(serving(kube, base_ns, f"u{i}"), 60, f"baseline u{i}")

    base_roll = timed(restart_baseline)
    op_roll = timed(update_model)
    results["model_update_5"] = {"operator_s": op_roll, "baseline_s": base_roll}
    results["engine_rss"] = rss_under_load(kube, ns, "u0", 3000)


def report(results: dict[str, Any], write: Path | None) -> None:
    a, m, rss = results["apply_to_serving"], results["model_update_5"], results["engine_rss"]
    table = "\n".join(
        [
            "| measure | operator | baseline (kubectl, no operator) | ratio | target |",
            "| --- | ---: | ---: | ---: | --- |",
            f"| apply → serving (median of {a['rounds']}) | {a['operator_s']:.1f} s | {a['baseline_s']:.1f} s "
            f"| {a['operator_s'] / a['baseline_s']:.2f}× | ≤ 20 s |",
            f"| model update → 5 instances on the new digest | {m['operator_s']:.1f} s | {m['baseline_s']:.1f} s "
            f"(rollout restart) | {m['operator_s'] / m['baseline_s']:.2f}× | ≤ 30 s |",
            f"| engine pod RSS, idle → after {rss['requests']} requests "
            f"| {rss['idle_mb']:.1f} → {rss['loaded_mb']:.1f} MB | | | ≤ 60 MB |",
        ]
    )
    print(table)
    if write:
        with write.open("a") as fh:
            fh.write(f"\n## Real pods (`python -m bench.e2e_bench`, {time.strftime('%Y-%m-%d')})\n\n{table}\n")


if __name__ == "__main__":
    raise SystemExit(main())
