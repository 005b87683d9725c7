"""Entity constraints as people write them, read into rules a machine can check.

``price must be positive``, ``stock cannot be negative``, ``sku must be unique``, ``age between 0
and 150``, ``endDate must be after startDate``, ``价格必须为正数``, ``编号唯一``, ``结束日期必须晚于开始日期``,
and the ``min``/``max``/``min_length`` keys of YAML attributes (kept as ``price: min 0``). A text
that names no attribute of the entity, or says something else, is no rule: it stays documentation.
A rule on an attribute whose type it does not fit (``positive`` on a string) is no rule either.

A unique constraint over several attributes must say that they are unique together, since
``a and b must be unique`` may mean each one: ``unique (a, b)``, ``(a, b) must be unique``,
``a + b must be unique``, ``the combination of a and b must be unique``, ``a and b must be unique
together``, ``(a, b) 唯一``, ``a和b组合唯一``, ``联合唯一(a, b)``, and in a Markdown index section
``a, b (unique)``. The explicit forms (``unique (a, b)``, ``a, b (unique)``) naming a missing
attribute are an error; the other phrasings naming one stay documentation.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

from pim_engine.model import Attribute, Entity

_NUMERIC = frozenset({"integer", "float", "decimal"})
_TEMPORAL = frozenset({"date", "time", "datetime"})
_NUMBER = r"[-+]?\d+(?:\.\d+)?"


@dataclass(frozen=True)
class Rule:
    """One checkable constraint: ``kind`` is gt, ge, lt, le, unique, after or min_length."""

    kind: str
    attribute: str
    value: Decimal | None = None
    other: str | None = None
    #: A unique constraint over several attributes: all of them (``attribute`` is the first).
    together: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"kind": self.kind, "attribute": self.attribute}
        if self.together:
            out["attributes"] = list(self.together)
        if self.value is not None:
            out["value"] = str(self.value)
        if self.other is not None:
            out["other"] = self.other
        return out


# Each predicate: a pattern over the text after the attribute's name, and the rules it means.
_EN_BE = r"(?:must|should|shall|has to|needs to|is to)\s+(?:always\s+)?be\s+"
_PREDICATE_SOURCES: tuple[tuple[str, str], ...] = tuple(
    (p, kind)
    for p, kind in (
        (rf"^(?:{_EN_BE}|is\s+|are\s+)?(?:strictly\s+)?(?:positive|greater than (?:zero|0)|> ?0)$", "positive"),
        (
            r"^(?:(?:must|should|shall)\s+(?:not|never)\s+be\s+negative"
            r"|(?:cannot|can't|can not|may not)\s+be\s+negative"
            rf"|(?:{_EN_BE}|is\s+)?(?:non-?negative|not negative|at least (?:zero|0)|>= ?0))$",
            "non_negative",
        ),
        (rf"^(?:{_EN_BE}|is\s+|are\s+)?unique$", "unique"),
        (
            rf"^(?:{_EN_BE}|is\s+)?between\s+(?P<lo>{_NUMBER})\s+and\s+(?P<hi>{_NUMBER})(?:\s*\(?inclusive\)?)?$",
            "between",
        ),
        (rf"^(?:{_EN_BE}|is\s+)?(?:greater|more|larger|bigger) than\s+(?P<n>{_NUMBER})$", "gt"),
        (rf"^(?:{_EN_BE}|is\s+)?(?:at least|no less than|not less than)\s+(?P<n>{_NUMBER})$", "ge"),
        (rf"^(?:{_EN_BE}|is\s+)?(?:less|smaller|fewer) than\s+(?P<n>{_NUMBER})$", "lt"),
        (rf"^(?:{_EN_BE}|is\s+)?(?:at most|no more than|not more than|not greater than)\s+(?P<n>{_NUMBER})$", "le"),
        (rf"^(?:{_EN_BE}|is\s+)?(?:after|later than)\s+(?P<other>\w+)$", "after"),
        (rf"^(?P<op>>=|<=|>|<|≥|≤|＞|＜)\s*(?P<n>{_NUMBER})$", "op"),
        (rf"^:?\s*(?:min|minimum)\s*[:=]?\s*(?P<n>{_NUMBER})$", "ge"),
        (rf"^:?\s*(?:max|maximum)\s*[:=]?\s*(?P<n>{_NUMBER})$", "le"),
        (r"^:?\s*(?:min_length|minlength|min_len)\s*[:=]?\s*(?P<n>\d+)$", "min_length"),
        # Chinese: 价格必须为正数, 库存不能为负数, 编号唯一, 年龄在0到150之间, 结束日期必须晚于开始日期
        (r"^(?:必须|应当|应该|应|需要|需)?\s*(?:为|是)?\s*(?:正数|大于\s*0|大于零)$", "positive"),
        (
            r"^(?:(?:不能|不可|不得|不允许|不应|不可以)\s*(?:为|是)?\s*负数?|(?:必须|应当|应该|应|需要|需)?\s*"
            r"(?:为|是)?\s*(?:非负数?|大于等于\s*0|大于或等于\s*0|不小于\s*0|>=\s*0))$",
            "non_negative",
        ),
        (r"^(?:必须|应当|应该|应|需要|需)?\s*(?:是|为)?\s*(?:唯一的?|不能重复|不可重复|不得重复)$", "unique"),
        (
            rf"^(?:必须|应当|应该|应|需要|需)?\s*(?:在|介于|为)?\s*(?P<lo>{_NUMBER})\s*(?:到|至|和|与|-|~|～)\s*"
            rf"(?P<hi>{_NUMBER})\s*(?:之间|以内)?$",
            "between",
        ),
        (rf"^(?:必须|应当|应该|应|需要|需)?\s*大于\s*(?P<n>{_NUMBER})$", "gt"),
        (rf"^(?:必须|应当|应该|应|需要|需)?\s*(?:大于等于|大于或等于|不小于|不低于|至少为?)\s*(?P<n>{_NUMBER})$", "ge"),
        (rf"^(?:必须|应当|应该|应|需要|需)?\s*小于\s*(?P<n>{_NUMBER})$", "lt"),
        (
            rf"^(?:必须|应当|应该|应|需要|需)?\s*(?:小于等于|小于或等于|不大于|不超过|不高于|至多为?)\s*(?P<n>{_NUMBER})$",
            "le",
        ),
        (r"^(?:必须|应当|应该|应|需要|需)?\s*(?:晚于|迟于|在)\s*(?P<other>\w+?)\s*(?:之后|以后)?$", "after"),
    )
)


@functools.cache
def _predicates() -> tuple[tuple[re.Pattern[str], str], ...]:
    """Compiled on first use: only models that state constraints pay for it."""
    return tuple((re.compile(p, re.I), kind) for p, kind in _PREDICATE_SOURCES)


_OPS = {">": "gt", "＞": "gt", ">=": "ge", "≥": "ge", "<": "lt", "＜": "lt", "<=": "le", "≤": "le"}


_BE = r"(?:(?:must|should|shall|has to|needs to)\s+(?:always\s+)?be|is|are)?\s*"
_CN_BE = r"(?:必须|应当|应该|应|需要|需)?\s*(?:是|为)?\s*"
_CN_UNIQUE = r"(?:唯一的?|不能重复|不可重复|不得重复)"
#: Phrasings of "these attributes are unique together"; ``names`` is the list, ``explicit`` the
#: ``unique (a, b)`` form, ``together`` a word saying the list is one key.
_COMPOSITE_SOURCES = (
    r"^(?P<explicit>unique|唯一|联合唯一|组合唯一)\s*(?:together\s*)?[(（](?P<names>[^()（）]+)[)）]$",
    r"^(?P<names>[^()（）]+?)\s*[(（](?P<explicit>unique|唯一|联合唯一|组合唯一)[)）]$",
    rf"^(?P<together>combination of\s+)?(?P<names>[^()（）]+?|[(（][^()（）]+[)）])\s*(?:together\s+|combined\s+)?"
    rf"{_BE}unique(?P<together2>\s+together|\s+combined|\s+as a pair)?$",
    rf"^(?P<names>[^()（）]+?|[(（][^()（）]+[)）])\s*的?\s*(?P<together>组合|联合|组合起来)?\s*{_CN_BE}{_CN_UNIQUE}$",
)
_NAME_SEPARATORS = re.compile(r"\s*(?:,|，|、|\+|＋|\band\b|和|与|及)\s*", re.I)


@functools.cache
def _composites() -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.I) for p in _COMPOSITE_SOURCES)


def composite_unique(text: str, entity: Entity) -> tuple[tuple[str, ...] | None, str | None]:
    """The attributes a text declares unique together, or the problem with an explicit declaration."""
    cleaned = re.sub(r"^the\s+", "", text.strip().rstrip(".。;；").strip(), flags=re.I)
    cleaned = cleaned.replace("`", "").replace("**", "")
    for pattern in _composites():
        match = pattern.match(cleaned)
        if match is None:
            continue
        raw = match["names"].strip()
        bracketed = raw[:1] in "(（" and raw[-1:] in ")）"
        words = [w.strip() for w in _NAME_SEPARATORS.split(raw.strip("()（）")) if w.strip()]
        groups = match.groupdict()
        said = any(groups.get(k) for k in ("explicit", "together", "together2"))
        marked = said or bracketed or "+" in raw or "＋" in raw
        if len(words) < 2 or not marked:
            continue
        names = {a.name.lower(): a.name for a in entity.attributes}
        found = [names.get(w.lower()) for w in words]
        missing = [w for w, f in zip(words, found, strict=True) if f is None]
        if missing:
            problem = f"unique ({', '.join(words)}) names no attribute {missing[0]!r}"
            return None, problem if groups.get("explicit") else None
        columns = tuple(f for f in found if f is not None)
        if len(set(columns)) < len(columns):
            return None, f"unique ({', '.join(words)}) names an attribute twice"
        return columns, None
    return None, None


def parse_constraint(text: str, entity: Entity) -> list[Rule]:
    """The rules one constraint text states about ``entity``; empty when it is documentation."""
    together, _ = composite_unique(text, entity)
    if together is not None:
        return [Rule("unique", together[0], together=together)]
    cleaned = re.sub(r"^(?:the|a|an)\s+", "", text.strip().rstrip(".。;；").strip(), flags=re.I)
    cleaned = cleaned.replace("`", "").replace("**", "")
    attribute, rest = _leading_attribute(cleaned, entity.attributes)
    if attribute is None:
        return []
    rest = rest.strip()
    for pattern, kind in _predicates():
        match = pattern.match(rest)
        if match is None:
            continue
        return _rules(kind, match, attribute, entity)
    return []


def _leading_attribute(text: str, attributes: Iterable[Attribute]) -> tuple[Attribute | None, str]:
    """The attribute whose name opens ``text`` (longest first; English names case-insensitively)."""
    lowered = text.lower()
    for attr in sorted(attributes, key=lambda a: len(a.name), reverse=True):
        name = attr.name.lower()
        if not lowered.startswith(name):
            continue
        after = text[len(name) :]
        # An English name must end at a word boundary; a Chinese one may run into the predicate.
        if after[:1].isalnum() and after[:1].isascii() and name[-1:].isascii():
            continue
        return attr, after.strip().lstrip(":：").strip()
    return None, text


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _rules(kind: str, match: re.Match[str], attr: Attribute, entity: Entity) -> list[Rule]:
    numeric = attr.type in _NUMERIC
    if kind == "unique":
        return [Rule("unique", attr.name)] if attr.type not in ("json",) else []
    if kind == "after":
        other = next((a for a in entity.attributes if a.name.lower() == match["other"].lower()), None)
        if other is None or attr.type not in _TEMPORAL or other.type != attr.type:
            return []
        return [Rule("after", attr.name, other=other.name)]
    if kind == "min_length":
        n = _number(match["n"])
        return [Rule("min_length", attr.name, n)] if attr.type in ("string", "text") and n is not None else []
    if not numeric:
        return []
    if kind == "positive":
        return [Rule("gt", attr.name, Decimal(0))]
    if kind == "non_negative":
        return [Rule("ge", attr.name, Decimal(0))]
    if kind == "between":
        lo, hi = _number(match["lo"]), _number(match["hi"])
        if lo is None or hi is None or lo > hi:
            return []
        return [Rule("ge", attr.name, lo), Rule("le", attr.name, hi)]
    n = _number(match["n"])
    if n is None:
        return []
    return [Rule(_OPS[match["op"]] if kind == "op" else kind, attr.name, n)]


@dataclass(frozen=True)
class Constraint:
    """A constraint text of an entity with the rules read from it (none: documentation only)."""

    entity: str
    text: str
    rules: tuple[Rule, ...]

    @property
    def enforced(self) -> bool:
        return bool(self.rules)

    def to_dict(self) -> dict[str, object]:
        return {
            "entity": self.entity,
            "text": self.text,
            "enforced": self.enforced,
            "rules": [r.to_dict() for r in self.rules],
        }


def entity_constraints(entity: Entity) -> list[Constraint]:
    return [Constraint(entity.name, text, tuple(parse_constraint(text, entity))) for text in entity.constraints]


def rules_of(entity: Entity) -> list[Rule]:
    return [rule for c in entity_constraints(entity) for rule in c.rules]


def settle(entity: Entity) -> tuple[Entity, str | None]:
    """The entity with unique constraints folded into its attributes and ``uniques`` (unique indexes
    enforce them), and the problem with its indexes, if any (an index naming no attribute)."""
    rules = rules_of(entity)
    unique = {r.attribute for r in rules if r.kind == "unique" and not r.together}
    if unique:
        entity = replace(
            entity, attributes=tuple(replace(a, unique=True) if a.name in unique else a for a in entity.attributes)
        )
    uniques = list(entity.uniques)
    for rule in rules:
        if rule.together and not any(set(rule.together) == set(u) for u in uniques):
            uniques.append(rule.together)
    entity = replace(entity, uniques=tuple(uniques))
    for text in entity.constraints:
        problem = composite_unique(text, entity)[1]
        if problem is not None:
            return entity, problem
    names = {a.name for a in entity.attributes}
    for what, groups in (("index", entity.indexes), ("unique", entity.uniques)):
        for columns in groups:
            missing = [c for c in columns if c not in names]
            if missing:
                return entity, f"{what} ({', '.join(columns)}) names no attribute {missing[0]!r}"
            if len(set(columns)) < len(columns):
                return entity, f"{what} ({', '.join(columns)}) names an attribute twice"
            if what == "unique" and len(columns) < 2:
                return entity, f"unique ({', '.join(columns)}) needs two or more attributes (else use 'unique: true')"
    return entity, None
