"""The leader election's pure rules: who may take a Lease, what is written, and the timing's sanity."""

from __future__ import annotations

import datetime

import pytest

from pim_operator.leaderelection import Record, Timing, lease_body, may_take, micro_time, next_record, with_record

pytestmark = pytest.mark.unit
NOW = "2026-01-02T03:04:05.000006Z"


def test_a_free_or_own_lease_may_be_taken_at_once():
    assert may_take(Record(), observed_at=100.0, now=100.0, identity="b")
    assert may_take(Record("b", 10), observed_at=100.0, now=100.0, identity="b")


def test_anothers_lease_only_after_it_stood_still_for_its_duration_on_our_clock():
    held = Record("a", 10, NOW, NOW, 3)
    assert not may_take(held, observed_at=100.0, now=109.9, identity="b")
    assert may_take(held, observed_at=100.0, now=110.0, identity="b")
    # a released lease says 1 s: the next candidate need not wait the full duration
    assert may_take(Record("", 1), observed_at=100.0, now=100.0, identity="b")


def test_taking_counts_a_transition_renewing_keeps_the_acquire_time():
    held = Record("a", 10, "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:09.000000Z", 3)
    taken = next_record(held, "b", 10, NOW)
    assert (taken.holder, taken.acquire_time, taken.renew_time, taken.transitions) == ("b", NOW, NOW, 4)
    renewed = next_record(taken, "b", 10, "2026-01-02T03:04:07.000000Z")
    assert (renewed.acquire_time, renewed.renew_time, renewed.transitions) == (NOW, "2026-01-02T03:04:07.000000Z", 4)
    assert next_record(None, "a", 10, NOW).transitions == 0
    assert next_record(Record("", 1, NOW, NOW, 7), "a", 10, NOW).transitions == 7  # released: no one held it


def test_a_new_lease_says_the_record_and_an_update_keeps_version_labels_and_annotations():
    record = Record("pod-1_abc123", 10, NOW, NOW, 2)
    body = lease_body("pim-operator", "pim-system", record)
    assert body["apiVersion"] == "coordination.k8s.io/v1"
    assert body["metadata"] == {"name": "pim-operator", "namespace": "pim-system"}
    assert body["spec"]["leaseDurationSeconds"] == 10
    assert Record.of(body) == record
    read = {
        **body,
        "metadata": {**body["metadata"], "resourceVersion": "42", "labels": {"app.kubernetes.io/managed-by": "Helm"}},
    }
    taken = with_record(read, Record("pod-2_def456", 10, NOW, NOW, 3))
    assert taken["metadata"] == read["metadata"]  # the compare-and-swap version, and Helm's ownership
    assert Record.of(taken).holder == "pod-2_def456"
    assert Record.of(read).holder == "pod-1_abc123"  # the read object is not changed


def test_micro_time_is_rfc3339_utc_with_microseconds():
    at = datetime.datetime(2026, 1, 2, 4, 4, 5, 6, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    assert micro_time(at) == NOW


def test_timing_must_leave_the_old_leader_time_to_stop():
    Timing(10, 7, 2)
    for bad in ((7, 7, 2), (10, 2, 2), (10, 7, 0)):
        with pytest.raises(ValueError, match="lease duration > renew deadline > retry period"):
            Timing(*bad)
