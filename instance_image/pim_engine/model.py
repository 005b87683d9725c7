"""The normalized PIM model: the one shape every input format is loaded into.

Everything downstream (the REST service, the database schema, the operator's validation and
status) reads this shape only, so a model means the same thing whatever dialect it was written in.
The digest is taken over the canonical JSON of the normalized form, so reformatting a file, or
moving it from YAML to Markdown, does not change it, while any change of meaning does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

#: The attribute types a model may use. Decimal is exact (stored as text, served as a string).
TYPES: tuple[str, ...] = (
    "string",
    "text",
    "integer",
    "float",
    "decimal",
    "boolean",
    "date",
    "time",
    "datetime",
    "json",
    "enum",
    "reference",
)


class ModelError(ValueError):
    """A model that cannot be loaded; the message names the file, element and line where known."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        element: str | None = None,
        line: int | None = None,
    ) -> None:
        self.reason = message
        self.source = source
        self.element = element
        self.line = line
        super().__init__(self.render())

    def render(self) -> str:
        where = self.source or "<model>"
        if self.line is not None:
            where += f":{self.line}"
        prefix = f"{where}: "
        if self.element:
            prefix += f"{self.element}: "
        return prefix + self.reason


@dataclass(frozen=True)
class Attribute:
    name: str
    type: str
    required: bool = True
    unique: bool = False
    default: Any = None
    enum: tuple[str, ...] | None = None
    reference: str | None = None
    max_length: int | None = None
    primary_key: bool = False
    auto_increment: bool = False
    auto_now: bool = False
    auto_now_add: bool = False
    description: str = ""
    line: int | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "unique": self.unique,
            "default": self.default,
            "enum": list(self.enum) if self.enum is not None else None,
            "reference": self.reference,
            "max_length": self.max_length,
            "primary_key": self.primary_key,
            "auto_increment": self.auto_increment,
            "auto_now": self.auto_now,
            "auto_now_add": self.auto_now_add,
            "description": self.description,
        }


@dataclass(frozen=True)
class Entity:
    name: str
    attributes: tuple[Attribute, ...]
    description: str = ""
    constraints: tuple[str, ...] = ()
    #: Lookup indexes, each a tuple of attribute names (unique ones are attributes' ``unique``).
    indexes: tuple[tuple[str, ...], ...] = ()
    #: Composite unique constraints, each a tuple of two or more attribute names, enforced by a
    #: unique index (one-column ones are attributes' ``unique``). NULLs never clash, as in SQL.
    uniques: tuple[tuple[str, ...], ...] = ()
    line: int | None = field(default=None, compare=False)

    @property
    def collection(self) -> str:
        """The REST collection: the name lower-cased plus "s" (``OrderItem`` -> ``orderitems``)."""
        return self.name.lower() + "s"

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "attributes": [a.to_dict() for a in self.attributes],
            "constraints": list(self.constraints),
        }
        if self.indexes:  # only when present, so models without indexes keep their digests
            out["indexes"] = [list(columns) for columns in self.indexes]
        if self.uniques:  # likewise: models without composite uniques keep their digests
            out["uniques"] = [list(columns) for columns in self.uniques]
        return out


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    required: bool = True
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "description": self.description,
        }


@dataclass(frozen=True)
class Method:
    name: str
    description: str = ""
    parameters: tuple[Parameter, ...] = ()
    returns: str | None = None
    flow: str | None = None
    rules: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "parameters": [p.to_dict() for p in self.parameters],
            "returns": self.returns,
            "flow": self.flow,
            "rules": list(self.rules),
        }


@dataclass(frozen=True)
class Service:
    name: str
    description: str = ""
    methods: tuple[Method, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "methods": [m.to_dict() for m in self.methods],
        }


@dataclass(frozen=True)
class FlowStep:
    id: str
    label: str = ""
    type: str = "action"  # start | end | action | decision
    next: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "type": self.type, "next": list(self.next)}


@dataclass(frozen=True)
class FlowEdge:
    source: str
    target: str
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "label": self.label}


@dataclass(frozen=True)
class Flow:
    name: str
    description: str = ""
    steps: tuple[FlowStep, ...] = ()
    edges: tuple[FlowEdge, ...] = ()
    diagram: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "steps": [s.to_dict() for s in self.steps],
            "edges": [e.to_dict() for e in self.edges],
            "diagram": self.diagram,
        }


@dataclass(frozen=True)
class Model:
    domain: str
    entities: tuple[Entity, ...]
    version: str = "1.0.0"
    description: str = ""
    services: tuple[Service, ...] = ()
    flows: tuple[Flow, ...] = ()
    rules: tuple[tuple[str, str], ...] = ()  # (id, text), in source order
    source: str | None = field(default=None, compare=False)

    def entity(self, name: str) -> Entity | None:
        return next((e for e in self.entities if e.name == name), None)

    def body(self) -> dict[str, Any]:
        """The normalized form without the digest: the input to the digest."""
        return {
            "domain": self.domain,
            "version": self.version,
            "description": self.description,
            "entities": [e.to_dict() for e in self.entities],
            "services": [s.to_dict() for s in self.services],
            "flows": [f.to_dict() for f in self.flows],
            "rules": [{"id": k, "text": v} for k, v in self.rules],
        }

    @property
    def digest(self) -> str:
        return digest_of(self.body())

    def to_dict(self) -> dict[str, Any]:
        """The normalized model as served by ``/model`` and ``pim-engine validate --json``."""
        body = self.body()
        return {"domain": self.domain, "version": self.version, "digest": digest_of(body), **body}


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest_of(body: dict[str, Any]) -> str:
    """``sha256:<hex>`` of the canonical JSON of a normalized model body."""
    return "sha256:" + hashlib.sha256(canonical_json(body).encode()).hexdigest()
