"""Running the command-line tools the harness drives (kubectl, helm): one error type that carries
the command line and the tool's own message."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Sequence


class CommandError(AssertionError):
    """A tool exited non-zero; the message names the command and ends with what the tool said."""

    def __init__(self, tool: str, args: Sequence[str], proc: subprocess.CompletedProcess[str]) -> None:
        self.proc = proc
        said = proc.stderr.strip() or proc.stdout.strip()
        super().__init__(f"{tool} {shlex.join(args)} exited {proc.returncode}:\n{said[-2000:]}")


def run(
    tool: str,
    argv: Sequence[str],
    args: Sequence[str],
    *,
    input: str | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
    timeout: float = 60,
    error: type[CommandError] = CommandError,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (the tool and its fixed options, then ``args``); raise ``error`` on failure
    when ``check``. ``env`` is added to this process's environment."""
    proc = subprocess.run(
        [*argv, *args],
        input=input,
        env={**os.environ, **env} if env else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise error(tool, args, proc)
    return proc
