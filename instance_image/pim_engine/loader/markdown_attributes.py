"""One attribute bullet (or table row) of a Markdown model, in any of the dialects people write.

Recognized shapes, all with ASCII or full-width punctuation:
``name: type (required, unique)``, ``name: 整数, 主键, 自增``, ``名称 (文本，必填): 说明``,
``**名称**（必填，唯一）- 说明``, ``**状态**（甲、乙）``, ``**客户**（关联到客户）`` and plain
``名称：说明``. When no type is written, it is inferred from the name and description (``创建时间``
is a datetime, ``是否…`` a boolean, ``状态：草稿/已发布`` an enum, ``患者：关联患者`` a reference).
Attribute tables (``名称|类型|必填|说明``) are read as the equivalent bullets (``table_lines``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pim_engine.loader.assembly import Locator, build_attribute, entity_element
from pim_engine.loader.markdown_doc import Table
from pim_engine.loader.types import (
    TypeSpec,
    UnknownType,
    canonical_word,
    parse_type,
    resolve_entity,
    split_values,
)
from pim_engine.model import Attribute

_OPEN, _CLOSE = "(（[【", ")）]】"
_OPTIONAL = re.compile(r"^(?:可选|选填|非必填|非必须|可空|可为空|optional|nullable|not required)$", re.I)
_REQUIRED = re.compile(r"^(?:且?必须填写|且?必填|必须|必需|必要|非空|不能为空|required|mandatory|not null)$", re.I)
_UNIQUE = re.compile(r"唯一|^unique$", re.I)
_PRIMARY = re.compile(r"^(?:主键|primary[ _]?key|pk)$", re.I)
_AUTO_INC = re.compile(r"^(?:自增|自动递增|自增长|auto[ _]?increment|autoincrement|serial)$", re.I)
_GENERATED = re.compile(
    r"^(?:自动生成|自动记录|系统生成|自动填充|auto[ _-]?generated|generated|auto_now_add|auto now add)$", re.I
)
_UPDATED = re.compile(r"^(?:自动更新|更新时自动|auto[ _-]?updated?|auto_now|auto now|on update)$", re.I)
_DEFAULT = re.compile(r"^(?:默认值?|缺省值?|default)\s*(?:为|是|[:：=])?\s*(?P<value>.+)$", re.I)
_REFERENCE = re.compile(
    r"^(?:关联到|关联|引用|外键|指向|references?|refers?[ _]to|ref|fk|foreign[ _]?key|belongs[ _]to|->|=>|→)"
    r"(?:\s+to\b)?\s*[:：]?\s*[(（]?\s*(?P<target>[^()（）\s][^()（）]*?)\s*[)）]?$",
    re.I,
)
#: ``reference Patient``, ``reference to Patient``, ``references Patient``, ``ref Patient``, ``→ Patient``.
_REFERENCE_WORD = re.compile(r"^(?:references?|refers?|ref|->|=>|→)(?:\s|$|(?=[A-Za-z_\u4e00-\u9fff]))", re.I)
_MAX_LENGTH = re.compile(
    r"^(?:最大长度|最长|长度|最多|max[ _]?length|maxlength|max[ _]?len|length)\s*[:：=]?\s*"
    r"(?P<n>\d+)\s*(?:个?字符|chars?|characters)?$",
    re.I,
)
_CHECK = re.compile(
    r"^(?:大于等于|小于等于|大于|小于|不小于|不大于|不超过|至少|>=|<=|>|<|≥|≤|min|max|minimum|maximum|非负|正数|范围)",
    re.I,
)
_ENUM_HINTS = (
    "状态",
    "类型",
    "类别",
    "别",
    "级别",
    "等级",
    "方式",
    "结果",
    "标志",
    "权限",
    "分类",
    "阶段",
    "角色",
)
_ENUM_HINTS_EN = ("status", "state", "type", "kind", "level", "gender", "category", "role", "mode", "stage")


@dataclass
class AttributeDraft:
    """What a bullet says about an attribute before types are resolved against the entity names."""

    name: str
    line: int
    type: TypeSpec | None = None
    type_word: str | None = None
    required: bool | None = None
    unique: bool = False
    default: str | None = None
    enum: tuple[str, ...] | None = None
    reference: str | None = None
    max_length: int | None = None
    primary_key: bool = False
    auto_increment: bool = False
    generated: bool = False
    updated: bool = False
    notes: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    description: str = ""


def split_top(text: str, separators: str = ",，;；") -> list[str]:
    """Split at separators that are not inside brackets or quotes."""
    parts, depth, current, quote = [], 0, [], ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in '"“':
            quote = '"' if char == '"' else "”"
        elif char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth = max(0, depth - 1)
        elif char in separators and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def _bracket(text: str) -> tuple[str, str] | None:
    """``(inner, rest)`` when ``text`` opens with a bracket group (either width), else None."""
    if not text or text[0] not in _OPEN:
        return None
    depth = 0
    for index, char in enumerate(text):
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
            if depth == 0:
                return text[1:index].strip(), text[index + 1 :].strip()
    return None


_NAME_FORMS = (
    re.compile(r"^(?:\*\*|__)(?P<name>.+?)(?:\*\*|__)(?P<rest>.*)$"),
    re.compile(r"^`(?P<name>[^`]+)`(?P<rest>.*)$"),
    re.compile(r"^(?P<name>[^\W\d][\w ]*?)\s*(?P<rest>[(（\[【:：,，\-—–→=].*)?$"),
)


def read_attribute_line(text: str, line: int, where: Locator, entity: str) -> AttributeDraft:
    """Parse one attribute bullet; raises ModelError when no attribute name can be found."""
    text = text.strip()
    for form in _NAME_FORMS:
        match = form.match(text)
        if match:
            break
    else:
        raise where.error(f"cannot read an attribute in {text!r}", element=entity_element(entity), line=line)
    name, rest = match["name"].strip(), (match["rest"] or "").strip()
    if name and name[-1] in ":：":
        name, rest = name[:-1].strip(), ":" + rest
    name = re.sub(r"\s+", "_", name.strip("`* ")) if re.fullmatch(r"[A-Za-z0-9_ ]+", name) else name.replace(" ", "")
    name = "id" if name.lower() == "id" else name
    draft = AttributeDraft(name=name, line=line)
    group = _bracket(rest)
    paren = None
    if group:
        paren, rest = group
    separator, strict = "", False
    if rest[:1] in (":", "："):
        # An ASCII colon announces a type (``name: type``); a full-width one usually a description.
        separator, strict, rest = "colon", rest[:1] == ":", rest[1:].strip()
    elif rest[:1] in (",", "，"):
        separator, rest = "colon", rest[1:].strip()
    elif re.match(r"^(?:->|=>|→)", rest):  # ``patient → Patient``
        separator, strict = "colon", True
    elif re.match(r"^[-—–]+", rest):
        separator, rest = "dash", re.sub(r"^[-—–]+\s*", "", rest)
    if paren is not None:
        _apply_tokens(draft, split_top(paren), hard=True)
        draft.description = rest
    elif separator == "colon":
        _read_spec(draft, rest, strict=strict)
    else:
        draft.description = rest
    return draft


def _read_spec(draft: AttributeDraft, rest: str, *, strict: bool) -> None:
    """``name: <spec>``: a written type with markers, or else just a description."""
    spec, description = rest, ""
    dash = re.search(r"\s+[-—–]+\s+|\s*[—–]{1,2}\s*", rest)
    if dash:
        spec, description = rest[: dash.start()], rest[dash.end() :]
    tokens = split_top(spec)
    if not tokens:
        return
    if _REFERENCE_WORD.match(tokens[0]) and (target := _REFERENCE.match(tokens[0])) is not None:
        draft.reference = target["target"].strip()
        _apply_tokens(draft, tokens[1:], hard=True)
        draft.description = description
        return
    head, extra = tokens[0], []
    parts = re.match(r"^(?P<word>[^\s(（\[【]+)\s*(?P<tail>.*)$", head)
    word, tail = (parts["word"], parts["tail"]) if parts else (head, "")
    groups: list[str] = []
    rest_of_head = tail
    while (group := _bracket(rest_of_head)) is not None:
        groups.append(group[0])
        rest_of_head = group[1]
    # ``enum[a, b]``, ``varchar(100)``, ``List[X]``, ``外键(Order)``: the type owns its first group.
    first = _bracket(tail)
    first_group = tail[: len(tail) - len(first[1])] if first else ""
    type_spec = _spec_of(word + first_group.strip()) if groups else None
    if type_spec is not None:
        groups = groups[1:]
        if type_spec.type == "reference" and type_spec.reference:
            draft.reference = type_spec.reference
    else:
        type_spec = _spec_of(word)
    extra = [t for g in groups for t in split_top(g)]
    if rest_of_head.strip():
        extra.append(rest_of_head.strip())
    if type_spec is None:
        if not strict or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(?:\[\])?", word):
            draft.description = rest
            return
        # An English word where a type belongs: an entity name, or an unknown type (checked later).
        draft.type_word = word
    draft.type = type_spec
    if type_spec is not None and type_spec.enum:
        draft.enum = type_spec.enum
    if type_spec is not None and type_spec.max_length:
        draft.max_length = type_spec.max_length
    _apply_tokens(draft, extra + tokens[1:], hard=True)
    draft.description = description


def _spec_of(word: str) -> TypeSpec | None:
    try:
        return parse_type(word, {})
    except UnknownType:
        canonical = canonical_word(word)
        return TypeSpec(canonical) if canonical else None


def _apply_tokens(draft: AttributeDraft, tokens: list[str], *, hard: bool) -> bool:
    """Apply marker tokens (``必填``, ``unique``, ``默认0``, ``关联到X``, ``甲、乙``, a type word...).

    Returns whether every token was understood; with ``hard`` unknown tokens become notes.
    """
    unknown: list[str] = []
    for token in tokens:
        word = token.strip().strip("*`").strip()
        lowered = word.lower()
        if not word:
            continue
        if _OPTIONAL.match(word):
            draft.required = False
        elif _UNIQUE.search(word):
            draft.unique = True
            if re.search("必填|required", word, re.I):
                draft.required = True
        elif _REQUIRED.match(word):
            draft.required = True
        elif _PRIMARY.match(word):
            draft.primary_key = True
        elif _AUTO_INC.match(word):
            draft.auto_increment = True
        elif _GENERATED.match(word):
            draft.generated = True
        elif _UPDATED.match(word):
            draft.updated = True
        elif (match := _DEFAULT.match(word)) is not None:
            draft.default = match["value"].strip().strip("'\"“”")
        elif (match := _MAX_LENGTH.match(word)) is not None:
            draft.max_length = int(match["n"])
        elif _CHECK.match(word):
            draft.checks.append(word)
        elif (spec := _spec_of(word)) is not None and draft.type is None and spec.type != "reference":
            draft.type = spec
            if spec.enum:
                draft.enum = spec.enum
        elif (match := _REFERENCE.match(word)) is not None and lowered not in ("关联", "ref", "reference"):
            draft.reference = match["target"].strip()
        elif re.search(r"[、/|]", word) and not word.endswith("等"):
            draft.enum = split_values(word)
        else:
            unknown.append(word)
    if hard and unknown:
        if len(unknown) >= 2 and draft.enum is None and all(len(u) <= 12 for u in unknown):
            draft.enum = tuple(unknown)
        else:
            draft.notes.extend(unknown)
    return not unknown


def _looks_like_values(text: str) -> tuple[str, ...] | None:
    text = text.strip().rstrip("。.;；")
    if not text or text.endswith("等") or not re.search(r"[/、|]", text):
        return None
    values = tuple(v.strip() for v in re.split(r"\s*[/、|]\s*", text))
    if all(v and len(v) <= 12 and not re.search(r"[\s，,。；;：:“”\"()（）]", v) for v in values):
        return values
    return None


def _enum_from_description(name: str, description: str) -> tuple[str, ...] | None:
    """``状态：草稿/已发布``, ``用户当前状态（活跃/停用）``, ``允许的操作：读取、创建、更新、删除``."""
    candidates = [description]
    trailing = re.search(r"[(（]([^()（）]+)[)）]\s*[。.]?$", description)
    if trailing:
        candidates.append(trailing[1])
    if re.search(r"[:：]", description):
        candidates.append(re.split(r"[:：]", description)[-1])
    hinted = any(h in name for h in _ENUM_HINTS) or any(h in name.lower() for h in _ENUM_HINTS_EN)
    for candidate in candidates:
        values = _looks_like_values(candidate)
        if values and (len(values) >= 3 or hinted):
            return values
    return None


def _inferred_type(name: str, description: str) -> str:
    """A type for an attribute written without one, from the words of its name."""
    lowered = name.lower()
    if description.startswith("是否") or name.startswith("是否") or re.match(r"^(?:is|has|can)(?:_|[A-Z])", name):
        return "boolean"
    if name.endswith(("时间", "时刻")) or lowered.endswith(("_at", "timestamp", "time")) or name.endswith("At"):
        return "datetime"
    if name.endswith(("日期", "生日")) or lowered.endswith("date"):
        return "date"
    if name.endswith(("数量", "次数", "天数", "人数", "个数", "年份", "年龄", "浏览量", "数")) or lowered.endswith(
        ("count", "quantity", "age", "year")
    ):
        return "integer"
    if name.endswith(("金额", "费用", "价格", "单价", "价", "费", "罚金", "余额", "总额")) or lowered.endswith(
        ("price", "amount", "total", "balance", "cost", "fee")
    ):
        return "decimal"
    if name.endswith(("率", "比例", "概率", "百分比")) or lowered.endswith(("rate", "ratio", "percent")):
        return "float"
    if name.endswith(("内容", "描述", "简介", "摘要", "备注", "正文", "详情")) or lowered in (
        "description",
        "content",
        "body",
        "notes",
        "remark",
        "summary",
    ):
        return "text"
    if name.endswith(("列表", "集合")) or lowered.endswith(("list", "tags")):
        return "json"
    return "string"


def _soft_reference(name: str, description: str, entities: Mapping[str, str], entity: str) -> str | None:
    """``患者：关联患者``, ``文章：所属文章``, ``所属科室（关联科室实体）``: only known entities count."""
    for match in re.finditer(r"(?:关联到?|所属|引用|关联的)\s*(\w+)", description):
        word = match[1]
        for candidate in (word, re.sub(r"(实体|信息)$", "", word)):
            target = resolve_entity(candidate, entities) if candidate else None
            if target:
                return target
    # An attribute named like its own entity (检验结果 in 检验结果) is a value, not a self-reference.
    by_name = resolve_entity(name, entities) or resolve_entity(description.strip("。. "), entities)
    return by_name if by_name != entity else None


def finish_attribute(
    draft: AttributeDraft,
    entity: str,
    entities: Mapping[str, str],
    where: Locator,
    sub_items: list[str],
) -> tuple[Attribute, list[str]]:
    """Resolve the draft's type against the entity names and build the attribute and its constraints."""
    element = entity_element(entity, draft.name)
    description = draft.description.strip()
    if draft.type_word is not None:
        try:
            spec = parse_type(draft.type_word, entities)
        except UnknownType as exc:
            raise where.error(str(exc), element=element, line=draft.line) from None
        draft.type = spec
        if spec.type == "reference" and draft.reference is None:
            draft.reference = spec.reference
    trailing = re.search(r"[(（]([^()（）]+)[)）]\s*$", description)
    if trailing and draft.type is None and draft.reference is None:
        probe = AttributeDraft(name=draft.name, line=draft.line)
        understood = _apply_tokens(probe, split_top(trailing[1]), hard=False)
        if understood and probe.enum is None and (probe.reference is None or _resolve(probe.reference, entities)):
            _apply_tokens(draft, split_top(trailing[1]), hard=True)
            description = description[: trailing.start()].strip()
    spec = draft.type
    attr_type = spec.type if spec else None
    enum = draft.enum
    reference = None
    if draft.reference is not None:
        attr_type, reference = "reference", _resolve(draft.reference, entities) or draft.reference
    if attr_type is None and draft.name.lower() == "id":
        attr_type = "integer"
    if attr_type is None and enum:
        attr_type = "enum"
    if attr_type is None:
        reference = _soft_reference(draft.name, description, entities, entity)
        attr_type = "reference" if reference else None
    if attr_type is None:
        enum = _enum_from_description(draft.name, description)
        attr_type = "enum" if enum else _inferred_type(draft.name, description)
    if attr_type == "enum" and not enum:
        enum = _values_in(description)
        if not enum and sub_items:
            enum, sub_items = tuple(_item_value(s) for s in sub_items), []
    temporal = attr_type in ("date", "time", "datetime")
    serial = draft.name.lower() == "id" and attr_type == "integer"
    text = "; ".join(p for p in (description, *draft.notes, *sub_items) if p)
    if draft.max_length is not None and attr_type not in ("string", "text"):
        raise where.error(f"a length limit on a {attr_type} attribute", element=element, line=draft.line)
    attribute = build_attribute(
        entity,
        draft.name,
        attr_type,
        where,
        line=draft.line,
        required=bool(draft.required),
        unique=draft.unique,
        default=draft.default,
        enum=enum if attr_type == "enum" else None,
        reference=reference,
        max_length=draft.max_length,
        primary_key=draft.primary_key or (serial and (draft.generated or draft.auto_increment)),
        auto_increment=draft.auto_increment or (serial and draft.generated),
        auto_now=draft.updated and temporal,
        auto_now_add=draft.generated and temporal,
        description=text,
    )
    return attribute, [f"{draft.name} {c}" for c in draft.checks]


def _resolve(word: str, entities: Mapping[str, str]) -> str | None:
    return resolve_entity(word, entities) or resolve_entity(re.sub(r"(实体|信息)$", "", word), entities)


def _values_in(description: str) -> tuple[str, ...] | None:
    """Enum values written in the description: ``[a, b]``, ``（a、b）`` or ``…：a、b、c``."""
    group = _bracket(description.strip())
    if group and group[0]:
        return split_values(group[0])
    if re.search(r"[:：]", description):
        return _looks_like_values(re.split(r"[:：]", description)[-1])
    return _looks_like_values(description)


def _item_value(text: str) -> str:
    return re.split(r"\s*[:：]\s*|\s+[-—–]+\s+", text.strip().strip("`*"), maxsplit=1)[0].strip("`* ")


def table_lines(table: Table) -> list[tuple[int, str]]:
    """Attribute tables (名称|类型|必填|说明 ...) rewritten as the equivalent bullet lines."""
    columns: dict[str, int] = {}
    for index, cell in enumerate(table.header):
        word = cell.strip("* ").lower()
        for key, names in (
            ("name", ("name", "字段", "属性", "名称", "字段名", "属性名", "attribute", "field", "column")),
            ("type", ("type", "类型", "数据类型")),
            ("required", ("required", "必填", "是否必填")),
            ("unique", ("unique", "唯一", "是否唯一")),
            ("default", ("default", "默认", "默认值")),
            ("description", ("description", "说明", "描述", "备注", "notes")),
        ):
            if word in names:
                columns.setdefault(key, index)
    if "name" not in columns:
        return []

    def cell(row: list[str], key: str) -> str:
        index = columns.get(key)
        return row[index].strip() if index is not None and index < len(row) else ""

    yes = {"yes", "y", "true", "是", "√", "✓", "✔", "x", "必填", "required", "唯一", "unique"}
    lines = []
    for number, row in table.rows:
        name = cell(row, "name").strip("`* ")
        if not name:
            continue
        markers = [cell(row, "type")] if cell(row, "type") else []
        markers += ["必填"] if cell(row, "required").lower() in yes else []
        markers += ["唯一"] if cell(row, "unique").lower() in yes else []
        markers += [f"默认{cell(row, 'default')}"] if cell(row, "default") not in ("", "-", "无") else []
        spec = f"（{'，'.join(markers)}）" if markers else ""
        lines.append((number, f"{name}{spec} - {cell(row, 'description')}".rstrip(" -")))
    return lines
