"""Faults the operator must survive, on the local cluster (engine pods on kwok): the API server and
etcd restarted in the middle of a burst, and the operator SIGKILLed ten times while instances are
created, edited and deleted. Afterwards every instance converges, each has exactly one child of
each kind, nothing is orphaned, and the operator posted no storm of Events.

Restarts go through ``Cluster.restart`` (``hack/cluster/restart.sh``: each component started again
with the flags ``up.sh`` gave it), so these tests need the local cluster; they fail, not skip, on a
PIM_KUBECONFIG one.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter
from typing import Any

import pytest

from tests.support.figures import record
from tests.support.operator_proc import OperatorProcess
from tests.support.pim import (
    BOOKS,
    apply,
    apply_all,
    children_problems,
    operator_events,
    pim_instance,
    pim_model,
    scratch_namespace,
    wait_condition,
    wait_converged,
)
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1200)]
#: Events a fault-free life posts: creating an instance posts three (its pods not ready yet, then
#: ready: Healthy and Ready), and an edit that rolls its pods up to four: Ready false while rolling
#: and true again, and Healthy likewise when the operator looks while no new pod is ready yet (two
#: in runs where it never looks at that moment). A storm (Events per reconcile or per restart)
#: would post that many per resync, not per edit.
EVENTS_PER_CREATION = 3
EVENTS_PER_EDIT = 4


def event_summary(cluster, ns: str, creations: int, edits: int = 0) -> dict[str, Any]:
    """The operator's Events in ``ns``, checked for a storm: no more than the fault-free lives of
    these instances post, no object (a uid: a name created again is another object) with more than
    a creation's worth unless edited, and no Event posted again and again (``_reposts``)."""
    events = operator_events(cluster, ns)
    per_object = Counter(e["involvedObject"].get("uid") or e["involvedObject"]["name"] for e in events)
    repeats = _reposts(events)
    worst = max(per_object.values(), default=0)
    if per_object:
        uid = per_object.most_common(1)[0][0]
        history = [(e["reason"], e["message"][:80]) for e in events if e["involvedObject"].get("uid") == uid]
    else:
        history = []
    allowed = EVENTS_PER_CREATION * creations + EVENTS_PER_EDIT * edits
    reasons = Counter(e["reason"] for e in events)
    assert len(events) <= allowed, f"{len(events)} Events for {creations} creations and {edits} edits: {reasons}"
    if not edits:
        assert worst <= EVENTS_PER_CREATION, history
    assert max(repeats.values(), default=0) <= 2, repeats.most_common(3)
    return {"events": len(events), "most_on_one_object": worst, "reasons": dict(reasons.most_common())}


def _reposts(events: list[dict[str, Any]]) -> Counter:
    """The longest run of one Event posted again and again about one condition of one object, with no
    other transition of that condition between (Events are created once and never updated, so their
    resourceVersions give the order). An edit's Ready=False then Ready=True is no repost; two in a
    row may be (a SIGKILL between a status write and its Event loses the Event between them); three
    in a row is an operator posting the same news again."""
    runs: Counter = Counter()
    last: dict[tuple[str, str], tuple[str, str]] = {}
    run: dict[tuple[str, str], int] = {}
    for e in sorted(events, key=lambda e: int(e["metadata"]["resourceVersion"])):
        key = (e["involvedObject"].get("uid") or e["involvedObject"]["name"], e["message"].split("=", 1)[0])
        said = (e["reason"], e["message"])
        run[key] = run.get(key, 0) + 1 if last.get(key) == said else 1
        last[key] = said
        runs[(*key, *said)] = max(runs[(*key, *said)], run[key])
    return runs


def converge_or_explain(cluster, ns: str, names: list[str], op, timeout: float, what: str) -> None:
    """wait_converged, and on failure what the operator was doing too."""
    try:
        wait_converged(cluster, ns, names, timeout, what)
    except AssertionError as exc:
        state = "not running"
        if op.alive():
            state = (
                f"leading={op.leading()} queued={op.metric('pim_operator_queue_depth', kind='PimInstance')} "
                f"reconciles={op.metric('pim_operator_reconcile_total', kind='PimInstance')}"
            )
        raise AssertionError(f"{exc}\noperator: {state}\n{op.log_tail(40)}") from None


def burst(ns: str, names: list[str]) -> list[dict]:
    return [pim_instance(ns, n, "books") for n in names]


def burst_under_way(cluster, ns: str, size: int, first: int, started: int) -> list[str]:
    """In ``ns``, a valid model and ``size`` instance names, the ``first`` of them applied in one
    burst; returns once ``started`` of them have Deployments (the operator is mid-burst)."""
    apply(cluster, pim_model(ns, "books", BOOKS))
    wait_condition(cluster, "pm", ns, "books", "Valid", "True")
    names = [f"burst-{i:03d}" for i in range(size)]
    apply_all(cluster, burst(ns, names[:first]))
    wait_for(lambda: len(cluster.get("deployments", "-n", ns)["items"]) >= started, 120, "the burst under way")
    return names


@pytest.fixture(scope="module")
def room(crds):
    """One more kwok node (110 pods each): a burst of 100 must not depend on what earlier tests left."""
    return crds.create_fake_nodes(1, prefix="fault-kwok")[0]


@pytest.fixture
def ns(cluster, room):
    with scratch_namespace(cluster, "fault") as name:
        yield name


@pytest.mark.parametrize(
    ("component", "size", "first"),
    [("kube-apiserver", 100, 100), ("etcd", 40, 30)],  # etcd: and 10 more right after it is back
)
def test_a_control_plane_component_restarted_in_the_middle_of_a_burst(cluster, operator, ns, component, size, first):
    names = burst_under_way(cluster, ns, size, first=first, started=size // 10)
    starts = operator.starts
    stopped = time.monotonic()
    cluster.restart(component)
    back = time.monotonic()
    down = back - stopped
    if first < size:
        apply_all(cluster, burst(ns, names[first:]))
    converge_or_explain(cluster, ns, names, operator, 400, f"all {size} instances to converge after the restart")
    recovered = time.monotonic() - back
    assert operator.alive(), operator.log_tail()
    assert operator.starts == starts
    assert children_problems(cluster, ns) == []
    events = event_summary(cluster, ns, len(names))
    key = component.replace("kube-", "").replace("-", "_")
    record(f"{key}_restart_downtime_seconds", down)
    record(f"{key}_restart_all_converged_after_seconds", recovered, instances=size)
    record(f"{key}_restart_events", events["events"], instances=size, **events)


class Churn(threading.Thread):
    """Creates, edits and deletes instances among ``names`` at random until stopped."""

    def __init__(self, cluster, ns: str, names: list[str], seed: int) -> None:
        super().__init__(daemon=True, name="churn")
        self.cluster, self.ns, self.names = cluster, ns, names
        self.rng = random.Random(seed)
        self.present: dict[str, int] = {}  # name -> edits
        self.ops: Counter[str] = Counter()
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.halt.is_set():
                self.step()
                self.halt.wait(self.rng.uniform(0.1, 0.4))  # pacing of a busy user, not a wait for a state
        except BaseException as exc:
            self.error = exc

    def step(self) -> None:
        name = self.rng.choice(self.names)
        if name not in self.present:
            apply(self.cluster, pim_instance(self.ns, name, "books"))
            self.present[name] = 0
            self.ops["create"] += 1
        elif self.rng.random() < 0.7:
            self.present[name] += 1
            env = [{"name": "EDIT", "value": str(self.present[name])}]
            apply(self.cluster, pim_instance(self.ns, name, "books", env=env))
            self.ops["edit"] += 1
        else:
            self.cluster.kubectl("delete", "pi", name, "-n", self.ns, "--wait=false")
            del self.present[name]
            self.ops["delete"] += 1


@pytest.fixture
def chaos_ns(cluster):
    with scratch_namespace(cluster, "own-op-chaos") as name:
        yield name


def test_operator_sigkilled_ten_times_while_instances_churn(cluster, crds, fake_node, room, chaos_ns, tmp_path):
    """Its own operator process (the namespace is own-op-*), with a short lease so that each restart
    is back at work in seconds: a SIGKILLed leader never releases its lease, so its successor waits
    the lease out, as it would in production."""
    ns = chaos_ns
    op = OperatorProcess(
        cluster.kubeconfig,
        tmp_path,
        "--namespace",
        ns,
        "--leader-election-namespace",
        ns,
        "--lease-duration",
        "4",
        "--renew-deadline",
        "3",
        "--retry-period",
        "1",
        "--probe-interval",
        "0",
        "--resync-interval",
        "5",
    )
    op.start()
    try:
        apply(cluster, pim_model(ns, "books", BOOKS))
        wait_condition(cluster, "pm", ns, "books", "Valid", "True")
        rng = random.Random(13)
        churn = Churn(cluster, ns, [f"churn-{i:02d}" for i in range(20)], seed=13)
        churn.start()
        kills = []
        try:
            for _ in range(10):
                time.sleep(rng.uniform(0.5, 8.0))  # a random moment: the fault itself, not a wait for a state
                kills.append(time.monotonic())
                assert op.kill(signal.SIGKILL) == -signal.SIGKILL
                op.start()
        finally:
            churn.halt.set()
            churn.join(timeout=60)
        assert churn.error is None, churn.error
        stopped = time.monotonic()
        names = sorted(churn.present)
        converge_or_explain(cluster, ns, names, op, 300, f"the {len(names)} remaining instances to converge")
        recovered = time.monotonic() - stopped
        # Deleted instances' children go with them (garbage collection by ownerReferences).
        wait_for(lambda: children_problems(cluster, ns) == [], 120, "no orphans and one child of each kind")
        for name, edits in churn.present.items():
            (container,) = cluster.get("deployment", name, "-n", ns)["spec"]["template"]["spec"]["containers"]
            expected = [{"name": "EDIT", "value": str(edits)}] if edits else []
            assert [e for e in container.get("env") or () if e["name"] == "EDIT"] == expected, name
        assert op.starts == 11  # and one more below
        events = event_summary(cluster, ns, churn.ops["create"], churn.ops["edit"])
        # A restart in the steady state is no news: it posts no Event at all.
        before = len(operator_events(cluster, ns))
        assert op.kill(signal.SIGKILL) == -signal.SIGKILL
        op.start()
        wait_for(op.leading, 30, "the restarted operator to lead")
        runs = ("pim_operator_reconcile_total", {"kind": "PimInstance", "result": "success"})
        wait_for(lambda: op.metric(runs[0], **runs[1]) >= 2 * len(names), 60, "two reconciles of every instance")
        assert len(operator_events(cluster, ns)) == before
        record("chaos_kills", len(kills))
        record("chaos_operations", sum(churn.ops.values()), **churn.ops)
        record("chaos_converged_after_seconds", recovered, instances=len(names))
        record("chaos_events", events["events"], **events)
    finally:
        op.stop()
