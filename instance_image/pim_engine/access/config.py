"""The access settings of one engine, and what they add to its OpenAPI document.

No HTTP client is imported here: settings name the mode cheaply, and only an engine whose mode
is not ``none`` loads the guard (and HTTPX with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pim_engine.access.apiserver import ApiServer
from pim_engine.access.rules import OPEN_PATHS

NONE, KUBERNETES, APIKEY = "none", "kubernetes", "apikey"
MODES = (NONE, KUBERNETES, APIKEY)


@dataclass(frozen=True)
class Access:
    mode: str = NONE
    #: The directory whose files are the API keys (apikey).
    keys_dir: Path | None = None
    #: (namespace, name) of the PimInstance whose RBAC decides (kubernetes; /metrics in apikey).
    instance: tuple[str, str] | None = None
    #: Where TokenReviews and SubjectAccessReviews go; None in apikey mode: /metrics takes keys only.
    api_server: ApiServer | None = None

    @property
    def enabled(self) -> bool:
        return self.mode != NONE

    def document(self, schema: dict[str, Any]) -> None:
        """Declare the credentials in an OpenAPI document: Swagger UI's "Authorize" then sends them."""
        if not self.enabled:
            return
        schemes: dict[str, Any] = {}
        if self.mode == KUBERNETES or self.api_server is not None:
            schemes["kubernetes"] = {
                "type": "http",
                "scheme": "bearer",
                "description": "a Kubernetes token (kubectl create token NAME): reads need get, writes update "
                "on this PimInstance; /metrics needs get on piminstances/metrics",
            }
        if self.mode == APIKEY:
            schemes["apiKey"] = {"type": "apiKey", "in": "header", "name": "X-API-Key"}
            schemes["apiKeyBearer"] = {"type": "http", "scheme": "bearer", "description": "an API key"}
        schema.setdefault("components", {})["securitySchemes"] = schemes
        schema["security"] = [{name: []} for name in schemes]
        for path in OPEN_PATHS:
            for operation in schema.get("paths", {}).get(path, {}).values():
                operation["security"] = []


#: Nobody is asked: the default.
OPEN = Access()
