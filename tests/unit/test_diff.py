from __future__ import annotations

import pytest

from pim_operator.kube.diff import satisfies

pytestmark = pytest.mark.unit


def test_server_defaults_do_not_count_as_drift():
    desired = {"spec": {"template": {"spec": {"containers": [{"name": "engine", "image": "e:1"}]}}}}
    live = {
        "metadata": {"resourceVersion": "7"},
        "spec": {
            "progressDeadlineSeconds": 600,
            "template": {"spec": {"containers": [{"name": "engine", "image": "e:1", "terminationMessagePath": "/x"}]}},
        },
    }
    assert satisfies(live, desired)


def test_changed_or_missing_fields_are_drift():
    desired = {"spec": {"replicas": 2, "ports": [{"port": 80}]}}
    assert not satisfies({"spec": {"replicas": 1, "ports": [{"port": 80}]}}, desired)
    assert not satisfies({"spec": {"ports": [{"port": 80}]}}, desired)
    assert not satisfies({"spec": {"replicas": 2, "ports": [{"port": 80}, {"port": 81}]}}, desired)
    assert not satisfies({"spec": {"replicas": 2, "ports": []}}, desired)


@pytest.mark.parametrize(("live", "desired"), [("500m", "0.5"), ("1Gi", "1024Mi"), ("1", 1), ("2k", "2000")])
def test_canonicalized_quantities_are_equal(live, desired):
    assert satisfies({"cpu": live}, {"cpu": desired})


@pytest.mark.parametrize(("live", "desired"), [("500m", "0.6"), ("1Gi", "1G"), ("abc", "abd"), (True, 1)])
def test_different_quantities_differ(live, desired):
    assert not satisfies({"cpu": live}, {"cpu": desired})
