"""API keys: every file of one directory is a key (a mounted Secret: one key per entry).

Rotation reloads, it does not restart: the kubelet rewrites a mounted Secret in place when it
changes (an atomic swap of the ``..data`` link), and the ring looks at the directory again at most
every ``interval`` seconds, on the request path, where looking costs a ``stat`` per key file. So a
new key works, and a removed one stops working, within the kubelet's sync period (about a minute)
plus ``interval``, with no pod restarted; a persistent instance (one pod, ``Recreate``) would
otherwise be down for every rotation.

A candidate is compared with every key, in constant time, as SHA-256 digests: neither which key
matched, nor how long the keys are, nor how much of one a guess got right shows in the timing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("pim_engine.access")

#: Longest key read from a file; longer files are skipped (and said so), not truncated.
MAX_KEY_BYTES = 4096
RELOAD_INTERVAL = 2.0

Signature = tuple[tuple[str, int, int, int], ...]


class KeyRing:
    def __init__(
        self, directory: Path, *, interval: float = RELOAD_INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.directory = directory
        self.interval = interval
        self._clock = clock
        self._digests: tuple[bytes, ...] = ()
        self._signature: Signature | None = None
        self._next_look = 0.0
        self.reload()

    def __len__(self) -> int:
        return len(self._digests)

    def matches(self, candidate: bytes) -> bool:
        """Whether ``candidate`` (a header's bytes) is one of the keys; every key is compared."""
        self._look()
        given = hashlib.sha256(candidate).digest()
        found = False
        for digest in self._digests:
            found |= hmac.compare_digest(digest, given)
        return found

    def _look(self) -> None:
        now = self._clock()
        if now < self._next_look:
            return
        self._next_look = now + self.interval
        if self._scan() != self._signature:
            self.reload()

    def _scan(self) -> Signature:
        """Name, size, mtime and inode of each key file (through the kubelet's links): what changes
        when a key does, read without opening anything."""
        out = []
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return ()
        for entry in entries:
            if entry.name.startswith("."):
                continue  # the kubelet's ..data link and timestamped directories
            try:
                st = entry.stat()
            except OSError:
                continue
            if entry.is_file():
                out.append((entry.name, st.st_size, st.st_mtime_ns, st.st_ino))
        return tuple(sorted(out))

    def reload(self) -> None:
        signature = self._scan()
        digests: list[bytes] = []
        for name, size, _, _ in signature:
            if size > MAX_KEY_BYTES:
                log.warning("API key file %s is longer than %d bytes: skipped", name, MAX_KEY_BYTES)
                continue
            try:
                value = (self.directory / name).read_bytes().strip()
            except OSError as err:
                log.warning("cannot read API key file %s: %s", name, err)
                continue
            if value:
                digests.append(hashlib.sha256(value).digest())
        self._digests = tuple(digests)
        self._signature = signature
        if digests:
            log.info("%d API keys loaded from %s", len(digests), self.directory)
        else:
            log.warning("no API keys in %s: every request but /health and /ready is refused", self.directory)
