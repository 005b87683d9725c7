"""Operator settings: command-line flags with environment-variable fallbacks (for the chart)."""

from __future__ import annotations

import argparse
import fnmatch
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_ENGINE_IMAGE = "pim.dev/pim-engine:dev"
DEFAULT_PROMETHEUS_POD_LABELS = "app.kubernetes.io/name=prometheus"
#: Where a pod finds its own namespace: the operator's, when it runs in the cluster.
POD_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
POD_TOKEN_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


@dataclass(frozen=True)
class Settings:
    engine_image: str = DEFAULT_ENGINE_IMAGE
    namespaces: tuple[str, ...] = ()  # empty: cluster-wide
    metrics_port: int = 8080
    health_port: int = 8081
    probe_interval: float = 30.0
    resync_interval: float = 300.0
    discovery_interval: float = 60.0
    workers: int = 8
    peering: str | None = None  # None: standalone (one replica, no peering objects)
    log_format: str = "json"
    log_level: str = "INFO"
    watch_server_timeout: int = 300
    watch_client_timeout: int = 330
    probe_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    #: Who every instance's NetworkPolicy admits besides its namespace: the operator's pods (in
    #: operator_namespace; None: it runs outside the cluster) and Prometheus's.
    operator_namespace: str | None = None
    operator_pod_labels: Mapping[str, str] = field(default_factory=dict)
    prometheus_namespace_labels: Mapping[str, str] = field(default_factory=dict)
    prometheus_pod_labels: Mapping[str, str] = field(default_factory=lambda: labels(DEFAULT_PROMETHEUS_POD_LABELS))
    #: The token the probes show instances with auth on (their /metrics); None: none.
    probe_token_file: Path | None = None

    @property
    def clusterwide(self) -> bool:
        return not self.namespaces

    def watches(self, namespace: str) -> bool:
        """Whether ``namespace`` is one this operator serves (kopf's rules: globs, ``!`` excludes)."""
        included = [p for p in self.namespaces if not p.startswith("!")]
        excluded = [p[1:] for p in self.namespaces if p.startswith("!")]
        if included and not any(fnmatch.fnmatchcase(namespace, p) for p in included):
            return False
        return not any(fnmatch.fnmatchcase(namespace, p) for p in excluded)


def labels(text: str) -> dict[str, str]:
    """``k=v,k2=v2`` as a dict (a label selector of equalities); raises ValueError naming the bad part."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{part!r} is not key=value")
        out[key.strip()] = value.strip()
    return out


def _labels_arg(text: str) -> dict[str, str]:
    try:
        return labels(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _pod_namespace() -> str:
    try:
        return POD_NAMESPACE_FILE.read_text().strip()
    except OSError:
        return ""


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def parse(argv: list[str] | None = None) -> Settings:
    p = argparse.ArgumentParser(
        prog="pim-operator",
        description="Reconcile PimModel and PimInstance resources (pim.dev/v1alpha1) into engine workloads.",
    )
    p.add_argument(
        "--namespace",
        action="append",
        default=[n for n in _env("PIM_OPERATOR_NAMESPACES", "").split(",") if n],
        help="watch only this namespace (repeatable; env PIM_OPERATOR_NAMESPACES, comma-separated); "
        "default: cluster-wide",
    )
    p.add_argument(
        "--engine-image",
        default=_env("PIM_ENGINE_IMAGE", DEFAULT_ENGINE_IMAGE),
        help="default engine image for instances without spec.image (env PIM_ENGINE_IMAGE)",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=int(_env("PIM_METRICS_PORT", "8080")),
        help="port of the operator's /metrics (env PIM_METRICS_PORT)",
    )
    p.add_argument(
        "--health-port",
        type=int,
        default=int(_env("PIM_HEALTH_PORT", "8081")),
        help="port of the liveness endpoint /healthz (env PIM_HEALTH_PORT)",
    )
    p.add_argument(
        "--probe-interval",
        type=float,
        default=float(_env("PIM_PROBE_INTERVAL", "30")),
        help="seconds between probes of the instances' replicas; 0 disables (env PIM_PROBE_INTERVAL)",
    )
    p.add_argument(
        "--probe-networks",
        default=_env("PIM_PROBE_NETWORKS", ""),
        help="comma-separated CIDRs: probe only pod IPs inside them (env PIM_PROBE_NETWORKS); default: every pod IP",
    )
    p.add_argument(
        "--resync-interval",
        type=float,
        default=float(_env("PIM_RESYNC_INTERVAL", "300")),
        help="seconds between full resyncs (env PIM_RESYNC_INTERVAL)",
    )
    p.add_argument(
        "--discovery-interval",
        type=float,
        default=float(_env("PIM_DISCOVERY_INTERVAL", "60")),
        help="seconds between checks for optional APIs such as ServiceMonitor (env PIM_DISCOVERY_INTERVAL)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=int(_env("PIM_WORKERS", "8")),
        help="concurrent instance reconciles (env PIM_WORKERS)",
    )
    p.add_argument(
        "--peering",
        default=_env("PIM_PEERING", "") or None,
        help="kopf peering name: replicas sharing it elect one active operator (env PIM_PEERING); default: standalone",
    )
    p.add_argument(
        "--operator-namespace",
        default=_env("PIM_OPERATOR_NAMESPACE", "") or _pod_namespace(),
        help="the operator's namespace, whose pods (--operator-pod-labels) every instance's NetworkPolicy "
        "admits for the probes (env PIM_OPERATOR_NAMESPACE); default: the pod's own, none outside a cluster",
    )
    # Label selectors (k=v,...) of the peers every instance's NetworkPolicy admits.
    for flag, default, what in (
        (
            "operator-pod-labels",
            "",
            "the operator's pods (and the console's) in that namespace; default: every pod there",
        ),
        ("prometheus-namespace-labels", "", "the namespaces Prometheus runs in; default: any"),
        (
            "prometheus-pod-labels",
            DEFAULT_PROMETHEUS_POD_LABELS,
            f"Prometheus's pods; default {DEFAULT_PROMETHEUS_POD_LABELS}; empty: none",
        ),
    ):
        env = "PIM_" + flag.upper().replace("-", "_")
        p.add_argument(f"--{flag}", type=_labels_arg, default=_env(env, default), help=f"k=v,... of {what} (env {env})")
    p.add_argument(
        "--probe-token-file",
        default=_env("PIM_PROBE_TOKEN_FILE", "") or (str(POD_TOKEN_FILE) if POD_TOKEN_FILE.is_file() else ""),
        help="bearer token the probes send to instances with auth on, for /metrics (env PIM_PROBE_TOKEN_FILE); "
        "default: the pod's ServiceAccount token, none outside a cluster",
    )
    p.add_argument("--log-format", choices=["json", "plain", "full"], default=_env("PIM_LOG_FORMAT", "json"))
    p.add_argument("--log-level", default=_env("PIM_LOG_LEVEL", "INFO"))
    a = p.parse_args(argv)
    return Settings(
        engine_image=a.engine_image,
        namespaces=tuple(dict.fromkeys(a.namespace)),
        metrics_port=a.metrics_port,
        health_port=a.health_port,
        probe_interval=a.probe_interval,
        probe_networks=tuple(ipaddress.ip_network(n.strip()) for n in a.probe_networks.split(",") if n.strip()),
        resync_interval=a.resync_interval,
        discovery_interval=a.discovery_interval,
        workers=a.workers,
        peering=a.peering,
        log_format=a.log_format,
        log_level=a.log_level.upper(),
        operator_namespace=a.operator_namespace or None,
        operator_pod_labels=a.operator_pod_labels,
        prometheus_namespace_labels=a.prometheus_namespace_labels,
        prometheus_pod_labels=a.prometheus_pod_labels,
        probe_token_file=Path(a.probe_token_file) if a.probe_token_file else None,
    )
