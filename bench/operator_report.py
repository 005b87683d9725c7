"""The operator benchmark's results as Markdown for BENCHMARKS.md, with the versions they were measured on."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from bench.kube_api import KubeApi
from bench.operator_scenarios import Result
from tests.support.kubectl import KUBECTL


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
