"""Markdown models: find the entity, service, flow and rule sections by their headings, then read them.

Sections are recognized by words in their titles (``## Entities``, ``## 业务实体``, ``## 领域对象``,
``## 核心实体``; ``服务``/``Services``; ``规则``/``约束``/``Rules``; ``流程``/``Flows``), so the
reader does not depend on one author's template. Entities are headings under an entity section that
hold attribute bullets (or a table); headings in between are only groups.

This module reads the front matter and the model's metadata and puts the parts together; each kind of
section has its own reader (``markdown_entities``, ``markdown_services``, ``markdown_rules_flows``),
and ``markdown_sections`` tells them which section is which.
"""

from __future__ import annotations

from pathlib import PurePath

import yaml

from pim_engine.loader.assembly import Locator, assemble
from pim_engine.loader.markdown_doc import Document, Paragraph, parse_document
from pim_engine.loader.markdown_entities import build_entity, entity_drafts
from pim_engine.loader.markdown_rules_flows import Gathered, read_flows, read_rules, read_stray_flows
from pim_engine.loader.markdown_sections import KEY_LINE, META, classify, domain_slug, first_text, layout
from pim_engine.loader.markdown_services import read_services
from pim_engine.model import Model


def parse_markdown(text: str, where: Locator) -> Model:
    doc = parse_document(text)
    meta = _front_matter(doc, where)
    title, intro, sections = layout(doc)
    gathered = Gathered(where)
    for block in intro:
        if isinstance(block, Paragraph) and (match := KEY_LINE.match(block.text)):
            key = match["key"].strip().lower()
            for field_name, names in META.items():
                if key in names and field_name != "description":
                    meta.setdefault(field_name, match["value"].strip())
    classified = classify(sections)
    for kind, section in classified:
        if kind in ("domain", "version", "description"):
            value = first_text(section)
            if value:
                meta.setdefault(kind, value)
    if "description" not in meta:
        value = next((b.text for b in intro if isinstance(b, Paragraph) and not KEY_LINE.match(b.text)), "")
        if value:
            meta["description"] = value
    drafts = [d for kind, s in classified if kind == "entities" for d in entity_drafts(s, where)]
    names: dict[str, str] = {}
    for draft in drafts:
        names.setdefault(draft.name, draft.name)
        if draft.alias:
            names.setdefault(draft.alias, draft.name)
    entities = [build_entity(d, names, where) for d in drafts]
    services = [svc for kind, s in classified if kind == "services" for svc in read_services(s, gathered)]
    for kind, section in classified:
        if kind == "flows":
            read_flows(section, gathered)
        if kind == "rules":
            read_rules(section, gathered)
    for section in doc.root.walk():
        read_stray_flows(section, gathered)
    domain = str(meta.get("domain") or "").strip() or (domain_slug(title) if title else "")
    if not domain and where.source:
        domain = domain_slug(PurePath(where.source).stem.replace("_", " "))
    return assemble(
        where,
        domain=domain,
        version=str(meta.get("version") or "1.0.0"),
        description=str(meta.get("description") or ""),
        entities=entities,
        services=services,
        flows=gathered.flows,
        rules=gathered.rules,
    )


def _front_matter(doc: Document, where: Locator) -> dict[str, object]:
    if doc.front_matter is None:
        return {}
    try:
        data = yaml.safe_load(doc.front_matter)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = doc.front_matter_line + mark.line if mark else doc.front_matter_line
        raise where.error(f"front matter is not valid YAML: {getattr(exc, 'problem', exc)}", line=line) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise where.error("front matter must be a mapping", line=doc.front_matter_line)
    found = {}
    for key in ("domain", "version", "description"):
        if data.get(key) is not None:
            found[key] = str(data[key]).strip()
    if "domain" not in found and data.get("name"):
        found["domain"] = str(data["name"]).strip()
    return found
