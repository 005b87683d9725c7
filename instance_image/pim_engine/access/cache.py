"""A bounded cache whose entries expire: the access checks' memory of recent answers.

Bounded (least recently used out first), so a client that sends a new token with every request
cannot grow the engine's memory; expiring, so a revoked token or a removed RoleBinding stops
working within the entry's TTL. A dozen lines: not worth a dependency in the engine image.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    def __init__(self, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        if size < 1:
            raise ValueError("a cache holds at least one entry")
        self.size = size
        self._clock = clock
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: K) -> V | None:
        hit = self._data.get(key)
        if hit is None:
            return None
        if hit[0] <= self._clock():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return hit[1]

    def put(self, key: K, value: V, ttl: float) -> None:
        self._data[key] = (self._clock() + ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)
