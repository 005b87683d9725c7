"""The parts of a YAML model beside attributes and flows: ``constraints`` entries, ``indexes``, ``rules``.

``indexes`` take the forms people write: a name, a list of names, or a mapping with ``fields`` (or
``columns``) and ``unique``. A one-column unique index makes its attribute unique; a composite
unique one is kept as a documented (unenforced) constraint, the others become lookup indexes.
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


def entity_indexes(
    spec: Any, attrs: Sequence[Attribute], constraints: list[str], element: str, where: Locator
) -> tuple[list[Attribute], tuple[tuple[str, ...], ...]]:
    """An entity's attributes with one-column unique indexes folded in, and its lookup indexes.

    Composite unique indexes are added to ``constraints`` as documentation.
    """
    raw = spec.get("indexes")
    if raw is None:
        return list(attrs), ()
    if not isinstance(raw, list):
        raise where.error("'indexes' must be a list", element=element, line=spec.at("indexes"))
    indexes: list[tuple[str, ...]] = []
    unique: set[str] = set()
    for item, item_line in zip(raw, getattr(raw, "item_lines", [None] * len(raw)), strict=True):
        parsed = _index_columns(item)
        if parsed is None or not parsed[0] or not all(parsed[0]):
            raise where.error(
                f"an index must name attributes: a name, a list, or a mapping with 'fields'; not {item!r}",
                element=element,
                line=item_line,
            )
        columns, is_unique = parsed
        if is_unique and len(columns) == 1:
            unique.add(columns[0])
            continue
        if is_unique:
            constraints.append(f"unique ({', '.join(columns)})")
        if tuple(columns) not in indexes:
            indexes.append(tuple(columns))
    return [replace(a, unique=True) if a.name in unique else a for a in attrs], tuple(indexes)


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
