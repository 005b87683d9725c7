"""``pim-operator``: the operator process (kopf inside) with its metrics and liveness endpoints."""

from __future__ import annotations

import asyncio
import logging
import sys

import kopf
from prometheus_client import start_http_server

from pim_operator import metrics
from pim_operator.handlers import build_registry
from pim_operator.settings import Settings, parse

LOG_FORMATS = {"json": kopf.LogFormat.JSON, "plain": kopf.LogFormat.PLAIN, "full": kopf.LogFormat.FULL}


def run(settings: Settings, *, stop_flag: asyncio.Event | None = None) -> None:
    """Run until stopped (SIGTERM/SIGINT, or ``stop_flag``)."""
    kopf.configure(
        debug=settings.log_level == "DEBUG",
        verbose=settings.log_level in ("DEBUG", "INFO"),
        log_format=LOG_FORMATS[settings.log_format],
    )
    logging.getLogger().setLevel(settings.log_level)
    if settings.log_level != "DEBUG":
        # One line per API request and per handled watch event is noise at a thousand instances.
        for name in ("httpx", "httpcore", "kopf.objects"):
            logging.getLogger(name).setLevel(logging.WARNING)
    registry = build_registry(settings)
    start_http_server(settings.metrics_port, registry=metrics.REGISTRY)
    kopf.run(
        registry=registry,
        clusterwide=settings.clusterwide,
        namespaces=settings.kopf_namespaces,
        standalone=True,  # no kopf peering: the replicas elect a leader on a Lease
        liveness_endpoint=f"http://0.0.0.0:{settings.health_port}/healthz",
        stop_flag=stop_flag,
    )


def main(argv: list[str] | None = None) -> int:
    settings = parse(argv if argv is not None else sys.argv[1:])
    run(settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
