"""The parts of a YAML model beside attributes and flows: ``constraints`` entries, ``indexes``, ``rules``.

``indexes`` take the forms people write: a name, a list of names, or a mapping with ``fields`` (or
``columns``) and ``unique``. A one-column unique index makes its attribute unique; a composite
unique one becomes one of the entity's ``uniques`` (enforced by a unique index over its columns,
which also serves lookups), the others become lookup indexes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from pim_engine.loader.assembly import Locator
from pim_engine.model import Attribute


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def constraint_text(item: Any) -> str:
    """A constraint as text; ``- price: min 0`` is a one-key mapping to YAML, and means ``price: min 0``."""
    if isinstance(item, dict) and len(item) == 1:
        key, value = next(iter(item.items()))
        return f"{_text(key)}: {_text(value)}"
    return _text(item)


def _index_columns(item: Any) -> tuple[list[str], bool] | None:
    """``email``, ``[a, b]`` or ``{fields|columns: [...], unique: true}`` -> (columns, unique)."""
    if isinstance(item, str):
        return [c.strip() for c in item.split(",") if c.strip()], False
    if isinstance(item, list):
        return [_text(c) for c in item], False
    if isinstance(item, dict):
        columns = next((item[k] for k in ("fields", "columns", "attributes", "on") if k in item), None)
        if isinstance(columns, str):
            columns = [c.strip() for c in columns.split(",")]
        if not isinstance(columns, list):
            return None
        return [_text(c) for c in columns], item.get("unique") is True
    return None


Columns = tuple[str, ...]


def entity_indexes(
    spec: Any, attrs: Sequence[Attribute], element: str, where: Locator
) -> tuple[list[Attribute], tuple[Columns, ...], tuple[Columns, ...]]:
    """An entity's attributes with one-column unique indexes folded in, its lookup indexes, and its
    composite unique constraints (``uniques``, from unique ``indexes`` and ``unique_together``)."""
    indexes: list[Columns] = []
    uniques: list[Columns] = []
    unique: set[str] = set()
    for key, always_unique, what in (("indexes", False, "an index"), ("unique_together", True, "a unique constraint")):
        raw = spec.get(key)
        if raw is None:
            continue
        if not isinstance(raw, list):
            raise where.error(f"'{key}' must be a list", element=element, line=spec.at(key))
        for item, item_line in zip(raw, getattr(raw, "item_lines", [None] * len(raw)), strict=True):
            parsed = _index_columns(item)
            if parsed is None or not parsed[0] or not all(parsed[0]):
                raise where.error(
                    f"{what} must name attributes: a name, a list, or a mapping with 'fields'; not {item!r}",
                    element=element,
                    line=item_line,
                )
            columns, is_unique = tuple(parsed[0]), parsed[1] or always_unique
            if is_unique and len(columns) == 1:
                unique.add(columns[0])
                continue
            target = uniques if is_unique else indexes
            # (a, b) and (b, a) are one unique constraint, but two different lookup orders
            known = any(set(columns) == set(o) for o in target) if is_unique else columns in target
            if not known:
                target.append(columns)
    # A unique index serves lookups over the same columns: no second index beside it.
    lookups = tuple(i for i in indexes if i not in uniques)
    return [replace(a, unique=True) if a.name in unique else a for a in attrs], lookups, tuple(uniques)


def model_rules(raw: Any, data: Any, where: Locator) -> list[tuple[str, str]]:
    """``rules:`` as a mapping from id to text, or a list of texts or ``{id, text}`` mappings."""
    if raw is None:
        return []
    if isinstance(raw, dict):
        return [(key, _text(value)) for key, value in raw.items()]
    if not isinstance(raw, list):
        raise where.error("'rules' must be a mapping from rule id to text", line=data.at("rules"))
    rules = []
    for index, (item, line) in enumerate(zip(raw, raw.item_lines, strict=True), start=1):
        if isinstance(item, dict):
            rule_id = _text(item.get("id") or item.get("name")) or f"rule-{index}"
            rules.append((rule_id, _text(item.get("text") or item.get("description"))))
        elif isinstance(item, str | int | float):
            rules.append((f"rule-{index}", _text(item)))
        else:
            raise where.error("a rule must be text or a mapping with 'id' and 'text'", line=line)
    return rules
