"""The settings of ``pim-engine serve``: command-line flags, each with a ``PIM_*`` environment default.

The container sets the environment; a person at a shell passes flags; a flag wins over the
environment. Bad values fail here, before anything is loaded, with the offending name in the message.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


class SettingsError(ValueError):
    """A flag or environment variable with an unusable value."""


@dataclass(frozen=True)
class Settings:
    model: str
    db: str
    host: str = "0.0.0.0"
    port: int = 8000
    allow_destructive_migration: bool = False
    log_level: str = "info"
    max_body_bytes: int = 1 << 20


def _env_bool(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, not {env[name]!r}")


def _parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pim-engine serve", description="Serve a PIM model as a REST API over its own SQLite database."
    )
    parser.add_argument("--model", default=env.get("PIM_MODEL"), help="model file (.yaml/.md/.json) [PIM_MODEL]")
    parser.add_argument("--db", default=env.get("PIM_DB"), help="SQLite database file [PIM_DB]")
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
    if not args.db:
        raise SettingsError("no database file: pass --db or set PIM_DB")
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
    allow = args.allow_destructive_migration
    if allow is None:
        allow = _env_bool(env, "PIM_ALLOW_DESTRUCTIVE_MIGRATION")
    return Settings(
        model=args.model,
        db=args.db,
        host=args.host,
        port=port,
        allow_destructive_migration=allow,
        log_level=level,
        max_body_bytes=max_body,
    )
