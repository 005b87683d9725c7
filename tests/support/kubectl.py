"""The kubectl wrapper of the tests and benchmarks: one kubeconfig, one discovery cache, errors
that carry the command line and kubectl's own message."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.support.commands import CommandError, run

KUBECTL = os.environ.get("KUBECTL") or shutil.which("kubectl") or "/usr/bin/kubectl"


class KubectlError(CommandError):
    """A kubectl call failed; the message carries the command line and kubectl's stderr."""


class Kubectl:
    """kubectl against the cluster of ``kubeconfig``, with its discovery cache in ``cache_dir``."""

    def __init__(self, kubeconfig: Path, cache_dir: Path) -> None:
        self.kubeconfig = kubeconfig
        self.cache_dir = cache_dir

    def argv(self, *args: str) -> list[str]:
        """The command line, for callers that run several kubectls at once (``subprocess.Popen``)."""
        return [KUBECTL, f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache_dir}", *args]

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl; raise ``KubectlError`` on failure when ``check``."""
        return run("kubectl", self.argv(), args, input=input, check=check, timeout=timeout, error=KubectlError)

    def get(self, *args: str) -> Any:
        """``kubectl get ARGS -o json``, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def create(self, obj: dict[str, Any], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Create one object given as a dict; with ``check=False`` a rejection is returned, not raised."""
        return self.kubectl("create", "-f", "-", "-o", "json", input=json.dumps(obj), check=check)

    def apply(self, *objs: dict[str, Any], field_manager: str = "tests", timeout: float = 120) -> None:
        """Server-side apply of ``objs`` (one request stream, a v1 List)."""
        items = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)})
        self.kubectl(
            "apply", "--server-side", f"--field-manager={field_manager}", "-f", "-", input=items, timeout=timeout
        )
