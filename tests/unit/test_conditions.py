from __future__ import annotations

import pytest

from pim_operator.apis.v1alpha1 import conditions as cond
from pim_operator.apis.v1alpha1.piminstance_lifecycle import CONDITIONS

pytestmark = pytest.mark.unit
C = cond.Condition


def test_merge_keeps_transition_time_while_status_holds():
    first = cond.merge(None, [C("Available", "True", "Up")], generation=1, now="t1")
    assert first[0]["lastTransitionTime"] == "t1"
    same = cond.merge(first, [C("Available", "True", "StillUp", "m")], generation=2, now="t2")
    assert same[0]["lastTransitionTime"] == "t1"
    assert same[0]["reason"] == "StillUp"
    assert same[0]["observedGeneration"] == 2
    flipped = cond.merge(same, [C("Available", "False", "Down")], generation=2, now="t3")
    assert flipped[0]["lastTransitionTime"] == "t3"


def test_merge_is_idempotent_so_unchanged_status_is_not_rewritten():
    desired = [C("A", "True", "R", "m"), C("B", "False", "S", "n")]
    once = cond.merge(None, desired, generation=4, now="t1")
    twice = cond.merge(once, desired, generation=4, now="t9")
    assert once == twice


def test_summarize_all_good():
    ready = CONDITIONS.summarize(
        [
            C("ModelResolved", "True", "Resolved"),
            C("Progressing", "False", "Complete"),
            C("Degraded", "False", "Ok"),
        ]
    )
    assert (ready.status, ready.reason) == ("True", "Ready")


@pytest.mark.parametrize(
    ("conds", "expected"),
    [
        ([C("ModelResolved", "False", "ModelNotFound", "gone")], ("False", "ModelNotFound")),
        ([C("Available", "Unknown", "DeploymentMissing")], ("Unknown", "DeploymentMissing")),
        ([C("Progressing", "True", "RollingOut")], ("False", "RollingOut")),
        ([C("Progressing", "False", "ProgressDeadlineExceeded")], ("False", "ProgressDeadlineExceeded")),
        ([C("Degraded", "True", "CrashLoopBackOff")], ("False", "CrashLoopBackOff")),
        ([C("A", "True", "x"), C("B", "False", "first"), C("C", "False", "second")], ("False", "first")),
    ],
)
def test_summarize_names_the_first_failing_condition(conds, expected):
    ready = CONDITIONS.summarize(conds)
    assert (ready.status, ready.reason) == expected


def events(before, after):
    b = cond.merge(None, before, generation=1, now="t") if before is not None else None
    a = cond.merge(b, after, generation=1, now="t")
    return [(c["type"], c["reason"], good) for c, good in CONDITIONS.noteworthy(b, a)]


def test_a_new_object_settling_is_not_news():
    settled = [
        C("ModelResolved", "True", "Resolved"),
        C("Degraded", "False", "AsExpected"),
        C("Ready", "True", "Ready"),
    ]
    assert events(None, settled) == []
    assert events(None, [C("Ready", "False", "RollingOut")]) == []


def test_going_wrong_changing_what_is_wrong_and_recovering_are_news():
    ok = [C("Degraded", "False", "AsExpected"), C("Ready", "True", "Ready")]
    crash = [C("Degraded", "True", "CrashLoopBackOff"), C("Ready", "False", "CrashLoopBackOff")]
    oom = [C("Degraded", "True", "OOMKilled"), C("Ready", "False", "OOMKilled")]
    assert events(ok, crash) == [("Degraded", "CrashLoopBackOff", False), ("Ready", "CrashLoopBackOff", False)]
    assert events(crash, oom) == [("Degraded", "OOMKilled", False)]  # Ready stayed False
    assert events(oom, ok) == [("Degraded", "AsExpected", True), ("Ready", "Ready", True)]
    assert events(None, [C("ModelResolved", "False", "ModelNotFound")]) == [("ModelResolved", "ModelNotFound", False)]


def test_only_the_declared_event_types_are_reported():
    assert events([C("Available", "True", "x")], [C("Available", "False", "y")]) == []
