"""Every upstream model file loads, with the entity count read off each file by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from pim_engine.loader import load_model, model_from_dict
from pim_engine.model import Model
from tests.support.upstream import upstream_dir, upstream_models

pytestmark = pytest.mark.unit


EXPECTED = {
    # User (用户) only: the classDiagram repeats it and UserService is a service, not an entity.
    "models_domain_用户管理_pim.md": 1,
    # 客户, 销售机会, 跟进记录 (bold bullets with enums and 关联到客户).
    "models_examples_客户管理系统.md": 3,
    # Article, Category, Comment ("### 中文 (English)" headings, "- 名称：说明" lines).
    "pim-compiler_examples_blog.md": 3,
    # Book, Reader, BorrowRecord, ReservationRecord (typed "名称 (文本，必填): 说明" lines).
    "pim-compiler_examples_library_borrowing_system.md": 4,
    # 用户 only, with an "ID（自动生成）" key.
    "pim-compiler_examples_simple_user_crud.md": 1,
    # 32 "####" entities under six "###" groups: 4 staff, 3 organisation, 14 medical, 4 drug,
    # 4 finance, 3 system (the "### 医疗服务" group is not a service).
    "pim-compiler_examples_smart_hospital_system.md": 32,
    # 用户, 角色, 权限, 用户角色关系.
    "pim-compiler_examples_user_management.md": 4,
    # Product, Order, OrderItem ("- id: 整数, 主键, 自增" lines under "#### Name").
    "pim-engine_models_engine_test_model.md": 3,
    # Product, Order, OrderItem.
    "pim-engine_models_order_management.yaml": 3,
    # Book only.
    "pim-engine_models_test_compiler_pim.md": 1,
    # TestMessage only, keyed by a string id.
    "pim-engine_models_test_greeting_pim.md": 1,
    # Todo only.
    "pim-engine_models_todo_management.yaml": 1,
    # User only.
    "pim-engine_models_user_management.yaml": 1,
    # 图书, 借阅者, 借阅记录.
    "pim-engine_models_图书管理系统.md": 3,
}


def upstream(name: str) -> Path:
    return upstream_dir() / name


def test_the_table_covers_every_upstream_file() -> None:
    present = {p.name for p in upstream_models()}
    assert present == set(EXPECTED)


@pytest.mark.parametrize(("name", "count"), sorted(EXPECTED.items()))
def test_loads_with_the_right_entities(name: str, count: int) -> None:
    model = load_model(upstream(name))
    assert len(model.entities) == count
    for entity in model.entities:
        keys = [a for a in entity.attributes if a.primary_key]
        assert len(keys) == 1, entity.name
        assert len({a.name.lower() for a in entity.attributes}) == len(entity.attributes)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_round_trip_and_stable_digest(name: str) -> None:
    first, second = load_model(upstream(name)), load_model(upstream(name))
    assert first.digest == second.digest
    again = model_from_dict(first.to_dict())
    assert again == first
    assert again.digest == first.digest


def attr(model: Model, entity: str, name: str):
    found = model.entity(entity)
    assert found is not None, f"no entity {entity}; have {[e.name for e in model.entities]}"
    attribute = found.attribute(name)
    assert attribute is not None, f"no attribute {name} in {entity}"
    return attribute


def test_order_management_yaml() -> None:
    model = load_model(upstream("pim-engine_models_order_management.yaml"))
    assert model.domain == "order-management"
    status = attr(model, "Order", "status")
    assert (status.type, status.enum, status.default) == (
        "enum",
        ("pending", "confirmed", "shipped", "delivered", "cancelled"),
        "pending",
    )
    assert attr(model, "Product", "price").type == "decimal"
    assert attr(model, "Product", "sku").unique
    flow = next(f for f in model.flows if f.name == "OrderService.createOrder")
    assert ("B", "C", "无效") in [(e.source, e.target, e.label) for e in flow.edges]
    assert dict(model.rules)["update_stock_level"] == "Update product stock level"


def test_todo_yaml_keeps_its_declared_key() -> None:
    model = load_model(upstream("pim-engine_models_todo_management.yaml"))
    todo = model.entities[0]
    assert [a.name for a in todo.attributes][:2] == ["id", "title"]
    assert attr(model, "Todo", "priority").enum == ("low", "medium", "high")
    assert attr(model, "Todo", "title").max_length == 200
    assert attr(model, "Todo", "created_at").auto_now_add
    assert not attr(model, "Todo", "created_at").required
    method = model.services[0].methods[1]
    assert [(p.name, p.required) for p in method.parameters] == [("completed", False), ("priority", False)]


def test_user_management_yaml() -> None:
    model = load_model(upstream("pim-engine_models_user_management.yaml"))
    assert not attr(model, "User", "phone").required
    assert attr(model, "User", "role").default == "user"


def test_domain_user_md_reads_english_names_and_slash_enums() -> None:
    model = load_model(upstream("models_domain_用户管理_pim.md"))
    assert model.domain == "用户管理领域模型"
    assert attr(model, "User", "状态").enum == ("活跃", "停用")
    assert attr(model, "User", "创建时间").type == "datetime"
    assert model.services[0].methods[0].name == "注册用户"
    assert any(f.name == "UserService.注册用户" and len(f.edges) == 20 for f in model.flows)


def test_customer_md_bold_bullets() -> None:
    model = load_model(upstream("models_examples_客户管理系统.md"))
    email = attr(model, "客户", "电子邮箱")
    assert (email.required, email.unique) == (True, True)
    assert attr(model, "客户", "客户等级").enum == ("VIP客户", "重要客户", "普通客户")
    assert attr(model, "销售机会", "所属客户").reference == "客户"
    assert attr(model, "跟进记录", "跟进时间").auto_now_add


def test_blog_md_infers_references_from_names() -> None:
    model = load_model(upstream("pim-compiler_examples_blog.md"))
    assert [e.name for e in model.entities] == ["Article", "Category", "Comment"]
    assert attr(model, "Comment", "文章").reference == "Article"
    assert attr(model, "Category", "名称").unique
    assert attr(model, "Article", "状态").enum == ("草稿", "已发布")


def test_library_md_typed_lines() -> None:
    model = load_model(upstream("pim-compiler_examples_library_borrowing_system.md"))
    assert attr(model, "Reader", "信用分").default == 100
    assert attr(model, "BorrowRecord", "罚金").type == "decimal"
    assert attr(model, "Book", "状态").enum == ("在架", "已下架")
    assert attr(model, "Book", "ISBN").unique
    borrow = next(m for s in model.services for m in s.methods if m.name == "borrowBook")
    assert borrow.flow == "BorrowingService.borrowBook"
    assert len(borrow.rules) == 5


def test_simple_crud_md_promotes_its_id() -> None:
    model = load_model(upstream("pim-compiler_examples_simple_user_crud.md"))
    key = model.entities[0].attributes[0]
    assert (key.name, key.type, key.primary_key, key.auto_increment) == ("id", "integer", True, True)
    assert attr(model, "用户", "更新时间").auto_now


def test_hospital_md_groups_and_aliases() -> None:
    model = load_model(upstream("pim-compiler_examples_smart_hospital_system.md"))
    assert attr(model, "Doctor", "科室").reference == "Department"
    assert attr(model, "PrescriptionDetail", "药品").reference == "Drug"
    assert attr(model, "Patient", "性别").enum == ("男", "女")
    assert attr(model, "Patient", "身份证号").unique
    assert attr(model, "LabReport", "危急值标记").type == "boolean"
    assert attr(model, "LabResult", "检验结果").type == "string"
    assert len(model.services) == 10
    assert dict(model.rules)["首诊负责制"] == "首诊医生负责患者的初步诊疗"


def test_user_management_md_relations() -> None:
    model = load_model(upstream("pim-compiler_examples_user_management.md"))
    assert attr(model, "用户角色关系", "角色").reference == "角色"
    assert attr(model, "用户", "状态").enum == ("激活", "禁用", "待验证")


def test_engine_test_md_foreign_keys_and_enums() -> None:
    model = load_model(upstream("pim-engine_models_engine_test_model.md"))
    assert attr(model, "OrderItem", "orderId").reference == "Order"
    assert attr(model, "Order", "status").enum == ("pending", "paid", "shipped", "completed")
    assert attr(model, "Product", "name").max_length == 100
    assert attr(model, "Product", "stock").default == 0
    assert "price 大于0" in model.entity("Product").constraints


def test_greeting_md_sections() -> None:
    model = load_model(upstream("pim-engine_models_test_greeting_pim.md"))
    assert (model.domain, model.version) == ("test_greeting", "1.0.0")
    key = attr(model, "TestMessage", "id")
    assert (key.type, key.primary_key, key.auto_increment) == ("string", True, False)
    method = model.services[0].methods[0]
    assert (method.name, method.returns, method.parameters[0].type) == (
        "createMessage",
        "TestMessage",
        "string",
    )


def test_test_compiler_md() -> None:
    model = load_model(upstream("pim-engine_models_test_compiler_pim.md"))
    assert attr(model, "Book", "isbn").unique
    assert attr(model, "Book", "title").max_length == 200


def test_book_management_md() -> None:
    model = load_model(upstream("pim-engine_models_图书管理系统.md"))
    assert attr(model, "借阅记录", "借阅者").reference == "借阅者"
    assert attr(model, "图书", "状态").enum == ("可借阅", "全部借出")
    assert {f.name for f in model.flows} == {"借书流程", "还书流程"}
