"""Bring-up reliability: consecutive up/down cycles of the local cluster, each timed, every failure
kept with its reason (issue 9: a bring-up that fails one time in a few is one users stop trusting).

Not a test. Targets:

- ``make``: ``make up`` then ``make down`` (CLUSTER=embedded, CLUSTER_DIR in a temporary directory),
  the new user's whole path: the build phase (cached), control plane, real node, the operator by
  Helm, the sample instance Ready. Needs root and the machine's one node, so run it under the lock::

      flock /tmp/pim-node.lock .venv/bin/python -m bench.cluster_cycles --target make --cycles 20 --write

- ``cluster``: ``hack/cluster/up.sh`` and ``down.sh`` into a temporary directory: the control plane
  with kwok (no lock needed), or with ``--node`` the real node too.

``--connections N`` keeps N outgoing loopback TCP connections open during the run and replaces a
hundredth of them every 0.1 s, as a busy machine does (downloads, builds, test clients); each new one
takes a local port from the kernel's ephemeral range, like every outgoing connection.
``--listeners N`` keeps N listening sockets bound to port 0, replaced the same way: the servers of
other programs and test harnesses that let the kernel pick their port (from the same range).
``--baseline REF`` also runs the cycles with the ``hack/`` directory of git revision REF (say, the
commit before a fix), alternating with the working tree's, in the same session: the baseline.

A cycle fails when up or down exits non-zero, or when a process still names the cluster directory
after down. Per-cycle lines go to stderr; the summary (JSON, and Markdown with ``--write`` into
BENCHMARKS.md, "Bring-up reliability") at the end; logs of failed cycles are kept.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.report import BENCHMARKS, say, update_block
from tests.support.cluster import processes_mentioning

ROOT = Path(__file__).resolve().parent.parent
# The lines of a failed bring-up that say why (the first one found is reported).
REASON = re.compile(r"exited|timed out|error|FAILED|refusing|missing|survived|address already in use", re.I)
# A component's own last word, quoted from its log (klog's "command failed" line, say).
ROOT_CAUSE = re.compile(r'err="[^"]*"|bind: address already in use|panic: .*')


@dataclass
class Cycle:
    variant: str
    n: int
    ok: bool
    up_s: float
    down_s: float
    reason: str = ""
    log: str = ""


class Churn:
    """``n`` open loopback TCP connections and ``listeners`` port-0 listening sockets, a hundredth of
    each replaced every 0.1 s."""

    def __init__(self, n: int, listeners: int = 0) -> None:
        self.n = n
        self.listeners = listeners
        self.listening: list[socket.socket] = []
        self.server = socket.create_server(("127.0.0.1", 0), backlog=4096)
        self.port = self.server.getsockname()[1]
        self.accepted: dict[int, socket.socket] = {}  # client's local port -> server side
        self.clients: list[socket.socket] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.opened = 0
        self.threads = [
            threading.Thread(target=self._accept, daemon=True, name="churn accept"),
            threading.Thread(target=self._churn, daemon=True, name="churn"),
        ]

    def __enter__(self) -> Churn:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.server.close()
        for t in self.threads:
            t.join(timeout=5)
        with self.lock:
            for s in [*self.clients, *self.accepted.values(), *self.listening]:
                s.close()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, peer = self.server.accept()
            except OSError:
                return
            with self.lock:
                self.accepted[peer[1]] = conn

    def _connect(self) -> None:
        s = socket.create_connection(("127.0.0.1", self.port))
        self.clients.append(s)
        self.opened += 1

    def _listen(self) -> None:
        s = socket.create_server(("127.0.0.1", 0))
        self.listening.append(s)
        self.opened += 1

    def _churn(self) -> None:
        rng = random.Random(1)
        while len(self.clients) < self.n and not self.stop.is_set():
            self._connect()
        while len(self.listening) < self.listeners and not self.stop.is_set():
            self._listen()
        step = max(1, self.n // 100)
        while not self.stop.wait(0.1):
            for _ in range(max(1, self.listeners // 100) if self.listeners else 0):
                self.listening.pop(rng.randrange(len(self.listening))).close()
                self._listen()
            for _ in range(step if self.n else 0):
                old = self.clients.pop(rng.randrange(len(self.clients)))
                local = old.getsockname()[1]
                old.close()
                with self.lock:
                    peer = self.accepted.pop(local, None)
                if peer is not None:
                    peer.close()
                self._connect()


def reason_of(output: str) -> str:
    """The first line that says what failed, and the component's own error when one is quoted."""
    lines = [line.strip() for line in output.splitlines() if REASON.search(line)]
    if not lines:
        return (output.strip().splitlines() or ["(no output)"])[-1][:300]
    cause = next((line for line in lines[1:] if ROOT_CAUSE.search(line)), "")
    return lines[0][:200] + (f" ({ROOT_CAUSE.search(cause).group(0)[:200]})" if cause else "")


class Runner:
    """How one variant brings the cluster up and down."""

    def __init__(self, target: str, node: bool, hack: Path, work: Path) -> None:
        self.target, self.node, self.hack, self.work = target, node, hack, work

    def commands(self, state: Path) -> tuple[list[str], list[str], dict[str, str]]:
        env = dict(os.environ)
        if self.target == "make":
            make = ["make", "-s", "-C", str(ROOT), "CLUSTER=embedded", f"CLUSTER_DIR={state}"]
            return [*make, "up"], [*make, "down"], env
        env["PIM_CLUSTER_NODE"] = "1" if self.node else "0"
        up, down = self.hack / "cluster" / "up.sh", self.hack / "cluster" / "down.sh"
        return [str(up), str(state)], [str(down), str(state)], env

    def cycle(self, variant: str, n: int) -> Cycle:
        state = self.work / f"{variant}-{n}"
        log = self.work / f"{variant}-{n}.log"
        up, down, env = self.commands(state)
        with log.open("w") as out:
            t0 = time.monotonic()
            rc_up = subprocess.run(up, env=env, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
            t1 = time.monotonic()
            rc_down = subprocess.run(down, env=env, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
            t2 = time.monotonic()
        left = processes_mentioning(state)
        output = log.read_text(errors="replace")
        result = Cycle(variant, n, rc_up == 0 and rc_down == 0 and not left, t1 - t0, t2 - t1)
        if rc_up != 0:
            result.reason = f"up exited {rc_up}: {reason_of(output)}"
        elif rc_down != 0:
            result.reason = f"down exited {rc_down}: {reason_of(output)}"
        elif left:
            result.reason = f"left running after down: {left[0]}"
        if result.ok:
            log.unlink()
        else:
            result.log = str(log)
        return result


def baseline_hack(ref: str, work: Path) -> Path:
    """REF's hack/ directory, unpacked into the work directory."""
    dest = work / f"baseline-{ref.replace('/', '_')}"
    dest.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "hack"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest / "hack"


def summarize(cycles: list[Cycle]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for variant in dict.fromkeys(c.variant for c in cycles):
        mine = [c for c in cycles if c.variant == variant]
        ups = sorted(c.up_s for c in mine)
        downs = sorted(c.down_s for c in mine)
        out[variant] = {
            "cycles": len(mine),
            "failures": sum(not c.ok for c in mine),
            "up_median_s": statistics.median(ups),
            "up_max_s": ups[-1],
            "down_median_s": statistics.median(downs),
            "down_max_s": downs[-1],
        }
    return out


def markdown(args: argparse.Namespace, cycles: list[Cycle], info: dict[str, str]) -> str:
    summary = summarize(cycles)
    lines = [
        f"Run {info['date']} (`{info['command']}`; load average {info['load_before']} before, "
        f"{info['load_after']} after"
        + (f"; {args.connections} churned outgoing connections" if args.connections else "")
        + (f"; {args.listeners} churned port-0 listeners" if args.listeners else "")
        + (f"; baseline = hack/ of {info['baseline']}" if "baseline" in info else "")
        + ").",
        "",
        "| variant | cycles | failures | up median | up max | down median | down max |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for variant, s in summary.items():
        lines.append(
            f"| {variant} | {s['cycles']:g} | {s['failures']:g} | {s['up_median_s']:.1f} s | {s['up_max_s']:.1f} s "
            f"| {s['down_median_s']:.1f} s | {s['down_max_s']:.1f} s |"
        )
    lines += ["", "Per cycle (up s / down s, ✗ = failed):", ""]
    for variant in summary:
        row = " ".join(f"{c.up_s:.0f}/{c.down_s:.0f}{'' if c.ok else '✗'}" for c in cycles if c.variant == variant)
        lines.append(f"- {variant}: {row}")
    failures = [c for c in cycles if not c.ok]
    if failures:
        lines += ["", "Failures:", ""]
        lines += [f"- {c.variant} cycle {c.n}: {c.reason}" for c in failures]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", choices=("make", "cluster"), default="cluster")
    p.add_argument("--node", action="store_true", help="cluster target: with the real node (root, node lock)")
    p.add_argument("--cycles", type=int, default=20)
    p.add_argument("--connections", type=int, default=0, help="churned outgoing connections held during the run")
    p.add_argument("--listeners", type=int, default=0, help="churned port-0 listening sockets held during the run")
    p.add_argument("--baseline", metavar="REF", help="also run REF's hack/ (cluster target), alternating")
    p.add_argument("--write", action="store_true", help=f"write the result into {BENCHMARKS.name}")
    args = p.parse_args(argv)
    if args.baseline and args.target != "cluster":
        p.error("--baseline needs --target cluster (make up uses the whole working tree)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * args.connections + args.listeners + 1024
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, want)), hard))

    work = Path(tempfile.mkdtemp(prefix="pim-cycles-"))
    info = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "command": "python -m bench.cluster_cycles " + " ".join(argv if argv is not None else sys.argv[1:]),
        "load_before": "{:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg()),
    }
    variants = [("current", Runner(args.target, args.node, ROOT / "hack", work))]
    if args.baseline:
        variants.append(("baseline", Runner("cluster", args.node, baseline_hack(args.baseline, work), work)))
        info["baseline"] = args.baseline
    say(f"work directory {work}; {args.cycles} cycles of {', '.join(v for v, _ in variants)}")
    cycles: list[Cycle] = []
    churn = Churn(args.connections, args.listeners) if args.connections or args.listeners else None
    try:
        if churn:
            churn.__enter__()
            say(f"{args.connections} outgoing connections and {args.listeners} port-0 listeners open, churning")
        for n in range(1, args.cycles + 1):
            for variant, runner in variants:
                c = runner.cycle(variant, n)
                cycles.append(c)
                failed = sum(not x.ok for x in cycles if x.variant == c.variant)
                say(
                    f"{c.variant} cycle {n}: {'ok' if c.ok else 'FAILED'} up {c.up_s:.1f}s down {c.down_s:.1f}s "
                    f"({failed} failed so far){' - ' + c.reason if c.reason else ''}"
                )
    finally:
        if churn:
            churn.__exit__()
            say(f"opened {churn.opened} connections and listeners in all")
    info["load_after"] = "{:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg())
    print(json.dumps({"info": info, "summary": summarize(cycles), "cycles": [asdict(c) for c in cycles]}, indent=2))
    text = markdown(args, cycles, info)
    print(text)
    if args.write:
        busy = ("-connections" if args.connections else "") + ("-listeners" if args.listeners else "")
        name = f"cluster-cycles-{args.target}{'-node' if args.node else ''}{busy}"
        update_block(BENCHMARKS, "Bring-up reliability", name, text)
        say(f"wrote {name} into {BENCHMARKS}")
    return 0 if all(c.ok for c in cycles if c.variant == "current") else 1


if __name__ == "__main__":
    sys.exit(main())
