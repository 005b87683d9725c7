"""``pim-engine serve``: load the model, migrate the database, serve until SIGTERM.

Exit codes: 0 after a graceful stop (SIGTERM or SIGINT: ``--drain-seconds`` of serving with
``Connection: close``, see ``draining.py``; then in-flight requests finish and the WAL is
checkpointed), 1 for a model that cannot be loaded or an SQLite file that cannot be opened, 2 for
a refused migration or unusable settings. Failures print one line to stderr, never a traceback.

A PostgreSQL database is migrated before serving too, so a refused migration exits 2 the same way;
one that cannot be reached at start does not stop the engine: it serves ``/health``, answers
``/ready`` with 503 and the reason, and connects (and migrates) as soon as the database answers.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
from collections.abc import Sequence
from typing import Any

from pim_engine.database_url import redact
from pim_engine.model import ModelError
from pim_engine.settings import SettingsError, parse_settings

EXIT_BAD_MODEL = 1
EXIT_REFUSED = 2


def _fail(message: str, code: int) -> int:
    print(f"pim-engine serve: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    # Pydantic looks for plugins by scanning every installed distribution's entry points when the
    # first model is built: most of a second on a busy node, for plugins an engine never has.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        settings = parse_settings(list(argv) if argv is not None else None, os.environ)
    except SettingsError as err:
        return _fail(str(err), EXIT_REFUSED)

    from pim_engine.app import create_app
    from pim_engine.loader import load_model
    from pim_engine.migrate import MigrationRefused

    try:
        model = load_model(settings.model)
        app = create_app(
            model,
            settings.database_url,
            allow_destructive_migration=settings.allow_destructive_migration,
            max_body_bytes=settings.max_body_bytes,
            pool_size=settings.pool_size,
            access=settings.access,
        )
        database = app.state.database
        if hasattr(database, "migrate"):
            _migrate_postgres(database)
    except ModelError as err:
        return _fail(str(err), EXIT_BAD_MODEL)
    except MigrationRefused as err:
        return _fail(str(err), EXIT_REFUSED)
    except (sqlite3.Error, OSError) as err:
        return _fail(f"{redact(settings.database_url)}: cannot open the database: {err}", EXIT_BAD_MODEL)

    import uvicorn

    from pim_engine.draining import CloseWhileDraining, Drain, DrainingServer

    drain = Drain()
    config = uvicorn.Config(
        CloseWhileDraining(app, drain),
        host=settings.host,
        port=settings.port,
        http="auto",  # httptools when installed (it is a dependency), else h11
        loop="auto",  # uvloop when installed (it is a dependency), else asyncio
        lifespan="on",
        log_level=settings.log_level,
        access_log=settings.log_level in ("debug", "trace"),
        server_header=False,
        proxy_headers=False,
    )
    server = DrainingServer(config, drain, settings.drain_seconds)
    # uvicorn re-raises the stop signal once it has drained; with the default handler that would
    # kill the process with SIGTERM's status instead of exiting 0 after a clean shutdown.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    try:
        server.run()
    finally:
        close = getattr(app.state.database, "close", None)
        if close is not None:  # SQLite: checkpoint even when the lifespan did not run to its end
            close()
    return 0 if server.started else 1


def _migrate_postgres(database: Any) -> None:
    """Migrate before serving, so a refused migration exits 2; an unreachable database is retried later."""
    import asyncio

    import asyncpg

    from pim_engine.storage.postgres import UNREACHABLE_ERRORS, describe

    try:
        asyncio.run(database.migrate())
    except (*UNREACHABLE_ERRORS, asyncpg.PostgresError) as err:
        print(
            f"pim-engine serve: database {database.url} unreachable at start ({describe(err)}); "
            "serving /health and retrying",
            file=sys.stderr,
        )


if __name__ == "__main__":
    sys.exit(main())
