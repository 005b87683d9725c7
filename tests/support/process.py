"""One of our Python entry points run as a real child process, as a user would run it.

The operator and the console are started, awaited and stopped the same way: ``python -m MODULE``
with its output in a log file, started once its health endpoint says so (or failed at once, with the
log's tail, when it exits first), stopped by a signal and killed if it does not exit in time. Their
classes add only their command lines and what "healthy" means.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

import httpx


class ModuleProcess:
    """``python -m module``: its ``proc``, its log, and the start / stop every such process shares."""

    def __init__(self, name: str) -> None:
        self.name = name  # says which process in failure messages
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_file: Path | None = None

    def launch(
        self,
        module: str,
        args: Sequence[str],
        *,
        env: Mapping[str, str],
        log: Path,
        healthy: Callable[[], bool],
        timeout: float,
    ) -> None:
        """Start the module with ``args``, its output in ``log``, and wait until ``healthy()`` holds.

        ``healthy`` may raise ``httpx.HTTPError`` while the server is not listening yet."""
        self._log_file = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args], env=dict(env), stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if healthy():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} not healthy after {timeout:g}s:\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send(self, sig: int) -> None:
        """Send ``sig`` and return at once (SIGSTOP, SIGCONT)."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    def end(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int | None:
        """Send ``sig`` if it still runs, wait for the exit (SIGKILL after ``timeout``), close the log.

        The exit code (negative: the signal that ended it); None when it never started."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
        return self.proc.returncode

    def log_tail(self, lines: int = 80) -> str:
        if self._log_file is None:
            return "(no log)"
        try:
            return "\n".join(self._log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
