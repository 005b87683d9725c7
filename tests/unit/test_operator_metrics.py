"""The operator's /metrics: what the registry exposes, linted by the real promtool."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from prometheus_client import generate_latest

from pim_operator import metrics

pytestmark = pytest.mark.unit


def test_condition_counters_count_at_scrape_time():
    statuses = [
        {"conditions": [{"type": "Ready", "status": "True"}]},
        {"conditions": [{"type": "Ready", "status": "False"}]},
        {},
    ]
    metrics.INSTANCES_READY.source = lambda: statuses
    try:
        text = generate_latest(metrics.REGISTRY).decode()
    finally:
        metrics.INSTANCES_READY.source = None
    assert 'pim_operator_instances{ready="True"} 1.0' in text
    assert 'pim_operator_instances{ready="False"} 1.0' in text
    assert 'pim_operator_instances{ready="Unknown"} 1.0' in text


def test_promtool_accepts_the_operator_metrics():
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: CI installs Debian's prometheus package (hack/ci/system-deps.sh)")
        pytest.skip("promtool not installed (Debian package prometheus)")
    metrics.RECONCILES.labels(kind="PimInstance", result="success").inc()
    metrics.API_REQUESTS.labels(verb="GET", kind="Pod", code="200").inc()
    with metrics.RECONCILE_DURATION.labels(kind="PimInstance").time():
        pass
    text = generate_latest(metrics.REGISTRY)
    res = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, check=False)
    assert res.returncode == 0, res.stdout.decode() + res.stderr.decode()
