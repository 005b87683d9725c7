"""Is a live object, or a status, already as desired? The checks that make a no-op resync send no writes.

Server-side apply would accept an unchanged object without storing anything, but it is still a
request per child per resync. ``satisfies`` compares only the fields the operator sets: the
server's defaults and other managers' fields are ignored, so the comparison holds for a live
object that the operator's own apply produced.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")
_SUFFIX = {
    None: Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def satisfies(live: Any, desired: Any) -> bool:
    """True when every field in ``desired`` has the same value in ``live``."""
    if isinstance(desired, Mapping):
        return isinstance(live, Mapping) and all(k in live and satisfies(live[k], v) for k, v in desired.items())
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(live) == len(desired)
            and all(satisfies(a, b) for a, b in zip(live, desired, strict=True))
        )
    if isinstance(live, bool) or isinstance(desired, bool):
        return live is desired  # True == 1 in Python, but not in a manifest
    if live == desired:
        return True
    return _same_quantity(live, desired)


def status_changed(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> bool:
    """Whether writing ``desired`` would change anything: an unchanged status is never written."""
    current = current or {}
    return any(current.get(k) != v for k, v in desired.items())


def _same_quantity(a: Any, b: Any) -> bool:
    """``"0.5"`` and ``"500m"`` are one CPU quantity; the API server stores the canonical form."""
    qa, qb = _quantity(a), _quantity(b)
    return qa is not None and qa == qb


def _quantity(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if not isinstance(value, str):
        return None
    m = _QUANTITY.match(value)
    if not m:
        return None
    try:
        return Decimal(m.group(1)) * _SUFFIX[m.group(2)]
    except InvalidOperation:
        return None
