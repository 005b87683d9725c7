"""Database URLs: ``sqlite:///path`` (embedded, the default) or ``postgresql://user:pass@host:port/db``.

The PostgreSQL form is what CloudNativePG's ``<cluster>-app`` and Crunchy PGO's ``pguser`` Secrets
hold under ``uri``, used as it is: percent-encoded passwords, several ``host:port`` pairs, and
libpq query parameters (``sslmode``, ``sslrootcert``, ``target_session_attrs``...). asyncpg reads
most of them itself; the few that only libpq knows are taken out here (``connect_timeout`` sets the
connection timeout) instead of reaching the server as unknown settings. Messages never show the
password: ``redact`` replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
#: libpq connection parameters asyncpg does not know (it would send them to the server as settings).
_LIBPQ_ONLY = frozenset(
    {
        "connect_timeout",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "channel_binding",
        "gssencmode",
        "sslcompression",
        "requiressl",
        "fallback_application_name",
        "client_encoding",
    }
)
DEFAULT_CONNECT_TIMEOUT = 5.0


class DatabaseUrlError(ValueError):
    """A URL the engine cannot use; the message says what is wrong without showing a password."""


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed URL: ``kind`` is ``sqlite`` (``path`` set) or ``postgresql`` (``dsn`` set)."""

    kind: str
    path: str = ""
    dsn: str = ""
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    application_name: str | None = None

    def __str__(self) -> str:
        return self.path if self.kind == SQLITE else redact(self.dsn)


def redact(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if "@" not in parts.netloc:
        return url
    auth, _, hosts = parts.netloc.rpartition("@")
    user, colon, _ = auth.partition(":")
    return urlunsplit(parts._replace(netloc=f"{user}{':***' if colon else ''}@{hosts}"))


def parse(url: str) -> DatabaseUrl:
    """Parse ``sqlite:///relative``, ``sqlite:////absolute`` or ``postgresql://...`` (``postgres://`` too)."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise DatabaseUrlError(f"database URL {redact(url)!r} has no scheme: use sqlite:///path or postgresql://...")
    if scheme == SQLITE:
        if not rest.startswith("/") or rest == "/":
            raise DatabaseUrlError(
                f"SQLite URL {url!r} names no file: use sqlite:///relative/path or sqlite:////absolute/path"
            )
        return DatabaseUrl(SQLITE, path=rest[1:])
    if scheme in ("postgresql", "postgres"):
        return _postgres(url)
    raise DatabaseUrlError(f"database URL scheme {scheme!r} is not supported: use sqlite:///path or postgresql://...")


def _postgres(url: str) -> DatabaseUrl:
    try:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as err:
        raise DatabaseUrlError(f"PostgreSQL URL {redact(url)!r} cannot be parsed: {err}") from None
    if not parts.netloc.rpartition("@")[2] and not any(k == "host" for k, _ in query):
        raise DatabaseUrlError(f"PostgreSQL URL {redact(url)!r} names no host")
    timeout = DEFAULT_CONNECT_TIMEOUT
    application_name = None
    kept = []
    for key, value in query:
        if key == "connect_timeout":
            try:
                timeout = float(value)
            except ValueError:
                raise DatabaseUrlError(f"connect_timeout must be a number of seconds, not {value!r}") from None
            if timeout <= 0:  # libpq: 0 means wait forever; a probe must not hang, keep the default
                timeout = DEFAULT_CONNECT_TIMEOUT
        elif key == "application_name" or (key == "fallback_application_name" and application_name is None):
            application_name = value
        elif key not in _LIBPQ_ONLY:
            kept.append((key, value))
    dsn = urlunsplit(parts._replace(scheme="postgresql", query=urlencode(kept)))
    return DatabaseUrl(POSTGRESQL, dsn=dsn, connect_timeout=timeout, application_name=application_name)


def sqlite_url(path: str) -> str:
    """The URL of an SQLite file (``--db`` and ``PIM_DB`` are shorthands for it)."""
    return "sqlite:///" + path
