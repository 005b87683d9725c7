"""The seam between the HTTP layer and a database: what an entity store does, and how it fails.

The routes hand validated Python values (``Decimal``, ``date``, ``bool``, parsed JSON...) to an
``EntityStore`` and get back items ready to serialize as JSON (decimals and dates as strings), so a
backend decides alone how values are stored. Failures are the exceptions below, never a driver's
own, so the routes map them to status codes the same way for every backend. ``sqlite.py`` is the
embedded backend, ``postgres.py`` the shared one; ``open_database`` picks one from a database URL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Item = dict[str, Any]


class StorageError(Exception):
    """Base of the failures a store reports."""


class UniqueViolation(StorageError):
    """A write would store a value a unique attribute (or combination of ``fields``) already holds."""

    def __init__(self, entity: str, fields: Sequence[str]) -> None:
        super().__init__(f"{entity}: duplicate value for {', '.join(fields)}")
        self.entity = entity
        self.fields = list(fields)


class MissingReference(StorageError):
    """A reference names a row that does not exist."""

    def __init__(self, field: str, target: str, value: Any) -> None:
        super().__init__(f"no {target} with id {value!r}")
        self.field = field
        self.target = target
        self.value = value


class StillReferenced(StorageError):
    """A row cannot be deleted while another row references it."""

    def __init__(self, entity: str, key: Any, by: str) -> None:
        super().__init__(f"{entity} {key!r} is still referenced by {by}")
        self.by = by


class RuleViolation(StorageError):
    """The row a write would leave behind breaks a rule of the model (``(field, message, type)``)."""

    def __init__(self, violations: Sequence[tuple[str, str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m, _ in violations))
        self.violations = list(violations)


class Unavailable(StorageError):
    """The database cannot take the request now (locked file, lost connection): 503."""


class StorageFull(Unavailable):
    """The database's storage is full: writes fail until space is freed, reads go on (507)."""


#: ``/ready`` reasons the operator reads (keep the strings: they are its DatabaseReady reasons).
UNREACHABLE = "Unreachable"
MIGRATION_REFUSED = "MigrationRefused"
UNAVAILABLE = "Unavailable"


@dataclass(frozen=True)
class Problem:
    """Why the database cannot serve: a reason from the constants above and a readable detail."""

    reason: str
    detail: str


@dataclass(frozen=True)
class ListQuery:
    """A page of a collection: equality filters (any of the values), order, paging."""

    filters: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    order: tuple[tuple[str, bool], ...] = ()  # (column, descending); the key is appended last
    skip: int = 0
    limit: int = 100


class EntityStore(Protocol):
    """The rows of one entity. Values in are validated Python values; items out are JSON-ready."""

    name: str

    async def create(self, values: Mapping[str, Any]) -> Item: ...

    async def get(self, key: Any) -> Item | None: ...

    async def update(self, key: Any, values: Mapping[str, Any]) -> Item | None: ...

    async def delete(self, key: Any) -> bool: ...

    async def list(self, query: ListQuery) -> tuple[list[Item], int]: ...


class Database(Protocol):
    """One instance's database: a store per entity, readiness, row counts for metrics.

    ``start`` and ``stop`` run in the app's lifespan; ``start`` never fails for a database that
    cannot be reached (the app serves ``/health`` and says why it is not ready instead).
    """

    stores: Mapping[str, EntityStore]

    def row_counts(self) -> Mapping[str, int]: ...

    async def check_ready(self) -> Problem | None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
