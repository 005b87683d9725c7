"""Original v2 ids (``user_prod``) as Kubernetes names (``user-prod``), and back.

The mapping is a pure function of the id, so a lookup never needs a scan: ``GET /instances/user_prod``
reads the PimInstance ``user-prod`` and checks that its annotation says ``user_prod``. Two ids that map
to one name (``user_prod`` and ``user-prod``) cannot both exist: the second is refused with 409,
naming the holder. A hash suffix appears only when the id is too long or has nothing a name can keep.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

GROUP = "pim.dev"
INSTANCE_ID = "pim.dev/instance-id"
MODEL_NAME = "pim.dev/model-name"
SOURCE_FILE = "pim.dev/source-file"
CONFIG = "pim.dev/instance-config"
CREATED_BY = "app.kubernetes.io/created-by"
CONSOLE = "pim-console"
#: Child labels the operator sets (its contract with the world; read only).
INSTANCE_LABEL = "app.kubernetes.io/instance"
MODEL_LABEL = "pim.dev/model"

#: The PimInstance CRD's CEL rule: a DNS-1035 label of at most 57 characters.
INSTANCE_NAME_MAX = 57
#: A PimModel's name is also a label value (``pim.dev/model``): at most 63 characters.
MODEL_NAME_MAX = 63
ID_MAX = 253

_NOT_NAME = re.compile(r"[^a-z0-9]+")
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


class InvalidId(ValueError):
    """An id no mapping can accept; the message says which and why."""


def check_id(value: str, what: str) -> str:
    """An id as a client may send it: printable, no slash, not a dot segment, at most 253 characters."""
    if not value:
        raise InvalidId(f"{what} must not be empty")
    if len(value) > ID_MAX:
        raise InvalidId(f"{what} is {len(value)} characters long; at most {ID_MAX} are allowed")
    bad = next((c for c in value if unicodedata.category(c)[0] in "CZ" and c != " "), None)
    if bad is not None or value != value.strip():
        shown = repr(bad) if bad is not None else "leading or trailing spaces"
        raise InvalidId(f"{what} {value!r} contains {shown}; use printable characters")
    if "/" in value or value in (".", ".."):
        raise InvalidId(f"{what} {value!r} cannot be a URL path segment (no '/', not '.' or '..')")
    return value


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:8]


def kube_name(original: str, *, prefix: str, max_len: int) -> str:
    """A DNS-1035 label for ``original``: lower case, every other run of characters one ``-``.

    ``prefix`` starts names that would begin with a digit (``1_a`` -> ``i-1-a``); an id with no
    letter or digit, or one too long, gets 8 hex digits of its sha256 so that it stays unique.
    """
    name = _NOT_NAME.sub("-", original.lower()).strip("-")
    if not name:
        return f"{prefix}{_digest(original)}"
    if not name[0].isalpha():
        name = prefix + name
    if len(name) > max_len:
        name = name[: max_len - 9].rstrip("-") + "-" + _digest(original)
    return name


def instance_name(instance_id: str) -> str:
    return kube_name(instance_id, prefix="i-", max_len=INSTANCE_NAME_MAX)


def model_name(name: str) -> str:
    return kube_name(name, prefix="m-", max_len=MODEL_NAME_MAX)


def is_kube_name(value: str, max_len: int = INSTANCE_NAME_MAX) -> bool:
    return len(value) <= max_len and bool(_DNS1035.match(value))


def original(obj: Mapping[str, Any], annotation: str) -> str:
    """The id a client knows the object by: the annotation the console wrote, else its name."""
    meta = obj.get("metadata") or {}
    return str((meta.get("annotations") or {}).get(annotation) or meta.get("name") or "")
