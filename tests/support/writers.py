"""Continuous writes through a Service while something is done to an instance: what was acknowledged,
what failed, and for how long writes could not get through.

Used by the e2e suites (rollouts, pod kills, failovers under writes) and the benchmarks.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx


@dataclass
class Failure:
    at: float  # time.monotonic()
    what: str


@dataclass
class WriteReport:
    acked: list[str] = field(default_factory=list)  # keys of the rows the server acknowledged (201)
    failures: list[Failure] = field(default_factory=list)
    started: float = 0.0
    stopped: float = 0.0
    ack_times: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.acked) / max(self.stopped - self.started, 1e-9)

    def outage(self) -> float:
        """The longest time between two acknowledged writes (seconds): how long writes were stuck."""
        times = sorted([self.started, *self.ack_times, self.stopped])
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


class Writer:
    """``threads`` clients POST rows to ``{url}/api/v1/{entity}`` until ``stop()``.

    Each row's ``key_field`` is unique (``{prefix}-{thread}-{n}``): after the fact, the acknowledged
    keys can be looked up, so a lost row cannot hide.
    """

    def __init__(
        self,
        url: str,
        *,
        entity: str = "books",
        key_field: str = "isbn",
        extra: dict[str, object] | None = None,
        prefix: str = "w",
        threads: int = 2,
        timeout: float = 10.0,
        pause: float = 0.0,
    ) -> None:
        self.url, self.entity, self.key_field = url, entity, key_field
        self.extra = extra if extra is not None else {"title": "written under load"}
        self.prefix, self.threads, self.timeout, self.pause = prefix, threads, timeout, pause
        self.report = WriteReport()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def __enter__(self) -> Writer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.report.started = time.monotonic()
        for i in range(self.threads):
            t = threading.Thread(target=self._run, args=(i,), name=f"writer-{i}", daemon=True)
            t.start()
            self._workers.append(t)

    def stop(self) -> WriteReport:
        self._stop.set()
        for t in self._workers:
            t.join(timeout=self.timeout + 5)
        self.report.stopped = time.monotonic()
        return self.report

    def wait_for_acks(self, n: int, timeout: float = 60) -> None:
        """Until ``n`` more rows than now are acknowledged: the writes really flow."""
        goal = len(self.report.acked) + n
        deadline = time.monotonic() + timeout
        while len(self.report.acked) < goal:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"writes do not flow: {len(self.report.acked)}/{goal}; {self.report.failures[-3:]}"
                )
            time.sleep(0.05)

    def _run(self, worker: int) -> None:
        n = 0
        # A refused connection carried no request: retried, as clients and load balancers do.
        # Anything after the request was sent counts (a retry could write a row twice).
        transport = httpx.HTTPTransport(retries=2)
        with httpx.Client(base_url=self.url, timeout=self.timeout, transport=transport) as http:
            while not self._stop.is_set():
                key = f"{self.prefix}-{worker}-{n}"
                n += 1
                try:
                    resp = http.post(f"/api/v1/{self.entity}", json={**self.extra, self.key_field: key})
                    ok, what = resp.status_code == 201, f"{resp.status_code} {resp.text[:200]}"
                except httpx.HTTPError as exc:
                    ok, what = False, f"{type(exc).__name__}: {exc}"
                with self._lock:
                    if ok:
                        self.report.acked.append(key)
                        self.report.ack_times.append(time.monotonic())
                    else:
                        self.report.failures.append(Failure(time.monotonic(), f"{key}: {what}"))
                if self.pause:
                    time.sleep(self.pause)


def stored_keys(url: str, *, entity: str = "books", key_field: str = "isbn", page: int = 500) -> set[str]:
    """Every row's key, read page by page through ``url``."""
    return set(_keys(url, entity, key_field, page))


def _keys(url: str, entity: str, key_field: str, page: int) -> Iterator[str]:
    with httpx.Client(base_url=url, timeout=30) as http:
        skip = 0
        while True:
            resp = http.get(f"/api/v1/{entity}", params={"skip": skip, "limit": page})
            resp.raise_for_status()
            items = resp.json()["items"]
            yield from (str(row[key_field]) for row in items)
            if len(items) < page:
                return
            skip += len(items)
