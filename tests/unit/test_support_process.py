"""The harness's child processes (tests.support.process): started when healthy, failed at once with
the log when the child exits first, stopped by a signal and killed when it does not go."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest

from tests.support.process import ModuleProcess

pytestmark = pytest.mark.unit

CHILD = """\
import pathlib, signal, sys
print("child says hello", flush=True)
mode, ready = sys.argv[1], pathlib.Path(sys.argv[2])
if mode == "exit":
    sys.exit(3)
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
ready.write_text("up")
while True:
    signal.pause()
"""


@pytest.fixture
def child(tmp_path: Path):
    (tmp_path / "pim_test_child.py").write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    ready = tmp_path / "ready"
    started: list[ModuleProcess] = []

    def launch(mode: str, timeout: float = 60, healthy=None) -> ModuleProcess:
        proc = ModuleProcess("the child")
        started.append(proc)
        proc.launch(
            "pim_test_child",
            [mode, str(ready)],
            env=env,
            log=tmp_path / f"{mode}.log",
            healthy=healthy or ready.exists,
            timeout=timeout,
        )
        return proc

    yield launch
    for proc in started:
        proc.end(signal.SIGKILL)


def test_started_when_healthy_and_stopped_by_sigterm(child) -> None:
    proc = child("serve")
    assert proc.alive()
    assert "child says hello" in proc.log_tail()
    assert proc.end() == -signal.SIGTERM
    assert not proc.alive()


def test_a_child_that_exits_fails_the_start_at_once_with_its_log(child) -> None:
    with pytest.raises(AssertionError) as failed:
        child("exit", timeout=600)  # far beyond the test's own timeout: only the exit can end the wait
    assert "the child exited 3" in str(failed.value)
    assert "child says hello" in str(failed.value)


def test_a_child_that_never_becomes_healthy_fails_the_start(child) -> None:
    with pytest.raises(AssertionError, match=r"the child not healthy after 0.5s:\n.*child says hello"):
        child("serve", timeout=0.5, healthy=lambda: False)


def test_http_errors_while_the_server_comes_up_mean_not_yet(child) -> None:
    answers = iter([httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), True])

    def healthy() -> bool:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert child("serve", healthy=healthy).alive()
    assert next(answers, "spent") == "spent"


def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout(child) -> None:
    proc = child("stubborn")
    assert proc.end(signal.SIGTERM, timeout=0.5) == -signal.SIGKILL


def test_nothing_started_nothing_to_stop() -> None:
    proc = ModuleProcess("idle")
    assert proc.end() is None
    assert proc.log_tail() == "(no log)"
    assert not proc.alive()
