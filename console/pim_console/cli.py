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

from pim_console import __version__
from pim_console.app import create_app, health_app, instance_port_app
from pim_console.kube.credentials import CredentialsError
from pim_console.runtime import Console
from pim_console.servers import InstanceListeners, make_server, serve
from pim_console.settings import DEFAULT_PROM_SELECTOR, Settings, SettingsError

log = logging.getLogger("pim_console")


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def _bool(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pim-console",
        description="The PIM engine v2 master controller API and a web UI, on PimModels and PimInstances.",
    )
    p.add_argument("--version", action="version", version=__version__)
    p.add_argument(
        "--namespace",
        default=_env("PIM_CONSOLE_NAMESPACE"),
        help="namespace of the models and instances "
        "[PIM_CONSOLE_NAMESPACE; default: the pod's, else the kubeconfig context's]",
    )
    p.add_argument(
        "--kubeconfig",
        default=_env("PIM_CONSOLE_KUBECONFIG"),
        help="[PIM_CONSOLE_KUBECONFIG; default: in-cluster, else $KUBECONFIG or ~/.kube/config]",
    )
    p.add_argument("--context", default=_env("PIM_CONSOLE_CONTEXT"), help="kubeconfig context [PIM_CONSOLE_CONTEXT]")
    p.add_argument("--host", default=_env("PIM_CONSOLE_HOST", "127.0.0.1"), help="[PIM_CONSOLE_HOST; 127.0.0.1]")
    p.add_argument(
        "--port",
        type=int,
        default=int(_env("PIM_CONSOLE_PORT", "8000") or 8000),
        help="the API and UI [PIM_CONSOLE_PORT; 8000]",
    )
    p.add_argument(
        "--health-port",
        type=int,
        default=int(_env("PIM_CONSOLE_HEALTH_PORT", "8081") or 0),
        help="/healthz and /readyz on every interface; 0 disables [PIM_CONSOLE_HEALTH_PORT; 8081]",
    )
    p.add_argument(
        "--auth",
        choices=("none", "kubernetes"),
        default=_env("PIM_CONSOLE_AUTH", "none"),
        help="none: loopback only (kubectl port-forward); kubernetes: bearer tokens checked with "
        "TokenReview + SubjectAccessReview [PIM_CONSOLE_AUTH; none]",
    )
    p.add_argument(
        "--instance-ports",
        action=argparse.BooleanOptionalAction,
        default=_bool(_env("PIM_CONSOLE_INSTANCE_PORTS")),
        help="also listen on each instance's port, relaying to it [PIM_CONSOLE_INSTANCE_PORTS]",
    )
    p.add_argument(
        "--port-range",
        default=_env("PIM_CONSOLE_PORT_RANGE", "8001-8999"),
        help="ports given to instances that ask for none [PIM_CONSOLE_PORT_RANGE; 8001-8999]",
    )
    p.add_argument(
        "--library",
        default=_env("PIM_CONSOLE_LIBRARY"),
        help="ConfigMap of model files for POST /models/load [PIM_CONSOLE_LIBRARY]",
    )
    p.add_argument(
        "--instance-defaults",
        default=_env("PIM_CONSOLE_INSTANCE_DEFAULTS"),
        help="JSON PimInstance spec fields for new instances [PIM_CONSOLE_INSTANCE_DEFAULTS; "
        "persistent storage, retained]",
    )
    p.add_argument(
        "--create-timeout",
        type=float,
        default=float(_env("PIM_CONSOLE_CREATE_TIMEOUT", "120") or 120),
        help="seconds POST /instances waits for the instance to serve [PIM_CONSOLE_CREATE_TIMEOUT; 120]",
    )
    p.add_argument(
        "--prometheus-url",
        default=_env("PIM_CONSOLE_PROMETHEUS_URL") or None,
        help="charts from this Prometheus, else from the status history [PIM_CONSOLE_PROMETHEUS_URL]",
    )
    p.add_argument(
        "--prometheus-selector",
        default=_env("PIM_CONSOLE_PROMETHEUS_SELECTOR", DEFAULT_PROM_SELECTOR),
        help="label matchers of an instance's series, with {namespace} and {instance} "
        "[PIM_CONSOLE_PROMETHEUS_SELECTOR]",
    )
    p.add_argument(
        "--log-level",
        default=_env("PIM_CONSOLE_LOG_LEVEL", "info"),
        choices=("debug", "info", "warning", "error"),
        help="[PIM_CONSOLE_LOG_LEVEL; info]",
    )
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
