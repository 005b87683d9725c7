"""Operator settings: command-line flags with environment-variable fallbacks (for the chart)."""

from __future__ import annotations

import argparse
import ipaddress
import os
from dataclasses import dataclass

DEFAULT_ENGINE_IMAGE = "pim.dev/pim-engine:dev"


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

    @property
    def clusterwide(self) -> bool:
        return not self.namespaces


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
    )
