from __future__ import annotations

import pytest

from pim_operator.apis.v1alpha1 import conditions as cond
from pim_operator.apis.v1alpha1.piminstance_lifecycle import propagate_deployment
from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.kube.diff import status_changed
from pim_operator.reconciler.piminstance.status import make_status

pytestmark = pytest.mark.unit
OK = cond.Condition("ModelResolved", "True", "Resolved", "")
APPLIED = cond.Condition("ResourcesReady", "True", "Applied", "")


def dep(*, generation=2, observed=2, want=2, ready=2, updated=2, total=2, available_=2, conditions=()):
    return {
        "metadata": {"generation": generation},
        "spec": {"replicas": want},
        "status": {
            "observedGeneration": observed,
            "readyReplicas": ready,
            "updatedReplicas": updated,
            "replicas": total,
            "availableReplicas": available_,
            "conditions": list(conditions),
        },
    }


def available(deployment, suspended=False):
    return propagate_deployment(deployment, suspended=suspended)[0]


def progressing(deployment):
    return propagate_deployment(deployment, suspended=False)[1]


BODY = {
    "metadata": {"name": "shop", "namespace": "ns", "generation": 5},
    "spec": {"modelRef": {"name": "m"}},
}
INSTANCE = PimInstance.from_body(BODY)


def test_available_and_progressing_from_the_deployment():
    assert available(dep()).status == "True"
    assert available(dep(ready=0)).reason == "NoReadyReplicas"
    assert available(None).status == "Unknown"
    assert available(dep(), suspended=True).reason == "Suspended"
    assert (progressing(dep()).status, progressing(dep()).reason) == ("False", "Complete")
    assert progressing(dep(observed=1)).reason == "RollingOut"
    assert progressing(dep(updated=1, total=3)).reason == "RollingOut"
    stuck = dep(conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}])
    assert progressing(stuck).reason == "ProgressDeadlineExceeded"


def test_status_shape_follows_api_conventions():
    st = make_status(INSTANCE, [OK, APPLIED], deployment=dep(), model_digest="sha256:x", now="t")
    assert st["observedGeneration"] == 5
    assert [c["type"] for c in st["conditions"]] == [
        "ModelResolved",
        "ResourcesReady",
        "Available",
        "Progressing",
        "Ready",
    ]
    ready = st["conditions"][-1]
    assert (ready["status"], ready["reason"], ready["observedGeneration"]) == ("True", "Ready", 5)
    assert st["selector"] == "app.kubernetes.io/name=pim-engine,app.kubernetes.io/instance=shop"
    assert st["url"] == "http://shop.ns.svc:8000"
    assert (st["replicas"], st["readyReplicas"], st["modelDigest"]) == (2, 2, "sha256:x")


def test_ready_explains_a_missing_model():
    missing = cond.Condition("ModelResolved", "False", "ModelNotFound", "PimModel m not found")
    st = make_status(INSTANCE, [missing, APPLIED], deployment=dep(), model_digest=None, now="t")
    ready = st["conditions"][-1]
    assert (ready["status"], ready["reason"]) == ("False", "ModelNotFound")
    assert "modelDigest" not in st


def test_recomputing_an_unchanged_status_is_not_a_change():
    first = make_status(INSTANCE, [OK, APPLIED], deployment=dep(), model_digest="d", now="t1")
    stored = PimInstance.from_body({**BODY, "status": first})
    again = make_status(stored, [OK, APPLIED], deployment=dep(), model_digest="d", now="t2")
    assert not status_changed(first, again)
    scaled = make_status(stored, [OK, APPLIED], deployment=dep(ready=1), model_digest="d", now="t2")
    assert status_changed(first, scaled)
