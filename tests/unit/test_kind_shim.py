"""hack/kind/shim/docker: what kind asks of docker, and what the real docker CLI then receives.

A stand-in ``docker`` later on PATH records its arguments (and answers ``image inspect`` as an
image with kind's entrypoint would), so the rewriting is checked without a Docker engine.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SHIM = REPO / "hack" / "kind" / "shim"
CAPS = [
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
]  # fmt: skip
FAKE = """#!/bin/sh
printf '%s\\n' "$@" > "$RECORD"
if [ "$1 $2" = "image inspect" ]; then
  case "$*" in *-f*) echo '["/usr/local/bin/entrypoint","/sbin/init"] null' ;; esac
fi
"""


def missing_caps() -> list[str]:
    """Capabilities missing from the bounding set the shim reads (dockerd's, else this process's)."""
    pids = subprocess.run(["pgrep", "-xo", "dockerd"], capture_output=True, text=True).stdout.split()
    status = Path(f"/proc/{pids[0] if pids else 'self'}/status").read_text()
    mask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("CapBnd:")), 16)
    return [name for bit, name in enumerate(CAPS) if not mask >> bit & 1]


def run_shim(tmp_path: Path, *args: str) -> list[str]:
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "docker").write_text(FAKE)
    (fake / "docker").chmod(0o755)
    record = tmp_path / "args"
    env = {**os.environ, "PATH": f"{SHIM}:{fake}:{os.environ['PATH']}", "RECORD": str(record)}
    subprocess.run([str(SHIM / "docker"), *args], env=env, check=True, capture_output=True)
    return record.read_text().splitlines()


def test_privileged_run_becomes_explicit_capabilities_and_the_remount_step(tmp_path: Path) -> None:
    got = run_shim(
        tmp_path,
        "run", "--name", "pim-worker", "--privileged", "--security-opt", "seccomp=unconfined",
        "--volume", "/var", "-e", "KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER", "--detach", "--tty",
        "--net", "kind", "--publish=127.0.0.1:30080:30080/TCP", "kindest/node:v1",
    )  # fmt: skip
    assert got[0] == "run"
    assert "--privileged" not in got
    image = got.index("kindest/node:v1")
    # kind's own options are kept, before the image
    assert got[1:5] == ["--name", "pim-worker", "--security-opt", "seccomp=unconfined"]
    assert "--publish=127.0.0.1:30080:30080/TCP" in got[:image]
    # every capability, less those the host cannot grant
    assert got[got.index("--cap-add") + 1] == "ALL"
    dropped = [got[i + 1] for i, a in enumerate(got) if a == "--cap-drop"]
    assert dropped == missing_caps()
    assert got[got.index("systempaths=unconfined") - 1] == "--security-opt"
    assert got[got.index("a *:* rwm") - 1] == "--device-cgroup-rule"
    assert got[got.index("/dev/kmsg") - 1] == "--device"
    # the remount step runs first, then the image's own entrypoint and command
    assert got[got.index("--entrypoint") + 1] == "/pim-node-entrypoint"
    assert f"{SHIM / 'node-entrypoint'}:/pim-node-entrypoint:ro" in got
    assert got[image + 1 :] == ["/usr/local/bin/entrypoint", "/sbin/init"]


def test_privileged_exec_drops_the_flag(tmp_path: Path) -> None:
    got = run_shim(tmp_path, "exec", "--privileged", "-i", "pim-worker", "ctr", "images", "list")
    assert got == ["exec", "-i", "pim-worker", "ctr", "images", "list"]


@pytest.mark.parametrize(
    "args",
    [
        ("ps", "-a"),
        ("run", "--rm", "img", "true"),
        ("exec", "c", "sh", "-c", "echo --privileged"),  # the command's own arguments are left alone
        ("run", "-e", "X", "img", "--privileged"),
    ],
)
def test_everything_else_passes_through(tmp_path: Path, args: tuple[str, ...]) -> None:
    assert run_shim(tmp_path, *args) == list(args)


def test_node_entrypoint_is_valid_shell() -> None:
    subprocess.run(["sh", "-n", str(SHIM / "node-entrypoint")], check=True)
