"""A small synchronous Kubernetes API client for the operator benchmark: lists, creates, and watches.

The benchmark times "every object reached a state", so it follows a watch instead of polling
lists: one event stream per collection costs the API server and this process little next to a
multi-megabyte list every second, and the moment the last object gets there is exact.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from pim_operator.kube.config import Source

Obj = Mapping[str, Any]


class KubeApi:
    """The cluster in ``kubeconfig``, as the kubeconfig's user."""

    def __init__(self, kubeconfig: Path, timeout: float = 60.0) -> None:
        loaded = Source(str(kubeconfig)).load()
        auth = loaded.authorization()
        headers = {"Authorization": auth} if auth else {}
        self.server = loaded.server
        self._verify = loaded.ssl_context()
        self._headers = headers
        self.http = httpx.Client(base_url=loaded.server, verify=self._verify, headers=headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def stream_client(self) -> httpx.Client:
        """A separate connection for a long-lived watch (httpx clients are not shared across threads)."""
        return httpx.Client(base_url=self.server, verify=self._verify, headers=self._headers, timeout=None)

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        resp = self.http.get(path, params=params)
        resp.raise_for_status()
        return resp.json()

    def exists(self, path: str) -> bool:
        resp = self.http.get(path)
        if resp.status_code == 404:
            return False
        resp.raise_for_status()
        return True

    def create(self, path: str, obj: Obj) -> dict[str, Any]:
        resp = self.http.post(path, json=obj)
        if resp.status_code >= 400:
            raise RuntimeError(f"POST {path} {resp.status_code}: {resp.text[:300]}")
        return resp.json()

    def delete(self, path: str) -> None:
        resp = self.http.delete(path, params={"propagationPolicy": "Background"})
        if resp.status_code not in (200, 202, 404):
            raise RuntimeError(f"DELETE {path} {resp.status_code}: {resp.text[:300]}")

    def count(self, path: str) -> int:
        """Objects in a collection, from a metadata-only list (cheap even for thousands)."""
        resp = self.http.get(
            path, headers={"Accept": "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"}
        )
        resp.raise_for_status()
        return len(resp.json()["items"])


class CountTracker(threading.Thread):
    """Follows a collection's watch and records when ``want`` of its objects satisfy ``done``.

    ``start()`` returns once the initial list is taken, so an apply issued afterwards can never
    slip in between the list and the watch: the watch resumes from the list's resourceVersion.
    """

    def __init__(self, api: KubeApi, path: str, done: Callable[[Obj], bool], want: int) -> None:
        super().__init__(daemon=True, name=f"watch {path}")
        self.api = api
        self.path = path
        self.done = done
        self.want = want
        self.state: dict[str, bool] = {}
        self.finished_at: float | None = None
        self.error: BaseException | None = None
        self._stop_event = threading.Event()
        self._finished = threading.Event()
        self._rv = ""

    def start(self) -> None:
        self._relist()
        super().start()

    def stop(self) -> None:
        self._stop_event.set()

    def wait(self, deadline: float) -> float:
        """The monotonic time the target was reached; TimeoutError naming progress otherwise."""
        while not self._finished.wait(timeout=0.5):
            if self.error is not None:
                raise RuntimeError(f"watch of {self.path} failed") from self.error
            if time.monotonic() >= deadline:
                self.stop()
                raise TimeoutError(f"{self.path}: only {self.satisfied()}/{self.want} ready by the deadline")
        assert self.finished_at is not None
        return self.finished_at

    def satisfied(self) -> int:
        return sum(self.state.values())

    def _relist(self) -> None:
        listed = self.api.get(self.path)
        self.state = {o["metadata"]["name"]: self.done(o) for o in listed["items"]}
        self._rv = listed["metadata"]["resourceVersion"]
        self._check()

    def _check(self) -> None:
        if self.finished_at is None and self.satisfied() >= self.want:
            self.finished_at = time.monotonic()
            self._finished.set()

    def run(self) -> None:
        try:
            with self.api.stream_client() as http:
                while not self._stop_event.is_set() and not self._finished.is_set():
                    if not self._follow(http):
                        self._relist()
        except BaseException as exc:  # reported by wait(); a daemon thread has nobody else to tell
            self.error = exc

    def _follow(self, http: httpx.Client) -> bool:
        """One watch request; False when the resourceVersion expired and a relist is needed."""
        params = {
            "watch": "1",
            "resourceVersion": self._rv,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": "60",
        }
        with http.stream("GET", self.path, params=params) as resp:
            if resp.status_code == 410:
                return False
            resp.raise_for_status()
            for line in resp.iter_lines():
                if not line:
                    continue
                event = json.loads(line)
                kind, obj = event["type"], event["object"]
                if kind == "ERROR":
                    return obj.get("code") != 410
                self._rv = obj["metadata"]["resourceVersion"]
                if kind in ("ADDED", "MODIFIED"):
                    self.state[obj["metadata"]["name"]] = self.done(obj)
                elif kind == "DELETED":
                    self.state.pop(obj["metadata"]["name"], None)
                self._check()
                if self._finished.is_set() or self._stop_event.is_set():
                    return True
        return True
