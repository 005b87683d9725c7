"""pim-console in tests: as a process beside the cluster, or reached through `kubectl port-forward`,
plus the curl runner for v2's documented commands (the browser is support/browser.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.net import free_port
from tests.support.process import ModuleProcess
from tests.support.waiting import wait_for


class ConsoleProcess(ModuleProcess):
    """``python -m pim_console`` against a cluster through its kubeconfig, on free loopback ports."""

    def __init__(self, kubeconfig: Path, namespace: str, log_dir: Path, *args: str) -> None:
        super().__init__("pim-console")
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.log_path = log_dir / f"console-{namespace}.log"
        self.port = free_port()
        self.args = args

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> ConsoleProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIM_CONSOLE_")}
        env.pop("KUBERNETES_SERVICE_HOST", None)

        def synced() -> bool:
            try:
                return httpx.get(f"{self.url}/healthz", timeout=2).json().get("synced") is True
            except ValueError:  # not JSON (yet)
                return False

        self.launch(
            "pim_console",
            [
                "--kubeconfig",
                str(self.kubeconfig),
                "--namespace",
                self.namespace,
                "--port",
                str(self.port),
                "--health-port",
                "0",
                *self.args,
            ],
            env=env,
            log=self.log_path,
            healthy=synced,
            timeout=timeout,
        )
        return self

    def stop(self) -> None:
        self.end(signal.SIGTERM, timeout=30)


@dataclass
class PortForward:
    """``kubectl port-forward TARGET local:remote...``: v2's ports, each on a free local port."""

    kubectl: list[str]
    target: str
    namespace: str
    remote_ports: tuple[int, ...]
    log_path: Path
    local: dict[int, int] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> PortForward:
        self.local = {p: free_port() for p in self.remote_ports}
        self._log = self.log_path.open("ab")
        pairs = [f"{local}:{remote}" for remote, local in self.local.items()]
        self.proc = subprocess.Popen(
            [*self.kubectl, "port-forward", "-n", self.namespace, "--address", "127.0.0.1", self.target, *pairs],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        first = self.remote_ports[0]
        wait_for(lambda: self.alive() and self._answers(first), timeout, f"port-forward to {self.target}")
        return self

    def _answers(self, remote: int) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.local[remote]}/healthz", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    def alive(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError(f"kubectl port-forward exited:\n{self.log_path.read_text(errors='replace')[-3000:]}")
        return True

    def ensure(self) -> None:
        """Start again if kubectl gave up (it may, when a forwarded connection fails)."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        if hasattr(self, "_log"):
            self._log.close()


CURL_SHIM = "curl() { command curl -sS --max-time 300 -w '\\n%{http_code}\\n' \"$@\"; }\n"
_STATUS = re.compile(r"^(\d{3})$")


@dataclass
class Answer:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


def run_documented(commands: str, ports: dict[int, int], timeout: float = 900) -> list[Answer]:
    """Run v2's documented shell commands as written, with ``localhost:PORT`` pointed at ``ports``.

    Each curl's answer is split off by the status line a shim appends (``-w '%{http_code}'``), so a
    loop of three curls gives three answers.
    """
    if shutil.which("curl") is None:
        raise AssertionError("curl is not installed (hack/ci/system-deps.sh installs it)")
    script = re.sub(r"localhost:(\d+)", lambda m: f"localhost:{ports[int(m.group(1))]}", commands)
    proc = subprocess.run(
        ["bash", "-c", CURL_SHIM + script], capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(f"the commands failed ({proc.returncode}):\n{script}\n{proc.stderr}\n{proc.stdout}")
    answers, body = [], []
    for line in proc.stdout.splitlines():
        m = _STATUS.match(line)
        if m:
            answers.append(Answer(int(m.group(1)), "\n".join(body).strip()))
            body = []
        else:
            body.append(line)
    return answers
