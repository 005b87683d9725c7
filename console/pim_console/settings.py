"""The console's settings: every flag has an environment variable (the chart sets those)."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any, Literal

AuthMode = Literal["none", "kubernetes"]
LOOPBACK = ("127.0.0.1", "::1", "localhost")
#: Instances the console creates keep their data the way v2 did (a database file that outlives the
#: process): a persistent volume that survives the instance (re-creating the id finds the data).
DEFAULT_INSTANCE_SPEC: dict[str, Any] = {"storage": {"type": "Persistent", "size": "1Gi", "reclaimPolicy": "Retain"}}
DEFAULT_PROM_SELECTOR = 'namespace="{namespace}",pod=~"{instance}-[a-z0-9]+-[a-z0-9]+"'


class SettingsError(ValueError):
    """Settings that cannot work together; the message says which and why."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    namespace: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    health_port: int = 8081
    auth: AuthMode = "none"
    instance_ports: bool = False
    port_first: int = 8001
    port_last: int = 8999
    library: str | None = None
    instance_defaults: dict[str, Any] = field(default_factory=lambda: json.loads(json.dumps(DEFAULT_INSTANCE_SPEC)))
    create_timeout: float = 120.0
    delete_timeout: float = 90.0
    probe_timeout: float = 3.0
    prometheus_url: str | None = None
    prometheus_selector: str = DEFAULT_PROM_SELECTOR
    history_points: int = 720
    log_level: str = "info"

    def check(self) -> Settings:
        """Refuse combinations that would expose the cluster: no auth means loopback only."""
        if self.auth not in ("none", "kubernetes"):
            raise SettingsError(f"--auth must be none or kubernetes, not {self.auth!r}")
        if self.auth == "none" and not is_loopback(self.host):
            raise SettingsError(
                f"--auth none listens on loopback only (reach it with kubectl port-forward, which the API "
                f"server authorizes); --host {self.host} needs --auth kubernetes"
            )
        if not 1 <= self.port_first <= self.port_last <= 65535:
            raise SettingsError(f"bad instance port range {self.port_first}-{self.port_last}")
        if self.port_first <= self.port <= self.port_last:
            raise SettingsError(f"--port {self.port} lies inside the instance port range")
        if not isinstance(self.instance_defaults, dict):
            raise SettingsError("--instance-defaults must be a JSON object of PimInstance spec fields")
        return self

    def reserved_ports(self) -> dict[int, str]:
        out = {self.port: "the console's API"}
        if self.health_port:
            out[self.health_port] = "the console's health checks"
        return out
