"""``pim-console``: flags, each with an environment variable (the chart sets those), and the serve loop."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from pim_console import __version__
from pim_console.app import create_app, health_app, instance_port_app
from pim_console.kube.credentials import CredentialsError
from pim_console.runtime import Console
from pim_console.servers import InstanceListeners, make_server, serve
from pim_console.settings import DEFAULT_PROM_SELECTOR, Settings, SettingsError

log = logging.getLogger("pim_console")


ENV_PREFIX = "PIM_CONSOLE_"


def _flag(p: argparse.ArgumentParser, name: str, text: str, default: Any = None, kind: Any = str, **kw: Any) -> None:
    """A flag whose default comes from ``PIM_CONSOLE_<NAME>``; the help names the variable."""
    env = ENV_PREFIX + name.lstrip("-").upper().replace("-", "_")
    raw = os.environ.get(env)
    value = kind(raw) if raw not in (None, "") else default
    shown = f"; {default}" if default not in (None, "") else ""
    p.add_argument(name, type=kind, default=value, help=f"{text} [{env}{shown}]", **kw)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pim-console",
        description="The PIM engine v2 master controller API and a web UI, on PimModels and PimInstances.",
    )
    p.add_argument("--version", action="version", version=__version__)
    _flag(p, "--namespace", "namespace of the models and instances (default: the pod's, else the context's)")
    _flag(p, "--kubeconfig", "kubeconfig (default: in-cluster, else $KUBECONFIG or ~/.kube/config)")
    _flag(p, "--context", "kubeconfig context")
    _flag(p, "--host", "address of the API and UI", "127.0.0.1")
    _flag(p, "--port", "port of the API and UI", 8000, int)
    _flag(p, "--health-port", "/healthz and /readyz on every interface; 0 disables", 8081, int)
    _flag(
        p,
        "--auth",
        "none: loopback only (kubectl port-forward); kubernetes: bearer tokens, TokenReview + SubjectAccessReview",
        "none",
        choices=("none", "kubernetes"),
    )
    instance_ports = os.environ.get(ENV_PREFIX + "INSTANCE_PORTS", "").strip().lower() in ("1", "true", "yes", "on")
    p.add_argument(
        "--instance-ports",
        action=argparse.BooleanOptionalAction,
        default=instance_ports,
        help="also listen on each instance's port, relaying to it [PIM_CONSOLE_INSTANCE_PORTS]",
    )
    _flag(p, "--port-range", "ports given to instances that ask for none", "8001-8999")
    _flag(p, "--library", "ConfigMap of model files for POST /models/load")
    _flag(p, "--instance-defaults", "JSON PimInstance spec fields for new instances (default: persistent, retained)")
    _flag(p, "--create-timeout", "seconds POST /instances waits for the instance to serve", 120.0, float)
    _flag(p, "--prometheus-url", "charts from this Prometheus, else from the status history")
    _flag(
        p,
        "--prometheus-selector",
        "label matchers of an instance's series, with {namespace} and {instance}",
        DEFAULT_PROM_SELECTOR,
    )
    _flag(p, "--log-level", "log level", "info", choices=("debug", "info", "warning", "error"))
    return p


def settings_from(args: argparse.Namespace) -> Settings:
    first, _, last = str(args.port_range).partition("-")
    try:
        port_first, port_last = int(first), int(last or first)
    except ValueError:
        raise SettingsError(f"--port-range {args.port_range!r}: expected FIRST-LAST") from None
    extra = {}
    if args.instance_defaults:
        try:
            extra["instance_defaults"] = json.loads(args.instance_defaults)
        except ValueError as exc:
            raise SettingsError(f"--instance-defaults is not JSON: {exc}") from None
    return Settings(
        namespace=args.namespace or None,
        kubeconfig=args.kubeconfig or None,
        context=args.context or None,
        host=args.host,
        port=args.port,
        health_port=args.health_port,
        auth=args.auth,
        instance_ports=args.instance_ports,
        port_first=port_first,
        port_last=port_last,
        library=args.library or None,
        create_timeout=args.create_timeout,
        prometheus_url=args.prometheus_url,
        prometheus_selector=args.prometheus_selector,
        log_level=args.log_level,
        **extra,
    ).check()


async def run(settings: Settings) -> int:
    console = await Console.start(settings)
    listeners = None
    if settings.instance_ports:
        listeners = InstanceListeners(console, lambda port: instance_port_app(console, port), settings.host)
        console.listeners = listeners
        listeners.start()
    main = make_server(create_app(console), settings.host, settings.port, settings.log_level)
    servers = [main]
    if settings.health_port:
        servers.append(make_server(health_app(console), "0.0.0.0", settings.health_port, settings.log_level))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(serve(s)) for s in servers]
    log.info(
        "pim-console %s: namespace %s, http://%s:%d, auth %s",
        __version__,
        console.namespace,
        settings.host,
        settings.port,
        settings.auth,
    )
    done, _ = await asyncio.wait([asyncio.create_task(stop.wait()), *tasks], return_when=asyncio.FIRST_COMPLETED)
    failed = any(t in done for t in tasks) and not stop.is_set()
    for s in servers:
        s.should_exit = True
    if listeners is not None:
        await listeners.stop()
    await asyncio.gather(*tasks, return_exceptions=True)
    await console.close()
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API call drowns everything else
    try:
        settings = settings_from(args)
    except SettingsError as exc:
        print(f"pim-console: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(run(settings))
    except CredentialsError as exc:
        print(f"pim-console: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
