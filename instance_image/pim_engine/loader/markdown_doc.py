"""Markdown as a tree of headed sections holding paragraphs, nested lists, tables and code fences.

Model files are written by people in many dialects; reading them as a document tree first lets the
model reader ask structural questions ("the bullets under this heading") instead of juggling lines.
Line numbers are kept on everything so errors can point at the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]*(?P<title>[^#\s].*?)?[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
_ITEM = re.compile(r"^(?P<indent>\s*)(?P<marker>[-*+•·]\s+|\d+[.)]\s+|\d+、\s*|[（(]\d+[)）]\s*)(?P<text>.*)$")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")


@dataclass
class Item:
    """A list item with its nested items; ``text`` already has continuation lines folded in."""

    line: int
    indent: int
    text: str
    ordered: bool
    children: list[Item] = field(default_factory=list)


@dataclass
class Paragraph:
    line: int
    text: str


@dataclass
class ItemList:
    line: int
    items: list[Item]


@dataclass
class Code:
    line: int  # line of the first content line
    lang: str
    text: str


@dataclass
class Table:
    line: int
    header: list[str]
    rows: list[tuple[int, list[str]]]


Block = Paragraph | ItemList | Code | Table


@dataclass
class Section:
    level: int
    title: str
    line: int
    blocks: list[Block] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)
    parent: Section | None = None

    def walk(self) -> list[Section]:
        """This section and all below it, in document order."""
        found = [self]
        for child in self.children:
            found.extend(child.walk())
        return found


@dataclass
class Document:
    root: Section
    front_matter: str | None
    front_matter_line: int


def parse_document(text: str) -> Document:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    front, start = None, 0
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
        if end is not None:
            front, start = "\n".join(lines[1:end]), end + 1
    root = Section(level=0, title="", line=1)
    current = root
    builder = _BlockBuilder(current)
    index = start
    while index < len(lines):
        raw = lines[index].expandtabs(4).rstrip()
        number = index + 1
        fence = _FENCE.match(raw)
        if fence:
            closing = re.compile(r"^\s*" + re.escape(fence["fence"][0]) + "{" + str(len(fence["fence"])) + r",}\s*$")
            body_end = next((j for j in range(index + 1, len(lines)) if closing.match(lines[j])), len(lines))
            builder.add(Code(line=number + 1, lang=fence["lang"].lower(), text="\n".join(lines[index + 1 : body_end])))
            index = body_end + 1
            continue
        heading = _HEADING.match(raw)
        if heading and heading["title"]:
            level = len(heading[1])
            builder.flush()
            while current.level >= level:
                assert current.parent is not None
                current = current.parent
            section = Section(level=level, title=heading["title"].strip(), line=number, parent=current)
            current.children.append(section)
            current = section
            builder = _BlockBuilder(current)
        else:
            builder.line(raw, number)
        index += 1
    builder.flush()
    return Document(root=root, front_matter=front, front_matter_line=2)


class _BlockBuilder:
    """Groups a section's lines into blocks as they arrive."""

    def __init__(self, section: Section) -> None:
        self.section = section
        self.para: list[tuple[int, str]] = []
        self.items: list[Item] = []
        self.table: list[tuple[int, str]] = []
        self.blank = False

    def add(self, block: Block) -> None:
        self.flush()
        self.section.blocks.append(block)

    def line(self, raw: str, number: int) -> None:
        stripped = raw.strip()
        if not stripped:
            self._end_para()
            self._end_table()
            self.blank = True
            return
        if stripped.startswith("|"):
            self._end_para()
            self._end_items()
            self.table.append((number, stripped))
            return
        self._end_table()
        item = _ITEM.match(raw)
        if item and not re.fullmatch(r"[-*_]{3,}", stripped.replace(" ", "")):
            self._end_para()
            indent = len(item["indent"].replace("\u3000", "  "))
            self.items.append(Item(number, indent, item["text"].strip(), item["marker"].strip()[0] not in "-*+•·"))
            self.blank = False
            return
        if self.items and raw[:1].isspace():
            self.items[-1].text += " " + stripped
            return
        if re.fullmatch(r"[-*_]{3,}", stripped.replace(" ", "")):
            self.flush()
            return
        self._end_items()
        self.para.append((number, stripped))
        self.blank = False

    def _end_para(self) -> None:
        if self.para:
            # One paragraph per line: model files put "**Label:** value" lines back to back.
            self.section.blocks.extend(Paragraph(n, t) for n, t in self.para)
            self.para = []

    def _end_items(self) -> None:
        if self.items:
            self.section.blocks.append(ItemList(self.items[0].line, _nest(self.items)))
            self.items = []

    def _end_table(self) -> None:
        if not self.table:
            return
        rows = [(n, _cells(t)) for n, t in self.table if not _TABLE_RULE.match(t)]
        if len(rows) >= 1 and any(_TABLE_RULE.match(t) for _, t in self.table):
            self.section.blocks.append(Table(self.table[0][0], rows[0][1], rows[1:]))
        else:
            self.section.blocks.extend(Paragraph(n, t) for n, t in self.table)
        self.table = []

    def flush(self) -> None:
        self._end_para()
        self._end_items()
        self._end_table()
        self.blank = False


def _cells(row: str) -> list[str]:
    inner = row.strip().strip("|")
    return [c.strip() for c in re.split(r"(?<!\\)\|", inner)]


def _nest(flat: list[Item]) -> list[Item]:
    top: list[Item] = []
    stack: list[Item] = []
    for item in flat:
        while stack and stack[-1].indent >= item.indent:
            stack.pop()
        (stack[-1].children if stack else top).append(item)
        stack.append(item)
    return top
