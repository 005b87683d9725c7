"""v2 ids as Kubernetes names: readable, valid, stable, and refused with a reason when unusable."""

from __future__ import annotations

import pytest

from pim_console import names

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("user_prod", "user-prod"),
        ("orders_dev", "orders-dev"),
        ("user_lb_1", "user-lb-1"),
        ("UserProd", "userprod"),
        ("already-fine", "already-fine"),
        ("__edge__", "edge"),
        ("1_prod", "i-1-prod"),
        ("a..b", "a-b"),
    ],
)
def test_instance_names_read_like_the_id(given: str, expected: str) -> None:
    assert names.instance_name(given) == expected
    assert names.is_kube_name(expected)


def test_ids_with_nothing_to_keep_get_a_stable_hash() -> None:
    name = names.instance_name("用户")
    assert names.is_kube_name(name)
    assert name.startswith("i-")
    assert len(name) == 10
    assert name == names.instance_name("用户")
    assert name != names.instance_name("客户")


def test_long_ids_are_cut_and_stay_distinct() -> None:
    a, b = "x" * 100 + "_a", "x" * 100 + "_b"
    na, nb = names.instance_name(a), names.instance_name(b)
    assert len(na) <= names.INSTANCE_NAME_MAX
    assert len(nb) <= names.INSTANCE_NAME_MAX
    assert names.is_kube_name(na)
    assert names.is_kube_name(nb)
    assert na != nb
    long_model = names.model_name("m" * 80)
    assert len(long_model) <= names.MODEL_NAME_MAX


def test_model_names_use_their_own_prefix_and_limit() -> None:
    assert names.model_name("user_management") == "user-management"
    assert names.model_name("2024_sales") == "m-2024-sales"


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("", "must not be empty"),
        ("a/b", "URL path segment"),
        ("..", "URL path segment"),
        ("tab\there", "contains"),
        (" padded", "leading or trailing"),
        ("x" * 254, "at most 253"),
    ],
)
def test_unusable_ids_are_refused_with_the_reason(bad: str, why: str) -> None:
    with pytest.raises(names.InvalidId, match=why):
        names.check_id(bad, "instance_id")


def test_the_original_id_comes_from_the_annotation() -> None:
    obj = {"metadata": {"name": "user-prod", "annotations": {names.INSTANCE_ID: "user_prod"}}}
    assert names.original(obj, names.INSTANCE_ID) == "user_prod"
    assert names.original({"metadata": {"name": "made-by-kubectl"}}, names.INSTANCE_ID) == "made-by-kubectl"
