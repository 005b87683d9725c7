"""Operator settings: command-line flags with environment-variable fallbacks (for the chart)."""

from __future__ import annotations

import argparse
import fnmatch
import ipaddress
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pim_engine.access.reviews import PROBE_AUDIENCE

DEFAULT_ENGINE_IMAGE = "pim.dev/pim-engine:dev"
DEFAULT_PROMETHEUS_POD_LABELS = "app.kubernetes.io/name=prometheus"
#: Where a pod finds its own namespace: the operator's, when it runs in the cluster.
POD_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


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
    kubeconfig: str | None = None  # None: in a pod its ServiceAccount, else $KUBECONFIG / ~/.kube/config
    context: str | None = None
    leader_elect: bool = True
    lease_name: str = "pim-operator"
    lease_namespace: str | None = None  # None: the pod's namespace, else the kubeconfig context's
    lease_duration: float = 10.0
    renew_deadline: float = 7.0
    retry_period: float = 2.0
    pod_name: str = ""  # the leader lease's holder identity starts with it
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

    @property
    def kopf_namespaces(self) -> tuple[str, ...]:
        """The same rule in kopf's terms. kopf ORs the patterns of its list, each read left to right,
        so ``["!a-*", "!b-*"]`` would serve every namespace (each pattern admits what the other
        excludes): every exclusion goes into each pattern, after the inclusion it narrows."""
        included = [p for p in self.namespaces if not p.startswith("!")]
        excluded = [p for p in self.namespaces if p.startswith("!")]
        if not excluded:
            return self.namespaces  # plain names stay plain: kopf watches them without listing namespaces
        return tuple(", ".join([inc, *excluded]) for inc in included) or (", ".join(excluded),)

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


#: Flags with an environment fallback: (flag, env, default, type, help). The help gets "(env NAME)".
OPTIONS: tuple[tuple[str, str, str, type, str], ...] = (
    ("--engine-image", "PIM_ENGINE_IMAGE", DEFAULT_ENGINE_IMAGE, str, "engine image of instances without spec.image"),
    ("--metrics-port", "PIM_METRICS_PORT", "8080", int, "port of the operator's /metrics"),
    ("--health-port", "PIM_HEALTH_PORT", "8081", int, "port of the liveness endpoint /healthz"),
    ("--probe-interval", "PIM_PROBE_INTERVAL", "30", float, "seconds between probes of replicas; 0: none"),
    ("--probe-networks", "PIM_PROBE_NETWORKS", "", str, "CIDRs (a,b): probe only pod IPs in them; default: all"),
    ("--resync-interval", "PIM_RESYNC_INTERVAL", "300", float, "seconds between full resyncs"),
    ("--discovery-interval", "PIM_DISCOVERY_INTERVAL", "60", float, "seconds between checks for optional APIs"),
    ("--workers", "PIM_WORKERS", "8", int, "concurrent instance reconciles"),
    ("--context", "PIM_KUBE_CONTEXT", "", str, "kubeconfig context; default: the current one"),
    ("--leader-election-id", "PIM_LEADER_ELECTION_ID", "pim-operator", str, "name of the Lease the replicas share"),
    ("--leader-election-namespace", "PIM_LEADER_ELECTION_NAMESPACE", "", str, "the Lease's; default: the pod's"),
    ("--lease-duration", "PIM_LEASE_DURATION", "10", float, "seconds a Lease must stand still to be taken"),
    ("--renew-deadline", "PIM_RENEW_DEADLINE", "7", float, "seconds the leader may fail to renew before it stops"),
    ("--retry-period", "PIM_RETRY_PERIOD", "2", float, "seconds between attempts to take or renew the Lease"),
    ("--log-level", "PIM_LOG_LEVEL", "INFO", str, "DEBUG, INFO, WARNING or ERROR"),
)


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
    for flag, env, default, kind, what in OPTIONS:
        p.add_argument(flag, type=kind, default=kind(_env(env, default)), help=f"{what} (env {env})")
    p.add_argument(
        "--kubeconfig",
        default=None,
        help="kubeconfig to use (default: in a pod its ServiceAccount, else $KUBECONFIG, a list, or ~/.kube/config)",
    )
    p.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=_env("PIM_LEADER_ELECT", "true").lower() not in ("0", "false", "no"),
        help="elect one working replica on a Lease (env PIM_LEADER_ELECT; default on); off: this process always works",
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
        default=_env("PIM_PROBE_TOKEN_FILE", ""),
        help="bearer token the probes send to instances with auth on, for /metrics (env PIM_PROBE_TOKEN_FILE): "
        f"one for the audience {PROBE_AUDIENCE} (the chart mounts one; by hand: kubectl create token SA "
        f"--audience {PROBE_AUDIENCE}), never the operator's own API credentials; default: none",
    )
    p.add_argument("--log-format", choices=["json", "plain", "full"], default=_env("PIM_LOG_FORMAT", "json"))
    a = p.parse_args(argv)
    if not a.lease_duration > a.renew_deadline > a.retry_period > 0:
        p.error("leader election needs --lease-duration > --renew-deadline > --retry-period > 0")
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
        kubeconfig=a.kubeconfig,
        context=a.context or None,
        leader_elect=a.leader_elect,
        lease_name=a.leader_election_id,
        lease_namespace=a.leader_election_namespace or None,
        lease_duration=a.lease_duration,
        renew_deadline=a.renew_deadline,
        retry_period=a.retry_period,
        pod_name=os.environ.get("POD_NAME") or socket.gethostname(),
        log_format=a.log_format,
        log_level=a.log_level.upper(),
        operator_namespace=a.operator_namespace or None,
        operator_pod_labels=a.operator_pod_labels,
        prometheus_namespace_labels=a.prometheus_namespace_labels,
        prometheus_pod_labels=a.prometheus_pod_labels,
        probe_token_file=Path(a.probe_token_file) if a.probe_token_file else None,
    )
