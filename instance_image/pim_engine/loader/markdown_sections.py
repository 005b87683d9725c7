"""Which section is which: heading words, labels and titles, read alike in every dialect.

Model files name their sections in English or Chinese, numbered or not, with emphasis or code ticks;
the entity, service, flow and rule readers all ask the questions answered here ("what kind of
section is this?", "what does this ``标签：`` line label?", "which name and alias does this title
give?") so that they agree on the answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pim_engine.loader.markdown_doc import Code, Document, Item, Paragraph, Section

META = {
    "domain": ("domain", "domain name", "领域", "领域名称", "域", "domain_name"),
    "version": ("version", "版本", "版本号"),
    "description": (
        "description",
        "overview",
        "summary",
        "background",
        "描述",
        "说明",
        "概述",
        "简介",
        "系统概述",
        "业务概述",
        "系统描述",
        "业务描述",
        "领域概述",
        "业务背景",
        "系统简介",
        "项目概述",
        "背景",
    ),
}
_KINDS = (
    ("rules", ("规则", "约束", "rule", "constraint", "invariant")),
    ("flows", ("流程", "flow", "process", "workflow")),
    ("entities", ("实体", "领域对象", "数据模型", "业务对象", "entit", "data model", "domain object")),
    ("services", ("服务", "service", "业务操作", "系统功能", "功能列表", "operations", "api")),
    ("container", ("模型", "model", "领域", "domain", "设计", "design")),
)
DESCRIPTION_LABELS = {"定义", "描述", "说明", "description", "definition", "summary"}
_LABEL = re.compile(r"^(?:\*\*|__)?\s*(?P<label>[^*_:：]{1,24}?)\s*(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?\s*(?P<rest>.*)$")
KEY_LINE = re.compile(r"^(?:\*\*|__)?\s*(?P<key>[\w ]+?)\s*(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?\s*(?P<value>\S.*)$")


def clean_title(title: str) -> str:
    """A heading's words without numbering, emphasis, code ticks or a trailing colon."""
    text = re.sub(r"^(?:\d+(?:\.\d+)*[.、)]?|[一二三四五六七八九十]+[、.])\s*", "", title.strip())
    text = text.replace("**", "").replace("__", "").replace("`", "")
    return text.strip().rstrip(":：").strip()


def split_label(text: str) -> tuple[str, str] | None:
    match = _LABEL.match(text.strip())
    if not match:
        return None
    return match["label"].strip().lower(), match["rest"].strip()


def _kind(title: str) -> str | None:
    words = clean_title(title).lower()
    for kind, names in META.items():
        if words in names:
            return kind
    for kind, keys in _KINDS:
        if any(k in words for k in keys) and not words.startswith("非"):
            return kind
    return None


def split_alias(title: str) -> tuple[str, str | None]:
    """``用户 (User)`` -> ``("User", "用户")``; ``Order`` -> ``("Order", None)``."""
    text = re.sub(r"^(?:实体|entity|service|服务|对象)\s*[:：]\s*", "", clean_title(title), flags=re.I)
    match = re.match(r"^(?P<a>.*?)\s*[(（]\s*(?P<b>[^()（）]+?)\s*[)）]\s*$", text)
    if not match or not match["a"]:
        return _identifier(text), None
    first, second = match["a"].strip(), match["b"].strip()
    if re.fullmatch(r"[A-Za-z_][\w ./]*", second) and not re.fullmatch(r"[A-Za-z_][\w ]*", first):
        return _identifier(second), first
    return _identifier(first), second


def _identifier(text: str) -> str:
    """Multi-word English names become PascalCase (``Order Item`` -> ``OrderItem``); others lose spaces."""
    text = text.strip()
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9 ]*", text) and " " in text:
        return "".join(w[:1].upper() + w[1:] for w in text.split())
    return re.sub(r"\s+", "", text)


def domain_slug(title: str) -> str:
    """A domain from a title: ASCII words when there are any, the title's own words otherwise."""
    text = re.sub(r"^[^:：]*(?:模型|PIM|Model)[^:：]*[:：]\s*", "", title.strip(), flags=re.I)
    text = re.sub(r"[(（]\s*PIM\s*[)）]", " ", text, flags=re.I)
    text = re.sub(r"(?<![A-Za-z])PIM(?:\s+Model)?(?![A-Za-z])", " ", text, flags=re.I)
    text = re.sub(r"\s+Model\s*$", "", text.strip(), flags=re.I)
    ascii_words = re.findall(r"[A-Za-z0-9]+", text)
    if any(re.search(r"[A-Za-z]", w) for w in ascii_words):
        return "-".join(w.lower() for w in ascii_words)
    return "-".join(re.findall(r"\w+", text)).lower()


def layout(doc: Document) -> tuple[str, list[object], list[Section]]:
    """The title, the blocks before the first section and the top-level sections."""
    top = doc.root.children
    if len(top) == 1 and top[0].level == 1:
        return clean_title(top[0].title), doc.root.blocks + top[0].blocks, top[0].children
    if top and top[0].level == 1 and _kind(top[0].title) is None:
        return clean_title(top[0].title), doc.root.blocks + top[0].blocks, top[0].children + top[1:]
    title = next((clean_title(s.title) for s in doc.root.walk() if s.level == 1 and _kind(s.title) is None), "")
    return title, list(doc.root.blocks), top


def classify(sections: Iterable[Section]) -> list[tuple[str, Section]]:
    found = []
    for section in sections:
        kind = _kind(section.title)
        if kind == "container":
            found.extend(classify(section.children))
        elif kind is not None:
            found.append((kind, section))
    return found


def first_text(section: Section) -> str:
    for block in section.blocks:
        if isinstance(block, Paragraph):
            return block.text.strip().strip("`")
        if isinstance(block, Code):
            return block.text.strip()
    return ""


def flatten(item: Item) -> str:
    parts = [item.text.replace("**", "")] + [flatten(c) for c in item.children]
    return "; ".join(p for p in parts if p)
