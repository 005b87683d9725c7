"""Where the engine's reviews go, and with which token: no HTTP here, so settings can name it cheaply.

In a pod: ``https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`` with the mounted
ServiceAccount's token and CA. Elsewhere (tests, a shell): ``PIM_KUBE_API``, ``PIM_KUBE_TOKEN_FILE``,
``PIM_KUBE_CA_FILE``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
#: The kubelet rotates projected tokens well before they expire; client-go re-reads every minute.
TOKEN_REREAD = 60.0


class ReviewFailed(Exception):
    """The API server could not answer (unreachable, or it refused the engine's own request)."""


@dataclass(frozen=True)
class ApiServer:
    """Where the reviews go, and with what: in a pod, the ServiceAccount's mounted files."""

    url: str
    token_file: Path = SERVICE_ACCOUNT_DIR / "token"
    ca_file: Path | None = SERVICE_ACCOUNT_DIR / "ca.crt"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiServer | None:
        """``PIM_KUBE_API`` (with ``PIM_KUBE_TOKEN_FILE``, ``PIM_KUBE_CA_FILE``), else in-cluster; None: neither."""
        url = env.get("PIM_KUBE_API", "").strip()
        if not url:
            host, port = env.get("KUBERNETES_SERVICE_HOST", ""), env.get("KUBERNETES_SERVICE_PORT", "443")
            if not host:
                return None
            url = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
        ca_file = cls.ca_file
        if "PIM_KUBE_CA_FILE" in env:  # empty: the system's CAs
            ca_file = Path(env["PIM_KUBE_CA_FILE"]) if env["PIM_KUBE_CA_FILE"] else None
        return cls(url.rstrip("/"), Path(env.get("PIM_KUBE_TOKEN_FILE") or cls.token_file), ca_file)


class TokenFile:
    """The engine's own token, re-read every :data:`TOKEN_REREAD` seconds or when forced."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._clock = clock
        self._token = ""
        self._read_at = float("-inf")

    def get(self, *, fresh: bool = False) -> str:
        if fresh or self._clock() - self._read_at >= TOKEN_REREAD:
            try:
                self._token = self.path.read_text(encoding="ascii").strip()
            except (OSError, UnicodeDecodeError) as err:
                raise ReviewFailed(f"cannot read the engine's ServiceAccount token {self.path}: {err}") from None
            self._read_at = self._clock()
        return self._token
