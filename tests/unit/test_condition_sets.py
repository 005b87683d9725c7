"""Each kind's condition set, declared once beside its type: order, polarity, Events, retries."""

from __future__ import annotations

import pytest

from pim_operator.apis.v1alpha1 import piminstance_lifecycle as instance
from pim_operator.apis.v1alpha1 import pimmodel_lifecycle as model
from pim_operator.apis.v1alpha1.conditions import FALSE, TRUE

pytestmark = pytest.mark.unit


def test_status_lists_the_conditions_in_declared_order_then_ready():
    healthy, degraded = instance.mark_replicas_probed(1, 1)
    found = [degraded, healthy, instance.mark_resources_applied(), instance.mark_model_resolved("m", "sha256:a")]
    out = instance.CONDITIONS.with_ready(found)
    assert [c.type for c in out] == ["ModelResolved", "ResourcesReady", "Healthy", "Degraded", "Ready"]
    assert (out[-1].status, out[-1].reason) == ("True", "Ready")


def test_a_condition_the_set_does_not_declare_is_refused():
    with pytest.raises(ValueError, match="Valid"):
        instance.CONDITIONS.with_ready([model.mark_loaded(1, "sha256:a")])


def test_inverted_conditions_are_declared_not_named_in_the_machinery():
    assert instance.CONDITIONS.is_good("Degraded", FALSE)
    assert not instance.CONDITIONS.is_good("Degraded", TRUE)
    assert instance.CONDITIONS.is_good("Progressing", FALSE, "Complete")
    assert not instance.CONDITIONS.is_good("Progressing", FALSE, "ProgressDeadlineExceeded")
    # another kind's set knows nothing of the instance's inversions
    assert not model.CONDITIONS.is_good("Degraded", FALSE)


def test_retry_reasons_are_declared_per_condition():
    stuck = instance.mark_port_conflict("nodePort 30080 is already claimed by PimInstance a/b")
    assert instance.CONDITIONS.retry_reason([instance.mark_model_resolved("m", "d"), stuck]) == stuck
    assert instance.CONDITIONS.retry_reason([instance.mark_waiting_for_model()]) is None


def test_a_model_ready_flip_is_not_an_event_but_valid_is():
    before = [
        {"type": "Valid", "status": "True", "reason": "Loaded"},
        {"type": "Ready", "status": "True", "reason": "Ready"},
    ]
    failed = model.mark_load_failed("bad")
    after = [
        {"type": c.type, "status": c.status, "reason": c.reason, "message": c.message}
        for c in model.CONDITIONS.with_ready([failed])
    ]
    assert [(c["type"], good) for c, good in model.CONDITIONS.noteworthy(before, after)] == [("Valid", False)]


def test_database_ready_is_declared_before_the_children_and_ready_names_it():
    """DatabaseReady is one declaration: order, summary, Events and retries follow from it."""
    down = instance.propagate_unreachable("pod a: /ready answered 503: database unreachable")
    healthy, degraded = instance.mark_replicas_probed(1, 1)
    found = [instance.mark_model_resolved("m", "d"), instance.mark_resources_applied(), down, healthy, degraded]
    out = instance.CONDITIONS.with_ready(found)
    assert [c.type for c in out][:3] == ["ModelResolved", "DatabaseReady", "ResourcesReady"]
    assert (out[-1].status, out[-1].reason) == ("False", "Unreachable")
    before = [{"type": c.type, "status": "True", "reason": "Connected"} for c in out[1:2]]
    after = [{"type": c.type, "status": c.status, "reason": c.reason, "message": c.message} for c in out]
    assert [c["type"] for c, _ in instance.CONDITIONS.noteworthy(before, after)] == ["DatabaseReady"]
    # Only a missing CloudNativePG asks for a retry: a Secret or a Cluster is watched.
    assert instance.CONDITIONS.retry_reason(out) is None
    missing = instance.mark_cloudnativepg_missing()
    assert instance.CONDITIONS.retry_reason([missing]) == missing
    assert "postgres.secretRef" in missing.message
