from __future__ import annotations

import pytest

from pim_operator.apis.v1alpha1 import conditions as cond

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
    ready = cond.summarize(
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
    ready = cond.summarize(conds)
    assert (ready.status, ready.reason) == expected


def test_transitions_report_status_or_reason_changes_only():
    before = cond.merge(None, [C("A", "True", "R"), C("B", "False", "S")], generation=1, now="t")
    after = cond.merge(before, [C("A", "True", "R", "new msg"), C("B", "False", "T")], generation=1, now="t")
    assert [c["type"] for c in cond.transitions(before, after)] == ["B"]
    assert [c["type"] for c in cond.transitions(None, after)] == ["A", "B"]
