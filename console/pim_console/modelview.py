"""What the UI shows of a model: entities, attributes, the references between entities, and the
form of each entity's rows. Built from the engine's own normalized model, so the console and the
instances agree on types, keys and collection paths.
"""

from __future__ import annotations

from typing import Any

from pim_engine.model import Attribute, Entity, Model
from pim_engine.schema import key_attribute

#: How each attribute type is edited in the UI's forms.
INPUT = {
    "string": "text",
    "text": "textarea",
    "integer": "integer",
    "float": "number",
    "decimal": "decimal",
    "boolean": "boolean",
    "date": "date",
    "time": "time",
    "datetime": "datetime",
    "json": "json",
    "enum": "enum",
    "reference": "reference",
}


def attribute_view(attr: Attribute, *, key: bool = False, implicit: bool = False) -> dict[str, Any]:
    read_only = implicit or attr.auto_increment or attr.auto_now or attr.auto_now_add
    return {
        "name": attr.name,
        "type": attr.type,
        "input": INPUT.get(attr.type, "text"),
        "required": bool(attr.required) and not read_only and attr.default is None,
        "unique": attr.unique,
        "default": attr.default,
        "enum": list(attr.enum) if attr.enum is not None else None,
        "reference": attr.reference,
        "maxLength": attr.max_length,
        "key": key,
        "readOnly": bool(read_only),
        "description": attr.description,
    }


def entity_view(entity: Entity) -> dict[str, Any]:
    key, implicit = key_attribute(entity)
    attrs = [attribute_view(key, key=True, implicit=implicit)] if implicit else []
    attrs += [attribute_view(a, key=a.name == key.name) for a in entity.attributes]
    return {
        "name": entity.name,
        "description": entity.description,
        "collection": entity.collection,
        "key": key.name,
        "attributes": attrs,
        "constraints": list(entity.constraints),
    }


def references(model: Model) -> list[dict[str, str]]:
    """Edges of the entity diagram: ``from``.``attribute`` refers to ``to``."""
    return [
        {"from": e.name, "attribute": a.name, "to": a.reference}
        for e in model.entities
        for a in e.attributes
        if a.type == "reference" and a.reference
    ]


def model_view(model: Model) -> dict[str, Any]:
    return {
        "domain": model.domain,
        "version": model.version,
        "description": model.description,
        "digest": model.digest,
        "entities": [entity_view(e) for e in model.entities],
        "references": references(model),
        "services": [
            {"name": s.name, "description": s.description, "methods": [m.name for m in s.methods]}
            for s in model.services
        ],
        "rules": [{"id": k, "text": v} for k, v in model.rules],
    }
