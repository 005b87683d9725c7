"""The operator benchmark's hands on its cluster: parallel server-side applies, namespaces made and
awaited, children counted, kwok nodes with room for the pods."""

from __future__ import annotations

import json
import math
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.kube_api import KubeApi
from tests.support.cluster import Cluster
from tests.support.waiting import wait_for

PODS_PER_NODE = 250


def chunks(objs: list[dict[str, Any]], parts: int) -> list[list[dict[str, Any]]]:
    size = math.ceil(len(objs) / parts)
    return [objs[k : k + size] for k in range(0, len(objs), size)]


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
