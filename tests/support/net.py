"""Free TCP ports for servers the harness starts and must name the port of in advance.

The same rules as the cluster's ``hack/lib/ports.sh`` (read its header for the why): a port picked by
binding port 0 comes from the kernel's ephemeral range, which every outgoing connection and every
other port-0 server on the machine draws from, so between the pick and the server's own bind
someone can take it and the server dies with "address already in use". Ports here come from outside
that range, at random, skipping those in use, and each pick is recorded for a while in the registry
every picker on the machine shares (``PIM_PORT_REGISTRY``, lines "PORT EXPIRY", under ``flock``).
"""

from __future__ import annotations

import fcntl
import os
import random
import socket
import time
from pathlib import Path

PORT_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = int(os.environ.get("PIM_PORT_MIN", "20000"))
REGISTRY = Path(os.environ.get("PIM_PORT_REGISTRY", "/tmp/pim-ports.reserved"))
HOLD = int(os.environ.get("PIM_PORT_HOLD", "300"))


def _candidates() -> list[range]:
    try:
        low, high = (int(x) for x in PORT_RANGE.read_text().split())
    except (OSError, ValueError):
        return []
    return [r for r in (range(LOWEST, low), range(high + 1, 65536)) if len(r) > 0]


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _reserved(now: float) -> dict[int, int]:
    reserved: dict[int, int] = {}
    try:
        for line in REGISTRY.read_text().splitlines():
            port, _, expiry = line.partition(" ")
            if expiry.isdigit() and int(expiry) > now:
                reserved[int(port)] = int(expiry)
    except OSError:
        pass
    return reserved


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports, free right now on every address, outside the ephemeral range, and
    reserved for ``PIM_PORT_HOLD`` seconds against other pickers on this machine."""
    ranges = _candidates()
    if sum(len(r) for r in ranges) < 1000:
        raise RuntimeError(f"fewer than 1000 ports outside the ephemeral range ({PORT_RANGE.read_text().strip()})")
    rng = random.SystemRandom()
    weights = [len(r) for r in ranges]
    with Path(f"{REGISTRY}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        now = time.time()
        reserved = _reserved(now)
        picked: list[int] = []
        for _ in range(10_000):
            port = rng.choice(rng.choices(ranges, weights)[0])
            if port not in picked and port not in reserved and _bindable(port):
                picked.append(port)
                if len(picked) == n:
                    break
        else:
            raise RuntimeError(f"no {n} free ports found outside the ephemeral range")
        reserved.update(dict.fromkeys(picked, int(now) + HOLD))
        tmp = REGISTRY.with_name(f"{REGISTRY.name}.{os.getpid()}")
        tmp.write_text("".join(f"{port} {expiry}\n" for port, expiry in reserved.items()))
        tmp.replace(REGISTRY)
    return picked


def free_port() -> int:
    """One free port (see ``free_ports``)."""
    return free_ports(1)[0]
