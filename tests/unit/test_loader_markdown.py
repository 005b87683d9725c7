"""Markdown dialects the loader has never seen, their formatting variations, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pim_engine.loader import load_model, load_model_text
from pim_engine.model import ModelError

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[1] / "engine" / "fixtures" / "models"


def test_english_dialect_with_front_matter_table_and_flow() -> None:
    model = load_model(FIXTURES / "observatory.md")
    assert (model.domain, model.version, model.description) == (
        "star-watch",
        "0.3.0",
        "Nights at a small observatory",
    )
    assert [e.name for e in model.entities] == ["Telescope", "SessionSlot", "Observer"]
    scope = model.entity("Telescope")
    assert scope.description == "A mounted instrument."
    name = scope.attribute("name")
    assert (name.type, name.required, name.unique) == ("string", True, True)
    assert scope.attribute("aperture_mm").default == 200
    mount = scope.attribute("mount")
    assert (mount.enum, mount.default) == (("alt-az", "equatorial"), "equatorial")
    assert scope.attribute("price_per_night").default == "12.50"
    slot = model.entity("SessionSlot")
    assert slot.attribute("telescope").reference == "Telescope"
    assert slot.attribute("state").enum == ("open", "booked", "cancelled")
    observer = model.entity("Observer")
    handle, level = observer.attribute("handle"), observer.attribute("level")
    assert (handle.required, handle.unique, handle.description) == (True, True, "Public name")
    assert (level.type, level.enum, level.default) == ("enum", ("novice", "expert"), "novice")
    assert observer.attribute("joined").type == "date"
    book = model.services[0].methods[0]
    assert [(p.name, p.type) for p in book.parameters] == [("slot", "SessionSlot"), ("observer", "Observer")]
    assert (book.returns, book.description) == ("SessionSlot", "Reserve a slot")
    flow = model.flows[0]
    assert flow.name == "Booking"
    assert [(e.source, e.target, e.label) for e in flow.edges] == [
        ("A", "B", ""),
        ("B", "C", "yes"),
        ("C", "D", ""),
        ("B", "E", "no"),
        ("D", "E", ""),
        ("C", "E", ""),
    ]
    assert {s.id: s.type for s in flow.steps} == {
        "A": "start",
        "B": "decision",
        "C": "action",
        "D": "action",
        "E": "end",
    }
    assert model.rules[0] == ("one-per-night", "An observer books one slot per night")


def test_chinese_dialect_with_groups_and_aliases() -> None:
    model = load_model(FIXTURES / "苗圃管理.md")
    assert model.domain == "苗圃管理系统"
    assert [e.name for e in model.entities] == ["SeedBed", "Sapling", "养护记录"]
    bed = model.entity("SeedBed")
    assert bed.description == "苗床: 一块可以育苗的地。"
    number = bed.attribute("编号")
    assert (number.required, number.unique, number.description) == (True, True, "苗床编号")
    assert bed.attribute("面积").type == "decimal"
    assert bed.attribute("朝向").enum == ("东", "南", "西", "北")
    assert bed.attribute("启用日期").type == "date"
    assert bed.attribute("是否遮阴").type == "boolean"
    sapling = model.entity("Sapling")
    assert sapling.attribute("高度").type == "float"
    assert not sapling.attribute("高度").required
    assert sapling.attribute("数量").default == 10
    assert sapling.attribute("苗床").reference == "SeedBed"
    state = sapling.attribute("状态")
    assert (state.enum, state.default) == (("健康", "生病", "枯死"), "健康")
    care = model.entity("养护记录")
    assert care.attribute("树苗").reference == "Sapling"
    assert care.attribute("记录时间").auto_now_add
    assert care.attribute("花费").type == "decimal"
    flow = model.flows[0]
    assert flow.name == "养护流程"
    assert ("判断", "施肥", "是") in [(e.source, e.target, e.label) for e in flow.edges]
    assert dict(model.rules)["施肥规则"] == "春季每月一次\n秋季停止施肥"


def variations(text: str) -> dict[str, str]:
    return {
        "crlf": text.replace("\n", "\r\n"),
        "tabs": text.replace("\n   - ", "\n\t- "),
        "heading spaces": text.replace("(SeedBed)\n", "(SeedBed)   \n").replace("## 数据实体\n", "## 数据实体  \n"),
        "full-width mix": text.replace("（必填，唯一）", "(必填,唯一)").replace("(文本，必填)", "（文本, 必填）"),
        "blank lines": text.replace("\n\n", "\n\n\n"),
    }


@pytest.mark.parametrize("variant", ["crlf", "tabs", "heading spaces", "full-width mix", "blank lines"])
def test_formatting_does_not_change_the_model(variant: str) -> None:
    text = (FIXTURES / "苗圃管理.md").read_text(encoding="utf-8")
    changed = variations(text)[variant]
    assert changed != text
    assert load_model_text(changed, "markdown").digest == load_model_text(text, "markdown").digest


def test_english_dialect_variations() -> None:
    text = (FIXTURES / "observatory.md").read_text(encoding="utf-8")
    crlf = text.replace("\n", "\r\n").replace("### Telescope", "###   Telescope  ")
    assert load_model_text(crlf, "markdown").digest == load_model_text(text, "markdown").digest


def test_domain_from_title_and_lines() -> None:
    body = "\n## Entities\n\n### Item\n- name: string\n"
    assert load_model_text("# Warehouse Stock PIM Model\n" + body, "markdown").domain == "warehouse-stock"
    assert load_model_text("# 仓库管理 (PIM)\n" + body, "markdown").domain == "仓库管理"
    assert load_model_text("# 仓库 Warehouse\n" + body, "markdown").domain == "warehouse"
    assert load_model_text("# Anything\ndomain: depot\nversion: 2\n" + body, "markdown").domain == "depot"
    untitled = load_model_text(body, "markdown", source="models/cold_store.md")
    assert untitled.domain == "cold-store"


def test_hash_headings_as_sections_and_english_words() -> None:
    text = (
        "# Entities\n## Shelf\n**Attributes:**\n- label: varchar(20), unique\n- width: float\n"
        "**Relationships:**\n- holds many Box\n"
        "## Box\n- shelf: Shelf\n- created_at: datetime (auto_now_add)\n"
        "# Rules\n1. Shelves are labelled\n"
    )
    model = load_model_text(text, "markdown", source="depot/shelves.md")
    assert model.domain == "shelves"
    assert [e.name for e in model.entities] == ["Shelf", "Box"]
    label = model.entity("Shelf").attribute("label")
    assert (label.max_length, label.unique, label.required) == (20, True, False)
    assert [a.name for a in model.entity("Shelf").attributes] == ["id", "label", "width"]
    assert model.entity("Box").attribute("created_at").auto_now_add
    assert model.rules == (("R1", "Shelves are labelled"),)


def load_error(tmp_path: Path, text: str) -> tuple[ModelError, Path]:
    path = tmp_path / "broken.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelError) as caught:
        load_model(path)
    return caught.value, path


HEAD = "# Shop\n\n## 业务实体\n\n### 订单\n"


@pytest.mark.parametrize(
    ("body", "element", "line", "reason"),
    [
        (
            "- **买家**（关联到客户）\n",
            "entity 订单: attribute 买家",
            6,
            "reference to unknown entity '客户'",
        ),
        (
            "- 状态 (枚举，默认 丢失): [待付款, 已发货]\n",
            "entity 订单: attribute 状态",
            6,
            "default '丢失' is not one of 待付款, 已发货",
        ),
        ("- 状态 (枚举)\n", "entity 订单: attribute 状态", 6, "enum has no values"),
        ("- age: integr\n", "entity 订单: attribute age", 6, "unknown type 'integr'"),
        ("- 数量 (整数，默认 很多)\n", "entity 订单: attribute 数量", 6, "not an integer"),
        ("- 名称\n- 名称：重复\n", "entity 订单", 7, "attribute '名称' is declared twice"),
        ("- 编号：一\n\n### 订单\n- 名称\n", "entity 订单", 8, "declared twice"),
        (
            "- 编号：一\n\n### Order\n- x: string\n\n### ORDER\n- y: string\n",
            "entity ORDER",
            11,
            "clashes with entity Order",
        ),
        ("一些说明\n\n### 客户\n- 名称\n", "entity 订单", 5, "lists no attributes"),
    ],
)
def test_errors_name_file_element_and_line(tmp_path: Path, body: str, element: str, line: int, reason: str) -> None:
    error, path = load_error(tmp_path, HEAD + body)
    assert (error.source, error.element, error.line) == (str(path), element, line)
    assert reason in str(error)
    assert str(error).startswith(f"{path}:{line}: {element}: ")


def test_no_entities(tmp_path: Path) -> None:
    error, path = load_error(tmp_path, "# Nothing\n\n## Overview\n\nJust prose.\n")
    assert (error.source, error.line) == (str(path), None)
    assert "defines no entities" in str(error)


def test_bad_mermaid_line(tmp_path: Path) -> None:
    text = HEAD + "- 名称\n\n## 业务流程\n\n### 下单\n\n```mermaid\nflowchart TD\n    A[开始] --> B{检查\n```\n"
    error, path = load_error(tmp_path, text)
    assert (error.source, error.element, error.line) == (str(path), "flow 下单", 14)
    assert "unclosed '{'" in str(error)


def test_bad_front_matter(tmp_path: Path) -> None:
    error, _ = load_error(tmp_path, "---\ndomain: [x\n---\n" + HEAD + "- 名称\n")
    assert "front matter" in str(error)
    assert error.line is not None
