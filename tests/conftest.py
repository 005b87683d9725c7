"""Session fixtures for tests that need a Kubernetes API server.

The ``cluster`` fixture is lazy: only tests that request it start the local control plane
(``hack/cluster/up.sh``, through ``tests.support.cluster``), once per session, and stop it at the
end, so ``pytest -m unit`` never starts one. With ``PIM_KUBECONFIG`` set the tests use that cluster
(kind, say) and start nothing. A cluster that cannot come up fails every test that needs it, with
up.sh's own explanation: a broken environment must never look like a skipped, green run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Cluster, ClusterError, start_local_cluster, stop_local_cluster

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The session's cluster: ``PIM_KUBECONFIG``'s, or a local control plane started for the session.

    PIM_CLUSTER_NODE (a real kubelet node) reaches up.sh through the environment. A failed bring-up
    raises once; pytest caches a session fixture's error, so every later test fails at once with
    the same reason instead of retrying.
    """
    cache_dir = tmp_path_factory.mktemp("kubectl-cache")
    external = os.environ.get("PIM_KUBECONFIG")
    if external:
        kubeconfig = Path(external).expanduser().resolve()
        if not kubeconfig.is_file():
            pytest.fail(f"PIM_KUBECONFIG={external}: no such kubeconfig file", pytrace=False)
        remote = Cluster(kubeconfig, cache_dir)
        yield remote
        remote.cleanup()
        return

    state = tmp_path_factory.mktemp("cluster")
    try:
        local = start_local_cluster(state, cache_dir)
    except ClusterError as exc:
        pytest.fail(f"the local cluster did not come up: {exc}", pytrace=False)
    try:
        yield local
    finally:
        try:
            stop_local_cluster(state)
        except ClusterError as exc:
            pytest.fail(str(exc), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test that used the session's operator shows the end of its log: what it was doing
    is often the answer, and the log is gone with the CI machine."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when != "call" or not report.failed:
        return
    operator = getattr(item, "funcargs", {}).get("operator")
    tail = getattr(operator, "log_tail", None)
    if callable(tail):
        report.sections.append(("operator log, last 60 lines", tail(60)))
