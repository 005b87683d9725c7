"""The settings of ``pim-engine serve``: command-line flags, each with a ``PIM_*`` environment default.

The container sets the environment; a person at a shell passes flags; a flag wins over the
environment. Bad values fail here, before anything is loaded, with the offending name in the message.

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
        "--log-level",
        default=env.get("PIM_LOG_LEVEL", "info"),
        help=f"one of {', '.join(LOG_LEVELS)} [PIM_LOG_LEVEL]",
    )
    return parser


def parse_settings(argv: Sequence[str] | None, env: Mapping[str, str]) -> Settings:
    """Flags over environment; ``SystemExit`` from argparse for usage errors, ``SettingsError`` else."""
    args = _parser(env).parse_args(argv)
    if not args.model:
        raise SettingsError("no model file: pass --model or set PIM_MODEL")
    database_url = _database_url(args, env)
    try:
        port = int(args.port)
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        raise SettingsError(f"port must be an integer in 0..65535, not {args.port!r}") from None
    level = str(args.log_level).strip().lower()
    if level not in LOG_LEVELS:
        raise SettingsError(f"log level must be one of {', '.join(LOG_LEVELS)}, not {args.log_level!r}")
    try:
        max_body = int(args.max_body_bytes)
        if max_body < 1:
            raise ValueError
    except ValueError:
        raise SettingsError(f"max body bytes must be a positive integer, not {args.max_body_bytes!r}") from None
    try:
        pool_size = int(args.pool_size)
        if not 1 <= pool_size <= 1000:
            raise ValueError
    except ValueError:
        raise SettingsError(
            f"pool size (PIM_POOL_SIZE) must be an integer in 1..1000, not {args.pool_size!r}"
        ) from None
    allow = args.allow_destructive_migration
    if allow is None:
        allow = _env_bool(env, "PIM_ALLOW_DESTRUCTIVE_MIGRATION")
    return Settings(
        model=args.model,
        database_url=database_url,
        host=args.host,
        port=port,
        allow_destructive_migration=allow,
        log_level=level,
        max_body_bytes=max_body,
        pool_size=pool_size,
    )


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
