"""The v2 port plan: the lowest free port from the range, clashes refused naming the holder, and
the earliest claim winning when two writers race."""

from __future__ import annotations

import pytest

from pim_console import names, ports

pytestmark = pytest.mark.unit
RESERVED = {8000: "the console's API", 8081: "the console's health checks"}


def inst(name: str, port: int | None, created: str = "2026-01-01T00:00:00Z", *, instance_id: str | None = None, **meta):
    m = {"name": name, "uid": f"uid-{name}", "creationTimestamp": created, **meta}
    if instance_id:
        m["annotations"] = {names.INSTANCE_ID: instance_id}
    spec = {} if port is None else {"port": port}
    return {"metadata": m, "spec": spec}


def test_first_free_port_from_8001() -> None:
    assert ports.choose(None, [], RESERVED) == 8001
    taken = [inst("a", 8001), inst("b", 8002), inst("c", 8004)]
    assert ports.choose(None, taken, RESERVED) == 8003


def test_a_wanted_port_is_given_when_free() -> None:
    assert ports.choose(8050, [inst("a", 8001)], RESERVED) == 8050


def test_a_clash_names_the_holder_by_its_v2_id() -> None:
    with pytest.raises(ports.PortUnavailable, match=r"port 8001 is already used by instance 'user_prod'"):
        ports.choose(8001, [inst("user-prod", 8001, instance_id="user_prod")], RESERVED)


def test_the_consoles_own_ports_are_reserved() -> None:
    with pytest.raises(ports.PortUnavailable, match="reserved for the console's API"):
        ports.choose(8000, [], RESERVED)


def test_instances_without_a_port_hold_the_crd_default() -> None:
    assert ports.holders([inst("kubectl-made", None)]) == {
        8000: ports.Claim("2026-01-01T00:00:00Z", "kubectl-made", 8000, "kubectl-made")
    }


def test_a_full_range_is_refused() -> None:
    taken = [inst(f"i{p}", p) for p in range(8001, 8004)]
    with pytest.raises(ports.PortUnavailable, match="no free port left in 8001-8003"):
        ports.choose(None, taken, RESERVED, first=8001, last=8003)


def test_an_instance_being_deleted_lets_go_of_its_port() -> None:
    leaving = inst("old", 8001, deletionTimestamp="2026-01-01T00:01:00Z")
    assert ports.choose(8001, [leaving], RESERVED) == 8001


def test_the_earliest_claim_wins_a_race() -> None:
    first = inst("first", 8001, "2026-01-01T00:00:00Z", instance_id="first_one")
    second = inst("second", 8001, "2026-01-01T00:00:01Z")
    assert ports.lost_race(second, [first, second]) == ports.Claim.of(first)
    assert ports.lost_race(first, [first, second]) is None
    # Same second: the name decides, the same way for both writers.
    a, b = inst("a", 8001), inst("b", 8001)
    assert ports.lost_race(b, [a, b]) is not None
    assert ports.lost_race(a, [a, b]) is None
