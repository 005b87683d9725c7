"""Entity sections: headings that hold attribute bullets or tables become entities.

Headings in between are only groups; labelled sub-headings and paragraphs (``属性``, ``约束``,
``关系``, ``索引``) switch between attributes, constraints, indexes and parts to skip. Attribute bullets
and tables are read by ``markdown_attributes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from pim_engine.loader.assembly import Locator, entity_element
from pim_engine.loader.constraints import composite_unique
from pim_engine.loader.markdown_attributes import finish_attribute, read_attribute_line, table_lines
from pim_engine.loader.markdown_doc import Item, ItemList, Paragraph, Section, Table
from pim_engine.loader.markdown_sections import DESCRIPTION_LABELS, clean_title, flatten, split_alias, split_label
from pim_engine.model import Attribute, Entity

_ATTRIBUTE_LABELS = {
    "属性",
    "属性列表",
    "字段",
    "字段列表",
    "attributes",
    "fields",
    "properties",
    "columns",
    "数据项",
}
_SKIP_LABELS = {
    "关系",
    "关联",
    "关联关系",
    "relationships",
    "relations",
    "associations",
    "方法",
    "行为",
    "操作",
    "methods",
    "operations",
    "behaviors",
    "behaviours",
}
#: Index sections: lookups are the database's business, but a composite unique one is a constraint.
_INDEX_LABELS = {"索引", "indexes", "唯一约束", "unique constraints"}
_CONSTRAINT_LABELS = {
    "约束",
    "约束条件",
    "业务规则",
    "规则",
    "constraints",
    "rules",
    "invariants",
    "validation",
    "校验",
}
_MODES = (("attributes", _ATTRIBUTE_LABELS), ("constraints", _CONSTRAINT_LABELS), ("indexes", _INDEX_LABELS))


@dataclass
class EntityDraft:
    """An entity's parts as found under its heading, before its attribute lines are read."""

    name: str
    alias: str | None
    section: Section
    description: list[str] = field(default_factory=list)
    attribute_items: list[Item] = field(default_factory=list)
    table_rows: list[tuple[int, str]] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    index_items: list[str] = field(default_factory=list)


def entity_drafts(section: Section, where: Locator) -> list[EntityDraft]:
    drafts: list[EntityDraft] = []
    for child in section.children:
        _visit_entity(child, drafts, where)
    if not section.children and _has_attributes(section):
        raise where.error(
            "attribute bullets need an entity heading (### Name) above them",
            element=clean_title(section.title),
            line=section.line,
        )
    return drafts


def _has_attributes(section: Section) -> bool:
    return any(isinstance(b, ItemList | Table) for b in section.blocks)


def _visit_entity(section: Section, drafts: list[EntityDraft], where: Locator) -> None:
    title = clean_title(section.title).lower()
    if title in _SKIP_LABELS | _INDEX_LABELS or title in {"实体关系", "relationships", "关系图", "er图", "er diagram"}:
        return
    labelled = [
        c
        for c in section.children
        if clean_title(c.title).lower() in _ATTRIBUTE_LABELS | _SKIP_LABELS | _CONSTRAINT_LABELS | _INDEX_LABELS
    ]
    if _has_attributes(section) or labelled:
        name, alias = split_alias(section.title)
        draft = EntityDraft(name=name, alias=alias, section=section)
        _read_entity_body(draft, section.blocks, "attributes")
        for child in labelled:
            label = clean_title(child.title).lower()
            mode = next((m for m, labels in _MODES if label in labels), "skip")
            _read_entity_body(draft, child.blocks, mode)
        drafts.append(draft)
        return
    if section.children:
        for child in section.children:
            _visit_entity(child, drafts, where)
        return
    name, _ = split_alias(section.title)
    raise where.error("the entity lists no attributes", element=entity_element(name), line=section.line)


def _read_entity_body(draft: EntityDraft, blocks: list[object], mode: str) -> None:
    for block in blocks:
        if isinstance(block, Paragraph):
            labelled = split_label(block.text)
            label, rest = labelled if labelled else ("", "")
            if label in _ATTRIBUTE_LABELS:
                mode = "attributes"
            elif label in _SKIP_LABELS:
                mode = "skip"
            elif label in _INDEX_LABELS:
                mode = "indexes"
                if rest:
                    draft.index_items.append(rest)
            elif label in _CONSTRAINT_LABELS:
                mode = "constraints"
                if rest:
                    draft.constraints.append(rest)
            elif label in DESCRIPTION_LABELS:
                draft.description.append(rest)
            else:
                draft.description.append(block.text.replace("**", ""))
        elif isinstance(block, ItemList):
            if mode == "attributes":
                draft.attribute_items.extend(block.items)
            elif mode == "constraints":
                draft.constraints.extend(flatten(i) for i in block.items)
            elif mode == "indexes":
                draft.index_items.extend(flatten(i) for i in block.items)
        elif isinstance(block, Table) and mode == "attributes":
            draft.table_rows.extend(table_lines(block))


def build_entity(draft: EntityDraft, names: dict[str, str], where: Locator) -> Entity:
    attributes: list[Attribute] = []
    constraints = list(draft.constraints)
    lines = [(i.line, i.text, [flatten(c) for c in i.children]) for i in draft.attribute_items]
    lines += [(number, text, []) for number, text in draft.table_rows]
    for line, text, sub_items in lines:
        attr_draft = read_attribute_line(text, line, where, draft.name)
        attribute, checks = finish_attribute(attr_draft, draft.name, names, where, sub_items)
        attributes.append(attribute)
        constraints.extend(checks)
    text = " ".join(d.strip() for d in draft.description if d.strip())
    description = f"{draft.alias}: {text}" if draft.alias and text else draft.alias or text
    entity = Entity(name=draft.name, attributes=tuple(attributes), description=description, line=draft.section.line)
    # An index item saying its attributes are unique together (or naming a missing one) is a constraint.
    constraints += [t for t in draft.index_items if composite_unique(t, entity) != (None, None)]
    return replace(entity, constraints=tuple(constraints))
