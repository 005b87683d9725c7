"""The attribute type vocabulary: every spelling a model may use, mapped onto ``model.TYPES``.

Model authors write ``int``, ``整数``, ``varchar(100)``, ``枚举[a, b]`` or an entity's name; the
rest of the engine only ever sees the canonical names, so the mapping lives here, in one table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pim_engine.model import TYPES

_ALIASES: dict[str, tuple[str, ...]] = {
    "string": (
        "string",
        "str",
        "varchar",
        "char",
        "character",
        "email",
        "url",
        "uri",
        "uuid",
        "guid",
        "phone",
        "password",
        "slug",
        "ip",
        "字符串",
        "字符",
        "字符型",
        "短文本",
        "邮箱",
        "网址",
    ),
    "text": ("text", "longtext", "mediumtext", "markdown", "html", "文本", "长文本", "富文本", "大文本"),
    "integer": (
        "integer",
        "int",
        "long",
        "bigint",
        "smallint",
        "tinyint",
        "int32",
        "int64",
        "serial",
        "整数",
        "整型",
        "长整数",
        "长整型",
    ),
    "float": (
        "float",
        "double",
        "real",
        "number",
        "float64",
        "浮点",
        "浮点数",
        "浮点型",
        "双精度",
        "百分比",
        "percent",
        "percentage",
    ),
    "decimal": ("decimal", "numeric", "money", "currency", "小数", "金额", "货币", "定点数"),
    "boolean": ("boolean", "bool", "flag", "布尔", "布尔值", "布尔型", "是否"),
    "date": ("date", "日期"),
    "time": ("time", "时间", "时刻"),
    "datetime": ("datetime", "timestamp", "timestamptz", "date-time", "date_time", "日期时间", "时间戳"),
    "json": ("json", "jsonb", "object", "dict", "map", "array", "list", "对象", "数组", "列表", "集合"),
    "enum": ("enum", "enumeration", "choice", "choices", "枚举", "选项"),
    "reference": ("reference", "ref", "foreign_key", "foreignkey", "fk", "引用", "外键", "关联"),
}

#: Spelling (lower-cased, spaces removed) -> canonical type.
TYPE_WORDS: dict[str, str] = {alias: canonical for canonical, words in _ALIASES.items() for alias in words}
assert set(_ALIASES) == set(TYPES)

_ARGS = re.compile(r"^(?P<word>[^\[\](){}<>]+?)\s*(?:[(\[（<](?P<args>.*)[)\]）>])?$", re.S)
_COLLECTION = re.compile(r"^(?:\w+\[\]|(?:list|array|set|sequence|List|Array|Set)\s*[\[<(].*[\]>)])$")


class UnknownType(ValueError):
    """A type spelling that is neither a known type word nor an entity name."""

    def __init__(self, spelling: str) -> None:
        self.spelling = spelling
        super().__init__(f"unknown type {spelling!r}; allowed types: {', '.join(TYPES)} or an entity name")


@dataclass(frozen=True)
class TypeSpec:
    """A parsed type spelling; ``enum``/``max_length`` come from arguments such as ``varchar(100)``."""

    type: str
    reference: str | None = None
    enum: tuple[str, ...] | None = None
    max_length: int | None = None


def split_values(text: str) -> tuple[str, ...]:
    """Split an enum value list written with any of ``, ， 、 / | ;`` and optional quotes."""
    parts = re.split(r"\s*[,，、/|;；]\s*", text.strip())
    return tuple(p.strip().strip("'\"“”‘’`").strip() for p in parts if p.strip().strip("'\"“”‘’`").strip())


def canonical_word(word: str) -> str | None:
    """The canonical type for a bare type word, or None."""
    return TYPE_WORDS.get(re.sub(r"\s+", "", word).lower())


def resolve_entity(word: str, entities: Mapping[str, str]) -> str | None:
    """An entity's canonical name for ``word`` (exact first, then case-insensitive), or None."""
    if word in entities:
        return entities[word]
    lowered = {k.lower(): v for k, v in entities.items()}
    return lowered.get(word.lower())


def parse_type(spelling: str, entities: Mapping[str, str]) -> TypeSpec:
    """Parse a type spelling; ``entities`` maps every name (and alias) an entity may be called by.

    Raises UnknownType when the spelling means nothing.
    """
    text = spelling.strip().strip("`*").strip()
    if not text:
        raise UnknownType(spelling)
    if _COLLECTION.match(text):
        return TypeSpec("json")
    match = _ARGS.match(text)
    word, args = (match["word"].strip(), match["args"]) if match else (text, None)
    canonical = canonical_word(word)
    if canonical is None:
        target = resolve_entity(word, entities)
        if target is not None and args is None:
            return TypeSpec("reference", reference=target)
        raise UnknownType(spelling)
    if args is None or not args.strip():
        return TypeSpec(canonical)
    if canonical == "enum":
        return TypeSpec("enum", enum=split_values(args))
    if canonical == "reference":
        target = resolve_entity(args.strip(), entities)
        if target is None:
            return TypeSpec("reference", reference=args.strip())
        return TypeSpec("reference", reference=target)
    if canonical in ("string", "text") and args.strip().isdigit():
        return TypeSpec(canonical, max_length=int(args))
    if canonical in ("decimal", "float", "integer") and re.fullmatch(r"\s*\d+\s*(,\s*\d+\s*)?", args):
        return TypeSpec(canonical)
    raise UnknownType(spelling)
