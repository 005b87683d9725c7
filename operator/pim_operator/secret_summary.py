"""What the operator keeps of a Secret an instance references: key names and keyed digests.

Never a value: memory grows with the referenced Secrets only, and nothing the operator holds
could leak a password. Pure: the watches (``secret_watch``) and the reconcile's decisions read it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

URI_SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class SecretSummary:
    """What the operator keeps of a Secret: key names, keyed digests, which values are URIs."""

    uid: str
    resource_version: str
    digests: Mapping[str, str] = field(default_factory=dict)  # key -> digest of its value
    uris: frozenset[str] = frozenset()  # keys whose value is a postgresql:// URI

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self.digests)


def digest(uid: str, value: bytes) -> str:
    """A digest of ``value`` keyed with the Secret's uid, for the pod template.

    Pod templates are read by more people than Secrets are; a plain hash of a password URI would
    let them test guesses offline. Keyed with the uid (not in the pod template), it cannot be.
    """
    return "hmac-sha256:" + hmac.new(uid.encode(), value, hashlib.sha256).hexdigest()[:32]


def summarize(body: Mapping[str, Any]) -> SecretSummary:
    """Reduce a Secret to its summary; its values are decoded here and dropped."""
    meta = body.get("metadata") or {}
    uid = str(meta.get("uid") or "")
    digests: dict[str, str] = {}
    uris: set[str] = set()
    for key, encoded in (body.get("data") or {}).items():
        try:
            value = base64.b64decode(encoded or "", validate=True)
        except (binascii.Error, ValueError):
            value = b""
        digests[key] = digest(uid, value)
        if value.strip().startswith(tuple(s.encode() for s in URI_SCHEMES)):
            uris.add(key)
    return SecretSummary(uid, str(meta.get("resourceVersion") or ""), digests, frozenset(uris))
