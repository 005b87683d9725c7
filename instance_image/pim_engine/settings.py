"""The settings of ``pim-engine serve``: command-line flags, each with a ``PIM_*`` environment default.

The container sets the environment; a person at a shell passes flags; a flag wins over the
environment. Bad values fail here, before anything is loaded, with the offending name in the message.

Access (``--auth``): ``none`` (the default), ``kubernetes`` (a bearer token, checked with a
TokenReview and a SubjectAccessReview on the PimInstance ``--instance NAMESPACE/NAME``, through the
API server of ``PIM_KUBE_API`` or, in a pod, the in-cluster one) or ``apikey`` (the keys in
``--api-keys-dir``; ``/metrics`` also takes Kubernetes tokens when an API server is known).

The database: ``--database-url`` (``sqlite:///path`` or ``postgresql://...``), else ``--db PATH``
(an SQLite file), else ``PIM_DATABASE_URL``, else the file named by ``PIM_DATABASE_URL_FILE`` (a
mounted Secret), else ``PIM_DB``. The image sets ``PIM_DB=/data/pim.db``, so a URL from the
operator's Secret wins over that default.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pim_engine.access.apiserver import ApiServer
from pim_engine.access.config import APIKEY, KUBERNETES, MODES, NONE, OPEN, Access
from pim_engine.database_url import DatabaseUrlError, parse, sqlite_url

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


class SettingsError(ValueError):
    """A flag or environment variable with an unusable value."""


@dataclass(frozen=True)
class Settings:
    model: str
    database_url: str
    host: str = "0.0.0.0"
    port: int = 8000
    allow_destructive_migration: bool = False
    log_level: str = "info"
    max_body_bytes: int = 1 << 20
    pool_size: int = 10
    access: Access = OPEN
    #: Seconds between the stop signal and the stop, serving with ``Connection: close`` (``draining``).
    drain_seconds: float = 0.0


def _env_bool(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, not {env[name]!r}")


def _parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pim-engine serve",
        description="Serve a PIM model as a REST API over its own database (SQLite or PostgreSQL).",
    )
    parser.add_argument("--model", default=env.get("PIM_MODEL"), help="model file (.yaml/.md/.json) [PIM_MODEL]")
    parser.add_argument(
        "--database-url",
        help="sqlite:///path (the default kind) or postgresql://user:password@host:port/db "
        "[PIM_DATABASE_URL, or a file named by PIM_DATABASE_URL_FILE]",
    )
    parser.add_argument("--db", help="SQLite database file, short for --database-url sqlite:///PATH [PIM_DB]")
    parser.add_argument(
        "--pool-size",
        default=env.get("PIM_POOL_SIZE", "10"),
        help="PostgreSQL connections per process, at most [PIM_POOL_SIZE] (default 10)",
    )
    parser.add_argument("--host", default=env.get("PIM_HOST", "0.0.0.0"), help="bind address [PIM_HOST]")
    parser.add_argument("--port", default=env.get("PIM_PORT", "8000"), help="TCP port [PIM_PORT]")
    parser.add_argument(
        "--allow-destructive-migration",
        action="store_true",
        default=None,
        help="apply model changes that drop or retype stored data [PIM_ALLOW_DESTRUCTIVE_MIGRATION]",
    )
    parser.add_argument(
        "--max-body-bytes",
        default=env.get("PIM_MAX_BODY_BYTES", str(1 << 20)),
        help="largest request body accepted; larger ones get 413 [PIM_MAX_BODY_BYTES] (default 1 MiB)",
    )
    parser.add_argument(
        "--drain-seconds",
        default=env.get("PIM_DRAIN_SECONDS", "0"),
        help="after SIGTERM, keep serving this long, closing each connection after its response, "
        "so keep-alive clients move to other replicas before the stop [PIM_DRAIN_SECONDS] (default 0)",
    )
    parser.add_argument(
        "--auth",
        default=env.get("PIM_AUTH", "none"),
        help="who may call the API: none, kubernetes (bearer tokens, the cluster's RBAC) or apikey [PIM_AUTH]",
    )
    parser.add_argument(
        "--api-keys-dir",
        default=env.get("PIM_API_KEYS_DIR"),
        help="directory whose files are the API keys, one per file (auth apikey) [PIM_API_KEYS_DIR]",
    )
    parser.add_argument(
        "--instance",
        default=env.get("PIM_INSTANCE"),
        help="NAMESPACE/NAME of the PimInstance whose RBAC decides (auth kubernetes) [PIM_INSTANCE]",
    )
    parser.add_argument(
        "--log-level",
        default=env.get("PIM_LOG_LEVEL", "info"),
        help=f"one of {', '.join(LOG_LEVELS)} [PIM_LOG_LEVEL]",
    )
    return parser


def _ranged(raw: object, convert: type[int] | type[float], low: float, high: float | None, rule: str) -> Any:
    """``raw`` converted and inside ``low..high`` (no upper bound: None), or SettingsError saying ``rule``."""
    try:
        value = convert(raw)  # type: ignore[arg-type]
        if not (low <= value and (high is None or value <= high)):  # NaN fails too
            raise ValueError
    except ValueError:
        raise SettingsError(f"{rule}, not {raw!r}") from None
    return value


def parse_settings(argv: Sequence[str] | None, env: Mapping[str, str]) -> Settings:
    """Flags over environment; ``SystemExit`` from argparse for usage errors, ``SettingsError`` else."""
    args = _parser(env).parse_args(argv)
    if not args.model:
        raise SettingsError("no model file: pass --model or set PIM_MODEL")
    database_url = _database_url(args, env)
    port = _ranged(args.port, int, 0, 65535, "port must be an integer in 0..65535")
    level = str(args.log_level).strip().lower()
    if level not in LOG_LEVELS:
        raise SettingsError(f"log level must be one of {', '.join(LOG_LEVELS)}, not {args.log_level!r}")
    max_body = _ranged(args.max_body_bytes, int, 1, None, "max body bytes must be a positive integer")
    pool_size = _ranged(args.pool_size, int, 1, 1000, "pool size (PIM_POOL_SIZE) must be an integer in 1..1000")
    drain = _ranged(args.drain_seconds, float, 0, 300, "drain seconds must be a number in 0..300")
    allow = args.allow_destructive_migration
    if allow is None:
        allow = _env_bool(env, "PIM_ALLOW_DESTRUCTIVE_MIGRATION")
    access = _access(args, env)
    return Settings(
        model=args.model,
        database_url=database_url,
        host=args.host,
        port=port,
        allow_destructive_migration=allow,
        log_level=level,
        max_body_bytes=max_body,
        pool_size=pool_size,
        access=access,
        drain_seconds=drain,
    )


def _access(args: argparse.Namespace, env: Mapping[str, str]) -> Access:
    """What the mode needs, or why it cannot run."""
    auth = str(args.auth).strip().lower()
    if auth not in MODES:
        raise SettingsError(f"auth (PIM_AUTH) must be one of {', '.join(MODES)}, not {args.auth!r}")
    if auth == NONE:
        return OPEN
    instance = None
    if args.instance:
        namespace, _, name = str(args.instance).partition("/")
        if not namespace or not name or "/" in name:
            raise SettingsError(f"instance (PIM_INSTANCE) must be NAMESPACE/NAME, not {args.instance!r}")
        instance = (namespace, name)
    api_server: ApiServer | None = ApiServer.from_env(env)
    if auth == KUBERNETES:
        if instance is None:
            raise SettingsError("auth kubernetes needs --instance NAMESPACE/NAME (PIM_INSTANCE): its RBAC decides")
        if api_server is None:
            raise SettingsError(
                "auth kubernetes needs the Kubernetes API: run in a pod, or set PIM_KUBE_API "
                "(with PIM_KUBE_TOKEN_FILE and PIM_KUBE_CA_FILE)"
            )
    keys = None
    if auth == APIKEY:
        if not args.api_keys_dir:
            raise SettingsError("auth apikey needs --api-keys-dir (PIM_API_KEYS_DIR): one key per file")
        keys = Path(args.api_keys_dir)
        if instance is None:
            api_server = None  # /metrics then takes API keys only
    if api_server is not None and not api_server.token_file.is_file():
        raise SettingsError(
            f"auth {auth}: no ServiceAccount token at {api_server.token_file} "
            "(does the pod mount one? automountServiceAccountToken)"
        )
    return Access(auth, keys, instance, api_server)


def _database_url(args: argparse.Namespace, env: Mapping[str, str]) -> str:
    """The database URL from the first of: the flags, PIM_DATABASE_URL, PIM_DATABASE_URL_FILE, PIM_DB."""
    if args.database_url and args.db:
        raise SettingsError("pass --database-url or --db, not both")
    if args.database_url:
        url, source = args.database_url, "--database-url"
    elif args.db:
        url, source = sqlite_url(args.db), "--db"
    elif env.get("PIM_DATABASE_URL", "").strip():
        url, source = env["PIM_DATABASE_URL"], "PIM_DATABASE_URL"
    elif env.get("PIM_DATABASE_URL_FILE", "").strip():
        path = env["PIM_DATABASE_URL_FILE"]
        try:
            url = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as err:
            raise SettingsError(f"PIM_DATABASE_URL_FILE: cannot read {path}: {err}") from None
        source = f"PIM_DATABASE_URL_FILE ({path})"
    elif env.get("PIM_DB", "").strip():
        url, source = sqlite_url(env["PIM_DB"]), "PIM_DB"
    else:
        raise SettingsError("no database: pass --database-url or --db, or set PIM_DATABASE_URL or PIM_DB")
    try:
        parse(url)
    except DatabaseUrlError as err:
        raise SettingsError(f"{source}: {err}") from None
    return url.strip()
